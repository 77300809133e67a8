/*
 * Ethereum identities on libsecp256k1: EIP-191 digests, recoverable ECDSA
 * signatures (r || s || v), addresses, and private keys from files or the
 * kernel's CSPRNG.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "eth.h"
#include "hex.h"
#include "keccak.h"

/* A key file is 64 hex digits, "0x" and some white space; cap what we read. */
#define ETH_KEY_FILE_MAX 4096

/* ---- Context -------------------------------------------------------------- */

/*
 * One context per process, created on first use. Randomising it blinds the
 * signing and key-derivation arithmetic against side channels; verification
 * does not need it. FlyTrap processes are single-threaded.
 */
static secp256k1_context *eth_ctx;
static bool eth_ctx_randomized;

static bool
eth_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Returns the context; with_secrets asks for a randomised one (or NULL). */
static const secp256k1_context *
eth_context(bool with_secrets)
{
	if (eth_ctx == NULL) {
		eth_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
		if (eth_ctx == NULL)
			return NULL;
	}
	if (with_secrets && !eth_ctx_randomized) {
		uint8_t seed[32];
		if (!eth_random_bytes(seed, sizeof(seed)))
			return NULL;
		eth_ctx_randomized =
		    secp256k1_context_randomize(eth_ctx, seed) == 1;
		explicit_bzero(seed, sizeof(seed));
		if (!eth_ctx_randomized)
			return NULL;
	}
	return eth_ctx;
}

const char *
eth_status_str(enum eth_status st)
{
	switch (st) {
	case ETH_OK:
		return "ok";
	case ETH_ERR_BAD_SIGNATURE:
		return "bad signature";
	case ETH_ERR_BAD_KEY:
		return "invalid private key";
	case ETH_ERR_RANDOM:
		return "no randomness available";
	case ETH_ERR_IO:
		return "key file unreadable";
	case ETH_ERR_FORMAT:
		return "key file is not 64 hex digits";
	}
	return "unknown error";
}

/* ---- Digests, signatures and addresses ----------------------------------- */

void
eth_eip191_digest(const void *msg, size_t len, uint8_t digest[32])
{
	/* \031 is 0x19; octal, since "\x19E" would read as one escape. */
	static const char prefix[] = "\031Ethereum Signed Message:\n";
	char decimal[24];
	struct keccak256_ctx ctx;
	int n = snprintf(decimal, sizeof(decimal), "%zu", len);

	keccak256_init(&ctx);
	keccak256_update(&ctx, prefix, sizeof(prefix) - 1);
	keccak256_update(&ctx, decimal, (size_t)n);
	keccak256_update(&ctx, msg, len);
	keccak256_final(&ctx, digest);
}

/* The address of a public key: the last 20 bytes of keccak256(x || y). */
static void
eth_pubkey_address(const secp256k1_context *ctx, const secp256k1_pubkey *pubkey,
    uint8_t addr[ETH_ADDRESS_LEN])
{
	uint8_t serialized[65], hash[32];
	size_t len = sizeof(serialized);

	(void)secp256k1_ec_pubkey_serialize(
	    ctx, serialized, &len, pubkey, SECP256K1_EC_UNCOMPRESSED);
	/* serialized[0] is the 0x04 "uncompressed" tag, not hashed. */
	keccak256(serialized + 1, 64, hash);
	memcpy(addr, hash + 32 - ETH_ADDRESS_LEN, ETH_ADDRESS_LEN);
}

static bool
eth_is_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

enum eth_status
eth_recover(const uint8_t digest[32], const uint8_t sig[ETH_SIG_LEN],
    uint8_t addr[ETH_ADDRESS_LEN])
{
	const secp256k1_context *ctx = eth_context(false);
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_ecdsa_signature plain;
	secp256k1_pubkey pubkey;
	int recid;

	if (ctx == NULL)
		return ETH_ERR_BAD_SIGNATURE;
	switch (sig[64]) {
	case 0:
	case 1:
		recid = sig[64];
		break;
	case 27:
	case 28:
		recid = sig[64] - 27;
		break;
	default:
		return ETH_ERR_BAD_SIGNATURE;
	}
	if (eth_is_zero(sig, 32) || eth_is_zero(sig + 32, 32))
		return ETH_ERR_BAD_SIGNATURE;
	/* Fails if r or s is not below the group order. */
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(
		ctx, &rsig, sig, recid))
		return ETH_ERR_BAD_SIGNATURE;
	/* normalize() reports whether s was above n/2. */
	(void)secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rsig);
	if (secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain))
		return ETH_ERR_BAD_SIGNATURE;
	if (!secp256k1_ecdsa_recover(ctx, &pubkey, &rsig, digest))
		return ETH_ERR_BAD_SIGNATURE;
	eth_pubkey_address(ctx, &pubkey, addr);
	return ETH_OK;
}

enum eth_status
eth_sign(const uint8_t key[ETH_KEY_LEN], const uint8_t digest[32],
    uint8_t sig[ETH_SIG_LEN])
{
	const secp256k1_context *ctx = eth_context(true);
	secp256k1_ecdsa_recoverable_signature rsig;
	int recid;

	if (ctx == NULL)
		return ETH_ERR_RANDOM;
	if (!secp256k1_ec_seckey_verify(ctx, key))
		return ETH_ERR_BAD_KEY;
	/* NULL nonce function: RFC 6979, as ethers and go-ethereum use. */
	if (!secp256k1_ecdsa_sign_recoverable(
		ctx, &rsig, digest, key, NULL, NULL))
		return ETH_ERR_BAD_KEY;
	(void)secp256k1_ecdsa_recoverable_signature_serialize_compact(
	    ctx, sig, &recid, &rsig);
	sig[64] = (uint8_t)(27 + recid);
	return ETH_OK;
}

enum eth_status
eth_key_address(const uint8_t key[ETH_KEY_LEN], uint8_t addr[ETH_ADDRESS_LEN])
{
	const secp256k1_context *ctx = eth_context(true);
	secp256k1_pubkey pubkey;

	if (ctx == NULL)
		return ETH_ERR_RANDOM;
	if (!secp256k1_ec_pubkey_create(ctx, &pubkey, key))
		return ETH_ERR_BAD_KEY;
	eth_pubkey_address(ctx, &pubkey, addr);
	return ETH_OK;
}

void
eth_address_hex(
    const uint8_t addr[ETH_ADDRESS_LEN], char out[ETH_ADDRESS_HEX_SIZE])
{
	out[0] = '0';
	out[1] = 'x';
	hex_encode(addr, ETH_ADDRESS_LEN, out + 2);
}

bool
eth_address_parse(const char *s, size_t len, uint8_t addr[ETH_ADDRESS_LEN])
{
	/* Unlike hex_decode_exact, the 0x prefix is required here. */
	if (len != 2 + 2 * ETH_ADDRESS_LEN || s[0] != '0' ||
	    (s[1] != 'x' && s[1] != 'X'))
		return false;
	return hex_decode_exact(s, len, addr, ETH_ADDRESS_LEN);
}

/* ---- Private keys ---------------------------------------------------------- */

enum eth_status
eth_key_generate(uint8_t key[ETH_KEY_LEN])
{
	const secp256k1_context *ctx = eth_context(true);

	if (ctx == NULL)
		return ETH_ERR_RANDOM;
	/* A random 32-byte string is out of range with probability ~2^-128. */
	do {
		if (!eth_random_bytes(key, ETH_KEY_LEN)) {
			explicit_bzero(key, ETH_KEY_LEN);
			return ETH_ERR_RANDOM;
		}
	} while (!secp256k1_ec_seckey_verify(ctx, key));
	return ETH_OK;
}

static bool
eth_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/*
 * Reads the whole of fd into (buf, cap): ETH_OK with *len set, ETH_ERR_IO on
 * a read error, ETH_ERR_FORMAT if the file holds cap bytes or more (no key
 * file is that long).
 */
static enum eth_status
eth_read_small_file(int fd, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + *len, cap - *len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ETH_ERR_IO;
		}
		if (n == 0)
			return ETH_OK;
		*len += (size_t)n;
		if (*len == cap)
			return ETH_ERR_FORMAT;
	}
}

enum eth_status
eth_key_read_file(const char *path, uint8_t key[ETH_KEY_LEN])
{
	const secp256k1_context *ctx = eth_context(false);
	char buf[ETH_KEY_FILE_MAX];
	enum eth_status st;
	struct stat sb;
	size_t len, start, end;
	int fd;

	if (ctx == NULL)
		return ETH_ERR_IO;
	/* O_NONBLOCK so that a FIFO in the key's place cannot hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return ETH_ERR_IO;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ETH_ERR_IO;
	}
	st = eth_read_small_file(fd, buf, sizeof(buf), &len);
	close(fd);
	if (st != ETH_OK) {
		explicit_bzero(buf, sizeof(buf));
		return st;
	}
	start = 0;
	end = len;
	while (start < end && eth_is_space(buf[start]))
		start++;
	while (end > start && eth_is_space(buf[end - 1]))
		end--;
	if (!hex_decode_exact(buf + start, end - start, key, ETH_KEY_LEN))
		st = ETH_ERR_FORMAT;
	else if (!secp256k1_ec_seckey_verify(ctx, key))
		st = ETH_ERR_BAD_KEY;
	else
		st = ETH_OK;
	explicit_bzero(buf, sizeof(buf));
	if (st != ETH_OK)
		explicit_bzero(key, ETH_KEY_LEN);
	return st;
}
