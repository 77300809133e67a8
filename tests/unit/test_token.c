/* The signed token texts (token.c), byte for byte as DESIGN.md spells them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "token.h"

#define REALM "0x5fbdb2315678afecb367f032d93f642f64180aa3"

static void
test_timed(void **state)
{
	const char expect[] = "FlyTrap CONNECT\nrealm: " REALM
			      "\nclient: sensor-42\ntime: 1700000000";
	char out[256];

	(void)state;
	assert_int_equal(token_message_timed(out, sizeof(out), REALM,
			     (const uint8_t *)"sensor-42", 9, 1700000000),
	    strlen(expect));
	assert_string_equal(out, expect);
}

static void
test_timed_time_edges(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(token_message_timed(
			     out, sizeof(out), "r", (const uint8_t *)"", 0, 0),
	    strlen("FlyTrap CONNECT\nrealm: r\nclient: \ntime: 0"));
	assert_string_equal(
	    out, "FlyTrap CONNECT\nrealm: r\nclient: \ntime: 0");
	assert_true(token_message_timed(out, sizeof(out), "r",
			(const uint8_t *)"c", 1, -5) > 0);
	assert_string_equal(
	    out, "FlyTrap CONNECT\nrealm: r\nclient: c\ntime: -5");
	assert_true(token_message_timed(out, sizeof(out), "r",
			(const uint8_t *)"c", 1, INT64_MAX) > 0);
	assert_string_equal(out,
	    "FlyTrap CONNECT\nrealm: r\nclient: c\ntime: 9223372036854775807");
	assert_true(token_message_timed(out, sizeof(out), "r",
			(const uint8_t *)"c", 1, INT64_MIN) > 0);
	assert_string_equal(out,
	    "FlyTrap CONNECT\nrealm: r\nclient: c\ntime: -9223372036854775808");
}

/* The client id is bytes: NULs and newlines are copied as they are. */
static void
test_client_id_bytes(void **state)
{
	const uint8_t client[] = {'a', 0, '\n', 0xff, 'b'};
	const char expect[] = "FlyTrap CONNECT\nrealm: r\nclient: a\0\n\xff"
			      "b\ntime: 7";
	char out[64];
	size_t len;

	(void)state;
	len = token_message_timed(
	    out, sizeof(out), "r", client, sizeof(client), 7);
	assert_int_equal(len, sizeof(expect) - 1);
	assert_memory_equal(out, expect, len);
	assert_int_equal(out[len], '\0');
}

static void
test_challenge(void **state)
{
	uint8_t nonce[TOKEN_NONCE_LEN];
	char out[256];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0xf0 + i);
	len = token_message_challenge(
	    out, sizeof(out), REALM, (const uint8_t *)"dev/1", 5, nonce);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out,
	    "FlyTrap AUTH\nrealm: " REALM "\nclient: dev/1\nnonce: "
	    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
	    "000102030405060708090a0b0c0d0e0f");
}

static void
test_static(void **state)
{
	const uint8_t addr[ETH_ADDRESS_LEN] = {0xAB, 0xCD, 0xEF, 0x01, 0x23,
	    0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
	    0xab, 0xcd, 0xef, 0x00};
	char out[256];
	size_t len;

	(void)state;
	len = token_message_static(out, sizeof(out), "my realm", addr);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out,
	    "FlyTrap STATIC\nrealm: my realm\naddress: "
	    "0xabcdef0123456789abcdef0123456789abcdef00");
}

/* A message fits only with room for its NUL; 0 otherwise, any cap. */
static void
test_capacity(void **state)
{
	const char expect[] = "FlyTrap CONNECT\nrealm: r\nclient: c\ntime: 42";
	const size_t len = sizeof(expect) - 1;
	char out[sizeof(expect) + 8];
	uint8_t nonce[TOKEN_NONCE_LEN] = {0};
	uint8_t addr[ETH_ADDRESS_LEN] = {0};

	(void)state;
	for (size_t cap = 0; cap <= len; cap++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(token_message_timed(out, cap, "r",
				     (const uint8_t *)"c", 1, 42),
		    0);
		/* Nothing past cap is written. */
		for (size_t i = cap; i < sizeof(out); i++)
			assert_int_equal(out[i], 'x');
	}
	assert_int_equal(
	    token_message_timed(out, len + 1, "r", (const uint8_t *)"c", 1, 42),
	    len);
	assert_string_equal(out, expect);

	assert_int_equal(token_message_challenge(
			     out, 0, "r", (const uint8_t *)"c", 1, nonce),
	    0);
	assert_int_equal(token_message_static(out, 10, "r", addr), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timed),
	    cmocka_unit_test(test_timed_time_edges),
	    cmocka_unit_test(test_client_id_bytes),
	    cmocka_unit_test(test_challenge),
	    cmocka_unit_test(test_static),
	    cmocka_unit_test(test_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
