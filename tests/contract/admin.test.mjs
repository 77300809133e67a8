// Contract owner functions: deployment state, topic-creation fee, reporters,
// ownership transfer, and the fee's way to the owner through withdraw().

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	ethers, loadContract, startChain, deploy, mined, expectRevert, expectACL,
	Action, gasCost,
} from './harness.mjs';

const FEE = 10n ** 16n;
let chain, ft, iface, owner, alice, bob, reporter;

before(async () => {
	const artifact = loadContract();
	chain = await startChain();
	[owner, alice, bob, reporter] = chain.wallets;
	({ contract: ft } = await deploy(artifact, owner, FEE));
	iface = ft.interface;
});

after(async () => {
	await chain?.stop();
});

const as = (w) => ft.connect(w);
const addTopic = (w, name, value = FEE) => as(w).addTopic(name, false, 0, 0, 0, [], { value });

test('deployment: deployer owns, fee from the constructor, nothing else', async () => {
	assert.equal(await ft.owner(), owner.address);
	assert.equal(await ft.fee(), FEE);
	assert.equal(await ft.topicCount(), 0n);
	assert.equal(await ft.isReporter(owner.address), false, 'the owner is not implicitly a reporter');
	assert.equal(await ft.credit(owner.address), 0n);
	assert.equal(await chain.provider.getBalance(await ft.getAddress()), 0n);
});

test('plain ether transfers to the contract are refused', async () => {
	await expectRevert(alice.sendTransaction({ to: await ft.getAddress(), value: 1n }), iface, null);
});

test('setFee: owner only, FeeChanged carries the new fee in wei', async () => {
	await expectRevert(as(alice).setFee(1n), iface, 'NotOwner');
	const receipt = await mined(as(owner).setFee(2n * FEE));
	await expectACL(receipt, iface, {
		source: owner.address, target: owner.address, action: Action.FeeChanged,
		name: '', reason: (2n * FEE).toString(),
	});
	assert.equal(await ft.fee(), 2n * FEE);
	await expectRevert(addTopic(alice, 'fee/old', FEE), iface, 'WrongFee');
	await mined(addTopic(alice, 'fee/new', 2n * FEE));

	const zero = await mined(as(owner).setFee(0n));
	await expectACL(zero, iface, {
		source: owner.address, target: owner.address, action: Action.FeeChanged, name: '', reason: '0',
	});
	await expectRevert(addTopic(alice, 'fee/none', 1n), iface, 'WrongFee');
	await mined(addTopic(alice, 'fee/none', 0n));
	await mined(as(owner).setFee(FEE));
	// Fees so far: 2 * FEE, then 0.
	assert.equal(await ft.credit(owner.address), 2n * FEE);
});

test('setReporter: owner only, adds and removes, both logged', async () => {
	await expectRevert(as(alice).setReporter(alice.address, true), iface, 'NotOwner');
	await expectRevert(as(reporter).setReporter(reporter.address, true), iface, 'NotOwner');
	await expectRevert(as(owner).setReporter(ethers.ZeroAddress, true), iface, 'BadAddress');

	const add = await mined(as(owner).setReporter(reporter.address, true));
	await expectACL(add, iface, {
		source: owner.address, target: reporter.address, action: Action.AddReporter, name: '', reason: '',
	});
	assert.equal(await ft.isReporter(reporter.address), true);
	assert.equal(await ft.isReporter(alice.address), false);

	const remove = await mined(as(owner).setReporter(reporter.address, false));
	await expectACL(remove, iface, {
		source: owner.address, target: reporter.address, action: Action.RemoveReporter, name: '', reason: '',
	});
	assert.equal(await ft.isReporter(reporter.address), false);
});

test('topic fees are credited to the contract owner and withdrawn by it', async () => {
	const address = await ft.getAddress();
	const credit0 = await ft.credit(owner.address);
	const held0 = await chain.provider.getBalance(address);
	await mined(addTopic(alice, 'fee/a'));
	await mined(addTopic(bob, 'fee/b'));
	assert.equal(await ft.credit(owner.address), credit0 + 2n * FEE);
	assert.equal(await chain.provider.getBalance(address), held0 + 2n * FEE);
	assert.equal(await ft.credit(alice.address), 0n, 'the creator earns nothing');

	const before = await chain.provider.getBalance(owner.address);
	const receipt = await mined(as(owner).withdraw());
	await expectACL(receipt, iface, {
		source: owner.address, target: owner.address, action: Action.Withdraw,
		name: '', reason: (credit0 + 2n * FEE).toString(),
	});
	const after = await chain.provider.getBalance(owner.address);
	assert.equal(after - before, credit0 + 2n * FEE - gasCost(receipt));
	assert.equal(await ft.credit(owner.address), 0n);
	assert.equal(await chain.provider.getBalance(address), held0 - credit0);
	await expectRevert(as(owner).withdraw(), iface, 'NoCredit');
});

test('transferOwnership: owner only, not to zero; earned fees stay the old owner\'s', async () => {
	await expectRevert(as(alice).transferOwnership(alice.address), iface, 'NotOwner');
	await expectRevert(as(owner).transferOwnership(ethers.ZeroAddress), iface, 'BadAddress');

	await mined(addTopic(alice, 'own/a'));
	assert.equal(await ft.credit(owner.address), FEE);

	const receipt = await mined(as(owner).transferOwnership(bob.address));
	await expectACL(receipt, iface, {
		source: owner.address, target: bob.address, action: Action.OwnerChanged, name: '', reason: '',
	});
	assert.equal(await ft.owner(), bob.address);
	assert.equal(await ft.credit(owner.address), FEE, 'fees earned before the transfer');
	assert.equal(await ft.credit(bob.address), 0n);

	await mined(addTopic(alice, 'own/b'));
	assert.equal(await ft.credit(bob.address), FEE);
	assert.equal(await ft.credit(owner.address), FEE);

	await expectRevert(as(owner).setFee(1n), iface, 'NotOwner');
	await expectRevert(as(owner).setReporter(owner.address, true), iface, 'NotOwner');
	await expectRevert(as(owner).transferOwnership(owner.address), iface, 'NotOwner');
	await mined(as(bob).setReporter(reporter.address, true));
	assert.equal(await ft.isReporter(reporter.address), true);

	for (const w of [owner, bob]) {
		const before = await chain.provider.getBalance(w.address);
		const r = await mined(as(w).withdraw());
		assert.equal(await chain.provider.getBalance(w.address), before + FEE - gasCost(r));
		assert.equal(await ft.credit(w.address), 0n);
	}

	// Back again, with nothing pending: nothing to settle.
	await mined(as(bob).transferOwnership(owner.address));
	assert.equal(await ft.owner(), owner.address);
	assert.equal(await ft.credit(bob.address), 0n);
});
