/*
 * Keccak-256 (Keccak-f[1600] sponge, rate 136 bytes, original 0x01 padding)
 * as Ethereum uses it for addresses and EIP-191 digests.
 */
#include <string.h>

#include "keccak.h"

#define KECCAK256_RATE 136
#define KECCAK_ROUNDS 24

static const uint64_t keccak_round_constants[KECCAK_ROUNDS] = {
    0x0000000000000001ULL,
    0x0000000000008082ULL,
    0x800000000000808aULL,
    0x8000000080008000ULL,
    0x000000000000808bULL,
    0x0000000080000001ULL,
    0x8000000080008081ULL,
    0x8000000000008009ULL,
    0x000000000000008aULL,
    0x0000000000000088ULL,
    0x0000000080008009ULL,
    0x000000008000000aULL,
    0x000000008000808bULL,
    0x800000000000008bULL,
    0x8000000000008089ULL,
    0x8000000000008003ULL,
    0x8000000000008002ULL,
    0x8000000000000080ULL,
    0x000000000000800aULL,
    0x800000008000000aULL,
    0x8000000080008081ULL,
    0x8000000000008080ULL,
    0x0000000080000001ULL,
    0x8000000080008008ULL,
};

/* The rho rotation and pi destination of each lane, in pi's visiting order. */
static const unsigned keccak_rotations[24] = {1, 3, 6, 10, 15, 21, 28, 36, 45,
    55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned keccak_pi_lanes[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21,
    24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};

static uint64_t
rotl64(uint64_t x, unsigned n)
{
	return (x << n) | (x >> (64 - n));
}

static void
keccak_f1600(uint64_t st[25])
{
	uint64_t bc[5], t;

	for (unsigned round = 0; round < KECCAK_ROUNDS; round++) {
		/* theta */
		for (unsigned i = 0; i < 5; i++)
			bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^
			    st[i + 20];
		for (unsigned i = 0; i < 5; i++) {
			t = bc[(i + 4) % 5] ^ rotl64(bc[(i + 1) % 5], 1);
			for (unsigned j = 0; j < 25; j += 5)
				st[j + i] ^= t;
		}
		/* rho and pi */
		t = st[1];
		for (unsigned i = 0; i < 24; i++) {
			unsigned j = keccak_pi_lanes[i];
			uint64_t next = st[j];
			st[j] = rotl64(t, keccak_rotations[i]);
			t = next;
		}
		/* chi */
		for (unsigned j = 0; j < 25; j += 5) {
			for (unsigned i = 0; i < 5; i++)
				bc[i] = st[j + i];
			for (unsigned i = 0; i < 5; i++)
				st[j + i] ^= ~bc[(i + 1) % 5] & bc[(i + 2) % 5];
		}
		/* iota */
		st[0] ^= keccak_round_constants[round];
	}
}

/* Lanes are little-endian whatever the host's byte order. */
static void
keccak_absorb_block(uint64_t st[25], const uint8_t *block)
{
	for (unsigned i = 0; i < KECCAK256_RATE / 8; i++) {
		uint64_t lane = 0;
		for (unsigned b = 0; b < 8; b++)
			lane |= (uint64_t)block[8 * i + b] << (8 * b);
		st[i] ^= lane;
	}
	keccak_f1600(st);
}

void
keccak256_init(struct keccak256_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
}

void
keccak256_update(struct keccak256_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (ctx->buf_len > 0) {
		size_t take = KECCAK256_RATE - ctx->buf_len;
		if (take > len)
			take = len;
		memcpy(ctx->buf + ctx->buf_len, p, take);
		ctx->buf_len += take;
		p += take;
		len -= take;
		if (ctx->buf_len < KECCAK256_RATE)
			return;
		keccak_absorb_block(ctx->state, ctx->buf);
		ctx->buf_len = 0;
	}
	while (len >= KECCAK256_RATE) {
		keccak_absorb_block(ctx->state, p);
		p += KECCAK256_RATE;
		len -= KECCAK256_RATE;
	}
	if (len > 0) {
		memcpy(ctx->buf, p, len);
		ctx->buf_len = len;
	}
}

/* Pads, absorbs the last block and squeezes 32 bytes; ctx is wiped after. */
void
keccak256_final(struct keccak256_ctx *ctx, uint8_t out[32])
{
	memset(ctx->buf + ctx->buf_len, 0, KECCAK256_RATE - ctx->buf_len);
	/* Keccak's own padding (pad10*1 with 0x01), not SHA-3's 0x06. */
	ctx->buf[ctx->buf_len] ^= 0x01;
	ctx->buf[KECCAK256_RATE - 1] ^= 0x80;
	keccak_absorb_block(ctx->state, ctx->buf);
	for (unsigned i = 0; i < 32; i++)
		out[i] = (uint8_t)(ctx->state[i / 8] >> (8 * (i % 8)));
	explicit_bzero(ctx, sizeof(*ctx));
}

void
keccak256(const void *data, size_t len, uint8_t out[32])
{
	struct keccak256_ctx ctx;

	keccak256_init(&ctx);
	keccak256_update(&ctx, data, len);
	keccak256_final(&ctx, out);
}
