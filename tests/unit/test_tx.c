/*
 * tx.c against ethers (wallet.signTransaction, Transaction.unsignedHash,
 * keccak256 of the raw bytes; run at test time through
 * tests/tools/tx-vectors.js): byte-identical EIP-1559 and legacy EIP-155
 * transactions, read back with rlp.c and their signers recovered.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eth.h"
#include "hex.h"
#include "rlp.h"
#include "test_vectors.h"
#include "tx.h"

/* ---- Vectors from ethers ------------------------------------------------ */

static struct test_vectors vectors;

static int
setup(void **state)
{
	(void)state;
	return test_vectors_load(
	    &vectors, "tests/tools/tx-vectors.js", "tx", NULL, 25);
}

static int
teardown(void **state)
{
	(void)state;
	test_vectors_free(&vectors);
	return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

/* A transaction from a vector; tx->data is malloc'd. */
static void
tx_from_vector(const struct test_vector *v, struct tx *tx, uint8_t key[32])
{
	memset(tx, 0, sizeof(*tx));
	tx->type = (enum tx_type)atoi(v->fields[1]);
	test_decode_fixed(v->fields[2], key, 32);
	tx->chain_id = strtoull(v->fields[3], NULL, 10);
	tx->nonce = strtoull(v->fields[4], NULL, 10);
	tx->gas_limit = strtoull(v->fields[5], NULL, 10);
	if (tx->type == TX_TYPE_EIP1559) {
		test_decode_fixed(
		    v->fields[6], tx->max_priority_fee_per_gas, 32);
		test_decode_fixed(v->fields[7], tx->max_fee_per_gas, 32);
	} else {
		test_decode_fixed(v->fields[6], tx->gas_price, 32);
		assert_string_equal(v->fields[7], "-");
	}
	if (strcmp(v->fields[8], "-") == 0)
		tx->create = true;
	else
		test_decode_fixed(v->fields[8], tx->to, 20);
	test_decode_fixed(v->fields[9], tx->value, 32);
	tx->data = test_decode_hex(v->fields[10], &tx->data_len);
}

/*
 * Reads a signed transaction back with rlp.c, checks every field against
 * tx, and recovers the signer from (signing hash, r, s, v).
 */
static void
check_decoded(const struct tx *tx, const uint8_t *raw, size_t raw_len,
    const uint8_t signing_hash[32], const uint8_t signer[20])
{
	struct rlp_item top;
	struct rlp_iter it, access;
	const uint8_t *p;
	uint8_t word[32], sig[65], addr[20];
	uint64_t u, v;
	size_t len;

	if (tx->type == TX_TYPE_EIP1559) {
		assert_int_equal(raw[0], 0x02);
		raw++;
		raw_len--;
	} else {
		assert_true(raw[0] >= 0xc0);
	}
	assert_int_equal(rlp_decode(raw, raw_len, &top), RLP_OK);
	assert_int_equal(rlp_iter_init(&it, &top), RLP_OK);
	if (tx->type == TX_TYPE_EIP1559) {
		assert_int_equal(rlp_iter_uint64(&it, &u), RLP_OK);
		assert_true(u == tx->chain_id);
	}
	assert_int_equal(rlp_iter_uint64(&it, &u), RLP_OK);
	assert_true(u == tx->nonce);
	if (tx->type == TX_TYPE_EIP1559) {
		assert_int_equal(rlp_iter_uint256(&it, word), RLP_OK);
		assert_memory_equal(word, tx->max_priority_fee_per_gas, 32);
		assert_int_equal(rlp_iter_uint256(&it, word), RLP_OK);
		assert_memory_equal(word, tx->max_fee_per_gas, 32);
	} else {
		assert_int_equal(rlp_iter_uint256(&it, word), RLP_OK);
		assert_memory_equal(word, tx->gas_price, 32);
	}
	assert_int_equal(rlp_iter_uint64(&it, &u), RLP_OK);
	assert_true(u == tx->gas_limit);
	assert_int_equal(rlp_iter_bytes(&it, &p, &len), RLP_OK);
	if (tx->create) {
		assert_int_equal(len, 0);
	} else {
		assert_int_equal(len, 20);
		assert_memory_equal(p, tx->to, 20);
	}
	assert_int_equal(rlp_iter_uint256(&it, word), RLP_OK);
	assert_memory_equal(word, tx->value, 32);
	assert_int_equal(rlp_iter_bytes(&it, &p, &len), RLP_OK);
	assert_int_equal(len, tx->data_len);
	if (len > 0)
		assert_memory_equal(p, tx->data, len);
	if (tx->type == TX_TYPE_EIP1559) {
		assert_int_equal(rlp_iter_list(&it, &access), RLP_OK);
		assert_int_equal(rlp_iter_end(&access), RLP_OK);
	}
	assert_int_equal(rlp_iter_uint64(&it, &v), RLP_OK);
	assert_int_equal(rlp_iter_uint256(&it, sig), RLP_OK);
	assert_int_equal(rlp_iter_uint256(&it, sig + 32), RLP_OK);
	assert_int_equal(rlp_iter_end(&it), RLP_OK);
	if (tx->type == TX_TYPE_EIP1559) {
		assert_true(v <= 1);
	} else {
		assert_true(
		    v == 2 * tx->chain_id + 35 || v == 2 * tx->chain_id + 36);
		v -= 2 * tx->chain_id + 35;
	}
	sig[64] = (uint8_t)v;
	assert_int_equal(eth_recover(signing_hash, sig, addr), ETH_OK);
	assert_memory_equal(addr, signer, 20);
}

/* ---- Tests against ethers ----------------------------------------------- */

static void
test_ethers_transactions(void **state)
{
	size_t checked = 0, types[3] = {0};

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		uint8_t key[32], hash[32], want_hash[32], want_tx_hash[32];
		uint8_t signer[20], *want_raw;
		size_t want_len;
		struct tx_signed s, again;
		struct tx tx;

		if (strcmp(v->fields[0], "tx") != 0)
			continue;
		assert_int_equal(v->nfields, 14);
		tx_from_vector(v, &tx, key);
		test_decode_fixed(v->fields[11], want_hash, 32);
		want_raw = test_decode_hex(v->fields[12], &want_len);
		test_decode_fixed(v->fields[13], want_tx_hash, 32);

		/* Transaction.unsignedHash */
		assert_int_equal(tx_signing_hash(&tx, hash), TX_OK);
		assert_memory_equal(hash, want_hash, 32);
		/* wallet.signTransaction, byte for byte */
		assert_int_equal(tx_sign(&tx, key, &s), TX_OK);
		if (s.raw_len != want_len ||
		    memcmp(s.raw, want_raw, want_len) != 0)
			fail_msg("type %s transaction %zu differs from ethers",
			    v->fields[1], checked);
		/* keccak256(raw) */
		assert_memory_equal(s.hash, want_tx_hash, 32);
		/* Deterministic (RFC 6979). */
		assert_int_equal(tx_sign(&tx, key, &again), TX_OK);
		assert_int_equal(again.raw_len, s.raw_len);
		assert_memory_equal(again.raw, s.raw, s.raw_len);
		tx_signed_free(&again);

		assert_int_equal(eth_key_address(key, signer), ETH_OK);
		check_decoded(&tx, s.raw, s.raw_len, hash, signer);

		types[tx.type]++;
		tx_signed_free(&s);
		assert_null(s.raw);
		free(want_raw);
		free((void *)tx.data);
		checked++;
	}
	assert_true(checked >= 25);
	assert_true(
	    types[TX_TYPE_LEGACY] >= 10 && types[TX_TYPE_EIP1559] >= 10);
}

/* ---- Local tests -------------------------------------------------------- */

static void
sample_tx(struct tx *tx, enum tx_type type)
{
	memset(tx, 0, sizeof(*tx));
	tx->type = type;
	tx->chain_id = 31337;
	tx->nonce = 1;
	tx->gas_limit = 21000;
	tx_uint256(tx->gas_price, 1000000000);
	tx_uint256(tx->max_priority_fee_per_gas, 1000000000);
	tx_uint256(tx->max_fee_per_gas, 2000000000);
	memset(tx->to, 0x11, sizeof(tx->to));
	tx_uint256(tx->value, 5);
}

static void
test_invalid_transactions(void **state)
{
	uint8_t key[32] = {0}, hash[32];
	struct tx_signed s;
	struct tx tx;

	(void)state;
	key[31] = 1;

	sample_tx(&tx, TX_TYPE_EIP1559);
	tx.chain_id = 0;
	assert_int_equal(tx_signing_hash(&tx, hash), TX_ERR_CHAIN_ID);
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_CHAIN_ID);
	assert_null(s.raw);
	sample_tx(&tx, TX_TYPE_LEGACY);
	tx.chain_id = 0;
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_CHAIN_ID);
	tx.chain_id = TX_LEGACY_CHAIN_ID_MAX + 1;
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_CHAIN_ID);
	tx.chain_id = UINT64_MAX;
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_CHAIN_ID);

	sample_tx(&tx, TX_TYPE_EIP1559);
	tx.type = (enum tx_type)1;
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_TYPE);
	sample_tx(&tx, TX_TYPE_EIP1559);
	tx_uint256(tx.max_priority_fee_per_gas, 2000000001);
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_FEE);
	/* A priority fee equal to the max fee is fine; legacy has neither. */
	tx_uint256(tx.max_priority_fee_per_gas, 2000000000);
	assert_int_equal(tx_sign(&tx, key, &s), TX_OK);
	tx_signed_free(&s);
	sample_tx(&tx, TX_TYPE_LEGACY);
	tx_uint256(tx.max_priority_fee_per_gas, 2000000001);
	assert_int_equal(tx_sign(&tx, key, &s), TX_OK);
	tx_signed_free(&s);

	/* Keys: zero, the group order, all ones. */
	sample_tx(&tx, TX_TYPE_EIP1559);
	memset(key, 0, sizeof(key));
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_BAD_KEY);
	assert_null(s.raw);
	memset(key, 0xff, sizeof(key));
	assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_BAD_KEY);

	/* Call data beyond what the encoder makes. */
	{
		static const uint8_t byte = 0;
		key[0] = 1;
		tx.data = &byte;
		tx.data_len = SIZE_MAX - 16;
		assert_int_equal(tx_sign(&tx, key, &s), TX_ERR_TOO_LARGE);
	}

	assert_string_equal(
	    tx_status_str(TX_ERR_FEE), "priority fee above the max fee");
	assert_string_equal(tx_status_str((enum tx_status)99), "unknown error");
}

/* The largest legacy chain id still gives a v that fits in 64 bits. */
static void
test_legacy_chain_id_limit(void **state)
{
	uint8_t key[32] = {0}, hash[32], signer[20];
	struct tx_signed s;
	struct tx tx;

	(void)state;
	key[31] = 9;
	assert_int_equal(eth_key_address(key, signer), ETH_OK);
	sample_tx(&tx, TX_TYPE_LEGACY);
	tx.chain_id = TX_LEGACY_CHAIN_ID_MAX;
	assert_int_equal(tx_signing_hash(&tx, hash), TX_OK);
	assert_int_equal(tx_sign(&tx, key, &s), TX_OK);
	check_decoded(&tx, s.raw, s.raw_len, hash, signer);
	tx_signed_free(&s);

	/* EIP-1559 carries the chain id itself: any u64 but 0. */
	sample_tx(&tx, TX_TYPE_EIP1559);
	tx.chain_id = UINT64_MAX;
	tx.create = true;
	assert_int_equal(tx_signing_hash(&tx, hash), TX_OK);
	assert_int_equal(tx_sign(&tx, key, &s), TX_OK);
	check_decoded(&tx, s.raw, s.raw_len, hash, signer);
	tx_signed_free(&s);
}

static void
test_uint256(void **state)
{
	uint8_t out[32], want[32] = {0};

	(void)state;
	tx_uint256(out, 0);
	assert_memory_equal(out, want, 32);
	tx_uint256(out, 0x0102030405060708ULL);
	for (int i = 0; i < 8; i++)
		want[24 + i] = (uint8_t)(i + 1);
	assert_memory_equal(out, want, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethers_transactions),
	    cmocka_unit_test(test_invalid_transactions),
	    cmocka_unit_test(test_legacy_chain_id_limit),
	    cmocka_unit_test(test_uint256),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
