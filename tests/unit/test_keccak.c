/*
 * Keccak-256 against fixed vectors and against ethers' keccak256 (run at test
 * time through tests/tools/eth-vectors.js), one-shot and streamed.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hex.h"
#include "keccak.h"
#include "test_vectors.h"

/* ---- Vectors from ethers ---------------------------------------------------- */

struct keccak_vector {
	bool repeat_a; /* data is len times 'a', else the byte pattern */
	size_t len;
	uint8_t digest[32];
};

#define MAX_VECTORS 64
static struct keccak_vector vectors[MAX_VECTORS];
static size_t vector_count;

static void
pattern_fill(uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)((i * 131 + 17) % 256);
}

/*
 * Runs the vector script, keeping its keccak and keccak-a lines; any failure
 * (no node, no ethers) fails the test.
 */
static int
load_vectors(void **state)
{
	struct test_vectors lines = {NULL, 0};
	int ret = 0;

	(void)state;
	if (test_vectors_load(
		&lines, "tests/tools/eth-vectors.js", NULL, NULL, 0) != 0)
		return -1;
	for (size_t i = 0; i < lines.count; i++) {
		const struct test_vector *v = &lines.items[i];
		unsigned long long len;

		if (v->nfields < 3 || sscanf(v->fields[1], "%llu", &len) != 1)
			continue;
		if (strcmp(v->fields[0], "keccak") != 0 &&
		    strcmp(v->fields[0], "keccak-a") != 0)
			continue;
		if (vector_count == MAX_VECTORS) {
			fprintf(stderr, "more than %d keccak vectors\n",
			    MAX_VECTORS);
			ret = -1;
			break;
		}
		vectors[vector_count].repeat_a =
		    strcmp(v->fields[0], "keccak-a") == 0;
		vectors[vector_count].len = (size_t)len;
		if (!hex_decode_exact(v->fields[2], strlen(v->fields[2]),
			vectors[vector_count].digest, 32)) {
			fprintf(stderr, "bad vector line: %s %s %s\n",
			    v->fields[0], v->fields[1], v->fields[2]);
			ret = -1;
			break;
		}
		vector_count++;
	}
	test_vectors_free(&lines);
	if (ret == 0 && vector_count < 10) {
		fprintf(stderr,
		    "eth-vectors.js gave %zu keccak vectors; node and ethers "
		    "(npm ci) are needed\n",
		    vector_count);
		ret = -1;
	}
	return ret;
}

/* ---- Tests -------------------------------------------------------------- */

static void
assert_digest_hex(const void *data, size_t len, const char *expect)
{
	uint8_t digest[32];
	char hex[65];

	keccak256(data, len, digest);
	hex_encode(digest, sizeof(digest), hex);
	assert_string_equal(hex, expect);
}

static void
test_known_vectors(void **state)
{
	(void)state;
	/* Keccak, not SHA3-256 (whose digest of "" is a7ffc6f8bf1ed766...). */
	assert_digest_hex("", 0,
	    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	assert_digest_hex("abc", 3,
	    "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
	assert_digest_hex("hello", 5,
	    "1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8");
}

static uint8_t *
vector_data(const struct keccak_vector *v)
{
	uint8_t *data = malloc(v->len + 1);

	assert_non_null(data);
	if (v->repeat_a)
		memset(data, 'a', v->len);
	else
		pattern_fill(data, v->len);
	return data;
}

static void
test_ethers_one_shot(void **state)
{
	uint8_t digest[32];

	(void)state;
	for (size_t i = 0; i < vector_count; i++) {
		uint8_t *data = vector_data(&vectors[i]);
		keccak256(data, vectors[i].len, digest);
		if (memcmp(digest, vectors[i].digest, 32) != 0)
			fail_msg("keccak of %zu bytes (%s) differs from ethers",
			    vectors[i].len,
			    vectors[i].repeat_a ? "'a's" : "pattern");
		free(data);
	}
}

static void
test_ethers_streamed(void **state)
{
	static const size_t chunks[] = {1, 2, 3, 7, 64, 135, 136, 137, 1000};
	struct keccak256_ctx ctx;
	uint8_t digest[32];

	(void)state;
	for (size_t i = 0; i < vector_count; i++) {
		/* Byte-at-a-time over a megabyte is slow and adds nothing. */
		if (vectors[i].len > 70000)
			continue;
		uint8_t *data = vector_data(&vectors[i]);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]);
		     c++) {
			keccak256_init(&ctx);
			for (size_t off = 0; off < vectors[i].len;) {
				size_t take = vectors[i].len - off;
				if (take > chunks[c])
					take = chunks[c];
				keccak256_update(&ctx, data + off, take);
				off += take;
			}
			keccak256_final(&ctx, digest);
			if (memcmp(digest, vectors[i].digest, 32) != 0)
				fail_msg("%zu bytes in chunks of %zu differ",
				    vectors[i].len, chunks[c]);
		}
		free(data);
	}
}

/* Irregular chunk sizes (and empty updates) over every split position. */
static void
test_streamed_irregular(void **state)
{
	uint8_t data[700], one_shot[32], streamed[32];
	struct keccak256_ctx ctx;

	(void)state;
	pattern_fill(data, sizeof(data));
	for (size_t len = 0; len <= sizeof(data); len += 23) {
		keccak256(data, len, one_shot);
		for (size_t split = 0; split <= len; split += 5) {
			keccak256_init(&ctx);
			keccak256_update(&ctx, data, split);
			keccak256_update(&ctx, data + split, 0);
			for (size_t off = split, step = 1; off < len;
			     step = step * 3 % 17 + 1) {
				size_t take =
				    len - off < step ? len - off : step;
				keccak256_update(&ctx, data + off, take);
				off += take;
			}
			keccak256_final(&ctx, streamed);
			assert_memory_equal(one_shot, streamed, 32);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_vectors),
	    cmocka_unit_test(test_ethers_one_shot),
	    cmocka_unit_test(test_ethers_streamed),
	    cmocka_unit_test(test_streamed_irregular),
	};

	return cmocka_run_group_tests(tests, load_vectors, NULL);
}
