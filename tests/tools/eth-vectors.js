#!/usr/bin/env node
// Prints Keccak-256, EIP-191 signature and FlyTrap token-message vectors made
// by ethers (an implementation independent of ours) for the C unit tests.
//
// Output, one vector per line, fields separated by one space, byte strings
// as 0x-hex ("0x" alone when empty):
//   keccak <len> <digest>            data[i] = (i * 131 + 17) mod 256
//   keccak-a <len> <digest>          data = <len> times 'a'
//   sign <key> <msg> <sig> <address> <eip191 digest>
//   token-timed <realm> <client id> <unix time> <msg>
//   token-challenge <realm> <client id> <nonce> <msg>
//   token-static <realm> <address> <msg>
//   end <number of lines before this one>
'use strict';

const path = require('path');
// The repository's pinned ethers, whatever the current directory.
const ethers = require(path.join(__dirname, '..', '..', 'node_modules', 'ethers'));

const lines = [];
const hex = (bytes) => ethers.hexlify(bytes);
const utf8 = (s) => ethers.toUtf8Bytes(s);

// ---- Keccak-256 -------------------------------------------------------------

function pattern(len) {
  const data = new Uint8Array(len);
  for (let i = 0; i < len; i++) data[i] = (i * 131 + 17) % 256;
  return data;
}

for (const len of [0, 1, 31, 32, 33, 55, 56, 64, 127, 135, 136, 137, 200,
  271, 272, 273, 408, 1000, 4096, 65537]) {
  lines.push(`keccak ${len} ${ethers.keccak256(pattern(len))}`);
}
for (const len of [135, 136, 137, 1000000]) {
  lines.push(`keccak-a ${len} ${ethers.keccak256(new Uint8Array(len).fill(0x61))}`);
}

// ---- Keys and messages ------------------------------------------------------

const n = ethers.N;
const keys = [];
for (let i = 0; i < 18; i++) keys.push(ethers.keccak256(utf8(`flytrap test key ${i}`)));
keys.push(ethers.toBeHex(1n, 32));
keys.push(ethers.toBeHex(n - 1n, 32));

const realm = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const tokenMessages = [];

function timed(client, time) {
  const msg = utf8(`FlyTrap CONNECT\nrealm: ${realm}\nclient: ${client}\ntime: ${time}`);
  lines.push(`token-timed ${hex(utf8(realm))} ${hex(utf8(client))} ${time} ${hex(msg)}`);
  return msg;
}
function challenge(client, nonce) {
  const msg = utf8(`FlyTrap AUTH\nrealm: ${realm}\nclient: ${client}\nnonce: ${nonce.slice(2)}`);
  lines.push(`token-challenge ${hex(utf8(realm))} ${hex(utf8(client))} ${nonce} ${hex(msg)}`);
  return msg;
}
function statik(address) {
  const msg = utf8(`FlyTrap STATIC\nrealm: ${realm}\naddress: ${address}`);
  lines.push(`token-static ${hex(utf8(realm))} ${address} ${hex(msg)}`);
  return msg;
}

tokenMessages.push(timed('sensor-42', 1700000000));
tokenMessages.push(timed('', 0));
tokenMessages.push(timed('капуста/1 ✓', 4102444800));
tokenMessages.push(timed('neg', -5));
tokenMessages.push(challenge('sensor-42', ethers.keccak256(utf8('nonce 1'))));
tokenMessages.push(challenge('', '0x' + '00'.repeat(32)));

const messages = [
  new Uint8Array(0),
  utf8('hello'),
  utf8('abc'),
  utf8('x'.repeat(135)),
  utf8('y'.repeat(136)),
  utf8('z'.repeat(1000)),
  pattern(5000),
  utf8('héllo wörld ✓ 🪰 – 日本語'),
  pattern(256).map((_, i) => i),
  utf8('line one\nline two\r\n\ttab'),
  ...tokenMessages,
];

function sign(key, msg) {
  const wallet = new ethers.Wallet(key);
  const sig = wallet.signMessageSync(msg);
  lines.push(`sign ${key} ${hex(msg)} ${sig} ${wallet.address.toLowerCase()} ` +
    ethers.hashMessage(msg));
}

// Key 0 signs every message; every key signs one message and its static token.
for (const msg of messages) sign(keys[0], msg);
keys.forEach((key, i) => {
  sign(key, messages[i % messages.length]);
  sign(key, statik(new ethers.Wallet(key).address.toLowerCase()));
});

lines.push(`end ${lines.length}`);
process.stdout.write(lines.join('\n') + '\n');
