/*
 * Builds the exact texts FlyTrap clients sign (DESIGN.md, "Authentication").
 * The fields are joined by "\n" with no trailing newline.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "token.h"

/* Appends to (out, cap), keeping room for a NUL; overflow sticks. */
struct token_builder {
	char *out;
	size_t cap;
	size_t len;
	bool overflow;
};

static void
token_append(struct token_builder *b, const void *data, size_t len)
{
	if (b->overflow || b->cap == 0 || len > b->cap - 1 - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->out + b->len, data, len);
	b->len += len;
}

static void
token_append_str(struct token_builder *b, const char *s)
{
	token_append(b, s, strlen(s));
}

/*
 * Returns the message length with out NUL-terminated (so cap must exceed
 * the length), or 0 if it does not fit.
 */
static size_t
token_finish(struct token_builder *b)
{
	if (b->overflow) {
		if (b->cap > 0)
			b->out[0] = '\0';
		return 0;
	}
	b->out[b->len] = '\0';
	return b->len;
}

size_t
token_message_timed(char *out, size_t cap, const char *realm,
    const uint8_t *client_id, size_t client_id_len, int64_t unix_time)
{
	struct token_builder b = {out, cap, 0, false};
	char decimal[24];

	snprintf(decimal, sizeof(decimal), "%" PRId64, unix_time);
	token_append_str(&b, "FlyTrap CONNECT\nrealm: ");
	token_append_str(&b, realm);
	token_append_str(&b, "\nclient: ");
	token_append(&b, client_id, client_id_len);
	token_append_str(&b, "\ntime: ");
	token_append_str(&b, decimal);
	return token_finish(&b);
}

size_t
token_message_challenge(char *out, size_t cap, const char *realm,
    const uint8_t *client_id, size_t client_id_len,
    const uint8_t nonce[TOKEN_NONCE_LEN])
{
	struct token_builder b = {out, cap, 0, false};
	char nonce_hex[2 * TOKEN_NONCE_LEN + 1];

	hex_encode(nonce, TOKEN_NONCE_LEN, nonce_hex);
	token_append_str(&b, "FlyTrap AUTH\nrealm: ");
	token_append_str(&b, realm);
	token_append_str(&b, "\nclient: ");
	token_append(&b, client_id, client_id_len);
	token_append_str(&b, "\nnonce: ");
	token_append_str(&b, nonce_hex);
	return token_finish(&b);
}

size_t
token_message_static(char *out, size_t cap, const char *realm,
    const uint8_t addr[ETH_ADDRESS_LEN])
{
	struct token_builder b = {out, cap, 0, false};
	char addr_hex[ETH_ADDRESS_HEX_SIZE];

	eth_address_hex(addr, addr_hex);
	token_append_str(&b, "FlyTrap STATIC\nrealm: ");
	token_append_str(&b, realm);
	token_append_str(&b, "\naddress: ");
	token_append_str(&b, addr_hex);
	return token_finish(&b);
}
