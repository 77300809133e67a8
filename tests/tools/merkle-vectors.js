#!/usr/bin/env node
// Prints access-record and Merkle-tree vectors made with ethers' keccak256
// and a tree written here from docs/AUDIT.md ("The Merkle root"), an
// implementation independent of common/audit.c, for tests/unit/test_merkle.c.
//
// Output, one vector per line, fields separated by one space, byte strings
// as 0x-hex:
//   record <address> <topic> <action> <first_ms> <last_ms> <count> <bytes> <text> <leaf>
//   root <n> <root>          the tree of the first n records' leaves
//   proof <n> <index> <root> <sibling>...   leaf `index` (of the sorted n) and its path
//   end <number of lines before this one>
'use strict';

const path = require('path');
const ethers = require(path.join(__dirname, '..', '..', 'node_modules', 'ethers'));

const lines = [];
const hex = (bytes) => ethers.hexlify(bytes);
const utf8 = (s) => ethers.toUtf8Bytes(s);

// ---- Records ------------------------------------------------------------

const topics = ['plant/line-1/temp', 'a', 'sensitive/#', 'x|y|z', 'Zürich/√/温度',
  '$share-not/inner', 'm'.repeat(300)];
const records = [];
for (let i = 0; i < 37; i++) {
  const address = ethers.keccak256(utf8(`flytrap merkle address ${i % 11}`)).slice(0, 42);
  const action = 1 + (i % 3);
  const first = 1700000000000n + BigInt(i) * 7919n;
  const last = first + BigInt((i * 37) % 1000);
  const count = 1n + BigInt(i % 5);
  const bytes = action === 2 ? 0n : BigInt(i * i * 13);
  records.push({ address, topic: topics[i % topics.length], action, first, last, count, bytes });
}

function text(r) {
  return utf8(`${r.address}|${r.topic}|${r.action}|${r.first}|${r.last}|${r.count}|${r.bytes}`);
}

function leaf(r) {
  return ethers.keccak256(ethers.concat(['0x00', text(r)]));
}

function node(a, b) {
  const [lo, hi] = a < b ? [a, b] : [b, a]; // lowercase hex of equal length
  return ethers.keccak256(ethers.concat(['0x01', lo, hi]));
}

// Levels of the tree from the sorted leaves up, each a list of hashes.
function levels(sortedLeaves) {
  const out = [sortedLeaves];
  while (out[out.length - 1].length > 1) {
    const cur = out[out.length - 1];
    const next = [];
    for (let i = 0; i + 1 < cur.length; i += 2) next.push(node(cur[i], cur[i + 1]));
    if (cur.length % 2 === 1) next.push(cur[cur.length - 1]);
    out.push(next);
  }
  return out;
}

for (const r of records) {
  lines.push(`record ${r.address} ${hex(utf8(r.topic))} ${r.action} ${r.first} ${r.last} ` +
    `${r.count} ${r.bytes} ${hex(text(r))} ${leaf(r)}`);
}

for (let n = 1; n <= records.length; n++) {
  const sorted = records.slice(0, n).map(leaf).sort();
  const lv = levels(sorted);
  const root = lv[lv.length - 1][0];
  lines.push(`root ${n} ${root}`);
  if (n === 1 || n === 2 || n === 5 || n === 8 || n === 13 || n === records.length) {
    for (let index = 0; index < n; index++) {
      const path = [];
      let i = index;
      for (let l = 0; l + 1 < lv.length; l++) {
        const sib = i ^ 1;
        if (sib < lv[l].length) path.push(lv[l][sib]);
        i >>= 1;
      }
      lines.push(`proof ${n} ${index} ${root}${path.length ? ' ' + path.join(' ') : ''}`);
    }
  }
}

for (const l of lines) console.log(l);
console.log(`end ${lines.length}`);
