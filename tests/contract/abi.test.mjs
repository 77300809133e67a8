// The contract's interface as the C side sees it: function and error
// selectors, event hashes and Action numbers must match docs/CONTRACT.md,
// access() must encode as documented, and contracts/build.sh must produce
// exactly FlyTrap.abi and FlyTrap.bin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
	ethers, ROOT, loadContract, startChain, deploy, mined, codes, Action, FOREVER,
} from './harness.mjs';

const DOC = fs.readFileSync(path.join(ROOT, 'docs/CONTRACT.md'), 'utf8');
const SOURCE = fs.readFileSync(path.join(ROOT, 'contracts/FlyTrap.sol'), 'utf8');

// The interface the off-chain side is written against. A change here is an
// interface change: update docs/CONTRACT.md and tell chaind/flytrapctl.
const FUNCTIONS = {
	'access(string,address)': ['view', 'bool,uint64,uint64,bool,bytes2[],uint256'],
	'addTopic(string,bool,uint128,uint128,uint64,bytes2[])': ['payable', ''],
	'buy(string,bool,address)': ['payable', ''],
	'credit(address)': ['view', 'uint256'],
	'fee()': ['view', 'uint96'],
	'grant(string,address,bool,uint64,string)': ['nonpayable', ''],
	'isReporter(address)': ['view', 'bool'],
	'logAlert(uint8,address,string,string)': ['nonpayable', ''],
	'logSummary(string,string,bytes32,uint64,uint64)': ['nonpayable', ''],
	'owner()': ['view', 'address'],
	'revoke(string,address,bool,string)': ['nonpayable', ''],
	'setCountries(string,bytes2[])': ['nonpayable', ''],
	'setFee(uint96)': ['nonpayable', ''],
	'setPeriod(string,uint64)': ['nonpayable', ''],
	'setPrices(string,uint128,uint128)': ['nonpayable', ''],
	'setReporter(address,bool)': ['nonpayable', ''],
	'setSelfService(string,bool)': ['nonpayable', ''],
	'setSensitive(string,bool)': ['nonpayable', ''],
	'topic(string)': ['view', 'bool,address,bool,bool,uint128,uint128,uint64,bytes2[],uint256'],
	'topicCount()': ['view', 'uint32'],
	'topicNameAt(uint256)': ['view', 'string'],
	'transferOwnership(address)': ['nonpayable', ''],
	'transferTopic(string,address)': ['nonpayable', ''],
	'withdraw()': ['nonpayable', ''],
};

let artifact, iface, chain;

before(async () => {
	artifact = loadContract();
	iface = new ethers.Interface(artifact.abi);
});

after(async () => {
	await chain?.stop();
});

/** Table rows of the doc: { sig (types only), selector } for `f(type name, ...)` | `0x........`. */
function documented() {
	const rows = [];
	for (const line of DOC.split('\n')) {
		const fn = line.match(/^\| `(\w+)\(([^)]*)\)` \| `(0x[0-9a-f]{8})` \|/);
		if (!fn)
			continue;
		const types = fn[2].split(',').map((p) => p.trim().split(/\s+/)[0]).filter(Boolean);
		rows.push({ sig: `${fn[1]}(${types.join(',')})`, selector: fn[3] });
	}
	return rows;
}

test('the ABI is exactly the documented interface', () => {
	const got = {};
	iface.forEachFunction((f) => {
		got[f.format('sighash')] = [f.stateMutability, f.outputs.map((o) => o.type).join(',')];
	});
	assert.deepEqual(got, FUNCTIONS);
	assert.equal(artifact.abi.filter((e) => e.type === 'fallback' || e.type === 'receive').length, 0);
	assert.deepEqual(artifact.abi.find((e) => e.type === 'constructor').inputs.map((i) => i.type), ['uint96']);
});

test('docs/CONTRACT.md lists every function and error with its right selector', () => {
	const rows = documented();
	const bySig = new Map(rows.map((r) => [r.sig, r.selector]));
	iface.forEachFunction((f) => {
		const sig = f.format('sighash');
		assert.equal(bySig.get(sig), f.selector, `function ${sig}`);
	});
	iface.forEachError((e) => {
		const sig = e.format('sighash');
		assert.equal(bySig.get(sig), e.selector, `error ${sig}`);
		assert.equal(ethers.id(sig).slice(0, 10), e.selector);
	});
	for (const r of rows)
		assert.equal(ethers.id(r.sig).slice(0, 10), r.selector, `documented ${r.sig}`);
	let errors = 0;
	iface.forEachError(() => errors++);
	assert.equal(errors, 16, 'the error set is small and documented');
});

test('event hashes are the documented ones', () => {
	for (const name of ['ACLChange', 'SummaryRoot']) {
		const ev = iface.getEvent(name);
		assert.ok(DOC.includes(`| \`${ev.format('sighash')}\` | \`${ev.topicHash}\` |`), name);
	}
	assert.equal(iface.getEvent('ACLChange').format('sighash'), 'ACLChange(address,address,uint8,string,string,uint256)');
	assert.deepEqual(iface.getEvent('ACLChange').inputs.map((i) => i.indexed), [true, true, true, false, false, false]);
	assert.deepEqual(iface.getEvent('SummaryRoot').inputs.map((i) => i.indexed), [true, false, false, false]);
});

test('Action numbering: source, docs and the tests agree; the original eight come first', () => {
	const body = SOURCE.match(/enum Action \{([^}]*)\}/)[1];
	const names = body.split('\n').map((l) => l.replace(/\/\/.*/, '').trim().replace(/,$/, '')).filter(Boolean);
	assert.deepEqual(names, Object.keys(Action));
	assert.deepEqual(names.slice(0, 8),
		['AddTopic', 'AddPub', 'AddSub', 'RevokePub', 'RevokeSub', 'WrongCountry', 'Banned', 'Summary']);
	names.forEach((name, i) => {
		assert.equal(Action[name], i);
		assert.match(DOC, new RegExp(`^\\| ${i} \\| \`${name}\` \\|`, 'm'), `docs row for ${name}`);
	});
});

test('access() call and return data are laid out as documented', async () => {
	chain = await startChain();
	const [owner, alice, bob] = chain.wallets;
	const { contract: ft } = await deploy(artifact, owner, 0n);
	await mined(ft.connect(alice).addTopic('a/${address}/#', true, 0, 0, 0, codes('DE', 'FR', 'IT')));
	await mined(ft.connect(alice).grant('a/${address}/#', bob.address, false, 0, ''));
	const data = iface.encodeFunctionData('access', ['a/${address}/#', bob.address]);
	const words = (hex) => hex.slice(2).match(/.{64}/g);
	const call = words('0x' + data.slice(10));
	assert.equal(data.slice(0, 10), '0x9b913c3e');
	assert.equal(BigInt('0x' + call[0]), 0x40n);
	assert.equal(BigInt('0x' + call[1]), BigInt(bob.address));
	assert.equal(BigInt('0x' + call[2]), 14n);

	const ret = await chain.provider.call({ to: await ft.getAddress(), data });
	const w = words(ret);
	const block = BigInt(await chain.provider.getBlockNumber());
	assert.equal(w.length, 7 + 3);
	assert.equal(BigInt('0x' + w[0]), 1n, 'exists');
	assert.equal(BigInt('0x' + w[1]), 0n, 'pubExpiry');
	assert.equal(BigInt('0x' + w[2]), FOREVER, 'subExpiry');
	assert.equal(BigInt('0x' + w[3]), 1n, 'sensitive');
	assert.equal(BigInt('0x' + w[4]), 0xc0n, 'countries offset');
	assert.equal(BigInt('0x' + w[5]), block, 'blockNumber');
	assert.equal(BigInt('0x' + w[6]), 3n, 'country count');
	assert.deepEqual(w.slice(7), ['4445', '4652', '4954'].map((c) => c.padEnd(64, '0')));
});

test('contracts/build.sh writes exactly FlyTrap.abi and FlyTrap.bin', () => {
	const usage = spawnSync(path.join(ROOT, 'contracts/build.sh'), [], { encoding: 'utf8' });
	assert.equal(usage.status, 2);
	assert.match(usage.stderr, /usage/);

	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flytrap-build-'));
	try {
		const out = path.join(dir, 'nested/out');
		execFileSync(path.join(ROOT, 'contracts/build.sh'), [out], {
			cwd: os.tmpdir(), stdio: ['ignore', 'ignore', 'inherit'], timeout: 180_000,
		});
		assert.deepEqual(fs.readdirSync(out).sort(), ['FlyTrap.abi', 'FlyTrap.bin']);
		const bin = fs.readFileSync(path.join(out, 'FlyTrap.bin'), 'utf8').trim();
		assert.match(bin, /^[0-9a-f]+$/);
		const abi = JSON.parse(fs.readFileSync(path.join(out, 'FlyTrap.abi'), 'utf8'));
		assert.deepEqual(new ethers.Interface(abi).format(), iface.format());
		assert.ok(fs.statSync(path.join(out, 'FlyTrap.bin')).mtimeMs >= fs.statSync(path.join(out, 'FlyTrap.abi')).mtimeMs);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
