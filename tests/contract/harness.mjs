// Shared harness of the contract tests and tests/contract/gas.mjs: builds the
// contract, runs a private anvil on a free loopback port for one test file,
// and wraps ethers 6 with helpers for reverts, events and time travel.
// Not a test file itself (node --test only picks up *.test.mjs).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';

export { ethers };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MNEMONIC = 'test test test test test test test test test test test junk';
export const FOREVER = 2n ** 64n - 1n;

/** Action numbering of docs/CONTRACT.md (appended values at the end). */
export const Action = Object.freeze({
	AddTopic: 0, AddPub: 1, AddSub: 2, RevokePub: 3, RevokeSub: 4,
	WrongCountry: 5, Banned: 6, Summary: 7, TopicChanged: 8, Withdraw: 9,
	AddReporter: 10, RemoveReporter: 11, FeeChanged: 12, OwnerChanged: 13,
});

const ANVIL = path.join(ROOT, 'node_modules/.bin/anvil');
const BUILD_TIMEOUT_MS = 180_000;
const ANVIL_START_MS = 20_000;
const ANVIL_STOP_MS = 5_000;

// ---- Building ---------------------------------------------------------------

/**
 * The compiled contract: { abi, bytecode }. Reads FlyTrap.abi/.bin from
 * $FLYTRAP_CONTRACT_BUILD when set, otherwise runs contracts/build.sh into
 * a temporary directory (removed again before returning).
 */
export function loadContract() {
	let dir = process.env.FLYTRAP_CONTRACT_BUILD;
	let tmp = null;
	if (!dir) {
		tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flytrap-contract-'));
		dir = tmp;
		execFileSync(path.join(ROOT, 'contracts/build.sh'), [dir], {
			stdio: ['ignore', 'ignore', 'inherit'], timeout: BUILD_TIMEOUT_MS,
		});
	}
	try {
		const abi = JSON.parse(fs.readFileSync(path.join(dir, 'FlyTrap.abi'), 'utf8'));
		const bin = fs.readFileSync(path.join(dir, 'FlyTrap.bin'), 'utf8').trim();
		return { abi, bytecode: '0x' + bin };
	} finally {
		if (tmp)
			fs.rmSync(tmp, { recursive: true, force: true });
	}
}

/** Compiles a Solidity test fixture (tests/contract/fixtures/NAME.sol). */
export async function loadFixture(name) {
	const { default: solc } = await import('solc');
	const file = `${name}.sol`;
	const input = {
		language: 'Solidity',
		sources: { [file]: { content: fs.readFileSync(path.join(ROOT, 'tests/contract/fixtures', file), 'utf8') } },
		settings: { optimizer: { enabled: true, runs: 200 },
			outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
	};
	const out = JSON.parse(solc.compile(JSON.stringify(input)));
	const errors = (out.errors || []).filter((e) => e.severity === 'error');
	if (errors.length)
		throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
	const c = out.contracts[file][name];
	return { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
}

// ---- Anvil --------------------------------------------------------------------

function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

async function rpcAnswers(url) {
	try {
		const res = await fetch(url, {
			method: 'POST', headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
			signal: AbortSignal.timeout(1000),
		});
		return (await res.json()).result !== undefined;
	} catch {
		return false;
	}
}

const running = new Set();
function killAll() {
	for (const child of running)
		child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
	process.on(sig, () => {
		killAll();
		process.exit(128 + os.constants.signals[sig]);
	});
}

/*
 * anvil runs under a small sh watchdog that kills it as soon as its stdin
 * (a pipe from this process) closes: on stop(), and also when this process
 * dies without cleaning up, so no anvil outlives its test file.
 */
async function spawnAnvil(port) {
	const child = spawn('/bin/sh', ['-c',
		'"$0" "$@" </dev/null & pid=$!; read _; kill "$pid" 2>/dev/null; wait "$pid"',
		ANVIL, '--port', String(port), '--host', '127.0.0.1', '--silent'],
	{ stdio: ['pipe', 'ignore', 'inherit'] });
	running.add(child);
	const exited = new Promise((resolve) => child.on('exit', resolve));
	const stop = async () => {
		if (!running.has(child))
			return;
		child.stdin.end();
		const timer = setTimeout(() => child.kill('SIGKILL'), ANVIL_STOP_MS);
		await exited;
		clearTimeout(timer);
		running.delete(child);
	};
	const url = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + ANVIL_START_MS;
	while (Date.now() < deadline) {
		if (child.exitCode !== null)
			break;
		if (await rpcAnswers(url))
			return { url, stop };
		await new Promise((r) => setTimeout(r, 50));
	}
	await stop();
	return null;
}

/**
 * Starts a private anvil and returns { url, provider, wallets, stop }.
 * wallets[i] is anvil's funded account i (the standard test mnemonic).
 */
export async function startChain() {
	for (let attempt = 0; attempt < 3; attempt++) {
		const node = await spawnAnvil(await freePort());
		if (!node)
			continue;
		const provider = new ethers.JsonRpcProvider(node.url, undefined, {
			staticNetwork: ethers.Network.from(31337), cacheTimeout: -1, pollingInterval: 50,
		});
		const wallets = [];
		for (let i = 0; i < 10; i++)
			wallets.push(ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider));
		return {
			url: node.url, provider, wallets,
			stop: async () => { provider.destroy(); await node.stop(); },
		};
	}
	throw new Error('anvil did not start');
}

// ---- Contract helpers ----------------------------------------------------------

export async function deploy(artifact, signer, ...args) {
	const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, signer);
	const contract = await factory.deploy(...args);
	const receipt = await contract.deploymentTransaction().wait();
	return { contract, receipt };
}

/** Sends a transaction (a contract method promise) and returns its receipt. */
export async function mined(txPromise) {
	const tx = await txPromise;
	const receipt = await tx.wait();
	assert.equal(receipt.status, 1);
	return receipt;
}

/** The revert data carried by an ethers error, or null. */
function revertData(err) {
	for (let e = err; e; e = e.error || e.info?.error) {
		if (typeof e.data === 'string' && e.data.startsWith('0x'))
			return e.data;
		if (typeof e.data?.data === 'string')
			return e.data.data;
	}
	return null;
}

/**
 * Asserts that `promise` fails with the custom error `name` of `iface`
 * (or, with name === null, with empty revert data).
 */
export async function expectRevert(promise, iface, name) {
	let err = null;
	try {
		const tx = await promise;
		if (tx && typeof tx.wait === 'function')
			await tx.wait();
	} catch (e) {
		err = e;
	}
	assert.ok(err, `expected revert ${name ?? '(no data)'}, but it succeeded`);
	const data = revertData(err);
	if (name === null) {
		assert.ok(data === '0x' || data === null, `expected empty revert data, got ${data}: ${err.shortMessage ?? err}`);
		return;
	}
	assert.ok(data && data !== '0x', `expected ${name}, got no revert data: ${err.shortMessage ?? err}`);
	const parsed = iface.parseError(data);
	assert.ok(parsed, `unknown revert data ${data}`);
	assert.equal(parsed.name, name);
}

/** The contract's events in a receipt, decoded: [{ name, args, log }]. */
export function events(receipt, iface) {
	const out = [];
	for (const log of receipt.logs) {
		const parsed = iface.parseLog(log);
		if (parsed)
			out.push({ name: parsed.name, args: parsed.args, log });
	}
	return out;
}

/**
 * The ACLChange events of a receipt as plain objects, with the indexed
 * fields checked against the raw log topics.
 */
export function aclChanges(receipt, iface) {
	return events(receipt, iface).filter((e) => e.name === 'ACLChange').map(({ args, log }) => {
		assert.equal(log.topics.length, 4);
		assert.equal(ethers.getAddress(ethers.dataSlice(log.topics[1], 12)), args.source);
		assert.equal(ethers.getAddress(ethers.dataSlice(log.topics[2], 12)), args.target);
		assert.equal(BigInt(log.topics[3]), args.action);
		return {
			source: args.source, target: args.target, action: Number(args.action),
			name: args.name, reason: args.reason, timestamp: args.timestamp,
		};
	});
}

/** Asserts that a receipt carries exactly one ACLChange, equal to `want`. */
export async function expectACL(receipt, iface, want) {
	const got = aclChanges(receipt, iface);
	assert.equal(got.length, 1, `expected one ACLChange, got ${got.length}`);
	const block = await receipt.provider.getBlock(receipt.blockNumber);
	assert.deepEqual(got[0], { ...want, timestamp: BigInt(block.timestamp) });
}

export async function latestTime(provider) {
	return BigInt((await provider.getBlock('latest')).timestamp);
}

/** Moves the chain's clock forward and mines a block. */
export async function increaseTime(provider, seconds) {
	await provider.send('evm_increaseTime', [Number(seconds)]);
	await provider.send('evm_mine', []);
}

/** Fixes the timestamp of the next block (then mined by a transaction). */
export async function setNextTime(provider, time) {
	await provider.send('evm_setNextBlockTimestamp', [Number(time)]);
}

/** bytes2[] argument from country codes: codes('DE', 'FR'). */
export function codes(...list) {
	return list.map((c) => ethers.hexlify(ethers.toUtf8Bytes(c)));
}

/** The 27 EU member states. */
export const EU = ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE',
	'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'];

/** bytes2[] results back to strings. */
export function countryList(result) {
	return Array.from(result, (c) => ethers.toUtf8String(c));
}

/** Wei paid for a receipt's gas. */
export function gasCost(receipt) {
	return receipt.gasUsed * receipt.gasPrice;
}
