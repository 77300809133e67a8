/*
 * Web3 Secret Storage (v3 JSON keystores, as geth, ethers and cast write
 * them): decrypting and encrypting a private key with a password, and
 * reading that password from a file or the environment. Needs -ljansson.
 */
#ifndef FLYTRAP_KEYSTORE_H
#define FLYTRAP_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "eth.h"

#define KEYSTORE_WUR __attribute__((warn_unused_result))

/* Largest keystore file or text accepted. */
#define KEYSTORE_JSON_MAX 65536
/* Buffer size that keystore_read_password callers should provide. */
#define KEYSTORE_PASSWORD_MAX 1024

/*
 * Limits on key-derivation parameters, so that a hostile or broken file
 * cannot take minutes or gigabytes to try: scrypt n a power of two up to
 * 2^20, r and p at most 16, memory (128 * n * r) at most 1 GiB and work
 * (n * r * p) at most 2^24 (geth's standard n = 2^18, r = 8, p = 1 is
 * 256 MiB and 2^21); pbkdf2-hmac-sha256 at most 10^7 iterations. Salts are
 * 1 to 256 bytes.
 */
#define KEYSTORE_SCRYPT_N_MAX ((uint64_t)1 << 20)
#define KEYSTORE_SCRYPT_R_MAX 16
#define KEYSTORE_SCRYPT_P_MAX 16
#define KEYSTORE_SCRYPT_NR_MAX ((uint64_t)1 << 23)
#define KEYSTORE_SCRYPT_NRP_MAX ((uint64_t)1 << 24)
#define KEYSTORE_PBKDF2_C_MAX 10000000
#define KEYSTORE_SALT_MAX 256

/* What keystore_encrypt uses when given no parameters (geth's standard). */
#define KEYSTORE_SCRYPT_N_DEFAULT ((uint64_t)1 << 18)
#define KEYSTORE_SCRYPT_R_DEFAULT 8
#define KEYSTORE_SCRYPT_P_DEFAULT 1

enum keystore_status {
	KEYSTORE_OK = 0,
	KEYSTORE_ERR_IO, /* file unreadable, or not a regular file */
	KEYSTORE_ERR_TOO_LARGE, /* over KEYSTORE_JSON_MAX, or a password line
				   longer than the buffer */
	KEYSTORE_ERR_FORMAT, /* not JSON, or not a v3 keystore: missing or
				mistyped field, bad hex, wrong lengths */
	KEYSTORE_ERR_UNSUPPORTED, /* kdf, prf or cipher we do not implement,
				     or dklen other than 32 */
	KEYSTORE_ERR_KDF_LIMITS, /* kdf parameters beyond the limits above */
	KEYSTORE_ERR_WRONG_PASSWORD, /* MAC mismatch (or a damaged file) */
	KEYSTORE_ERR_BAD_KEY, /* decrypts to an invalid secp256k1 key */
	KEYSTORE_ERR_ADDRESS, /* "address" is not the key's address */
	KEYSTORE_ERR_NO_PASSWORD, /* no password file and no such variable */
	KEYSTORE_ERR_RANDOM, /* no randomness for salt, iv or uuid */
	KEYSTORE_ERR_CRYPTO, /* OpenSSL or jansson failed (out of memory) */
};

const char *keystore_status_str(enum keystore_status st);

/*
 * Decrypts the keystore text (json, len) with the password's bytes (ethers
 * NFKC-normalises passwords first: give them normalised) into key. Accepts
 * kdf "scrypt" or "pbkdf2" (prf "hmac-sha256"), cipher "aes-128-ctr", dklen
 * 32, "crypto" or "Crypto"; checks the MAC, keccak256(derived[16..32] ||
 * ciphertext), in constant time before decrypting, and "address" if
 * present. Returns KEYSTORE_OK or an error above; key is zeroed on error.
 */
enum keystore_status keystore_decrypt(const char *json, size_t len,
    const char *password, size_t password_len,
    uint8_t key[ETH_KEY_LEN]) KEYSTORE_WUR;

/* keystore_decrypt on a regular file of at most KEYSTORE_JSON_MAX bytes. */
enum keystore_status keystore_decrypt_file(const char *path,
    const char *password, size_t password_len,
    uint8_t key[ETH_KEY_LEN]) KEYSTORE_WUR;

struct keystore_scrypt_params {
	uint64_t n;
	uint32_t r;
	uint32_t p;
};

/*
 * Encrypts key under password as a v3 keystore: scrypt (params, or the
 * defaults above for NULL; they must be within the limits), random 32-byte
 * salt and 16-byte iv, aes-128-ctr, a random (version 4) uuid, and the
 * address, as ethers writes it. Returns KEYSTORE_OK with *json a
 * NUL-terminated compact JSON text (malloc'd, the caller frees it), or
 * KEYSTORE_ERR_BAD_KEY, _KDF_LIMITS, _RANDOM, _CRYPTO with *json NULL.
 */
enum keystore_status keystore_encrypt(const uint8_t key[ETH_KEY_LEN],
    const char *password, size_t password_len,
    const struct keystore_scrypt_params *params, char **json) KEYSTORE_WUR;

/*
 * Reads a password into out[cap], NUL-terminated, its length in *len: the
 * first line of file (a regular file or a pipe; the "\n" or "\r\n" ending
 * it is not part of the password) when file is not NULL, else the value of
 * the environment variable env_name when it is set. Returns KEYSTORE_OK,
 * KEYSTORE_ERR_NO_PASSWORD (no file, variable unset), KEYSTORE_ERR_IO, or
 * KEYSTORE_ERR_TOO_LARGE if the password needs more than cap - 1 bytes.
 * out is zeroed on error.
 */
enum keystore_status keystore_read_password(const char *file,
    const char *env_name, char *out, size_t cap, size_t *len) KEYSTORE_WUR;

#endif
