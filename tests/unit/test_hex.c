/* Hex encoding and decoding (hex.c): round trips, prefixes, every bad digit. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

static void
test_encode(void **state)
{
	const uint8_t data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof(data) + 1];

	(void)state;
	hex_encode(data, sizeof(data), out);
	assert_string_equal(out, "00017f80abff");
	memset(out, 'x', sizeof(out));
	hex_encode(data, 0, out);
	assert_string_equal(out, "");
}

static void
test_round_trip_every_byte(void **state)
{
	uint8_t data[256], back[256];
	char text[2 * 256 + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	hex_encode(data, sizeof(data), text);
	assert_true(hex_decode_exact(text, strlen(text), back, sizeof(back)));
	assert_memory_equal(data, back, sizeof(data));
}

static void
test_decode_prefix_and_case(void **state)
{
	uint8_t out[3];

	(void)state;
	assert_true(hex_decode_exact("0aBcDe", 6, out, 3));
	assert_memory_equal(out, "\x0a\xbc\xde", 3);
	assert_true(hex_decode_exact("0x0abcde", 8, out, 3));
	assert_memory_equal(out, "\x0a\xbc\xde", 3);
	assert_true(hex_decode_exact("0XABCDEF", 8, out, 3));
	assert_memory_equal(out, "\xab\xcd\xef", 3);
	/* Only the length given is read. */
	assert_true(hex_decode_exact("0x123456zz", 8, out, 3));
	assert_memory_equal(out, "\x12\x34\x56", 3);
	/* Nothing wanted: empty text, with or without prefix. */
	assert_true(hex_decode_exact("", 0, out, 0));
	assert_true(hex_decode_exact("0x", 2, out, 0));
}

static void
test_decode_wrong_length(void **state)
{
	uint8_t out[4] = {9, 9, 9, 9};

	(void)state;
	assert_false(hex_decode_exact("", 0, out, 1));
	assert_false(hex_decode_exact("0x", 2, out, 1));
	assert_false(hex_decode_exact("123", 3, out, 2));
	assert_false(hex_decode_exact("12345", 5, out, 2));
	assert_false(hex_decode_exact("123456", 6, out, 2));
	assert_false(hex_decode_exact("0x0x1234", 8, out, 2));
	assert_false(hex_decode_exact("x1234", 5, out, 2));
	assert_false(hex_decode_exact("0", 1, out, 0));
	/* A 2-byte want from "0x12": the 0x is a prefix, not digits. */
	assert_false(hex_decode_exact("0x12", 4, out, 2));
	assert_memory_equal(out, "\x09\x09\x09\x09", 4);
}

/* Every byte value, in every position: accepted exactly when isxdigit. */
static void
test_decode_every_character(void **state)
{
	uint8_t out[2];
	char text[5];

	(void)state;
	for (int c = 0; c < 256; c++) {
		for (int pos = 0; pos < 4; pos++) {
			memcpy(text, "a0b1", 5);
			text[pos] = (char)c;
			memset(out, 0x5a, sizeof(out));
			bool ok = hex_decode_exact(text, 4, out, 2);
			assert_int_equal(ok, isxdigit(c) != 0);
			if (!ok) /* out untouched on failure */
				assert_memory_equal(out, "\x5a\x5a", 2);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_round_trip_every_byte),
	    cmocka_unit_test(test_decode_prefix_and_case),
	    cmocka_unit_test(test_decode_wrong_length),
	    cmocka_unit_test(test_decode_every_character),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
