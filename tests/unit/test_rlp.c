/*
 * rlp.c against ethers.encodeRlp (run at test time through
 * tests/tools/tx-vectors.js), plus the decoder's rejection of non-canonical
 * and out-of-bounds encodings, and a mutation test of decode/re-encode.
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

#include "hex.h"
#include "rlp.h"
#include "test_vectors.h"

/* ---- Vectors from ethers ------------------------------------------------ */

static struct test_vectors vectors;

static int
setup(void **state)
{
	(void)state;
	return test_vectors_load(
	    &vectors, "tests/tools/tx-vectors.js", "rlp", NULL, 40);
}

static int
teardown(void **state)
{
	(void)state;
	test_vectors_free(&vectors);
	return 0;
}

/* ---- Item notation: 0x-hex strings and [a,b] lists ---------------------- */

/* Encodes the item at s; returns what follows it. */
static const char *
encode_notation(struct rlp_enc *e, const char *s)
{
	size_t n, len;
	uint8_t *bytes;

	if (*s == '[') {
		rlp_enc_list_begin(e);
		s++;
		while (*s != ']') {
			s = encode_notation(e, s);
			if (*s == ',')
				s++;
		}
		rlp_enc_list_end(e);
		return s + 1;
	}
	n = strcspn(s, ",]");
	bytes = test_decode_hex_n(s, n, &len);
	rlp_enc_bytes(e, bytes, len);
	free(bytes);
	return s + n;
}

/* Writes a decoded item in the same notation. */
static void
print_item(FILE *out, const struct rlp_item *item)
{
	struct rlp_iter it;
	struct rlp_item sub;
	bool first = true;

	if (!item->is_list) {
		fputs("0x", out);
		for (size_t i = 0; i < item->payload_len; i++)
			fprintf(out, "%02x", item->payload[i]);
		return;
	}
	assert_int_equal(rlp_iter_init(&it, item), RLP_OK);
	fputc('[', out);
	while (rlp_iter_next(&it, &sub) == RLP_OK) {
		if (!first)
			fputc(',', out);
		print_item(out, &sub);
		first = false;
	}
	assert_int_equal(rlp_iter_end(&it), RLP_OK);
	fputc(']', out);
}

/* Re-encodes a decoded item (for the decode/encode round trip). */
static void
reencode(struct rlp_enc *e, const struct rlp_item *item)
{
	struct rlp_iter it;
	struct rlp_item sub;

	if (!item->is_list) {
		rlp_enc_bytes(e, item->payload, item->payload_len);
		return;
	}
	assert_int_equal(rlp_iter_init(&it, item), RLP_OK);
	rlp_enc_list_begin(e);
	while (rlp_iter_next(&it, &sub) == RLP_OK)
		reencode(e, &sub);
	rlp_enc_list_end(e);
}

/* ---- Tests against ethers ----------------------------------------------- */

static void
check_item_vector(const struct test_vector *v)
{
	struct rlp_enc e;
	struct rlp_item item;
	const uint8_t *out;
	uint8_t *expect, *fixed;
	size_t expect_len, out_len;
	char *text = NULL;
	size_t text_len = 0;
	FILE *mem;

	assert_int_equal(v->nfields, 3);
	expect = test_decode_hex(v->fields[2], &expect_len);

	/* Growable buffer. */
	rlp_enc_init(&e);
	assert_int_equal(*encode_notation(&e, v->fields[1]), '\0');
	assert_int_equal(rlp_enc_finish(&e, &out, &out_len), RLP_OK);
	assert_int_equal(out_len, expect_len);
	assert_memory_equal(out, expect, expect_len);
	rlp_enc_free(&e);

	/* Caller's buffer: exactly big enough, then one byte short. */
	fixed = malloc(expect_len);
	assert_non_null(fixed);
	rlp_enc_init_buffer(&e, fixed, expect_len);
	(void)encode_notation(&e, v->fields[1]);
	assert_int_equal(rlp_enc_finish(&e, &out, &out_len), RLP_OK);
	assert_ptr_equal(out, fixed);
	assert_memory_equal(out, expect, expect_len);
	rlp_enc_init_buffer(&e, fixed, expect_len - 1);
	(void)encode_notation(&e, v->fields[1]);
	assert_int_equal(rlp_enc_finish(&e, &out, &out_len), RLP_ERR_SPACE);
	assert_null(out);
	free(fixed);

	/* Decoding gives the item back. */
	assert_int_equal(rlp_decode(expect, expect_len, &item), RLP_OK);
	assert_int_equal(item.encoded_len, expect_len);
	mem = open_memstream(&text, &text_len);
	assert_non_null(mem);
	print_item(mem, &item);
	fclose(mem);
	assert_string_equal(text, v->fields[1]);
	free(text);
	free(expect);
}

static void
test_ethers_items(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		if (strcmp(vectors.items[i].fields[0], "rlp") == 0) {
			check_item_vector(&vectors.items[i]);
			checked++;
		}
	}
	assert_true(checked >= 25);
}

static void
test_ethers_integers(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		struct rlp_enc e;
		struct rlp_item item;
		const uint8_t *out;
		uint8_t *expect, value[32], back[32];
		size_t expect_len, out_len;
		uint64_t u, got;

		if (strcmp(v->fields[0], "rlp-uint") == 0) {
			u = strtoull(v->fields[1], NULL, 10);
			rlp_enc_init(&e);
			rlp_enc_uint64(&e, u);
		} else if (strcmp(v->fields[0], "rlp-u256") == 0) {
			assert_true(hex_decode_exact(
			    v->fields[1], strlen(v->fields[1]), value, 32));
			rlp_enc_init(&e);
			rlp_enc_uint256(&e, value);
		} else {
			continue;
		}
		expect = test_decode_hex(v->fields[2], &expect_len);
		assert_int_equal(rlp_enc_finish(&e, &out, &out_len), RLP_OK);
		assert_int_equal(out_len, expect_len);
		assert_memory_equal(out, expect, expect_len);
		rlp_enc_free(&e);

		assert_int_equal(rlp_decode(expect, expect_len, &item), RLP_OK);
		if (strcmp(v->fields[0], "rlp-uint") == 0) {
			assert_int_equal(rlp_item_uint64(&item, &got), RLP_OK);
			assert_true(got == u);
		}
		assert_int_equal(rlp_item_uint256(&item, back), RLP_OK);
		if (strcmp(v->fields[0], "rlp-u256") == 0)
			assert_memory_equal(back, value, 32);
		free(expect);
		checked++;
	}
	assert_true(checked >= 20);
}

/* ---- Rejections ---------------------------------------------------------- */

struct reject_case {
	const char *hex; /* the whole input */
	enum rlp_status expect;
	const char *rule;
};

/* Builds hex for a header followed by n payload bytes 0x61. */
static char *
with_payload(const char *header_hex, size_t n)
{
	size_t hl = strlen(header_hex);
	char *s = malloc(hl + 2 * n + 1);

	assert_non_null(s);
	memcpy(s, header_hex, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + 2 * i, "61", 2);
	s[hl + 2 * n] = '\0';
	return s;
}

static void
check_decode(const char *hex, enum rlp_status expect, const char *rule)
{
	struct rlp_item item;
	size_t len;
	uint8_t *buf = test_decode_hex(hex, &len);
	enum rlp_status st = rlp_decode(buf, len, &item);

	if (st != expect)
		fail_msg("%s: %s gave %s, expected %s", rule, hex,
		    rlp_status_str(st), rlp_status_str(expect));
	free(buf);
}

static void
test_decoder_rejects(void **state)
{
	static const struct reject_case cases[] = {
	    {"0x", RLP_ERR_TRUNCATED, "empty input"},
	    {"0x8100", RLP_ERR_NONCANONICAL, "byte < 0x80 as a string"},
	    {"0x817f", RLP_ERR_NONCANONICAL, "byte < 0x80 as a string"},
	    {"0x8180", RLP_OK, "byte >= 0x80 needs the string form"},
	    {"0x836162", RLP_ERR_TRUNCATED, "string past the end"},
	    {"0xb8", RLP_ERR_TRUNCATED, "length bytes missing"},
	    {"0xbf0102", RLP_ERR_TRUNCATED, "length bytes missing"},
	    {"0xb800", RLP_ERR_NONCANONICAL, "length with a leading zero"},
	    {"0xb90000", RLP_ERR_NONCANONICAL, "length with a leading zero"},
	    {"0xbfffffffffffffffff", RLP_ERR_TRUNCATED, "huge length"},
	    {"0xbf8000000000000000", RLP_ERR_TRUNCATED, "huge length"},
	    {"0xc38080", RLP_ERR_TRUNCATED, "list past the end"},
	    {"0xf800", RLP_ERR_NONCANONICAL, "list length leading zero"},
	    {"0xf9", RLP_ERR_TRUNCATED, "list length bytes missing"},
	    {"0xffffffffffffffffff", RLP_ERR_TRUNCATED, "huge list"},
	    {"0x8080", RLP_ERR_TRAILING, "two items"},
	    {"0xc0c0", RLP_ERR_TRAILING, "two items"},
	    {"0xc28100", RLP_ERR_NONCANONICAL, "nested non-canonical byte"},
	    {"0xc3c28100", RLP_ERR_NONCANONICAL, "deeper non-canonical"},
	    {"0xc2c380", RLP_ERR_TRUNCATED, "inner list past the outer"},
	    {"0xc28380", RLP_ERR_TRUNCATED, "inner string past the outer"},
	    {"0xc1b8", RLP_ERR_TRUNCATED, "inner length past the outer"},
	    {"0xc3c18080", RLP_OK, "control: [[0x], 0x]"},
	};
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_decode(cases[i].hex, cases[i].expect, cases[i].rule);

	/* Short forms are required up to 55 bytes. */
	check_decode(s = with_payload("0xb837", 55), RLP_ERR_NONCANONICAL,
	    "long string form for 55 bytes");
	free(s);
	check_decode(s = with_payload("0xb7", 55), RLP_OK, "55-byte string");
	free(s);
	check_decode(s = with_payload("0xb838", 56), RLP_OK, "56-byte string");
	free(s);
	check_decode(s = with_payload("0xb838", 55), RLP_ERR_TRUNCATED,
	    "56-byte string cut short");
	free(s);
	check_decode(s = with_payload("0xb838", 57), RLP_ERR_TRAILING,
	    "a byte after a 56-byte string");
	free(s);
	check_decode(s = with_payload("0xb90038", 56), RLP_ERR_NONCANONICAL,
	    "56 with a leading zero length byte");
	free(s);
	check_decode(s = with_payload("0xf837", 55), RLP_ERR_NONCANONICAL,
	    "long list form for 55 bytes");
	free(s);
	check_decode(s = with_payload("0xf838", 56), RLP_OK, "56-byte list");
	free(s);
	check_decode(s = with_payload("0xf90100", 256), RLP_OK, "3-byte hdr");
	free(s);
	check_decode(s = with_payload("0xf90100", 255), RLP_ERR_TRUNCATED,
	    "256-byte list cut short");
	free(s);
}

static void
test_depth_limit(void **state)
{
	uint8_t buf[RLP_MAX_DEPTH + 2];
	struct rlp_item item;
	struct rlp_enc e;
	const uint8_t *out;
	size_t len;

	(void)state;
	/* RLP_MAX_DEPTH nested empty lists decode; one more does not. */
	for (size_t i = 0; i < RLP_MAX_DEPTH; i++)
		buf[i] = (uint8_t)(0xc0 + RLP_MAX_DEPTH - 1 - i);
	assert_int_equal(rlp_decode(buf, RLP_MAX_DEPTH, &item), RLP_OK);
	for (size_t i = 0; i < RLP_MAX_DEPTH + 1; i++)
		buf[i] = (uint8_t)(0xc0 + RLP_MAX_DEPTH - i);
	assert_int_equal(
	    rlp_decode(buf, RLP_MAX_DEPTH + 1, &item), RLP_ERR_DEPTH);

	/* The encoder has the same limit. */
	rlp_enc_init(&e);
	for (size_t i = 0; i < RLP_MAX_DEPTH; i++)
		rlp_enc_list_begin(&e);
	for (size_t i = 0; i < RLP_MAX_DEPTH; i++)
		rlp_enc_list_end(&e);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_OK);
	assert_int_equal(len, RLP_MAX_DEPTH);
	assert_memory_equal(out, buf + 1, RLP_MAX_DEPTH);
	rlp_enc_free(&e);
	rlp_enc_init(&e);
	for (size_t i = 0; i < RLP_MAX_DEPTH + 1; i++)
		rlp_enc_list_begin(&e);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_ERR_DEPTH);
	rlp_enc_free(&e);
}

#define ZEROS32                                                                \
	"0000000000000000000000000000000000000000000000000000000000000000"

static void
test_integers_strict(void **state)
{
	static const struct {
		const char *hex;
		enum rlp_status st64, st256;
	} cases[] = {
	    {"0x80", RLP_OK, RLP_OK},
	    {"0x00", RLP_ERR_NONCANONICAL, RLP_ERR_NONCANONICAL},
	    {"0x820001", RLP_ERR_NONCANONICAL, RLP_ERR_NONCANONICAL},
	    {"0x88ffffffffffffffff", RLP_OK, RLP_OK},
	    {"0x89010000000000000000", RLP_ERR_RANGE, RLP_OK},
	    {"0xa101" ZEROS32, RLP_ERR_RANGE, RLP_ERR_RANGE},
	    {"0xc0", RLP_ERR_TYPE, RLP_ERR_TYPE},
	};
	struct rlp_item item;
	uint8_t *buf, out[32];
	uint64_t v;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = test_decode_hex(cases[i].hex, &len);
		assert_int_equal(rlp_decode(buf, len, &item), RLP_OK);
		assert_int_equal(rlp_item_uint64(&item, &v), cases[i].st64);
		if (cases[i].st64 != RLP_OK)
			assert_true(v == 0);
		assert_int_equal(rlp_item_uint256(&item, out), cases[i].st256);
		free(buf);
	}
}

static void
test_iterator(void **state)
{
	struct rlp_enc e;
	struct rlp_item top;
	struct rlp_iter it, sub, empty;
	const uint8_t *out, *p;
	uint8_t value[32] = {0}, got[32];
	size_t len, plen;
	uint64_t v;

	(void)state;
	value[0] = 0x01;
	value[31] = 0x02;
	rlp_enc_init(&e);
	rlp_enc_list_begin(&e);
	rlp_enc_uint64(&e, 31337);
	rlp_enc_bytes(&e, "abc", 3);
	rlp_enc_list_begin(&e);
	rlp_enc_uint256(&e, value);
	rlp_enc_list_end(&e);
	rlp_enc_list_begin(&e);
	rlp_enc_list_end(&e);
	rlp_enc_uint64(&e, 0);
	rlp_enc_list_end(&e);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_OK);

	assert_int_equal(rlp_decode(out, len, &top), RLP_OK);
	assert_int_equal(rlp_iter_init(&it, &top), RLP_OK);
	assert_int_equal(rlp_iter_uint64(&it, &v), RLP_OK);
	assert_true(v == 31337);
	/* A string where a list belongs, and the other way round. */
	{
		struct rlp_iter copy = it;
		assert_int_equal(rlp_iter_list(&copy, &sub), RLP_ERR_TYPE);
	}
	assert_int_equal(rlp_iter_bytes(&it, &p, &plen), RLP_OK);
	assert_int_equal(plen, 3);
	assert_memory_equal(p, "abc", 3);
	{
		struct rlp_iter copy = it;
		assert_int_equal(
		    rlp_iter_bytes(&copy, &p, &plen), RLP_ERR_TYPE);
		copy = it;
		assert_int_equal(rlp_iter_uint64(&copy, &v), RLP_ERR_TYPE);
	}
	assert_int_equal(rlp_iter_list(&it, &sub), RLP_OK);
	assert_int_equal(rlp_iter_end(&sub), RLP_ERR_TRAILING);
	assert_int_equal(rlp_iter_uint256(&sub, got), RLP_OK);
	assert_memory_equal(got, value, 32);
	assert_int_equal(rlp_iter_end(&sub), RLP_OK);
	assert_int_equal(rlp_iter_uint64(&sub, &v), RLP_ERR_END);
	assert_int_equal(rlp_iter_list(&it, &empty), RLP_OK);
	assert_int_equal(rlp_iter_end(&empty), RLP_OK);
	assert_int_equal(rlp_iter_uint64(&it, &v), RLP_OK);
	assert_true(v == 0);
	assert_int_equal(rlp_iter_end(&it), RLP_OK);
	assert_int_equal(rlp_iter_bytes(&it, &p, &plen), RLP_ERR_END);
	assert_null(p);
	/* A string is not a list. */
	{
		struct rlp_item str;
		assert_int_equal(rlp_decode((const uint8_t *)"\x83"
							     "abc",
				     4, &str),
		    RLP_OK);
		assert_int_equal(rlp_iter_init(&sub, &str), RLP_ERR_TYPE);
	}
	rlp_enc_free(&e);
}

static void
test_encoder_errors(void **state)
{
	struct rlp_enc e;
	const uint8_t *out;
	uint8_t small[4], big[300];
	size_t len;

	(void)state;
	rlp_enc_init(&e);
	rlp_enc_list_end(&e);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_ERR_UNBALANCED);
	rlp_enc_free(&e);

	rlp_enc_init(&e);
	rlp_enc_list_begin(&e);
	rlp_enc_bytes(&e, "x", 1);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_ERR_UNBALANCED);
	assert_null(out);
	assert_int_equal(len, 0);
	rlp_enc_free(&e);

	/* Errors stick: later calls change nothing. */
	rlp_enc_init_buffer(&e, small, sizeof(small));
	rlp_enc_bytes(&e, "abcdef", 6);
	rlp_enc_bytes(&e, "a", 1);
	rlp_enc_list_begin(&e);
	assert_int_equal(e.len, 0);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_ERR_SPACE);
	rlp_enc_free(&e);

	/* A list that must widen its header in a buffer without room. */
	memset(big, 0x61, sizeof(big));
	rlp_enc_init_buffer(&e, big, 57);
	rlp_enc_list_begin(&e);
	rlp_enc_bytes(&e, big + 100, 55); /* 56 bytes of payload */
	rlp_enc_list_end(&e);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_ERR_SPACE);
	rlp_enc_init_buffer(&e, big, 58);
	rlp_enc_list_begin(&e);
	rlp_enc_bytes(&e, big + 100, 55);
	rlp_enc_list_end(&e);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_OK);
	assert_int_equal(len, 58);
	assert_int_equal(out[0], 0xf8);
	assert_int_equal(out[1], 56);
	assert_int_equal(out[2], 0xb7);

	/* Nothing is encoded beyond RLP_ENC_MAX. */
	rlp_enc_init(&e);
	rlp_enc_bytes(&e, big, SIZE_MAX - 2);
	assert_int_equal(rlp_enc_finish(&e, &out, &len), RLP_ERR_SPACE);
	rlp_enc_free(&e);

	assert_string_equal(
	    rlp_status_str(RLP_ERR_NONCANONICAL), "non-canonical encoding");
	assert_string_equal(
	    rlp_status_str((enum rlp_status)99), "unknown error");
}

/*
 * Mutations of every vector (each truncation, and byte changes at many
 * places): the decoder never reads out of bounds (run under ASan/valgrind to
 * see it), and whatever it accepts re-encodes to exactly the input, which
 * is what canonical-only decoding promises.
 */
static void
check_mutant(const uint8_t *buf, size_t len)
{
	struct rlp_item item;
	struct rlp_enc e;
	const uint8_t *out;
	size_t out_len;

	if (rlp_decode(buf, len, &item) != RLP_OK)
		return;
	rlp_enc_init(&e);
	reencode(&e, &item);
	assert_int_equal(rlp_enc_finish(&e, &out, &out_len), RLP_OK);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, buf, len);
	rlp_enc_free(&e);
}

static void
test_mutations(void **state)
{
	static const uint8_t values[] = {0x00, 0x01, 0x37, 0x38, 0x7f, 0x80,
	    0x81, 0xb7, 0xb8, 0xbf, 0xc0, 0xc1, 0xf7, 0xf8, 0xff};

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		uint8_t *enc, *copy;
		size_t len;

		if (strcmp(vectors.items[i].fields[0], "rlp") != 0)
			continue;
		enc = test_decode_hex(vectors.items[i].fields[2], &len);
		if (len > 2000) {
			free(enc);
			continue;
		}
		copy = malloc(len);
		assert_non_null(copy);
		for (size_t cut = 0; cut < len; cut++) {
			/* An exact-size copy, so ASan catches overreads. */
			uint8_t *part = malloc(cut ? cut : 1);
			assert_non_null(part);
			memcpy(part, enc, cut);
			check_mutant(part, cut);
			free(part);
		}
		for (size_t pos = 0; pos < len; pos += 1 + pos / 16) {
			for (size_t j = 0; j < sizeof(values); j++) {
				memcpy(copy, enc, len);
				copy[pos] = values[j];
				check_mutant(copy, len);
			}
		}
		free(copy);
		free(enc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethers_items),
	    cmocka_unit_test(test_ethers_integers),
	    cmocka_unit_test(test_decoder_rejects),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_integers_strict),
	    cmocka_unit_test(test_iterator),
	    cmocka_unit_test(test_encoder_errors),
	    cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
