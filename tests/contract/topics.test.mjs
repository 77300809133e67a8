// Topics: creation (fee, names, countries), listing, the topic() view, the
// topic owner's settings and transferTopic, and who may change what.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	ethers, loadContract, startChain, deploy, mined, expectRevert, expectACL,
	Action, codes, countryList, EU,
} from './harness.mjs';

const FEE = 10n ** 15n;
let chain, ft, iface, owner, alice, bob, carol;

before(async () => {
	const artifact = loadContract();
	chain = await startChain();
	[owner, alice, bob, carol] = chain.wallets;
	({ contract: ft } = await deploy(artifact, owner, FEE));
	iface = ft.interface;
});

after(async () => {
	await chain?.stop();
});

const as = (w) => ft.connect(w);
const add = (w, name, { sensitive = false, pub = 0n, sub = 0n, period = 0n, countries = [], value = FEE } = {}) =>
	as(w).addTopic(name, sensitive, pub, sub, period, codes(...countries), { value });

/** topic(name) as an object. */
async function topicOf(name, overrides = {}) {
	const r = await ft.topic(name, overrides);
	return {
		exists: r[0], owner: r[1], sensitive: r[2], selfService: r[3], pubPrice: r[4],
		subPrice: r[5], period: r[6], countries: countryList(r[7]), blockNumber: r[8],
	};
}

test('addTopic stores every setting, lists the name, logs AddTopic, credits the fee', async () => {
	const count = await ft.topicCount();
	const credit = await ft.credit(owner.address);
	const name = 'sensors/+/temperature';
	const receipt = await mined(add(alice, name, {
		sensitive: true, pub: 5n, sub: 7n, period: 3600n, countries: ['DE', 'FR'],
	}));
	await expectACL(receipt, iface, {
		source: alice.address, target: alice.address, action: Action.AddTopic, name, reason: '',
	});
	assert.deepEqual(await topicOf(name), {
		exists: true, owner: alice.address, sensitive: true, selfService: true, pubPrice: 5n,
		subPrice: 7n, period: 3600n, countries: ['DE', 'FR'],
		blockNumber: BigInt(await chain.provider.getBlockNumber()),
	});
	assert.equal(await ft.topicCount(), count + 1n);
	assert.equal(await ft.topicNameAt(count), name);
	assert.equal(await ft.credit(owner.address), credit + FEE);
	assert.equal(await ft.credit(alice.address), 0n);
});

test('addTopic defaults: free, open self-service, forever, anywhere', async () => {
	await mined(add(bob, 'plain'));
	const t = await topicOf('plain');
	assert.deepEqual({ ...t, blockNumber: 0n }, {
		exists: true, owner: bob.address, sensitive: false, selfService: true, pubPrice: 0n,
		subPrice: 0n, period: 0n, countries: [], blockNumber: 0n,
	});
	const max = 2n ** 128n - 1n;
	await mined(add(bob, 'max', { pub: max, sub: max, period: 2n ** 64n - 1n }));
	const m = await topicOf('max');
	assert.equal(m.pubPrice, max);
	assert.equal(m.subPrice, max);
	assert.equal(m.period, 2n ** 64n - 1n);
	const p = await topicOf('pub-only-price', {});
	assert.equal(p.exists, false);
	await mined(add(bob, 'pub-only-price', { pub: 1n }));
	assert.equal((await topicOf('pub-only-price')).pubPrice, 1n);
	assert.equal((await topicOf('pub-only-price')).subPrice, 0n);
});

test('addTopic requires the exact fee', async () => {
	await expectRevert(add(alice, 'fee/low', { value: FEE - 1n }), iface, 'WrongFee');
	await expectRevert(add(alice, 'fee/high', { value: FEE + 1n }), iface, 'WrongFee');
	await expectRevert(add(alice, 'fee/none', { value: 0n }), iface, 'WrongFee');
	assert.equal((await topicOf('fee/low')).exists, false);
});

test('addTopic rejects empty and over-long names, and existing ones', async () => {
	await expectRevert(add(alice, ''), iface, 'BadName');
	await expectRevert(add(alice, 'x'.repeat(65536)), iface, 'BadName');
	await mined(add(alice, 'taken'));
	await expectRevert(add(alice, 'taken'), iface, 'TopicExists');
	await expectRevert(add(bob, 'taken'), iface, 'TopicExists');
	assert.equal((await topicOf('taken')).owner, alice.address);
	// Names are bytes: no normalisation, case matters.
	await mined(add(bob, 'Taken'));
	assert.equal((await topicOf('Taken')).owner, bob.address);
});

test('names of every length round-trip through topicNameAt', async () => {
	const names = [];
	for (const len of [1, 2, 29, 30, 31, 32, 33, 61, 62, 63, 64, 65, 94, 95, 96, 300, 1000])
		names.push(`n${len}/`.padEnd(len, 'abcdefghijklmnopqrstuvwxyz0123456789').slice(0, len));
	names.push('devices/${address}/#', '+/+/#', '#', 'ünïcødé/€/topic', 'a/'.repeat(40));
	const first = await ft.topicCount();
	for (const name of names)
		await mined(add(carol, name));
	assert.equal(await ft.topicCount(), first + BigInt(names.length));
	for (let i = 0; i < names.length; i++) {
		assert.equal(await ft.topicNameAt(first + BigInt(i)), names[i], `name ${i}`);
		assert.equal((await topicOf(names[i])).owner, carol.address);
	}
});

test('storage holds names and countries packed as documented, zero-padded', async () => {
	// Slots: 0 fee/pending fees/count, 1 owner, 2 isReporter, 3 credit, 4 topics, 5 names.
	const address = await ft.getAddress();
	const coder = ethers.AbiCoder.defaultAbiCoder();
	const slotOf = (types, values) => BigInt(ethers.keccak256(coder.encode(types, values)));
	const word = async (slot) => chain.provider.getStorage(address, slot);
	const hex = (s) => ethers.hexlify(ethers.toUtf8Bytes(s)).slice(2);

	const index = await ft.topicCount();
	// Countries first, so that the name is written over used scratch memory.
	await mined(add(alice, 'abc', { countries: EU }));
	const nameSlot = slotOf(['uint256', 'uint256'], [index, 5]);
	assert.equal(await word(nameSlot), '0x0003' + hex('abc').padEnd(60, '0'));
	assert.equal(await word(nameSlot + 1n), ethers.ZeroHash);

	const topicSlot = slotOf(['bytes32', 'uint256'], [ethers.id('abc'), 4]);
	const packed = '1b' + hex(EU.join(''));
	assert.equal(await word(topicSlot + 2n), '0x' + packed.slice(0, 64));
	assert.equal(await word(topicSlot + 3n), '0x' + packed.slice(64).padEnd(64, '0'));
	assert.equal(await word(topicSlot + 4n), ethers.ZeroHash);
	assert.equal(await word(topicSlot + 1n), ethers.ZeroHash, 'no price slot for a free topic');

	const long = 'x'.repeat(29) + '/' + 'y'.repeat(5);
	await mined(add(alice, long));
	const longSlot = slotOf(['uint256', 'uint256'], [index + 1n, 5]);
	assert.equal(await word(longSlot), '0x0023' + hex(long.slice(0, 30)));
	assert.equal(await word(longSlot + 1n), '0x' + hex(long.slice(30)).padEnd(64, '0'));
	assert.equal(await word(longSlot + 2n), ethers.ZeroHash);
});

test('topicNameAt beyond the list is UnknownTopic', async () => {
	const count = await ft.topicCount();
	await expectRevert(ft.topicNameAt(count), iface, 'UnknownTopic');
	await expectRevert(ft.topicNameAt(2n ** 255n), iface, 'UnknownTopic');
});

test('topic() of an unknown name answers exists = false', async () => {
	const t = await topicOf('never/created');
	assert.deepEqual({ ...t, blockNumber: 0n }, {
		exists: false, owner: ethers.ZeroAddress, sensitive: false, selfService: false, pubPrice: 0n,
		subPrice: 0n, period: 0n, countries: [], blockNumber: 0n,
	});
	assert.equal(t.blockNumber, BigInt(await chain.provider.getBlockNumber()));
});

test('countries: stored in order and returned, up to 255 codes', async () => {
	await mined(add(alice, 'eu', { countries: EU }));
	assert.deepEqual((await topicOf('eu')).countries, EU);

	const all = [];
	for (let a = 0; a < 26 && all.length < 255; a++)
		for (let b = 0; b < 26 && all.length < 255; b++)
			all.push(String.fromCharCode(65 + a, 65 + b));
	await mined(add(alice, 'many', { countries: all }));
	assert.deepEqual((await topicOf('many')).countries, all);
	await expectRevert(add(alice, 'too-many', { countries: [...all, 'ZZ'] }), iface, 'BadCountry');

	for (const n of [1, 15, 16, 31, 32])
		await mined(add(alice, `c${n}`, { countries: all.slice(100, 100 + n) }));
	for (const n of [1, 15, 16, 31, 32])
		assert.deepEqual((await topicOf(`c${n}`)).countries, all.slice(100, 100 + n));
});

test('countries: only two capital letters each', async () => {
	for (const bad of ['de', 'dE', 'De', 'D1', '1D', '@A', 'A@', '[A', 'A[', 'Z{', '\0\0', 'A\0'])
		await expectRevert(add(alice, `bad/${bad}`, { countries: ['FR', bad] }), iface, 'BadCountry');
	await expectRevert(ft.connect(alice).setCountries('eu', codes('FR', 'it')), iface, 'BadCountry');
	assert.deepEqual((await topicOf('eu')).countries, EU, 'unchanged by the failed call');
	await mined(add(alice, 'edges', { countries: ['AA', 'ZZ', 'AZ', 'ZA'] }));
	assert.deepEqual((await topicOf('edges')).countries, ['AA', 'ZZ', 'AZ', 'ZA']);
});

test('setCountries replaces the whole list, longer or shorter', async () => {
	await mined(add(alice, 'moving', { countries: EU }));
	const steps = [['DE', 'AT'], EU.slice(0, 20), [], EU.slice(5, 21), ['CH'], EU, []];
	for (const list of steps) {
		const receipt = await mined(as(alice).setCountries('moving', codes(...list)));
		await expectACL(receipt, iface, {
			source: alice.address, target: alice.address, action: Action.TopicChanged,
			name: 'moving', reason: 'countries',
		});
		assert.deepEqual((await topicOf('moving')).countries, list);
		const [, , , , countries] = await ft.access('moving', bob.address);
		assert.deepEqual(countryList(countries), list);
	}
});

test('topic owner settings: each changes the topic and logs TopicChanged naming it', async () => {
	const name = 'settings/t';
	await mined(add(alice, name, { pub: 1n, sub: 2n, period: 60n, countries: ['SE'] }));
	const changes = [
		['prices', () => as(alice).setPrices(name, 10n, 20n), { pubPrice: 10n, subPrice: 20n }],
		['prices', () => as(alice).setPrices(name, 0n, 0n), { pubPrice: 0n, subPrice: 0n }],
		['sensitive', () => as(alice).setSensitive(name, true), { sensitive: true }],
		['sensitive', () => as(alice).setSensitive(name, false), { sensitive: false }],
		['selfService', () => as(alice).setSelfService(name, false), { selfService: false }],
		['selfService', () => as(alice).setSelfService(name, true), { selfService: true }],
		['period', () => as(alice).setPeriod(name, 86400n), { period: 86400n }],
		['period', () => as(alice).setPeriod(name, 0n), { period: 0n }],
		['countries', () => as(alice).setCountries(name, codes('NO', 'IS')), { countries: ['NO', 'IS'] }],
	];
	let want = { ...(await topicOf(name)) };
	for (const [reason, call, delta] of changes) {
		const receipt = await mined(call());
		await expectACL(receipt, iface, {
			source: alice.address, target: alice.address, action: Action.TopicChanged, name, reason,
		});
		want = { ...want, ...delta, blockNumber: BigInt(receipt.blockNumber) };
		assert.deepEqual(await topicOf(name), want, reason);
	}
});

test('access() follows sensitivity and countries', async () => {
	const name = 'access/settings';
	await mined(add(alice, name, { countries: ['PT'] }));
	let [exists, , , sensitive, countries] = await ft.access(name, carol.address);
	assert.equal(exists, true);
	assert.equal(sensitive, false);
	assert.deepEqual(countryList(countries), ['PT']);
	await mined(as(alice).setSensitive(name, true));
	await mined(as(alice).setCountries(name, []));
	[exists, , , sensitive, countries] = await ft.access(name, carol.address);
	assert.equal(sensitive, true);
	assert.deepEqual(countryList(countries), []);
});

test('only the topic owner changes settings; unknown topics are UnknownTopic', async () => {
	const name = 'guarded';
	await mined(add(alice, name));
	const calls = (w, n) => [
		as(w).grant(n, carol.address, true, 0, ''),
		as(w).revoke(n, carol.address, true, ''),
		as(w).setPrices(n, 1n, 1n),
		as(w).setCountries(n, codes('DE')),
		as(w).setSensitive(n, true),
		as(w).setSelfService(n, false),
		as(w).setPeriod(n, 5n),
		as(w).transferTopic(n, bob.address),
	];
	for (const w of [bob, owner])
		for (const p of calls(w, name))
			await expectRevert(p, iface, 'NotTopicOwner');
	for (const p of calls(alice, 'no/such/topic'))
		await expectRevert(p, iface, 'UnknownTopic');
	const t = await topicOf(name);
	assert.deepEqual({ ...t, blockNumber: 0n }, {
		exists: true, owner: alice.address, sensitive: false, selfService: true, pubPrice: 0n,
		subPrice: 0n, period: 0n, countries: [], blockNumber: 0n,
	});
});

test('transferTopic hands over every owner right', async () => {
	const name = 'handover';
	await mined(add(alice, name, { sub: 100n, period: 10n }));
	await expectRevert(as(alice).transferTopic(name, ethers.ZeroAddress), iface, 'BadAddress');

	const receipt = await mined(as(alice).transferTopic(name, bob.address));
	await expectACL(receipt, iface, {
		source: alice.address, target: bob.address, action: Action.TopicChanged, name, reason: 'owner',
	});
	assert.equal((await topicOf(name)).owner, bob.address);

	await expectRevert(as(alice).grant(name, carol.address, true, 0, ''), iface, 'NotTopicOwner');
	await expectRevert(as(alice).setPrices(name, 0n, 0n), iface, 'NotTopicOwner');
	await expectRevert(as(alice).transferTopic(name, alice.address), iface, 'NotTopicOwner');
	await mined(as(bob).grant(name, carol.address, true, 0, 'welcome'));
	await mined(as(bob).setPrices(name, 0n, 100n));

	// Purchases now pay the new owner.
	const aliceCredit = await ft.credit(alice.address);
	const bobCredit = await ft.credit(bob.address);
	await mined(as(carol).buy(name, false, ethers.ZeroAddress, { value: 100n }));
	assert.equal(await ft.credit(bob.address), bobCredit + 100n);
	assert.equal(await ft.credit(alice.address), aliceCredit);
});
