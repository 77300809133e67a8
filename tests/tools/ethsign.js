#!/usr/bin/env node
// EIP-191 personal_sign with ethers, independent of FlyTrap's C crypto: the
// integration tests' reference signer for challenges and token cross-checks.
//
//   node tests/tools/ethsign.js KEYFILE MESSAGE      sign the UTF-8 text
//   node tests/tools/ethsign.js KEYFILE --hex HEX    sign raw bytes (0x ok)
//   node tests/tools/ethsign.js KEYFILE --address    print the key address
//
// Prints the 0x-prefixed lowercase 65-byte signature (or address) on stdout.
'use strict';

const fs = require('fs');
const { Wallet, getBytes } = require('ethers');

function usage() {
	process.stderr.write('usage: ethsign.js KEYFILE MESSAGE | ' +
		'KEYFILE --hex HEX | KEYFILE --address\n');
	process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 2)
	usage();

let key = fs.readFileSync(args[0], 'utf8').trim();
if (!key.startsWith('0x'))
	key = '0x' + key;
const wallet = new Wallet(key);

if (args[1] === '--address') {
	if (args.length !== 2)
		usage();
	process.stdout.write(wallet.address.toLowerCase() + '\n');
	process.exit(0);
}

let message;
if (args[1] === '--hex') {
	if (args.length !== 3)
		usage();
	let hex = args[2];
	if (!hex.startsWith('0x'))
		hex = '0x' + hex;
	message = getBytes(hex);
} else {
	if (args.length !== 2)
		usage();
	message = args[1];
}

wallet.signMessage(message).then((sig) => {
	process.stdout.write(sig.toLowerCase() + '\n');
}, (err) => {
	process.stderr.write('ethsign: ' + err.message + '\n');
	process.exit(1);
});
