// Reporters' audit events: alerts (WrongCountry, Banned) and summaries with
// their SummaryRoot companion; nobody else can write either.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	ethers, loadContract, startChain, deploy, mined, expectRevert, expectACL, events,
	aclChanges, Action,
} from './harness.mjs';

let chain, ft, iface, owner, reporter, alice, device;

before(async () => {
	const artifact = loadContract();
	chain = await startChain();
	[owner, reporter, alice, device] = chain.wallets;
	({ contract: ft } = await deploy(artifact, owner, 0n));
	iface = ft.interface;
	await mined(ft.connect(owner).setReporter(reporter.address, true));
	await mined(ft.connect(alice).addTopic('medical/+/ecg', true, 0, 0, 0, []));
});

after(async () => {
	await chain?.stop();
});

const as = (w) => ft.connect(w);
const ROOT = ethers.keccak256(ethers.toUtf8Bytes('merkle root'));

test('alerts and summaries are for reporters only, not even the owner', async () => {
	for (const w of [owner, alice, device]) {
		await expectRevert(as(w).logAlert(Action.Banned, device.address, '', 'failures=3'), iface, 'NotReporter');
		await expectRevert(as(w).logSummary('medical/+/ecg', 'x', ROOT, 1, 2), iface, 'NotReporter');
	}
});

test('logAlert records WrongCountry and Banned against the target', async () => {
	const r1 = await mined(as(reporter).logAlert(Action.WrongCountry, device.address, 'medical/+/ecg', 'country=CN'));
	await expectACL(r1, iface, {
		source: reporter.address, target: device.address, action: Action.WrongCountry,
		name: 'medical/+/ecg', reason: 'country=CN',
	});
	const r2 = await mined(as(reporter).logAlert(Action.Banned, device.address, '', 'auth failures=3 ban=300s'));
	await expectACL(r2, iface, {
		source: reporter.address, target: device.address, action: Action.Banned,
		name: '', reason: 'auth failures=3 ban=300s',
	});
	// Anonymous clients: the target may be zero.
	const r3 = await mined(as(reporter).logAlert(Action.Banned, ethers.ZeroAddress, '', 'ip ban'));
	assert.equal(aclChanges(r3, iface)[0].target, ethers.ZeroAddress);
});

test('logAlert refuses every other action', async () => {
	for (const action of Object.values(Action)) {
		if (action === Action.WrongCountry || action === Action.Banned)
			continue;
		await expectRevert(as(reporter).logAlert(action, device.address, 'n', 'r'), iface, 'BadAction');
	}
	// Beyond the enum, the ABI decoder refuses the call (no revert data).
	const address = await ft.getAddress();
	for (const action of [Object.keys(Action).length, 255]) {
		const data = iface.encodeFunctionData('logAlert', [Action.Banned, device.address, 'n', 'r']);
		const raw = data.slice(0, 10) + action.toString(16).padStart(64, '0') + data.slice(74);
		await expectRevert(reporter.sendTransaction({ to: address, data: raw }), iface, null);
	}
});

test('logSummary: a Summary ACLChange followed by its SummaryRoot', async () => {
	const name = 'medical/+/ecg';
	const reason = 'pub 0x70997970c51812dc3a010c7d01b50e0d17dc79c8 x3; sub 0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc x1';
	const receipt = await mined(as(reporter).logSummary(name, reason, ROOT, 1700000000, 1700003600));
	await expectACL(receipt, iface, {
		source: reporter.address, target: ethers.ZeroAddress, action: Action.Summary, name, reason,
	});
	const all = events(receipt, iface);
	assert.deepEqual(all.map((e) => e.name), ['ACLChange', 'SummaryRoot']);
	const { args, log } = all[1];
	assert.equal(log.index, all[0].log.index + 1);
	assert.deepEqual(log.topics, [iface.getEvent('SummaryRoot').topicHash, ROOT]);
	assert.equal(args.root, ROOT);
	assert.equal(args.name, name);
	assert.equal(args.periodStart, 1700000000n);
	assert.equal(args.periodEnd, 1700003600n);

	// Found again by its root alone, as an auditor holding a proof would.
	const found = await chain.provider.getLogs({
		address: await ft.getAddress(), fromBlock: 0,
		topics: [iface.getEvent('SummaryRoot').topicHash, ROOT],
	});
	assert.equal(found.length, 1);
	assert.equal(found[0].transactionHash, receipt.hash);
});

test('logSummary without a root still logs both events', async () => {
	const receipt = await mined(as(reporter).logSummary('medical/+/ecg', 'nothing', ethers.ZeroHash, 5, 6));
	const all = events(receipt, iface);
	assert.deepEqual(all.map((e) => e.name), ['ACLChange', 'SummaryRoot']);
	assert.equal(all[1].args.root, ethers.ZeroHash);
});

test('a removed reporter can no longer log', async () => {
	await mined(as(owner).setReporter(reporter.address, false));
	await expectRevert(as(reporter).logAlert(Action.Banned, device.address, '', ''), iface, 'NotReporter');
	await expectRevert(as(reporter).logSummary('', '', ethers.ZeroHash, 0, 0), iface, 'NotReporter');
	await mined(as(owner).setReporter(reporter.address, true));
	await mined(as(reporter).logAlert(Action.Banned, device.address, '', ''));
});

test('ACLChange events can be filtered by source, target and action', async () => {
	const address = await ft.getAddress();
	const topicHash = iface.getEvent('ACLChange').topicHash;
	const pad = (a) => ethers.zeroPadValue(a, 32);
	const banned = await chain.provider.getLogs({
		address, fromBlock: 0,
		topics: [topicHash, pad(reporter.address), pad(device.address), ethers.toBeHex(Action.Banned, 32)],
	});
	assert.equal(banned.length, 2, 'two Banned alerts against device');
	const byAlice = await chain.provider.getLogs({ address, fromBlock: 0, topics: [topicHash, pad(alice.address)] });
	assert.equal(byAlice.length, 1, 'alice created one topic');
	assert.equal(Number(iface.parseLog(byAlice[0]).args.action), Action.AddTopic);
});
