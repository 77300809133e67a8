/*
 * eth.c against ethers (run at test time through tests/tools/eth-vectors.js):
 * EIP-191 digests, byte-identical RFC 6979 signatures, recovery, addresses;
 * plus rejection of malformed signatures and key files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "eth.h"
#include "hex.h"
#include "keccak.h"
#include "test_vectors.h"
#include "token.h"

/* The secp256k1 group order n. */
static const uint8_t curve_order[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae,
    0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
    0x41, 0x41};

/* ---- Vectors from ethers ---------------------------------------------------- */

static struct test_vectors vectors;

/* Runs the vector script; any failure (no node, no ethers) fails the test. */
static int
load_vectors(void **state)
{
	(void)state;
	return test_vectors_load(
	    &vectors, "tests/tools/eth-vectors.js", NULL, "sign", 20);
}

static int
free_vectors(void **state)
{
	(void)state;
	test_vectors_free(&vectors);
	return 0;
}

/* ---- Helpers ------------------------------------------------------------- */

/* out = n - s, for 32-byte big-endian numbers with 0 < s < n. */
static void
order_minus(const uint8_t s[32], uint8_t out[32])
{
	int borrow = 0;

	for (int i = 31; i >= 0; i--) {
		int d = curve_order[i] - s[i] - borrow;
		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

/* Recovers without the low-s rule, straight from libsecp256k1. */
static bool
recover_ignoring_low_s(
    const uint8_t digest[32], const uint8_t sig[65], uint8_t addr[20])
{
	secp256k1_context *ctx =
	    secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_pubkey pubkey;
	uint8_t pub[65], hash[32];
	size_t len = sizeof(pub);
	bool ok = secp256k1_ecdsa_recoverable_signature_parse_compact(
		      ctx, &rsig, sig, sig[64] - 27) &&
	    secp256k1_ecdsa_recover(ctx, &pubkey, &rsig, digest);

	if (ok) {
		secp256k1_ec_pubkey_serialize(
		    ctx, pub, &len, &pubkey, SECP256K1_EC_UNCOMPRESSED);
		keccak256(pub + 1, 64, hash);
		memcpy(addr, hash + 12, 20);
	}
	secp256k1_context_destroy(ctx);
	return ok;
}

/* The signature must not recover to expect (an error is also fine). */
static void
assert_not_recovering(
    const uint8_t digest[32], const uint8_t sig[65], const uint8_t expect[20])
{
	uint8_t addr[20];

	if (eth_recover(digest, sig, addr) == ETH_OK)
		assert_memory_not_equal(addr, expect, 20);
}

/* ---- Tests against ethers ----------------------------------------------- */

static void
check_sign_vector(const struct test_vector *v)
{
	uint8_t key[32], sig[65], addr[20], digest[32];
	uint8_t got_sig[65], got_addr[20], got_digest[32], bad[65];
	char addr_hex[ETH_ADDRESS_HEX_SIZE];
	size_t msg_len;
	uint8_t *msg;

	assert_int_equal(v->nfields, 6);
	test_decode_fixed(v->fields[1], key, sizeof(key));
	msg = test_decode_hex(v->fields[2], &msg_len);
	test_decode_fixed(v->fields[3], sig, sizeof(sig));
	test_decode_fixed(v->fields[4], addr, sizeof(addr));
	test_decode_fixed(v->fields[5], digest, sizeof(digest));

	/* ethers.hashMessage */
	eth_eip191_digest(msg, msg_len, got_digest);
	assert_memory_equal(got_digest, digest, 32);
	/* wallet.signMessage, byte for byte */
	assert_int_equal(eth_sign(key, digest, got_sig), ETH_OK);
	if (memcmp(got_sig, sig, 65) != 0)
		fail_msg("signature of %s by %s differs from ethers",
		    v->fields[2], v->fields[1]);
	/* wallet.address */
	assert_int_equal(eth_key_address(key, got_addr), ETH_OK);
	assert_memory_equal(got_addr, addr, 20);
	eth_address_hex(got_addr, addr_hex);
	assert_string_equal(addr_hex, v->fields[4]);
	/* recovery, with v as 27/28 and as 0/1 */
	assert_int_equal(eth_recover(digest, sig, got_addr), ETH_OK);
	assert_memory_equal(got_addr, addr, 20);
	memcpy(bad, sig, 65);
	bad[64] = (uint8_t)(sig[64] - 27);
	assert_int_equal(eth_recover(digest, bad, got_addr), ETH_OK);
	assert_memory_equal(got_addr, addr, 20);

	/* v outside {0, 1, 27, 28} */
	static const uint8_t bad_v[] = {2, 3, 26, 29, 30, 35, 36, 37, 255};
	for (size_t i = 0; i < sizeof(bad_v); i++) {
		bad[64] = bad_v[i];
		assert_int_equal(
		    eth_recover(digest, bad, got_addr), ETH_ERR_BAD_SIGNATURE);
	}

	/* The high-s twin (n - s, v flipped) is a valid ECDSA signature by
	 * the same key, but not its one accepted encoding. */
	memcpy(bad, sig, 65);
	order_minus(sig + 32, bad + 32);
	bad[64] = sig[64] == 27 ? 28 : 27;
	assert_true(recover_ignoring_low_s(digest, bad, got_addr));
	assert_memory_equal(got_addr, addr, 20);
	assert_int_equal(
	    eth_recover(digest, bad, got_addr), ETH_ERR_BAD_SIGNATURE);
	bad[64] -= 27;
	assert_int_equal(
	    eth_recover(digest, bad, got_addr), ETH_ERR_BAD_SIGNATURE);

	/* A flipped bit anywhere in r or s, or the other recovery id. */
	for (size_t byte = 0; byte < 64; byte += 7) {
		memcpy(bad, sig, 65);
		bad[byte] ^= (uint8_t)(1u << (byte % 8));
		assert_not_recovering(digest, bad, addr);
	}
	memcpy(bad, sig, 65);
	bad[64] = sig[64] == 27 ? 28 : 27;
	assert_not_recovering(digest, bad, addr);
	/* The right signature over another message. */
	got_digest[0] ^= 1;
	assert_not_recovering(got_digest, sig, addr);
	free(msg);
}

static void
test_ethers_signatures(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		if (strcmp(vectors.items[i].fields[0], "sign") == 0) {
			check_sign_vector(&vectors.items[i]);
			checked++;
		}
	}
	assert_true(checked >= 20);
}

/* The token texts ethers' side built by hand equal token.c's. */
static void
test_ethers_token_messages(void **state)
{
	char out[4096];
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		size_t realm_len, client_len, expect_len, len;
		uint8_t *realm, *client = NULL, *expect;
		uint8_t nonce[TOKEN_NONCE_LEN], addr[ETH_ADDRESS_LEN];

		if (strncmp(v->fields[0], "token-", 6) != 0)
			continue;
		realm = test_decode_hex(v->fields[1], &realm_len);
		realm[realm_len] = '\0';
		expect =
		    test_decode_hex(v->fields[v->nfields - 1], &expect_len);
		if (strcmp(v->fields[0], "token-timed") == 0) {
			client = test_decode_hex(v->fields[2], &client_len);
			len = token_message_timed(out, sizeof(out),
			    (char *)realm, client, client_len,
			    strtoll(v->fields[3], NULL, 10));
		} else if (strcmp(v->fields[0], "token-challenge") == 0) {
			client = test_decode_hex(v->fields[2], &client_len);
			test_decode_fixed(v->fields[3], nonce, sizeof(nonce));
			len = token_message_challenge(out, sizeof(out),
			    (char *)realm, client, client_len, nonce);
		} else {
			assert_string_equal(v->fields[0], "token-static");
			assert_true(eth_address_parse(
			    v->fields[2], strlen(v->fields[2]), addr));
			len = token_message_static(
			    out, sizeof(out), (char *)realm, addr);
		}
		assert_int_equal(len, expect_len);
		assert_memory_equal(out, expect, len);
		free(realm);
		free(client);
		free(expect);
		checked++;
	}
	assert_true(checked >= 6);
}

/* ---- Local tests -------------------------------------------------------- */

static void
test_malformed_signatures(void **state)
{
	uint8_t key[32] = {0}, digest[32], sig[65], bad[65], addr[20];

	(void)state;
	key[31] = 7;
	keccak256("x", 1, digest);
	assert_int_equal(eth_sign(key, digest, sig), ETH_OK);
	assert_true(sig[64] == 27 || sig[64] == 28);

	memcpy(bad, sig, 65);
	memset(bad, 0, 32); /* r = 0 */
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
	memcpy(bad, sig, 65);
	memset(bad + 32, 0, 32); /* s = 0 */
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
	memcpy(bad, sig, 65);
	memcpy(bad, curve_order, 32); /* r = n */
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
	memcpy(bad, sig, 65);
	memset(bad, 0xff, 32); /* r > n */
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
	memcpy(bad, sig, 65);
	memcpy(bad + 32, curve_order, 32); /* s = n */
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
	memcpy(bad, sig, 65);
	memset(bad + 32, 0xff, 32); /* s > n */
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
	memset(bad, 0, 65);
	assert_int_equal(eth_recover(digest, bad, addr), ETH_ERR_BAD_SIGNATURE);
}

static void
test_bad_private_keys(void **state)
{
	uint8_t key[32], digest[32] = {1}, sig[65], addr[20];

	(void)state;
	memset(key, 0, sizeof(key));
	assert_int_equal(eth_sign(key, digest, sig), ETH_ERR_BAD_KEY);
	assert_int_equal(eth_key_address(key, addr), ETH_ERR_BAD_KEY);
	memcpy(key, curve_order, 32);
	assert_int_equal(eth_sign(key, digest, sig), ETH_ERR_BAD_KEY);
	assert_int_equal(eth_key_address(key, addr), ETH_ERR_BAD_KEY);
	memset(key, 0xff, sizeof(key));
	assert_int_equal(eth_key_address(key, addr), ETH_ERR_BAD_KEY);
}

static void
test_key_generate(void **state)
{
	uint8_t a[32], b[32], digest[32], sig[65], addr[20], rec[20];

	(void)state;
	assert_int_equal(eth_key_generate(a), ETH_OK);
	assert_int_equal(eth_key_generate(b), ETH_OK);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(eth_key_address(a, addr), ETH_OK);
	eth_eip191_digest("generated", 9, digest);
	assert_int_equal(eth_sign(a, digest, sig), ETH_OK);
	assert_int_equal(eth_recover(digest, sig, rec), ETH_OK);
	assert_memory_equal(addr, rec, 20);
}

static void
test_address_text(void **state)
{
	uint8_t addr[20], again[20];
	char text[ETH_ADDRESS_HEX_SIZE];
	const char *mixed = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

	(void)state;
	assert_true(eth_address_parse(mixed, strlen(mixed), addr));
	eth_address_hex(addr, text);
	assert_string_equal(text, "0x5fbdb2315678afecb367f032d93f642f64180aa3");
	assert_true(eth_address_parse(text, strlen(text), again));
	assert_memory_equal(addr, again, 20);
	assert_true(eth_address_parse(
	    "0X5fbdb2315678afecb367f032d93f642f64180aa3", 42, again));
	/* No prefix, wrong length, non-hex, the length argument honoured. */
	assert_false(eth_address_parse(text + 2, 40, addr));
	assert_false(eth_address_parse(text, 41, addr));
	assert_false(eth_address_parse(
	    "0x5fbdb2315678afecb367f032d93f642f64180aa3a", 43, addr));
	assert_false(eth_address_parse(
	    "0x5fbdb2315678afecb367f032d93f642f64180aag", 42, addr));
	assert_false(eth_address_parse("", 0, addr));
}

static void
test_status_strings(void **state)
{
	(void)state;
	for (int st = ETH_OK; st <= ETH_ERR_FORMAT; st++) {
		assert_non_null(eth_status_str((enum eth_status)st));
		assert_string_not_equal(
		    eth_status_str((enum eth_status)st), "unknown error");
	}
}

/* ---- Key files ------------------------------------------------------------- */

static char key_dir[] = "/tmp/flytrap-test-eth.XXXXXX";

static const char *
write_key_file(const char *name, const char *content, size_t len)
{
	static char path[sizeof(key_dir) + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", key_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static enum eth_status
read_key_text(const char *content, uint8_t key[32])
{
	return eth_key_read_file(
	    write_key_file("key", content, strlen(content)), key);
}

#define KEY_HEX                                                                \
	"4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

static void
test_key_files(void **state)
{
	uint8_t key[32], expect[32], addr[20];
	char big[6000], path[sizeof(key_dir) + 16];

	(void)state;
	assert_non_null(mkdtemp(key_dir));
	test_decode_fixed(KEY_HEX, expect, 32);

	assert_int_equal(read_key_text(KEY_HEX, key), ETH_OK);
	assert_memory_equal(key, expect, 32);
	assert_int_equal(read_key_text("0x" KEY_HEX "\n", key), ETH_OK);
	assert_memory_equal(key, expect, 32);
	assert_int_equal(
	    read_key_text(" \t\n0X" KEY_HEX " \r\n\n", key), ETH_OK);
	assert_memory_equal(key, expect, 32);
	assert_int_equal(read_key_text("4C0883A69102937D6231471B5DBB6204FE51"
				       "29617082792AE468D01A3F362318",
			     key),
	    ETH_OK);
	assert_memory_equal(key, expect, 32);
	assert_int_equal(eth_key_address(key, addr), ETH_OK);

	assert_int_equal(read_key_text("", key), ETH_ERR_FORMAT);
	assert_int_equal(read_key_text("\n", key), ETH_ERR_FORMAT);
	assert_int_equal(read_key_text(KEY_HEX "0", key), ETH_ERR_FORMAT);
	assert_int_equal(read_key_text(&KEY_HEX[1], key), ETH_ERR_FORMAT);
	assert_int_equal(read_key_text(KEY_HEX " x", key), ETH_ERR_FORMAT);
	assert_int_equal(
	    read_key_text(KEY_HEX "\n# comment\n", key), ETH_ERR_FORMAT);
	assert_int_equal(read_key_text("0x 4c0883a69102937d6231471b5dbb6204fe5"
				       "129617082792ae468d01a3f36231",
			     key),
	    ETH_ERR_FORMAT);
	assert_int_equal(
	    eth_key_read_file(
		write_key_file("nul", KEY_HEX "\0", sizeof(KEY_HEX)), key),
	    ETH_ERR_FORMAT);
	/* Too long to be a key file, even if the rest is white space. */
	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - 64, KEY_HEX, 64);
	assert_int_equal(
	    eth_key_read_file(write_key_file("big", big, sizeof(big)), key),
	    ETH_ERR_FORMAT);
	/* Out-of-range keys. */
	assert_int_equal(read_key_text("0x000000000000000000000000000000000000"
				       "0000000000000000000000000000",
			     key),
	    ETH_ERR_BAD_KEY);
	assert_int_equal(read_key_text("fffffffffffffffffffffffffffffffebaaedc"
				       "e6af48a03bbfd25e8cd0364141",
			     key),
	    ETH_ERR_BAD_KEY);
	/* Not a readable regular file: missing, a directory, a FIFO (which
	 * must not block the read). */
	snprintf(path, sizeof(path), "%s/missing", key_dir);
	assert_int_equal(eth_key_read_file(path, key), ETH_ERR_IO);
	assert_int_equal(eth_key_read_file(key_dir, key), ETH_ERR_IO);
	snprintf(path, sizeof(path), "%s/fifo", key_dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(eth_key_read_file(path, key), ETH_ERR_IO);

	unlink(path);
	snprintf(path, sizeof(path), "%s/key", key_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nul", key_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/big", key_dir);
	unlink(path);
	assert_int_equal(rmdir(key_dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethers_signatures),
	    cmocka_unit_test(test_ethers_token_messages),
	    cmocka_unit_test(test_malformed_signatures),
	    cmocka_unit_test(test_bad_private_keys),
	    cmocka_unit_test(test_key_generate),
	    cmocka_unit_test(test_address_text),
	    cmocka_unit_test(test_status_strings),
	    cmocka_unit_test(test_key_files),
	};

	return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
