// Grants and revocations by the topic owner, and the access() view that
// chaind caches: expiry values, the answer's block, exists for unknown names.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	ethers, loadContract, startChain, deploy, mined, expectRevert, expectACL,
	Action, FOREVER, codes, countryList, latestTime, increaseTime,
} from './harness.mjs';

let chain, ft, iface, owner, alice, bob, carol, dave;

before(async () => {
	const artifact = loadContract();
	chain = await startChain();
	[owner, alice, bob, carol, dave] = chain.wallets;
	({ contract: ft } = await deploy(artifact, owner, 0n));
	iface = ft.interface;
	await mined(ft.connect(alice).addTopic('plant/+/power', true, 0, 0, 0, codes('DE', 'AT')));
	await mined(ft.connect(alice).addTopic('plant/open', false, 0, 0, 0, []));
});

after(async () => {
	await chain?.stop();
});

const as = (w) => ft.connect(w);

/** access(name, who) as an object. */
async function accessOf(name, who, overrides = {}) {
	const r = await ft.access(name, who, overrides);
	return {
		exists: r[0], pubExpiry: r[1], subExpiry: r[2], sensitive: r[3],
		countries: countryList(r[4]), blockNumber: r[5],
	};
}

test('access() of an unknown topic or a stranger: exists says which', async () => {
	const head = BigInt(await chain.provider.getBlockNumber());
	assert.deepEqual(await accessOf('no/such', bob.address), {
		exists: false, pubExpiry: 0n, subExpiry: 0n, sensitive: false, countries: [], blockNumber: head,
	});
	assert.deepEqual(await accessOf('plant/+/power', bob.address), {
		exists: true, pubExpiry: 0n, subExpiry: 0n, sensitive: true, countries: ['DE', 'AT'], blockNumber: head,
	});
	// The topic owner holds no right until it grants itself one.
	assert.deepEqual((await accessOf('plant/+/power', alice.address)).pubExpiry, 0n);
});

test('grant with expiry 0 is forever; publish and subscribe are separate', async () => {
	const name = 'plant/+/power';
	const pub = await mined(as(alice).grant(name, bob.address, true, 0, 'installer'));
	await expectACL(pub, iface, {
		source: alice.address, target: bob.address, action: Action.AddPub, name, reason: 'installer',
	});
	let a = await accessOf(name, bob.address);
	assert.equal(a.pubExpiry, FOREVER);
	assert.equal(a.subExpiry, 0n);

	const sub = await mined(as(alice).grant(name, bob.address, false, 0, ''));
	await expectACL(sub, iface, {
		source: alice.address, target: bob.address, action: Action.AddSub, name, reason: '',
	});
	a = await accessOf(name, bob.address);
	assert.equal(a.pubExpiry, FOREVER);
	assert.equal(a.subExpiry, FOREVER);
	assert.equal(a.blockNumber, BigInt(sub.blockNumber));
	assert.equal((await accessOf('plant/open', bob.address)).pubExpiry, 0n, 'per topic');
	assert.equal((await accessOf(name, carol.address)).pubExpiry, 0n, 'per address');
});

test('grant with a future expiry stores it; a later grant replaces it', async () => {
	const name = 'plant/open';
	const now = await latestTime(chain.provider);
	await mined(as(alice).grant(name, carol.address, false, now + 3600n, 'trial'));
	let a = await accessOf(name, carol.address);
	assert.equal(a.subExpiry, now + 3600n);
	assert.equal(a.pubExpiry, 0n);

	await mined(as(alice).grant(name, carol.address, false, now + 60n, 'shorter'));
	assert.equal((await accessOf(name, carol.address)).subExpiry, now + 60n);
	await mined(as(alice).grant(name, carol.address, true, FOREVER - 1n, 'almost forever'));
	a = await accessOf(name, carol.address);
	assert.equal(a.pubExpiry, FOREVER - 1n);
	assert.equal(a.subExpiry, now + 60n);
});

test('grant refuses an expiry that is not in the future', async () => {
	const name = 'plant/open';
	const now = await latestTime(chain.provider);
	await expectRevert(as(alice).grant(name, dave.address, true, 1n, ''), iface, 'BadExpiry');
	await expectRevert(as(alice).grant(name, dave.address, true, now, ''), iface, 'BadExpiry');
	assert.equal((await accessOf(name, dave.address)).pubExpiry, 0n);
});

test('expiry is stored, not enforced, by access(): the caller compares with the time', async () => {
	const name = 'plant/open';
	const now = await latestTime(chain.provider);
	await mined(as(alice).grant(name, dave.address, true, now + 100n, ''));
	await increaseTime(chain.provider, 200);
	assert.ok(await latestTime(chain.provider) >= now + 100n);
	assert.equal((await accessOf(name, dave.address)).pubExpiry, now + 100n);
});

test('revoke clears one right and logs RevokePub / RevokeSub', async () => {
	const name = 'plant/+/power';
	await mined(as(alice).grant(name, dave.address, true, 0, ''));
	await mined(as(alice).grant(name, dave.address, false, 0, ''));

	const pub = await mined(as(alice).revoke(name, dave.address, true, 'contract ended'));
	await expectACL(pub, iface, {
		source: alice.address, target: dave.address, action: Action.RevokePub, name, reason: 'contract ended',
	});
	let a = await accessOf(name, dave.address);
	assert.equal(a.pubExpiry, 0n);
	assert.equal(a.subExpiry, FOREVER);

	const sub = await mined(as(alice).revoke(name, dave.address, false, ''));
	await expectACL(sub, iface, {
		source: alice.address, target: dave.address, action: Action.RevokeSub, name, reason: '',
	});
	a = await accessOf(name, dave.address);
	assert.equal(a.pubExpiry, 0n);
	assert.equal(a.subExpiry, 0n);

	// Revoking what is not held is allowed and still logged.
	const again = await mined(as(alice).revoke(name, dave.address, false, 'again'));
	await expectACL(again, iface, {
		source: alice.address, target: dave.address, action: Action.RevokeSub, name, reason: 'again',
	});
});

test('access() answers as of the block asked for', async () => {
	const name = 'plant/open';
	const who = ethers.Wallet.createRandom().address;
	const before = await chain.provider.getBlockNumber();
	const granted = await mined(as(alice).grant(name, who, false, 0, ''));
	const revoked = await mined(as(alice).revoke(name, who, false, ''));
	const at = async (block) => accessOf(name, who, { blockTag: block });
	assert.deepEqual([(await at(before)).subExpiry, (await at(before)).blockNumber], [0n, BigInt(before)]);
	assert.deepEqual([(await at(granted.blockNumber)).subExpiry, (await at(granted.blockNumber)).blockNumber],
		[FOREVER, BigInt(granted.blockNumber)]);
	assert.deepEqual([(await at(revoked.blockNumber)).subExpiry, (await at(revoked.blockNumber)).blockNumber],
		[0n, BigInt(revoked.blockNumber)]);
});

test('rights survive a topic transfer; the new owner can revoke them', async () => {
	const name = 'plant/handover';
	await mined(as(alice).addTopic(name, false, 0, 0, 0, []));
	await mined(as(alice).grant(name, carol.address, true, 0, ''));
	await mined(as(alice).transferTopic(name, bob.address));
	assert.equal((await accessOf(name, carol.address)).pubExpiry, FOREVER);
	await expectRevert(as(alice).revoke(name, carol.address, true, ''), iface, 'NotTopicOwner');
	const r = await mined(as(bob).revoke(name, carol.address, true, 'new owner'));
	await expectACL(r, iface, {
		source: bob.address, target: carol.address, action: Action.RevokePub, name, reason: 'new owner',
	});
	assert.equal((await accessOf(name, carol.address)).pubExpiry, 0n);
});

test('grants to any address but zero, the topic owner included', async () => {
	const name = 'plant/open';
	await mined(as(alice).grant(name, alice.address, true, 0, 'self'));
	assert.equal((await accessOf(name, alice.address)).pubExpiry, FOREVER);
	await expectRevert(as(alice).grant(name, ethers.ZeroAddress, false, 0, ''), iface, 'BadAddress');
	await expectRevert(as(alice).revoke(name, ethers.ZeroAddress, false, ''), iface, 'BadAddress');
});
