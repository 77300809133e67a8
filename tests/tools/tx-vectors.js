#!/usr/bin/env node
// Prints RLP, ABI, transaction and keystore vectors made by ethers (an
// implementation independent of ours) for the C unit tests, and checks that
// ethers decrypts a keystore the C code wrote.
//
// Usage: tx-vectors.js rlp|abi|tx|keystore      prints that section
//        tx-vectors.js check-keystore FILE PASSWORD [FILE PASSWORD]...
//            decrypts each FILE with the PASSWORD bytes (0x-hex) and prints
//            "ok <key> <address>" for each (exit 1 and a message if one
//            fails)
//
// Output, one vector per line, fields separated by one space, byte strings
// as 0x-hex ("0x" alone when empty), "-" for an absent field:
//   rlp <item> <encoding>        item: 0x-hex string, or [item,item,...]
//   rlp-uint <decimal u64> <encoding>
//   rlp-u256 <32-byte value> <encoding>
//   abi-selector <signature> <selector>
//   abi-topic <event signature> <topic0>
//   abi-call <signature> <args> <call data>      Interface.encodeFunctionData
//   abi-tuple <(types)> <args> <encoding>         AbiCoder.encode
//       args: comma-separated, "-" for none; uintN/bytesN/address/string/
//       bytes as 0x-hex (uints 32 bytes), bool as true/false, bytes2[] and
//       address[] as their items' bytes concatenated
//   abi-revert-error <message> <data>
//   abi-revert-panic <code> <data>
//   abi-revert-custom <signature> <arguments> <data>
//   tx <type 0|2> <key> <chainId> <nonce> <gasLimit> <gasPrice|maxPriorityFee>
//      <-|maxFee> <to|-> <value> <data> <signing hash> <raw> <tx hash>
//   keystore <password> <key> <address> <json>
//   end <number of lines before this one>
'use strict';

const path = require('path');
const fs = require('fs');
const crypto = require('crypto');
// The repository's pinned ethers, whatever the current directory.
const ethers = require(path.join(__dirname, '..', '..', 'node_modules', 'ethers'));

const lines = [];
const hex = (bytes) => ethers.hexlify(bytes);
const utf8 = (s) => ethers.toUtf8Bytes(s);
const word = (v) => ethers.toBeHex(BigInt(v), 32);

function pattern(len, seed = 0) {
  const data = new Uint8Array(len);
  for (let i = 0; i < len; i++) data[i] = (i * 131 + 17 + seed * 7) % 256;
  return data;
}

// ---- RLP --------------------------------------------------------------------

function rlpNotation(item) {
  if (Array.isArray(item)) return '[' + item.map(rlpNotation).join(',') + ']';
  return item;
}

function rlp(item) {
  lines.push(`rlp ${rlpNotation(item)} ${ethers.encodeRlp(item)}`);
}

function rlpSection() {
  for (const len of [0, 2, 54, 55, 56, 57, 255, 256, 1024, 65535, 65536]) {
    rlp(hex(pattern(len)));
  }
  for (const b of [0x00, 0x01, 0x7f, 0x80, 0x81, 0xff]) rlp(hex(new Uint8Array([b])));
  rlp(hex(utf8('dog')));
  rlp([]);
  rlp([[]]);
  rlp([hex(utf8('cat')), hex(utf8('dog'))]);
  // The set-theoretic representation of three.
  rlp([[], [[]], [[], [[]]]]);
  rlp(['0x', '0x00', '0x7f', '0x80', []]);
  // List payloads of 55 and 56 bytes: the short/long header boundary.
  rlp([hex(pattern(53))]);
  rlp([hex(pattern(54))]);
  rlp([hex(pattern(1)), hex(pattern(52))]);
  rlp([hex(pattern(300)), [hex(pattern(60)), []], hex(pattern(2))]);
  rlp(Array.from({ length: 100 }, (_, i) => hex(pattern(i % 7, i))));
  let deep = [];
  for (let i = 1; i < 16; i++) deep = [deep];
  rlp(deep);
  rlp([[hex(pattern(70000))], hex(pattern(3))]);

  for (const n of [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x100n, 1024n, 0xffffffn,
    0x1000000n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n]) {
    lines.push(`rlp-uint ${n} ${ethers.encodeRlp(ethers.toBeArray(n))}`);
  }
  for (const n of [0n, 1n, 0x80n, 1n << 64n, (1n << 128n) + 5n, (1n << 255n),
    (1n << 256n) - 1n, 10n ** 18n]) {
    lines.push(`rlp-u256 ${word(n)} ${ethers.encodeRlp(ethers.toBeArray(n))}`);
  }
}

// ---- ABI --------------------------------------------------------------------

// Splits "name(t1,t2)" into its types (no tuples needed here).
function typesOf(signature) {
  const inner = signature.slice(signature.indexOf('(') + 1, -1);
  return inner === '' ? [] : inner.split(',');
}

// One argument in the text form the C test parses, and its ethers value.
function argText(type, value) {
  if (type === 'bool') return value ? 'true' : 'false';
  if (type.startsWith('uint')) return word(value);
  if (type === 'string') return hex(utf8(value));
  if (type === 'bytes2[]' || type === 'address[]') {
    return value.length === 0 ? '0x' : ethers.concat(value).toLowerCase();
  }
  return value.toLowerCase();
}

function argsText(types, values) {
  return types.length === 0 ? '-' : types.map((t, i) => argText(t, values[i])).join(',');
}

function abiCall(signature, values) {
  const iface = new ethers.Interface([`function ${signature}`]);
  const name = signature.slice(0, signature.indexOf('('));
  const types = typesOf(signature);
  lines.push(`abi-call ${signature} ${argsText(types, values)} ` +
    iface.encodeFunctionData(name, values));
}

function abiTuple(types, values) {
  lines.push(`abi-tuple (${types.join(',')}) ${argsText(types, values)} ` +
    ethers.AbiCoder.defaultAbiCoder().encode(types, values));
}

function abiSection() {
  const a1 = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
  const a2 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
  const a3 = '0x0000000000000000000000000000000000000001';
  const aMax = '0xffffffffffffffffffffffffffffffffffffffff';
  const u128max = (1n << 128n) - 1n;
  const u64max = (1n << 64n) - 1n;
  const countries = ['0x4445', '0x4652', '0x5553'];
  const many = [];
  for (let i = 0; i < 40; i++) {
    many.push(hex(new Uint8Array([0x41 + (i % 26), 0x41 + ((i * 7) % 26)])));
  }
  const s32 = 'x'.repeat(32);
  const s33 = 'y'.repeat(33);
  const long = 'sensors/' + 'z'.repeat(300);
  const uni = 'капуста/1 ✓ 🪰';

  const signatures = [
    'addTopic(string,bool,uint128,uint128,uint64,bytes2[])',
    'grant(string,address,bool,uint64,string)',
    'revoke(string,address,bool,string)',
    'access(string,address)',
    'topic(string)',
    'buy(string,bool,address)',
    'setCountries(string,bytes2[])',
    'logAlert(uint8,address,string,string)',
    'logSummary(string,string,bytes32,uint64,uint64)',
    'withdraw()',
    'Error(string)',
    'Panic(uint256)',
    'NotOwner()',
  ];
  for (const s of signatures) lines.push(`abi-selector ${s} ${ethers.id(s).slice(0, 10)}`);
  for (const s of [
    'ACLChange(address,address,uint8,string,string,uint256)',
    'SummaryRoot(bytes32,string,uint256,uint256)',
    'Transfer(address,address,uint256)',
  ]) {
    lines.push(`abi-topic ${s} ${ethers.id(s)}`);
  }

  const addTopic = 'addTopic(string,bool,uint128,uint128,uint64,bytes2[])';
  abiCall(addTopic, ['sensors/+/temp', true, 10n ** 18n, u128max, 86400n, countries]);
  abiCall(addTopic, ['', false, 0n, 0n, 0n, []]);
  abiCall(addTopic, [long, true, 1n, 2n, u64max, many]);
  abiCall(addTopic, [s32, false, 5n, 0n, 3600n, ['0x0000']]);
  const grant = 'grant(string,address,bool,uint64,string)';
  abiCall(grant, ['sensors/#', a1, true, 0n, 'paid:1000']);
  abiCall(grant, [s33, a2, false, u64max, '']);
  abiCall(grant, [uni, aMax, true, 1700000000n, long]);
  abiCall('access(string,address)', ['sensors/1/temp', a2]);
  abiCall('access(string,address)', ['', a3]);
  abiCall('revoke(string,address,bool,string)', ['a/b', a1, false, 'abuse']);
  abiCall('buy(string,bool,address)', ['paid/topic', true, a2]);
  abiCall('setCountries(string,bytes2[])', ['t', many]);
  abiCall('setPrices(string,uint128,uint128)', ['t', u128max, 1n]);
  abiCall('setFee(uint96)', [(1n << 96n) - 1n]);
  abiCall('logAlert(uint8,address,string,string)', [6n, a1, 'sensors/1', 'banned 1.2.3.4']);
  abiCall('logSummary(string,string,bytes32,uint64,uint64)',
    ['sensitive/x', 'pub:3 sub:5', ethers.id('root'), 1700000000n, 1700003600n]);
  abiCall('topicNameAt(uint256)', [(1n << 256n) - 1n]);
  abiCall('withdraw()', []);
  abiCall('many(address[],bytes,bytes32,bytes2,bool)',
    [[a1, a2, a3], hex(pattern(65)), ethers.id('b32'), '0x5553', false]);
  abiCall('many(address[],bytes,bytes32,bytes2,bool)', [[], '0x', ethers.ZeroHash, '0x0000', true]);

  // Return values and log data, for the decoder.
  abiTuple(['bool', 'uint64', 'uint64', 'bool', 'bytes2[]', 'uint256'],
    [true, u64max, 1700000000n, false, countries, 12345n]);
  abiTuple(['bool', 'uint64', 'uint64', 'bool', 'bytes2[]', 'uint256'],
    [false, 0n, 0n, false, [], 0n]);
  abiTuple(['bool', 'address', 'bool', 'bool', 'uint128', 'uint128', 'uint64', 'bytes2[]', 'uint256'],
    [true, a1, true, false, u128max, 7n, 86400n, many, (1n << 256n) - 1n]);
  abiTuple(['string'], ['sensors/+/temp']);
  abiTuple(['string'], ['']);
  abiTuple(['string'], [s32]);
  abiTuple(['string'], [s33]);
  abiTuple(['string'], [uni]);
  abiTuple(['string', 'string', 'uint256'], ['sensors/#', 'paid:1000', 1700000000n]);
  abiTuple(['string', 'uint256', 'uint256'], [long, 1n, 2n]);
  abiTuple(['uint256'], [10n ** 18n]);
  abiTuple(['address[]', 'string', 'bytes'], [[a1, aMax], 'x', hex(pattern(100))]);
  abiTuple(['bytes32', 'bytes2', 'address', 'uint8'], [ethers.id('x'), '0x4445', a2, 255n]);
  abiTuple([], []);

  const errors = new ethers.Interface([
    'error Error(string)',
    'error Panic(uint256)',
    'error NotOwner()',
    'error WrongPrice(uint256 want, uint256 got)',
    'error BadName(string name)',
  ]);
  for (const msg of ['', 'not owner', s32, long, uni]) {
    lines.push(`abi-revert-error ${hex(utf8(msg))} ${errors.encodeErrorResult('Error', [msg])}`);
  }
  for (const code of [0x01n, 0x11n, 0x12n, 0x32n]) {
    lines.push(`abi-revert-panic ${code} ${errors.encodeErrorResult('Panic', [code])}`);
  }
  for (const [sig, name, values] of [
    ['NotOwner()', 'NotOwner', []],
    ['WrongPrice(uint256,uint256)', 'WrongPrice', [5n, 10n ** 18n]],
    ['BadName(string)', 'BadName', ['x/#/y']],
  ]) {
    const data = errors.encodeErrorResult(name, values);
    lines.push(`abi-revert-custom ${sig} 0x${data.slice(10)} ${data}`);
  }
}

// ---- Transactions -----------------------------------------------------------

const n = ethers.N;
const keys = [];
for (let i = 0; i < 6; i++) keys.push(ethers.keccak256(utf8(`flytrap tx key ${i}`)));
keys.push(ethers.toBeHex(1n, 32));
keys.push(ethers.toBeHex(n - 1n, 32));

async function tx(key, fields) {
  const wallet = new ethers.Wallet(key);
  const raw = await wallet.signTransaction(fields);
  const parsed = ethers.Transaction.from(raw);
  const legacy = fields.type === 0;
  lines.push(['tx', fields.type, key, fields.chainId, fields.nonce, fields.gasLimit,
    word(legacy ? fields.gasPrice : fields.maxPriorityFeePerGas),
    legacy ? '-' : word(fields.maxFeePerGas),
    fields.to == null ? '-' : fields.to.toLowerCase(),
    word(fields.value), fields.data,
    parsed.unsignedHash, raw, ethers.keccak256(raw)].join(' '));
}

async function txSection() {
  const gwei = 10n ** 9n;
  const to = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
  const iface = new ethers.Interface(['function addTopic(string,bool,uint128,uint128,uint64,bytes2[])']);
  const call = iface.encodeFunctionData('addTopic', ['sensors/+/temp', true, 10n ** 18n, 0n, 86400n, ['0x4445']]);
  const cases = [
    { chainId: 1n, nonce: 0, gasLimit: 21000n, fee1: gwei, fee2: 100n * gwei, to, value: 10n ** 18n, data: '0x' },
    { chainId: 31337n, nonce: 7, gasLimit: 300000n, fee1: 0n, fee2: 875000000n, to, value: 0n, data: call },
    { chainId: 11155111n, nonce: 1234567, gasLimit: 3000000n, fee1: 2n * gwei, fee2: 3n * gwei, to: null, value: 0n, data: hex(pattern(600)) },
    { chainId: 137n, nonce: 2 ** 53 - 1, gasLimit: (1n << 64n) - 1n, fee1: (1n << 255n), fee2: (1n << 256n) - 1n, to, value: (1n << 256n) - 1n, data: hex(pattern(56)) },
    { chainId: 4294967295n, nonce: 255, gasLimit: 1n, fee1: 1n, fee2: 128n, to: '0x0000000000000000000000000000000000000000', value: 127n, data: hex(pattern(1)) },
    { chainId: 1n << 40n, nonce: 256, gasLimit: 65536n, fee1: 1n << 64n, fee2: 1n << 64n, to, value: 1n, data: hex(pattern(5000)) },
    { chainId: 8453n, nonce: 1, gasLimit: 55n, fee1: 0x7fn, fee2: 0x80n, to, value: 0x80n, data: '0x00' },
  ];
  let i = 0;
  for (const c of cases) {
    for (const type of [2, 0]) {
      const key = keys[i++ % keys.length];
      const base = { type, chainId: c.chainId, nonce: c.nonce, gasLimit: c.gasLimit, to: c.to, value: c.value, data: c.data };
      if (type === 2) await tx(key, { ...base, maxPriorityFeePerGas: c.fee1, maxFeePerGas: c.fee2 });
      else await tx(key, { ...base, gasPrice: c.fee2 });
    }
  }
  // Every key signs a plain transfer of each type.
  for (const key of keys) {
    await tx(key, { type: 2, chainId: 31337n, nonce: 3, gasLimit: 21000n, maxPriorityFeePerGas: gwei, maxFeePerGas: 2n * gwei, to, value: 5n, data: '0x' });
    await tx(key, { type: 0, chainId: 31337n, nonce: 3, gasLimit: 21000n, gasPrice: 2n * gwei, to, value: 5n, data: '0x' });
  }
}

// ---- Keystores --------------------------------------------------------------

function keystore(password, key, json) {
  const address = new ethers.Wallet(key).address.toLowerCase();
  lines.push(`keystore ${hex(utf8(password))} ${key} ${address} ${hex(utf8(json))}`);
}

// A pbkdf2 keystore made by hand (ethers only writes scrypt ones), checked
// by ethers' decryption before it is printed.
function pbkdf2Keystore(password, key, c, options) {
  const salt = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const dk = crypto.pbkdf2Sync(Buffer.from(utf8(password)), salt, c, 32, 'sha256');
  const cipher = crypto.createCipheriv('aes-128-ctr', dk.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(ethers.getBytes(key)), cipher.final()]);
  const mac = ethers.keccak256(Buffer.concat([dk.subarray(16, 32), ciphertext])).slice(2);
  const prefix = options.prefix ? '0x' : '';
  const data = {
    version: 3,
    id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
    crypto: {
      ciphertext: prefix + ciphertext.toString('hex'),
      cipherparams: { iv: prefix + iv.toString('hex') },
      cipher: 'aes-128-ctr',
      kdf: 'pbkdf2',
      kdfparams: { dklen: 32, salt: prefix + salt.toString('hex'), c, prf: 'hmac-sha256' },
      mac: options.upper ? mac.toUpperCase() : mac,
    },
  };
  if (options.address) data.address = new ethers.Wallet(key).address.slice(2).toLowerCase();
  const json = JSON.stringify(data);
  const back = ethers.Wallet.fromEncryptedJsonSync(json, password);
  if (back.privateKey !== key) throw new Error('pbkdf2 keystore does not round-trip');
  return json;
}

function keystoreSection() {
  const k = (i) => ethers.keccak256(utf8(`flytrap keystore key ${i}`));
  const light = { scrypt: { N: 1024 } };
  const sync = (key, pw, opts) => ethers.encryptKeystoreJsonSync(
    { address: new ethers.Wallet(key).address, privateKey: key }, pw, opts);
  keystore('correct horse battery staple', k(0), sync(k(0), 'correct horse battery staple', light));
  keystore('', k(1), sync(k(1), '', light));
  keystore('pässwörd ✓ 🪰', k(2), sync(k(2), 'pässwörd ✓ 🪰', { scrypt: { N: 2048, r: 4, p: 2 } }));
  keystore('p'.repeat(200), ethers.toBeHex(1n, 32), sync(ethers.toBeHex(1n, 32), 'p'.repeat(200), light));
  // wallet.encryptSync with its default parameters (N = 2^17, r = 8, p = 1).
  keystore('default', k(3), new ethers.Wallet(k(3)).encryptSync('default'));
  keystore('pbkdf2 pw', k(4), pbkdf2Keystore('pbkdf2 pw', k(4), 1000, { address: true }));
  keystore('pbkdf2 pw', k(5), pbkdf2Keystore('pbkdf2 pw', k(5), 1, { prefix: true, upper: true }));
  keystore('', k(6), pbkdf2Keystore('', k(6), 262144, { address: true }));
}

function checkKeystores(args) {
  if (args.length === 0 || args.length % 2 !== 0) throw new Error('FILE PASSWORD pairs expected');
  for (let i = 0; i < args.length; i += 2) {
    const json = fs.readFileSync(args[i], 'utf8');
    // Bytes, not a string, so that ethers does not normalise them.
    const wallet = ethers.Wallet.fromEncryptedJsonSync(json, ethers.getBytes(args[i + 1]));
    process.stdout.write(`ok ${wallet.privateKey} ${wallet.address.toLowerCase()}\n`);
  }
}

async function main() {
  const mode = process.argv[2];
  if (mode === 'check-keystore') {
    checkKeystores(process.argv.slice(3));
    return;
  }
  const sections = { rlp: rlpSection, abi: abiSection, tx: txSection, keystore: keystoreSection };
  if (!(mode in sections)) {
    process.stderr.write('usage: tx-vectors.js rlp|abi|tx|keystore|check-keystore FILE PASSWORD...\n');
    process.exit(2);
  }
  await sections[mode]();
  lines.push(`end ${lines.length}`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
