#!/usr/bin/env node
// Reads FlyTrap contract state and chain data with ethers (a client library
// independent of flytrapctl's C code) for tests/integration/test_2*.py.
//
// Usage: ethers_read.js REQUEST_JSON
//   REQUEST_JSON: {"url": node URL, "abi": path of FlyTrap.abi,
//                  "contract": address, "calls": [[function, args...], ...],
//                  "chain": [[method, args...], ...]}
//   chain methods: getBalance ADDRESS, getCode ADDRESS, getTransaction HASH,
//                  getReceipt HASH, getBlock NUMBER
// Prints {"calls": [...], "chain": [...]} as JSON: integers as decimal
// strings, tuples as arrays, byte strings as 0x-hex.
'use strict';

const fs = require('fs');
const path = require('path');
// The repository's pinned ethers, whatever the current directory.
const { ethers } = require(path.join(__dirname, '..', '..', 'node_modules', 'ethers'));

function plain(v) {
  if (typeof v === 'bigint')
    return v.toString();
  if (v === null || v === undefined)
    return null;
  if (Array.isArray(v) || v instanceof ethers.Result)
    return Array.from(v, plain);
  return v;
}

function pick(obj, fields) {
  if (obj === null)
    return null;
  const out = {};
  for (const f of fields)
    out[f] = plain(obj[f]);
  return out;
}

async function chainCall(provider, method, args) {
  switch (method) {
  case 'getBalance':
    return plain(await provider.getBalance(args[0]));
  case 'getCode':
    return await provider.getCode(args[0]);
  case 'getTransaction':
    return pick(await provider.getTransaction(args[0]), ['type', 'from', 'to', 'nonce',
      'gasLimit', 'gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'value', 'chainId',
      'blockNumber', 'data']);
  case 'getReceipt':
    return pick(await provider.getTransactionReceipt(args[0]), ['status', 'gasUsed',
      'gasPrice', 'fee', 'blockNumber', 'contractAddress', 'from', 'to']);
  case 'getBlock':
    return pick(await provider.getBlock(Number(args[0])), ['number', 'timestamp',
      'baseFeePerGas', 'gasLimit']);
  default:
    throw new Error(`unknown chain method ${method}`);
  }
}

async function main() {
  const req = JSON.parse(process.argv[2]);
  const provider = new ethers.JsonRpcProvider(req.url, undefined, { staticNetwork: true });
  const out = { calls: [], chain: [] };
  try {
    if (req.calls && req.calls.length) {
      const abi = JSON.parse(fs.readFileSync(req.abi, 'utf8'));
      const contract = new ethers.Contract(req.contract, abi, provider);
      for (const [fn, ...args] of req.calls)
        out.calls.push(plain(await contract[fn](...args)));
    }
    for (const [method, ...args] of req.chain || [])
      out.chain.push(await chainCall(provider, method, args));
  } finally {
    provider.destroy();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
