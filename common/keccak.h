/*
 * Keccak-256 as Ethereum uses it (the original Keccak padding, not SHA3-256;
 * OpenSSL 3.0 has no Keccak).
 */
#ifndef FLYTRAP_KECCAK_H
#define FLYTRAP_KECCAK_H

#include <stddef.h>
#include <stdint.h>

struct keccak256_ctx {
	uint64_t state[25];
	uint8_t buf[136];
	size_t buf_len;
};

void keccak256_init(struct keccak256_ctx *ctx);
void keccak256_update(struct keccak256_ctx *ctx, const void *data, size_t len);
void keccak256_final(struct keccak256_ctx *ctx, uint8_t out[32]);
/* One-shot digest of (data, len). */
void keccak256(const void *data, size_t len, uint8_t out[32]);

#endif
