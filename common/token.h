/*
 * The messages FlyTrap clients sign to prove their key (DESIGN.md,
 * "Authentication"): timed token, challenge-response and static token.
 */
#ifndef FLYTRAP_TOKEN_H
#define FLYTRAP_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "eth.h"

#define TOKEN_NONCE_LEN 32
#define TOKEN_AUTH_METHOD "FLYTRAP-SECP256K1"

/*
 * Each builder writes the message into (out, cap) and returns its length,
 * or 0 if it does not fit. The client id is taken as bytes.
 * out is also NUL-terminated, so cap must exceed the length.
 */
size_t token_message_timed(char *out, size_t cap, const char *realm,
    const uint8_t *client_id, size_t client_id_len, int64_t unix_time);
size_t token_message_challenge(char *out, size_t cap, const char *realm,
    const uint8_t *client_id, size_t client_id_len,
    const uint8_t nonce[TOKEN_NONCE_LEN]);
size_t token_message_static(char *out, size_t cap, const char *realm,
    const uint8_t addr[ETH_ADDRESS_LEN]);

#endif
