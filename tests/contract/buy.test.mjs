// Self-service purchases: exact prices, renewal and expiry, free topics,
// closed self-service, buying for someone else, and the pull payments that
// follow (credit, withdraw, refusing and re-entering recipients).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	ethers, loadContract, loadFixture, startChain, deploy, mined, expectRevert, expectACL,
	Action, FOREVER, latestTime, increaseTime, gasCost,
} from './harness.mjs';

const PUB = 10n ** 15n;
const SUB = 2n * 10n ** 15n;
const HOUR = 3600n;
let chain, artifact, ft, iface, owner, alice, bob, carol, dave;

before(async () => {
	artifact = loadContract();
	chain = await startChain();
	[owner, alice, bob, carol, dave] = chain.wallets;
	({ contract: ft } = await deploy(artifact, owner, 0n));
	iface = ft.interface;
	await mined(ft.connect(alice).addTopic('paid/hourly', false, PUB, SUB, HOUR, []));
	await mined(ft.connect(alice).addTopic('paid/forever', false, PUB, SUB, 0, []));
	await mined(ft.connect(alice).addTopic('free/hourly', false, 0, 0, HOUR, []));
	await mined(ft.connect(alice).addTopic('free/forever', false, 0, 0, 0, []));
});

after(async () => {
	await chain?.stop();
});

const as = (w) => ft.connect(w);
const expiryOf = async (name, who, publish) => (await ft.access(name, who))[publish ? 1 : 2];
const blockTime = async (receipt) => BigInt((await chain.provider.getBlock(receipt.blockNumber)).timestamp);

test('buy at the exact price: right for one period, price credited to the topic owner', async () => {
	const name = 'paid/hourly';
	const credit = await ft.credit(alice.address);
	const held = await chain.provider.getBalance(await ft.getAddress());
	const receipt = await mined(as(carol).buy(name, false, ethers.ZeroAddress, { value: SUB }));
	await expectACL(receipt, iface, {
		source: carol.address, target: carol.address, action: Action.AddSub, name, reason: `paid:${SUB}`,
	});
	assert.equal(await expiryOf(name, carol.address, false), await blockTime(receipt) + HOUR);
	assert.equal(await expiryOf(name, carol.address, true), 0n, 'only the right bought');
	assert.equal(await ft.credit(alice.address), credit + SUB);
	assert.equal(await chain.provider.getBalance(await ft.getAddress()), held + SUB);
	assert.equal(await ft.credit(carol.address), 0n);

	const pub = await mined(as(carol).buy(name, true, ethers.ZeroAddress, { value: PUB }));
	await expectACL(pub, iface, {
		source: carol.address, target: carol.address, action: Action.AddPub, name, reason: `paid:${PUB}`,
	});
	assert.equal(await expiryOf(name, carol.address, true), await blockTime(pub) + HOUR);
	assert.equal(await ft.credit(alice.address), credit + SUB + PUB);
});

test('buy with any other amount is WrongPrice', async () => {
	const name = 'paid/hourly';
	for (const [publish, price] of [[true, PUB], [false, SUB]]) {
		for (const value of [0n, price - 1n, price + 1n, publish ? SUB : PUB])
			await expectRevert(as(dave).buy(name, publish, ethers.ZeroAddress, { value }), iface, 'WrongPrice');
	}
	assert.equal(await expiryOf(name, dave.address, true), 0n);
	await expectRevert(as(dave).buy('free/hourly', false, ethers.ZeroAddress, { value: 1n }), iface, 'WrongPrice');
});

test('renewal before expiry extends from the current expiry', async () => {
	const name = 'paid/hourly';
	const first = await expiryOf(name, carol.address, false);
	await increaseTime(chain.provider, 1000);
	assert.ok(await latestTime(chain.provider) < first);
	await mined(as(carol).buy(name, false, ethers.ZeroAddress, { value: SUB }));
	assert.equal(await expiryOf(name, carol.address, false), first + HOUR);
});

test('renewal after expiry starts from now', async () => {
	const name = 'paid/hourly';
	const old = await expiryOf(name, carol.address, false);
	await increaseTime(chain.provider, 3n * HOUR);
	assert.ok(await latestTime(chain.provider) > old);
	const receipt = await mined(as(carol).buy(name, false, ethers.ZeroAddress, { value: SUB }));
	assert.equal(await expiryOf(name, carol.address, false), await blockTime(receipt) + HOUR);
});

test('buying for someone else: the payer is the source, the beneficiary the target', async () => {
	const name = 'paid/hourly';
	const credit = await ft.credit(alice.address);
	const receipt = await mined(as(bob).buy(name, true, dave.address, { value: PUB }));
	await expectACL(receipt, iface, {
		source: bob.address, target: dave.address, action: Action.AddPub, name, reason: `paid:${PUB}`,
	});
	assert.equal(await expiryOf(name, dave.address, true), await blockTime(receipt) + HOUR);
	assert.equal(await expiryOf(name, bob.address, true), 0n);
	assert.equal(await ft.credit(alice.address), credit + PUB);
});

test('period 0 sells a right forever, once', async () => {
	const name = 'paid/forever';
	await mined(as(carol).buy(name, false, ethers.ZeroAddress, { value: SUB }));
	assert.equal(await expiryOf(name, carol.address, false), FOREVER);
	await expectRevert(as(carol).buy(name, false, ethers.ZeroAddress, { value: SUB }), iface, 'AlreadyGranted');
	// Also when the owner granted it forever.
	await mined(as(alice).grant('paid/hourly', bob.address, false, 0, ''));
	await expectRevert(as(bob).buy('paid/hourly', false, ethers.ZeroAddress, { value: SUB }), iface, 'AlreadyGranted');
});

test('an expiry near the end of time is clamped to forever', async () => {
	const name = 'paid/hourly';
	await mined(as(alice).grant(name, dave.address, false, FOREVER - 10n, ''));
	await mined(as(dave).buy(name, false, ethers.ZeroAddress, { value: SUB }));
	assert.equal(await expiryOf(name, dave.address, false), FOREVER);
});

test('free topics are joined with no payment and logged as free', async () => {
	const credit = await ft.credit(alice.address);
	const r1 = await mined(as(dave).buy('free/hourly', true, ethers.ZeroAddress));
	await expectACL(r1, iface, {
		source: dave.address, target: dave.address, action: Action.AddPub, name: 'free/hourly', reason: 'free',
	});
	assert.equal(await expiryOf('free/hourly', dave.address, true), await blockTime(r1) + HOUR);
	const r2 = await mined(as(dave).buy('free/forever', false, carol.address));
	await expectACL(r2, iface, {
		source: dave.address, target: carol.address, action: Action.AddSub, name: 'free/forever', reason: 'free',
	});
	assert.equal(await expiryOf('free/forever', carol.address, false), FOREVER);
	assert.equal(await ft.credit(alice.address), credit);
});

test('closed self-service refuses purchases; the owner can still grant; reopening works', async () => {
	const name = 'free/hourly';
	await mined(as(alice).setSelfService(name, false));
	await expectRevert(as(bob).buy(name, false, ethers.ZeroAddress), iface, 'SelfServiceClosed');
	await mined(as(alice).setSelfService('paid/hourly', false));
	await expectRevert(as(bob).buy('paid/hourly', true, ethers.ZeroAddress, { value: PUB }), iface,
		'SelfServiceClosed');
	await mined(as(alice).grant(name, bob.address, false, 0, 'by hand'));
	assert.equal(await expiryOf(name, bob.address, false), FOREVER);
	await mined(as(alice).setSelfService(name, true));
	await mined(as(alice).setSelfService('paid/hourly', true));
	await mined(as(bob).buy(name, true, ethers.ZeroAddress));
	await mined(as(bob).buy('paid/hourly', true, ethers.ZeroAddress, { value: PUB }));
});

test('new prices and periods apply to the next purchase', async () => {
	const name = 'paid/hourly';
	await mined(as(alice).setPrices(name, 5n, 6n));
	await mined(as(alice).setPeriod(name, 60n));
	await expectRevert(as(carol).buy(name, true, ethers.ZeroAddress, { value: PUB }), iface, 'WrongPrice');
	const receipt = await mined(as(owner).buy(name, true, ethers.ZeroAddress, { value: 5n }));
	assert.equal(await expiryOf(name, owner.address, true), await blockTime(receipt) + 60n);
	await mined(as(alice).setPrices(name, 0n, 0n));
	const free = await mined(as(owner).buy(name, false, ethers.ZeroAddress));
	await expectACL(free, iface, {
		source: owner.address, target: owner.address, action: Action.AddSub, name, reason: 'free',
	});
	await mined(as(alice).setPrices(name, PUB, SUB));
	await mined(as(alice).setPeriod(name, HOUR));
});

test('buy on an unknown topic is UnknownTopic', async () => {
	await expectRevert(as(bob).buy('no/such', true, ethers.ZeroAddress), iface, 'UnknownTopic');
	await expectRevert(as(bob).buy('no/such', true, ethers.ZeroAddress, { value: 1n }), iface, 'UnknownTopic');
});

test('withdraw pays the topic owner its exact credit, once', async () => {
	const address = await ft.getAddress();
	const credit = await ft.credit(alice.address);
	assert.ok(credit > 0n);
	const held = await chain.provider.getBalance(address);
	const before = await chain.provider.getBalance(alice.address);
	const receipt = await mined(as(alice).withdraw());
	await expectACL(receipt, iface, {
		source: alice.address, target: alice.address, action: Action.Withdraw, name: '', reason: credit.toString(),
	});
	assert.equal(await chain.provider.getBalance(alice.address), before + credit - gasCost(receipt));
	assert.equal(await chain.provider.getBalance(address), held - credit);
	assert.equal(await ft.credit(alice.address), 0n);
	await expectRevert(as(alice).withdraw(), iface, 'NoCredit');
	await expectRevert(as(carol).withdraw(), iface, 'NoCredit');
});

test('withdraw to a recipient that refuses the payment fails and keeps the credit', async () => {
	const receiverArtifact = await loadFixture('Receiver');
	const { contract: receiver } = await deploy(receiverArtifact, dave, await ft.getAddress());
	await mined(receiver.addTopic('contract/owned', 100n));
	assert.equal((await ft.topic('contract/owned'))[1], await receiver.getAddress());
	await mined(as(carol).buy('contract/owned', false, ethers.ZeroAddress, { value: 100n }));
	assert.equal(await ft.credit(await receiver.getAddress()), 100n);

	await mined(receiver.setMode(1));
	await expectRevert(receiver.withdraw(), iface, 'TransferFailed');
	assert.equal(await ft.credit(await receiver.getAddress()), 100n);
	assert.equal(await chain.provider.getBalance(await receiver.getAddress()), 0n);

	// A recipient that re-enters withdraw gets its credit once.
	await mined(as(bob).buy('contract/owned', false, ethers.ZeroAddress, { value: 100n }));
	const held = await chain.provider.getBalance(await ft.getAddress());
	await mined(receiver.setMode(2));
	await mined(receiver.withdraw());
	assert.equal(await receiver.reentered(), true);
	assert.equal(await receiver.reentrySucceeded(), false);
	assert.equal(await receiver.received(), 200n);
	assert.equal(await chain.provider.getBalance(await receiver.getAddress()), 200n);
	assert.equal(await chain.provider.getBalance(await ft.getAddress()), held - 200n);
	assert.equal(await ft.credit(await receiver.getAddress()), 0n);
});
