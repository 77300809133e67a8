#!/usr/bin/env node
// Gas used by each contract operation, from transaction receipts on a private
// anvil: prints a table (beside the original prototype's figures where known)
// and a final machine-readable line
//   GAS deploy=... addTopic=... grant=... revoke=... buy=... logAlert=... ...
// Usage: node tests/contract/gas.mjs   (FLYTRAP_CONTRACT_BUILD as for the tests)

import {
	ethers, loadContract, startChain, deploy, mined, codes, EU, Action,
} from './harness.mjs';

const ORIGINAL = { deploy: 2_000_000n, addTopic: 110_000n, grant: 50_000n };
const FEE = 10n ** 16n;

const chain = await startChain();
try {
	const artifact = loadContract();
	const [owner, alice, bob, carol, dave, reporter] = chain.wallets;
	const rows = [];
	const key = {};
	const record = (id, what, receipt) => {
		rows.push({ id, what, gas: receipt.gasUsed });
		if (id)
			key[id] = receipt.gasUsed;
	};

	const { contract, receipt: deployed } = await deploy(artifact, owner, FEE);
	const ft = (w) => contract.connect(w);
	record('deploy', `deploy (${(artifact.bytecode.length - 2) / 2} bytes of init code)`, deployed);
	await mined(ft(owner).setReporter(reporter.address, true));

	// A first topic so that the measured ones are not the very first.
	await mined(ft(alice).addTopic('warm/up', false, 0, 0, 0, [], { value: FEE }));
	record('addTopic', 'addTopic: free, no countries, name <= 30 bytes',
		await mined(ft(alice).addTopic('plant/+/power', false, 0, 0, 0, [], { value: FEE })));
	record('addTopicPriced', 'addTopic: priced, period, 2 countries',
		await mined(ft(alice).addTopic('paid/feed', true, 10n ** 15n, 2n * 10n ** 15n, 86400, codes('DE', 'FR'),
			{ value: FEE })));
	record('addTopicEU', 'addTopic: 27 countries (EU)',
		await mined(ft(alice).addTopic('eu/+/readings', false, 0, 0, 0, codes(...EU), { value: FEE })));
	record('addTopicLong', 'addTopic: 40-byte name with ${address}',
		await mined(ft(alice).addTopic('factory/${address}/sensors/+/temperature', false, 0, 0, 0, [],
			{ value: FEE })));

	record('grant', 'grant: first right of an address',
		await mined(ft(alice).grant('plant/+/power', bob.address, true, 0, 'installer')));
	record('grant2', 'grant: second right, same address',
		await mined(ft(alice).grant('plant/+/power', bob.address, false, 0, 'installer')));
	record('revoke', 'revoke',
		await mined(ft(alice).revoke('plant/+/power', bob.address, true, 'contract ended')));

	// The topic owner's credit slot exists after the first sale.
	record('buyFirstSale', 'buy: paid, topic owner\'s first sale',
		await mined(ft(carol).buy('paid/feed', false, ethers.ZeroAddress, { value: 2n * 10n ** 15n })));
	record('buy', 'buy: paid, new buyer',
		await mined(ft(dave).buy('paid/feed', false, ethers.ZeroAddress, { value: 2n * 10n ** 15n })));
	record('buyRenew', 'buy: paid renewal',
		await mined(ft(dave).buy('paid/feed', false, ethers.ZeroAddress, { value: 2n * 10n ** 15n })));
	await mined(ft(alice).setPeriod('plant/+/power', 3600));
	record('buyFree', 'buy: free topic, new member',
		await mined(ft(dave).buy('plant/+/power', false, ethers.ZeroAddress)));

	record('setPrices', 'setPrices', await mined(ft(alice).setPrices('paid/feed', 1n, 2n)));
	record('setCountries', 'setCountries: 2 -> 27', await mined(ft(alice).setCountries('paid/feed', codes(...EU))));
	record('setSensitive', 'setSensitive', await mined(ft(alice).setSensitive('paid/feed', false)));
	record('transferTopic', 'transferTopic', await mined(ft(alice).transferTopic('warm/up', bob.address)));
	record('withdraw', 'withdraw (topic owner)', await mined(ft(alice).withdraw()));

	record('logAlert', 'logAlert: Banned',
		await mined(ft(reporter).logAlert(Action.Banned, carol.address, '', 'auth failures=3 ban=300s')));
	record('logSummary', 'logSummary: with root',
		await mined(ft(reporter).logSummary('paid/feed',
			'pub 0x70997970c51812dc3a010c7d01b50e0d17dc79c8 x12; sub 0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc x3',
			ethers.keccak256(ethers.toUtf8Bytes('root')), 1700000000, 1700003600)));

	const width = Math.max(...rows.map((r) => r.what.length));
	console.log(`${'operation'.padEnd(width)}  ${'gas'.padStart(9)}  ${'original'.padStart(9)}`);
	for (const r of rows) {
		const orig = ORIGINAL[r.id] ? ORIGINAL[r.id].toString() : '';
		console.log(`${r.what.padEnd(width)}  ${r.gas.toString().padStart(9)}  ${orig.padStart(9)}`);
	}
	const final = ['deploy', 'addTopic', 'grant', 'revoke', 'buy', 'logAlert', 'logSummary', 'addTopicEU'];
	console.log('GAS ' + final.map((k) => `${k}=${key[k]}`).join(' '));
} finally {
	await chain.stop();
}
