/*
 * abi.c against ethers (Interface.encodeFunctionData, AbiCoder.encode,
 * encodeErrorResult; run at test time through tests/tools/tx-vectors.js),
 * plus rejection of malformed return data and a mutation test showing the
 * decoder accepts canonical encodings only.
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

#include "abi.h"
#include "hex.h"
#include "test_vectors.h"

/* ---- Vectors from ethers ------------------------------------------------ */

static struct test_vectors vectors;

static int
setup(void **state)
{
	(void)state;
	return test_vectors_load(
	    &vectors, "tests/tools/tx-vectors.js", "abi", NULL, 50);
}

static int
teardown(void **state)
{
	(void)state;
	test_vectors_free(&vectors);
	return 0;
}

/* ---- Types and arguments as the script writes them ---------------------- */

#define MAX_TYPES 16

struct values {
	char *types[MAX_TYPES];
	char *args[MAX_TYPES]; /* NULL when the vector carries none */
	size_t count;
	char *types_buf, *args_buf;
};

/* Splits "name(t1,t2)" (or "(t1,t2)") and "a1,a2" (or "-"). */
static void
parse_values(const char *signature, const char *args, struct values *v)
{
	char *open, *save, *tok;
	size_t n = 0;

	memset(v, 0, sizeof(*v));
	v->types_buf = strdup(strchr(signature, '('));
	assert_non_null(v->types_buf);
	open = v->types_buf + 1;
	open[strlen(open) - 1] = '\0';
	for (tok = strtok_r(open, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		assert_true(v->count < MAX_TYPES);
		v->types[v->count++] = tok;
	}
	if (args == NULL)
		return;
	if (strcmp(args, "-") == 0) {
		assert_int_equal(v->count, 0);
		return;
	}
	v->args_buf = strdup(args);
	assert_non_null(v->args_buf);
	/* strtok would merge the empty fields that "0x" never makes. */
	for (tok = strtok_r(v->args_buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		assert_true(n < v->count);
		v->args[n++] = tok;
	}
	assert_int_equal(n, v->count);
}

static void
free_values(struct values *v)
{
	free(v->types_buf);
	free(v->args_buf);
}

static unsigned
uint_bits(const char *type)
{
	return type[4] == '\0' ? 256 : (unsigned)atoi(type + 4);
}

static bool
fits_u64(const uint8_t word[32], uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < 24; i++)
		if (word[i] != 0)
			return false;
	for (size_t i = 24; i < 32; i++)
		*v = *v << 8 | word[i];
	return true;
}

/* Adds one argument; with prefer_u64, small uints go through abi_enc_uint. */
static void
encode_arg(
    struct abi_enc *e, const char *type, const char *arg, bool prefer_u64)
{
	uint8_t *bytes;
	size_t len;
	uint64_t u;

	if (strcmp(type, "bool") == 0) {
		abi_enc_bool(e, strcmp(arg, "true") == 0);
		return;
	}
	bytes = test_decode_hex(arg, &len);
	if (strncmp(type, "uint", 4) == 0) {
		assert_int_equal(len, 32);
		if (prefer_u64 && fits_u64(bytes, &u))
			abi_enc_uint(e, u);
		else if (uint_bits(type) == 256)
			abi_enc_uint256(e, bytes);
		else
			abi_enc_uint_n(e, uint_bits(type), bytes);
	} else if (strcmp(type, "address") == 0) {
		assert_int_equal(len, 20);
		abi_enc_address(e, bytes);
	} else if (strcmp(type, "bytes32") == 0) {
		abi_enc_bytes32(e, bytes);
	} else if (strcmp(type, "string") == 0) {
		abi_enc_string(e, (const char *)bytes, len);
	} else if (strcmp(type, "bytes") == 0) {
		abi_enc_bytes(e, bytes, len);
	} else if (strcmp(type, "bytes2[]") == 0) {
		abi_enc_bytes2_array(e, bytes, len / 2);
	} else if (strcmp(type, "address[]") == 0) {
		abi_enc_address_array(e, bytes, len / 20);
	} else if (strncmp(type, "bytes", 5) == 0) {
		assert_int_equal(len, (size_t)atoi(type + 5));
		abi_enc_bytes_n(e, bytes, len);
	} else {
		fail_msg("type %s not handled", type);
	}
	free(bytes);
}

static uint8_t *
encode_values(const struct values *v, const uint8_t *selector, bool prefer_u64,
    size_t *len)
{
	struct abi_enc e;
	uint8_t *out;

	abi_enc_begin(&e, selector);
	for (size_t i = 0; i < v->count; i++)
		encode_arg(&e, v->types[i], v->args[i], prefer_u64);
	assert_int_equal(abi_enc_finish(&e, &out, len), ABI_OK);
	return out;
}

/*
 * Reads one value of `type` from d and adds it to e (when e is not NULL);
 * with expect, also compares it with the script's text. Returns the
 * reader's status.
 */
static enum abi_status
transcode_arg(struct abi_dec *d, struct abi_enc *e, const char *type,
    const char *expect, bool prefer_u64)
{
	uint8_t word[32], items[20 * 64], *want = NULL;
	const uint8_t *p;
	const char *s;
	size_t len, want_len = 0, count;
	enum abi_status st = ABI_OK;
	uint64_t u;
	bool b;

	if (expect != NULL && strcmp(type, "bool") != 0)
		want = test_decode_hex(expect, &want_len);
	if (strcmp(type, "bool") == 0) {
		if ((st = abi_dec_bool(d, &b)) == ABI_OK && e != NULL)
			abi_enc_bool(e, b);
		if (st == ABI_OK && expect != NULL)
			assert_true(b == (strcmp(expect, "true") == 0));
	} else if (strncmp(type, "uint", 4) == 0) {
		unsigned bits = uint_bits(type);
		if (prefer_u64 && bits <= 64) {
			if ((st = abi_dec_uint64(d, &u)) == ABI_OK && e != NULL)
				abi_enc_uint(e, u);
			memset(word, 0, 32);
			for (size_t i = 0; i < 8; i++)
				word[31 - i] = (uint8_t)(u >> (8 * i));
		} else {
			st = abi_dec_uint_n(d, bits, word);
			if (st == ABI_OK && e != NULL)
				abi_enc_uint_n(e, bits, word);
		}
		if (st == ABI_OK && want != NULL)
			assert_memory_equal(word, want, 32);
	} else if (strcmp(type, "address") == 0) {
		if ((st = abi_dec_address(d, word)) == ABI_OK && e != NULL)
			abi_enc_address(e, word);
		if (st == ABI_OK && want != NULL)
			assert_memory_equal(word, want, 20);
	} else if (strcmp(type, "string") == 0) {
		if ((st = abi_dec_string(d, &s, &len)) == ABI_OK && e != NULL)
			abi_enc_string(e, s, len);
		if (st == ABI_OK && want != NULL) {
			assert_int_equal(len, want_len);
			assert_memory_equal(s, want, len);
		}
	} else if (strcmp(type, "bytes") == 0) {
		if ((st = abi_dec_bytes(d, &p, &len)) == ABI_OK && e != NULL)
			abi_enc_bytes(e, p, len);
		if (st == ABI_OK && want != NULL) {
			assert_int_equal(len, want_len);
			assert_memory_equal(p, want, len);
		}
	} else if (strcmp(type, "bytes2[]") == 0 ||
	    strcmp(type, "address[]") == 0) {
		size_t size = type[1] == 'y' ? 2 : 20;
		st = size == 2 ? abi_dec_bytes2_array(d, items, 64, &count)
			       : abi_dec_address_array(d, items, 64, &count);
		if (st == ABI_OK && e != NULL) {
			if (size == 2)
				abi_enc_bytes2_array(e, items, count);
			else
				abi_enc_address_array(e, items, count);
		}
		if (st == ABI_OK && want != NULL) {
			assert_int_equal(count * size, want_len);
			assert_memory_equal(items, want, want_len);
		}
	} else if (strncmp(type, "bytes", 5) == 0) {
		size_t n = (size_t)atoi(type + 5);
		if ((st = abi_dec_bytes_n(d, word, n)) == ABI_OK && e != NULL)
			abi_enc_bytes_n(e, word, n);
		if (st == ABI_OK && want != NULL)
			assert_memory_equal(word, want, n);
	} else {
		fail_msg("type %s not handled", type);
	}
	free(want);
	return st;
}

/*
 * Decodes (data, len) as the values' types, comparing with their args if
 * they have them. Returns the first error, or abi_dec_end's answer; when
 * that is ABI_OK the values are re-encoded and must give data back.
 */
static enum abi_status
decode_values(
    const struct values *v, const uint8_t *data, size_t len, bool prefer_u64)
{
	struct abi_dec d;
	struct abi_enc e;
	enum abi_status st = ABI_OK;
	uint8_t *again;
	size_t again_len;

	abi_dec_init(&d, data, len);
	abi_enc_begin(&e, NULL);
	for (size_t i = 0; i < v->count && st == ABI_OK; i++)
		st = transcode_arg(&d, &e, v->types[i], v->args[i], prefer_u64);
	if (st == ABI_OK)
		st = abi_dec_end(&d);
	if (st != ABI_OK) {
		assert_int_equal(abi_dec_end(&d), st);
		/* The encoder has values only up to the failure. */
		if (abi_enc_finish(&e, &again, &again_len) == ABI_OK)
			free(again);
		return st;
	}
	assert_int_equal(abi_enc_finish(&e, &again, &again_len), ABI_OK);
	if (again_len != len || memcmp(again, data, len) != 0)
		fail_msg("accepted data does not re-encode to itself");
	free(again);
	return ABI_OK;
}

/* ---- Tests against ethers ----------------------------------------------- */

static void
test_ethers_selectors_and_topics(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		uint8_t want[32], got[32];

		if (strcmp(v->fields[0], "abi-selector") == 0) {
			assert_true(hex_decode_exact(
			    v->fields[2], strlen(v->fields[2]), want, 4));
			abi_selector(v->fields[1], got);
			assert_memory_equal(got, want, 4);
		} else if (strcmp(v->fields[0], "abi-topic") == 0) {
			assert_true(hex_decode_exact(
			    v->fields[2], strlen(v->fields[2]), want, 32));
			abi_event_topic(v->fields[1], got);
			assert_memory_equal(got, want, 32);
		} else {
			continue;
		}
		checked++;
	}
	assert_true(checked >= 15);
}

static void
test_ethers_call_data(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		struct values vals;
		uint8_t sel[4], *expect, *got;
		size_t expect_len, got_len;

		if (strcmp(v->fields[0], "abi-call") != 0)
			continue;
		assert_int_equal(v->nfields, 4);
		parse_values(v->fields[1], v->fields[2], &vals);
		expect = test_decode_hex(v->fields[3], &expect_len);
		abi_selector(v->fields[1], sel);
		for (int pass = 0; pass < 2; pass++) {
			got = encode_values(&vals, sel, pass == 0, &got_len);
			if (got_len != expect_len ||
			    memcmp(got, expect, expect_len) != 0)
				fail_msg("%s: call data differs from ethers",
				    v->fields[1]);
			free(got);
		}
		/* And the arguments read back from the call data. */
		assert_memory_equal(expect, sel, 4);
		assert_int_equal(
		    decode_values(&vals, expect + 4, expect_len - 4, true),
		    ABI_OK);
		assert_int_equal(
		    decode_values(&vals, expect + 4, expect_len - 4, false),
		    ABI_OK);
		free(expect);
		free_values(&vals);
		checked++;
	}
	assert_true(checked >= 20);
}

static void
test_ethers_tuples(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		struct values vals;
		uint8_t *expect, *got;
		size_t expect_len, got_len;

		if (strcmp(v->fields[0], "abi-tuple") != 0)
			continue;
		assert_int_equal(v->nfields, 4);
		parse_values(v->fields[1], v->fields[2], &vals);
		expect = test_decode_hex(v->fields[3], &expect_len);
		for (int pass = 0; pass < 2; pass++) {
			assert_int_equal(
			    decode_values(&vals, expect, expect_len, pass == 0),
			    ABI_OK);
			got = encode_values(&vals, NULL, pass == 0, &got_len);
			assert_int_equal(got_len, expect_len);
			assert_memory_equal(got, expect, expect_len);
			free(got);
		}
		free(expect);
		free_values(&vals);
		checked++;
	}
	assert_true(checked >= 14);
}

static void
test_ethers_reverts(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		struct abi_revert r;
		uint8_t *data, *want;
		size_t len, want_len;

		if (strncmp(v->fields[0], "abi-revert-", 11) != 0)
			continue;
		data = test_decode_hex(v->fields[v->nfields - 1], &len);
		assert_int_equal(abi_decode_revert(data, len, &r), ABI_OK);
		if (strcmp(v->fields[0], "abi-revert-error") == 0) {
			want = test_decode_hex(v->fields[1], &want_len);
			assert_int_equal(r.kind, ABI_REVERT_ERROR);
			assert_int_equal(r.message_len, want_len);
			assert_memory_equal(r.message, want, want_len);
			free(want);
		} else if (strcmp(v->fields[0], "abi-revert-panic") == 0) {
			assert_int_equal(r.kind, ABI_REVERT_PANIC);
			assert_true(
			    r.panic_code == strtoull(v->fields[1], NULL, 10));
		} else {
			want = test_decode_hex(v->fields[2], &want_len);
			assert_int_equal(r.kind, ABI_REVERT_CUSTOM);
			assert_true(abi_revert_is(&r, v->fields[1]));
			assert_false(abi_revert_is(&r, "Other()"));
			assert_int_equal(r.args_len, want_len);
			assert_memory_equal(r.args, want, want_len);
			free(want);
		}
		free(data);
		checked++;
	}
	assert_true(checked >= 12);
}

/* ---- Malformed data ------------------------------------------------------ */

/* Builds data from 32-byte words given as hex without 0x (short ones are
 * left-padded with zeros, "s:..." ones right-padded, like strings). */
static uint8_t *
words(size_t *len, size_t n, ...)
{
	uint8_t *out = calloc(n ? n : 1, 32);
	va_list ap;

	assert_non_null(out);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *w = va_arg(ap, const char *);
		bool left = strncmp(w, "s:", 2) == 0;
		size_t digits;
		if (left)
			w += 2;
		digits = strlen(w);
		assert_true(digits <= 64 && digits % 2 == 0);
		assert_true(hex_decode_exact(w, digits,
		    out + 32 * i + (left ? 0 : 32 - digits / 2), digits / 2));
	}
	va_end(ap);
	*len = 32 * n;
	return out;
}

static enum abi_status
decode_as(const char *signature, const uint8_t *data, size_t len)
{
	struct values v;
	enum abi_status st;

	parse_values(signature, NULL, &v);
	st = decode_values(&v, data, len, false);
	free_values(&v);
	return st;
}

#define BIG_LEN "ffffffffffffffff"
#define HUGE "8000000000000000000000000000000000000000000000000000000000000000"

/* Decodes data (freed here) as sig and expects want. */
static void
expect_decode(const char *sig, enum abi_status want, uint8_t *data, size_t len,
    const char *what)
{
	enum abi_status st = decode_as(sig, data, len);

	if (st != want)
		fail_msg("%s as %s: got %s, expected %s", what, sig,
		    abi_status_str(st), abi_status_str(want));
	free(data);
}

static void
test_malformed_strings(void **state)
{
	uint8_t *d;
	size_t len;

	(void)state;
	d = words(&len, 3, "20", "03", "s:616263");
	expect_decode("(string)", ABI_OK, d, len, "control");
	d = words(&len, 3, "60", "03", "s:616263");
	expect_decode(
	    "(string)", ABI_ERR_TRUNCATED, d, len, "offset at the end");
	d = words(&len, 3, "0100", "03", "s:616263");
	expect_decode(
	    "(string)", ABI_ERR_TRUNCATED, d, len, "offset past the end");
	d = words(&len, 3, BIG_LEN, "03", "s:616263");
	expect_decode("(string)", ABI_ERR_TRUNCATED, d, len, "offset 2^64 - 1");
	d = words(&len, 3, HUGE, "03", "s:616263");
	expect_decode("(string)", ABI_ERR_TRUNCATED, d, len, "offset 2^255");
	d = words(&len, 3, "00", "03", "s:616263");
	expect_decode("(string)", ABI_ERR_OFFSET, d, len, "offset in head");
	d = words(&len, 4, "40", "00", "03", "s:616263");
	expect_decode("(string)", ABI_ERR_OFFSET, d, len, "gap after head");
	d = words(&len, 3, "20", "21", "s:616263");
	expect_decode(
	    "(string)", ABI_ERR_TRUNCATED, d, len, "length past the end");
	d = words(&len, 3, "20", BIG_LEN, "s:616263");
	expect_decode("(string)", ABI_ERR_TRUNCATED, d, len, "huge length");
	d = words(&len, 3, "20", HUGE, "s:616263");
	expect_decode("(string)", ABI_ERR_TRUNCATED, d, len, "length 2^255");
	d = words(&len, 3, "20", "03", "s:61626364");
	expect_decode("(string)", ABI_ERR_PADDING, d, len, "dirty padding");
	d = words(&len, 3, "20", "03", "s:616263");
	expect_decode(
	    "(string)", ABI_ERR_TRUNCATED, d, len - 29, "padding missing");
	d = words(&len, 4, "20", "03", "s:616263", "00");
	expect_decode("(string)", ABI_ERR_TRAILING, d, len, "extra word");
	d = words(&len, 3, "20", "03", "s:616263");
	expect_decode("(string)", ABI_ERR_TRAILING, d, len + 1, "extra byte");
	d = words(&len, 2, "20", "00");
	expect_decode("(string)", ABI_OK, d, len, "empty string");
	d = words(&len, 2, "20", "00");
	expect_decode(
	    "(string)", ABI_ERR_TRUNCATED, d, len - 1, "length word cut");
	d = words(&len, 1, "20");
	expect_decode("(string)", ABI_ERR_TRUNCATED, d, len, "no tail");
	d = words(&len, 1, "00");
	expect_decode("(string)", ABI_ERR_TRUNCATED, d, 0, "no data");

	/* Two strings: the second must follow the first exactly. */
	d = words(&len, 6, "40", "80", "01", "s:61", "01", "s:62");
	expect_decode("(string,string)", ABI_OK, d, len, "control");
	d = words(&len, 6, "40", "40", "01", "s:61", "01", "s:62");
	expect_decode(
	    "(string,string)", ABI_ERR_OFFSET, d, len, "both offsets alike");
	d = words(&len, 6, "80", "40", "01", "s:61", "01", "s:62");
	expect_decode(
	    "(string,string)", ABI_ERR_OFFSET, d, len, "tails out of order");
	d = words(&len, 7, "40", "a0", "01", "s:61", "00", "01", "s:62");
	expect_decode(
	    "(string,string)", ABI_ERR_OFFSET, d, len, "gap between tails");
	/* A tail that overlaps the head words still to come. */
	d = words(&len, 3, "20", "01", "s:61");
	expect_decode(
	    "(string,uint256)", ABI_ERR_OFFSET, d, len, "tail inside the head");
}

static void
test_malformed_arrays_and_words(void **state)
{
	uint8_t *d, codes[4], addrs[40];
	size_t len, count;
	struct abi_dec dec;

	(void)state;
	d = words(&len, 4, "20", "02", "s:4445", "s:4652");
	expect_decode("(bytes2[])", ABI_OK, d, len, "control");
	d = words(&len, 4, "20", "03", "s:4445", "s:4652");
	expect_decode(
	    "(bytes2[])", ABI_ERR_TRUNCATED, d, len, "count past the end");
	d = words(&len, 4, "20", BIG_LEN, "s:4445", "s:4652");
	expect_decode(
	    "(bytes2[])", ABI_ERR_TRUNCATED, d, len, "count 2^64 - 1");
	d = words(&len, 4, "20", "0800000000000000", "s:4445", "s:4652");
	expect_decode("(bytes2[])", ABI_ERR_TRUNCATED, d, len,
	    "count * 32 wrapping 2^64");
	d = words(&len, 4, "20", HUGE, "s:4445", "s:4652");
	expect_decode("(bytes2[])", ABI_ERR_TRUNCATED, d, len, "count 2^255");
	d = words(&len, 4, "20", "02", "s:4445", "s:465201");
	expect_decode(
	    "(bytes2[])", ABI_ERR_PADDING, d, len, "dirty item padding");
	d = words(&len, 3, "20", "01",
	    "01000000000000000000000000000000000000"
	    "0000");
	expect_decode(
	    "(address[])", ABI_ERR_PADDING, d, len, "address with high bits");

	/* More items than the caller has room for. */
	d = words(&len, 4, "20", "02", "s:4445", "s:4652");
	abi_dec_init(&dec, d, len);
	assert_int_equal(
	    abi_dec_bytes2_array(&dec, codes, 1, &count), ABI_ERR_TOO_LONG);
	assert_int_equal(count, 0);
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_bytes2_array(&dec, codes, 2, &count), ABI_OK);
	assert_int_equal(count, 2);
	assert_memory_equal(codes, "DEFR", 4);
	assert_int_equal(abi_dec_end(&dec), ABI_OK);
	free(d);
	d = words(&len, 3, "20", "01", "05");
	abi_dec_init(&dec, d, len);
	assert_int_equal(
	    abi_dec_address_array(&dec, addrs, 0, &count), ABI_ERR_TOO_LONG);
	free(d);

	/* Static words. */
	d = words(&len, 1, "02");
	expect_decode("(bool)", ABI_ERR_PADDING, d, len, "bool 2");
	d = words(&len, 1,
	    "0100000000000000000000000000000000000000000000"
	    "000000000000000001");
	expect_decode("(bool)", ABI_ERR_PADDING, d, len, "bool high bit");
	d = words(&len, 1, "010000000000000000000000000000000000000000");
	expect_decode(
	    "(address)", ABI_ERR_PADDING, d, len, "address high bits");
	d = words(&len, 1, "010000000000000000");
	expect_decode("(uint64)", ABI_ERR_RANGE, d, len, "uint64 of 2^64");
	d = words(&len, 1, "0100000000000000000000000000000000");
	expect_decode("(uint128)", ABI_ERR_RANGE, d, len, "uint128 of 2^128");
	d = words(&len, 1, "ffffffffffffffffffffffffffffffff");
	expect_decode("(uint128)", ABI_OK, d, len, "uint128 max");
	d = words(&len, 1, "0100");
	expect_decode("(uint8)", ABI_ERR_RANGE, d, len, "uint8 of 256");
	d = words(&len, 1, "s:444501");
	expect_decode("(bytes2)", ABI_ERR_PADDING, d, len, "bytes2 dirty");
	d = words(&len, 1, "01");
	expect_decode("(uint256)", ABI_ERR_TRUNCATED, d, 31, "short word");
	d = words(&len, 2, "01", "01");
	expect_decode("(uint256)", ABI_ERR_TRAILING, d, len, "extra word");
}

static void
test_decoder_sticky_errors(void **state)
{
	uint8_t *d, addr[20], word[32], out[3];
	size_t len;
	struct abi_dec dec;
	const char *s;
	uint64_t u;
	bool b;

	(void)state;
	d = words(&len, 3, "02", "05", "ff");
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_bool(&dec, &b), ABI_ERR_PADDING);
	assert_false(b);
	/* Every later read fails the same way and zeroes its output. */
	u = 7;
	assert_int_equal(abi_dec_uint64(&dec, &u), ABI_ERR_PADDING);
	assert_true(u == 0);
	memset(addr, 0xaa, sizeof(addr));
	assert_int_equal(abi_dec_address(&dec, addr), ABI_ERR_PADDING);
	assert_true(addr[0] == 0 && addr[19] == 0);
	assert_int_equal(abi_dec_string(&dec, &s, &len), ABI_ERR_PADDING);
	assert_null(s);
	assert_int_equal(abi_dec_end(&dec), ABI_ERR_PADDING);
	free(d);

	/* Caller mistakes: bits or sizes no type has. */
	d = words(&len, 1, "01");
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_uint_n(&dec, 7, word), ABI_ERR_RANGE);
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_uint_n(&dec, 264, word), ABI_ERR_RANGE);
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_bytes_n(&dec, out, 0), ABI_ERR_RANGE);
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_bytes_n(&dec, word, 33), ABI_ERR_RANGE);
	abi_dec_init(&dec, d, len);
	assert_int_equal(abi_dec_uint_n(&dec, 8, word), ABI_OK);
	assert_int_equal(word[31], 1);
	assert_int_equal(abi_dec_end(&dec), ABI_OK);
	free(d);
}

static void
test_malformed_reverts(void **state)
{
	static const uint8_t err_sel[4] = {0x08, 0xc3, 0x79, 0xa0};
	static const uint8_t panic_sel[4] = {0x4e, 0x48, 0x7b, 0x71};
	uint8_t sel[4], buf[4 + 3 * 32 + 1], *d;
	struct abi_revert r;
	size_t len;

	(void)state;
	memset(buf, 0, sizeof(buf));
	abi_selector(ABI_ERROR_SIGNATURE, sel);
	assert_memory_equal(sel, err_sel, 4);
	abi_selector(ABI_PANIC_SIGNATURE, sel);
	assert_memory_equal(sel, panic_sel, 4);

	assert_int_equal(abi_decode_revert(buf, 0, &r), ABI_OK);
	assert_int_equal(r.kind, ABI_REVERT_EMPTY);
	assert_false(abi_revert_is(&r, "NotOwner()"));
	for (size_t n = 1; n < 4; n++)
		assert_int_equal(
		    abi_decode_revert(err_sel, n, &r), ABI_ERR_SELECTOR);

	d = words(&len, 3, "20", "03", "s:616263");
	memcpy(buf, err_sel, 4);
	memcpy(buf + 4, d, len);
	assert_int_equal(abi_decode_revert(buf, 4 + len, &r), ABI_OK);
	assert_int_equal(r.kind, ABI_REVERT_ERROR);
	assert_int_equal(r.message_len, 3);
	assert_memory_equal(r.message, "abc", 3);
	assert_int_equal(
	    abi_decode_revert(buf, 4 + len + 1, &r), ABI_ERR_TRAILING);
	assert_int_equal(
	    abi_decode_revert(buf, 4 + len - 1, &r), ABI_ERR_TRUNCATED);
	assert_int_equal(r.kind, ABI_REVERT_EMPTY);
	assert_null(r.message);
	buf[4 + 63] = 0x40; /* length 64 */
	assert_int_equal(
	    abi_decode_revert(buf, 4 + len, &r), ABI_ERR_TRUNCATED);
	assert_int_equal(abi_decode_revert(err_sel, 4, &r), ABI_ERR_TRUNCATED);
	free(d);

	d = words(&len, 1, "010000000000000000");
	memcpy(buf, panic_sel, 4);
	memcpy(buf + 4, d, len);
	assert_int_equal(abi_decode_revert(buf, 4 + len, &r), ABI_ERR_RANGE);
	free(d);

	/* A custom error's arguments are the caller's to decode. */
	memcpy(buf, "\x30\xcd\x74\x71", 4);
	assert_int_equal(abi_decode_revert(buf, 4, &r), ABI_OK);
	assert_int_equal(r.kind, ABI_REVERT_CUSTOM);
	assert_true(abi_revert_is(&r, "NotOwner()"));
	assert_int_equal(r.args_len, 0);
}

static void
test_encoder_errors(void **state)
{
	static const uint8_t big[32] = {1};
	struct abi_enc e;
	uint8_t *out, *huge;
	size_t len;

	(void)state;
	abi_enc_begin(&e, NULL);
	for (size_t i = 0; i < ABI_MAX_ARGS; i++)
		abi_enc_uint(&e, i);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_OK);
	assert_int_equal(len, ABI_MAX_ARGS * 32);
	free(out);
	abi_enc_begin(&e, NULL);
	for (size_t i = 0; i < ABI_MAX_ARGS + 1; i++)
		abi_enc_string(&e, "x", 1);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_TOO_MANY_ARGS);
	assert_null(out);

	abi_enc_begin(&e, NULL);
	abi_enc_uint_n(&e, 128, big);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_RANGE);
	abi_enc_begin(&e, NULL);
	abi_enc_uint_n(&e, 12, big);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_RANGE);
	abi_enc_begin(&e, NULL);
	abi_enc_bytes_n(&e, big, 0);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_RANGE);
	abi_enc_begin(&e, NULL);
	abi_enc_bytes_n(&e, big, 33);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_RANGE);

	/* Nothing beyond ABI_ENC_MAX; the failure sticks. */
	huge = calloc(1, ABI_ENC_MAX);
	assert_non_null(huge);
	abi_enc_begin(&e, NULL);
	abi_enc_bytes(&e, huge, ABI_ENC_MAX / 2);
	abi_enc_bytes(&e, huge, ABI_ENC_MAX / 2);
	abi_enc_uint(&e, 1);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_TOO_LARGE);
	abi_enc_begin(&e, NULL);
	abi_enc_bytes2_array(&e, huge, SIZE_MAX / 4);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_TOO_LARGE);
	abi_enc_begin(&e, NULL);
	abi_enc_bytes(&e, huge, SIZE_MAX - 8);
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_ERR_TOO_LARGE);
	free(huge);

	/* An empty call: just the selector. */
	abi_enc_begin(&e, (const uint8_t *)"\x3c\xcf\xd6\x0b");
	assert_int_equal(abi_enc_finish(&e, &out, &len), ABI_OK);
	assert_int_equal(len, 4);
	free(out);

	assert_string_equal(
	    abi_status_str(ABI_ERR_OFFSET), "offset does not match the layout");
	assert_string_equal(
	    abi_status_str((enum abi_status)99), "unknown error");
}

/*
 * Every truncation and many byte changes of every tuple vector: the decoder
 * never reads out of bounds (ASan/valgrind), and whatever it accepts
 * re-encodes to exactly the input (decode_values checks), i.e. only
 * canonical encodings pass.
 */
static void
test_mutations(void **state)
{
	static const uint8_t values[] = {
	    0x00, 0x01, 0x02, 0x1f, 0x20, 0x21, 0x40, 0x80, 0xff};
	size_t accepted = 0, tried = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		struct values vals;
		uint8_t *enc, *copy;
		size_t len;

		if (strcmp(v->fields[0], "abi-tuple") != 0)
			continue;
		parse_values(v->fields[1], NULL, &vals);
		enc = test_decode_hex(v->fields[3], &len);
		for (size_t cut = 0; cut < len; cut++) {
			copy = malloc(cut ? cut : 1);
			assert_non_null(copy);
			memcpy(copy, enc, cut);
			if (decode_values(&vals, copy, cut, false) == ABI_OK)
				accepted++;
			tried++;
			free(copy);
		}
		copy = malloc(len ? len : 1);
		assert_non_null(copy);
		for (size_t pos = 0; pos < len; pos++) {
			for (size_t j = 0; j < sizeof(values); j++) {
				memcpy(copy, enc, len);
				copy[pos] = values[j];
				if (decode_values(&vals, copy, len, false) ==
				    ABI_OK)
					accepted++;
				tried++;
			}
		}
		free(copy);
		free(enc);
		free_values(&vals);
	}
	assert_true(tried > 10000);
	/* Changed characters and in-range values are fine; most are not. */
	assert_true(accepted < tried / 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethers_selectors_and_topics),
	    cmocka_unit_test(test_ethers_call_data),
	    cmocka_unit_test(test_ethers_tuples),
	    cmocka_unit_test(test_ethers_reverts),
	    cmocka_unit_test(test_malformed_strings),
	    cmocka_unit_test(test_malformed_arrays_and_words),
	    cmocka_unit_test(test_decoder_sticky_errors),
	    cmocka_unit_test(test_malformed_reverts),
	    cmocka_unit_test(test_encoder_errors),
	    cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
