/*
 * Web3 Secret Storage v3 keystores on OpenSSL (scrypt, PBKDF2, AES-128-CTR)
 * and jansson, plus password files. Every parameter is bounds-checked before
 * any key derivation runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "eth.h"
#include "hex.h"
#include "keccak.h"
#include "keystore.h"

/* The derived key: AES-128 key, then the MAC key. */
#define KEYSTORE_DKLEN 32
#define KEYSTORE_IV_LEN 16
#define KEYSTORE_SALT_LEN 32 /* what we write */
#define KEYSTORE_UUID_LEN 16

/* keystore_encrypt's defaults must be keystores we can read back. */
_Static_assert(KEYSTORE_SCRYPT_N_DEFAULT <= KEYSTORE_SCRYPT_N_MAX &&
	KEYSTORE_SCRYPT_R_DEFAULT <= KEYSTORE_SCRYPT_R_MAX &&
	KEYSTORE_SCRYPT_P_DEFAULT <= KEYSTORE_SCRYPT_P_MAX &&
	KEYSTORE_SCRYPT_N_DEFAULT * KEYSTORE_SCRYPT_R_DEFAULT <=
	    KEYSTORE_SCRYPT_NR_MAX &&
	KEYSTORE_SCRYPT_N_DEFAULT * KEYSTORE_SCRYPT_R_DEFAULT *
		KEYSTORE_SCRYPT_P_DEFAULT <=
	    KEYSTORE_SCRYPT_NRP_MAX,
    "default scrypt parameters beyond the limits");

const char *
keystore_status_str(enum keystore_status st)
{
	switch (st) {
	case KEYSTORE_OK:
		return "ok";
	case KEYSTORE_ERR_IO:
		return "file unreadable";
	case KEYSTORE_ERR_TOO_LARGE:
		return "too large";
	case KEYSTORE_ERR_FORMAT:
		return "not a v3 keystore";
	case KEYSTORE_ERR_UNSUPPORTED:
		return "unsupported kdf or cipher";
	case KEYSTORE_ERR_KDF_LIMITS:
		return "kdf parameters beyond limits";
	case KEYSTORE_ERR_WRONG_PASSWORD:
		return "wrong password";
	case KEYSTORE_ERR_BAD_KEY:
		return "invalid private key";
	case KEYSTORE_ERR_ADDRESS:
		return "address does not match the key";
	case KEYSTORE_ERR_NO_PASSWORD:
		return "no password given";
	case KEYSTORE_ERR_RANDOM:
		return "no randomness available";
	case KEYSTORE_ERR_CRYPTO:
		return "crypto library failure";
	}
	return "unknown error";
}

/* ---- Key derivation and cipher ------------------------------------------ */

enum keystore_kdf { KEYSTORE_KDF_SCRYPT, KEYSTORE_KDF_PBKDF2 };

/* A keystore's fields, as read from JSON and checked. */
struct keystore_parsed {
	enum keystore_kdf kdf;
	uint64_t n, r, p; /* scrypt */
	uint64_t c; /* pbkdf2 */
	uint8_t salt[KEYSTORE_SALT_MAX];
	size_t salt_len;
	uint8_t iv[KEYSTORE_IV_LEN];
	uint8_t ciphertext[ETH_KEY_LEN];
	uint8_t mac[32];
	bool has_address;
	uint8_t address[ETH_ADDRESS_LEN];
};

static bool
keystore_is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* KEYSTORE_OK, _FORMAT for values scrypt cannot take, or _KDF_LIMITS. */
static enum keystore_status
keystore_scrypt_check(uint64_t n, uint64_t r, uint64_t p)
{
	if (n < 2 || !keystore_is_pow2(n) || r == 0 || p == 0)
		return KEYSTORE_ERR_FORMAT;
	if (n > KEYSTORE_SCRYPT_N_MAX || r > KEYSTORE_SCRYPT_R_MAX ||
	    p > KEYSTORE_SCRYPT_P_MAX || n * r > KEYSTORE_SCRYPT_NR_MAX ||
	    n * r * p > KEYSTORE_SCRYPT_NRP_MAX)
		return KEYSTORE_ERR_KDF_LIMITS;
	return KEYSTORE_OK;
}

static enum keystore_status
keystore_derive(const struct keystore_parsed *ks, const char *password,
    size_t password_len, uint8_t dk[KEYSTORE_DKLEN])
{
	/* OpenSSL wants a non-NULL pointer even for an empty password. */
	const char *pw = password != NULL ? password : "";
	int ok;

	if (password_len > INT_MAX)
		return KEYSTORE_ERR_TOO_LARGE;
	if (ks->kdf == KEYSTORE_KDF_SCRYPT) {
		/* What OpenSSL allocates: 128 r (n + 2) + 128 r p bytes. */
		uint64_t maxmem = 128 * ks->r * (ks->n + 2 + ks->p) + 4096;
		ok = EVP_PBE_scrypt(pw, password_len, ks->salt, ks->salt_len,
		    ks->n, ks->r, ks->p, maxmem, dk, KEYSTORE_DKLEN);
	} else {
		ok = PKCS5_PBKDF2_HMAC(pw, (int)password_len, ks->salt,
		    (int)ks->salt_len, (int)ks->c, EVP_sha256(), KEYSTORE_DKLEN,
		    dk);
	}
	if (ok != 1) {
		explicit_bzero(dk, KEYSTORE_DKLEN);
		return KEYSTORE_ERR_CRYPTO;
	}
	return KEYSTORE_OK;
}

/* keccak256(dk[16..32] || ciphertext) */
static void
keystore_mac(const uint8_t dk[KEYSTORE_DKLEN],
    const uint8_t ciphertext[ETH_KEY_LEN], uint8_t mac[32])
{
	struct keccak256_ctx ctx;

	keccak256_init(&ctx);
	keccak256_update(&ctx, dk + 16, 16);
	keccak256_update(&ctx, ciphertext, ETH_KEY_LEN);
	keccak256_final(&ctx, mac);
	explicit_bzero(&ctx, sizeof(ctx));
}

/* AES-128-CTR of one key's length (encryption and decryption alike). */
static bool
keystore_aes_ctr(const uint8_t aes_key[16], const uint8_t iv[KEYSTORE_IV_LEN],
    const uint8_t in[ETH_KEY_LEN], uint8_t out[ETH_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	bool ok = ctx != NULL &&
	    EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, aes_key, iv) ==
		1 &&
	    EVP_EncryptUpdate(ctx, out, &n, in, ETH_KEY_LEN) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1 &&
	    n + fin == ETH_KEY_LEN;

	EVP_CIPHER_CTX_free(ctx); /* also clears the key schedule */
	if (!ok)
		explicit_bzero(out, ETH_KEY_LEN);
	return ok;
}

/* ---- Parsing ------------------------------------------------------------ */

static const char *
keystore_string(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * A hex string field (optional 0x) of min..max bytes into out; *len gets
 * the length if len is not NULL (else min must equal max).
 */
static bool
keystore_hex(json_t *obj, const char *name, uint8_t *out, size_t min,
    size_t max, size_t *len)
{
	json_t *v = json_object_get(obj, name);
	const char *s;
	size_t n, digits;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	n = json_string_length(v);
	digits =
	    n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? n - 2 : n;
	if (digits % 2 != 0 || digits / 2 < min || digits / 2 > max)
		return false;
	if (!hex_decode_exact(s, n, out, digits / 2))
		return false;
	if (len != NULL)
		*len = digits / 2;
	return true;
}

/* A positive integer field. */
static bool
keystore_uint(json_t *obj, const char *name, uint64_t *out)
{
	json_t *v = json_object_get(obj, name);

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static enum keystore_status
keystore_parse_kdf(json_t *crypto, struct keystore_parsed *ks)
{
	json_t *params = json_object_get(crypto, "kdfparams");
	const char *kdf = keystore_string(crypto, "kdf");
	const char *prf;
	uint64_t dklen;

	if (kdf == NULL || !json_is_object(params))
		return KEYSTORE_ERR_FORMAT;
	if (strcmp(kdf, "scrypt") == 0)
		ks->kdf = KEYSTORE_KDF_SCRYPT;
	else if (strcmp(kdf, "pbkdf2") == 0)
		ks->kdf = KEYSTORE_KDF_PBKDF2;
	else
		return KEYSTORE_ERR_UNSUPPORTED;
	if (!keystore_uint(params, "dklen", &dklen) ||
	    !keystore_hex(
		params, "salt", ks->salt, 1, KEYSTORE_SALT_MAX, &ks->salt_len))
		return KEYSTORE_ERR_FORMAT;
	if (dklen != KEYSTORE_DKLEN)
		return KEYSTORE_ERR_UNSUPPORTED;
	if (ks->kdf == KEYSTORE_KDF_SCRYPT) {
		if (!keystore_uint(params, "n", &ks->n) ||
		    !keystore_uint(params, "r", &ks->r) ||
		    !keystore_uint(params, "p", &ks->p))
			return KEYSTORE_ERR_FORMAT;
		return keystore_scrypt_check(ks->n, ks->r, ks->p);
	}
	if (!keystore_uint(params, "c", &ks->c) ||
	    (prf = keystore_string(params, "prf")) == NULL)
		return KEYSTORE_ERR_FORMAT;
	if (strcmp(prf, "hmac-sha256") != 0)
		return KEYSTORE_ERR_UNSUPPORTED;
	if (ks->c > KEYSTORE_PBKDF2_C_MAX)
		return KEYSTORE_ERR_KDF_LIMITS;
	return KEYSTORE_OK;
}

static enum keystore_status
keystore_parse(const char *json, size_t len, struct keystore_parsed *ks)
{
	json_t *root, *crypto, *lower, *upper, *cipherparams, *version;
	const char *cipher;
	enum keystore_status st = KEYSTORE_ERR_FORMAT;
	json_error_t jerr;

	memset(ks, 0, sizeof(*ks));
	if (len > KEYSTORE_JSON_MAX)
		return KEYSTORE_ERR_TOO_LARGE;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
		goto out;
	version = json_object_get(root, "version");
	if (!json_is_integer(version))
		goto out;
	if (json_integer_value(version) != 3) {
		st = KEYSTORE_ERR_UNSUPPORTED;
		goto out;
	}
	/* ethers writes "Crypto", geth and the specification "crypto". */
	lower = json_object_get(root, "crypto");
	upper = json_object_get(root, "Crypto");
	crypto = lower != NULL ? lower : upper;
	if (!json_is_object(crypto) || (lower != NULL && upper != NULL))
		goto out;
	if ((cipher = keystore_string(crypto, "cipher")) == NULL)
		goto out;
	if (strcmp(cipher, "aes-128-ctr") != 0) {
		st = KEYSTORE_ERR_UNSUPPORTED;
		goto out;
	}
	cipherparams = json_object_get(crypto, "cipherparams");
	if (!keystore_hex(cipherparams, "iv", ks->iv, KEYSTORE_IV_LEN,
		KEYSTORE_IV_LEN, NULL) ||
	    !keystore_hex(crypto, "ciphertext", ks->ciphertext, ETH_KEY_LEN,
		ETH_KEY_LEN, NULL) ||
	    !keystore_hex(crypto, "mac", ks->mac, 32, 32, NULL))
		goto out;
	if (json_object_get(root, "address") != NULL) {
		if (!keystore_hex(root, "address", ks->address, ETH_ADDRESS_LEN,
			ETH_ADDRESS_LEN, NULL))
			goto out;
		ks->has_address = true;
	}
	st = keystore_parse_kdf(crypto, ks);
out:
	json_decref(root);
	return st;
}

/* ---- Decryption --------------------------------------------------------- */

enum keystore_status
keystore_decrypt(const char *json, size_t len, const char *password,
    size_t password_len, uint8_t key[ETH_KEY_LEN])
{
	struct keystore_parsed ks;
	uint8_t dk[KEYSTORE_DKLEN], mac[32], addr[ETH_ADDRESS_LEN];
	enum keystore_status st;

	explicit_bzero(key, ETH_KEY_LEN);
	if ((st = keystore_parse(json, len, &ks)) != KEYSTORE_OK)
		return st;
	if ((st = keystore_derive(&ks, password, password_len, dk)) !=
	    KEYSTORE_OK)
		return st;
	keystore_mac(dk, ks.ciphertext, mac);
	if (CRYPTO_memcmp(mac, ks.mac, sizeof(mac)) != 0)
		st = KEYSTORE_ERR_WRONG_PASSWORD;
	else if (!keystore_aes_ctr(dk, ks.iv, ks.ciphertext, key))
		st = KEYSTORE_ERR_CRYPTO;
	else if (eth_key_address(key, addr) != ETH_OK)
		st = KEYSTORE_ERR_BAD_KEY;
	else if (ks.has_address && memcmp(addr, ks.address, sizeof(addr)) != 0)
		st = KEYSTORE_ERR_ADDRESS;
	explicit_bzero(dk, sizeof(dk));
	if (st != KEYSTORE_OK)
		explicit_bzero(key, ETH_KEY_LEN);
	return st;
}

enum keystore_status
keystore_decrypt_file(const char *path, const char *password,
    size_t password_len, uint8_t key[ETH_KEY_LEN])
{
	enum keystore_status st = KEYSTORE_OK;
	size_t len = 0;
	struct stat sb;
	char *buf;
	int fd;

	explicit_bzero(key, ETH_KEY_LEN);
	/* O_NONBLOCK: a FIFO in the file's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return KEYSTORE_ERR_IO;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return KEYSTORE_ERR_IO;
	}
	/* One byte more than allowed, to tell a full file from a long one. */
	if ((buf = malloc(KEYSTORE_JSON_MAX + 1)) == NULL) {
		close(fd);
		return KEYSTORE_ERR_CRYPTO;
	}
	while (st == KEYSTORE_OK && len <= KEYSTORE_JSON_MAX) {
		ssize_t n = read(fd, buf + len, KEYSTORE_JSON_MAX + 1 - len);
		if (n < 0 && errno != EINTR)
			st = KEYSTORE_ERR_IO;
		else if (n == 0)
			break;
		else if (n > 0)
			len += (size_t)n;
	}
	close(fd);
	if (st == KEYSTORE_OK && len > KEYSTORE_JSON_MAX)
		st = KEYSTORE_ERR_TOO_LARGE;
	if (st == KEYSTORE_OK)
		st = keystore_decrypt(buf, len, password, password_len, key);
	free(buf);
	return st;
}

/* ---- Encryption --------------------------------------------------------- */

/* A version 4 (random) UUID as text: 36 characters and a NUL. */
static void
keystore_uuid(const uint8_t r[KEYSTORE_UUID_LEN], char out[37])
{
	uint8_t b[KEYSTORE_UUID_LEN];
	char hex[2 * KEYSTORE_UUID_LEN + 1];

	memcpy(b, r, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	hex_encode(b, sizeof(b), hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
}

enum keystore_status
keystore_encrypt(const uint8_t key[ETH_KEY_LEN], const char *password,
    size_t password_len, const struct keystore_scrypt_params *params,
    char **json)
{
	struct keystore_parsed ks;
	uint8_t dk[KEYSTORE_DKLEN], addr[ETH_ADDRESS_LEN];
	uint8_t uuid[KEYSTORE_UUID_LEN];
	char addr_hex[2 * ETH_ADDRESS_LEN + 1], id[37];
	char iv_hex[2 * KEYSTORE_IV_LEN + 1],
	    salt_hex[2 * KEYSTORE_SALT_LEN + 1];
	char ct_hex[2 * ETH_KEY_LEN + 1], mac_hex[65];
	enum keystore_status st;
	json_t *root;

	*json = NULL;
	memset(&ks, 0, sizeof(ks));
	ks.kdf = KEYSTORE_KDF_SCRYPT;
	ks.n = params != NULL ? params->n : KEYSTORE_SCRYPT_N_DEFAULT;
	ks.r = params != NULL ? params->r : KEYSTORE_SCRYPT_R_DEFAULT;
	ks.p = params != NULL ? params->p : KEYSTORE_SCRYPT_P_DEFAULT;
	if (keystore_scrypt_check(ks.n, ks.r, ks.p) != KEYSTORE_OK)
		return KEYSTORE_ERR_KDF_LIMITS;
	if (eth_key_address(key, addr) != ETH_OK)
		return KEYSTORE_ERR_BAD_KEY;
	ks.salt_len = KEYSTORE_SALT_LEN;
	if (RAND_bytes(ks.salt, KEYSTORE_SALT_LEN) != 1 ||
	    RAND_bytes(ks.iv, KEYSTORE_IV_LEN) != 1 ||
	    RAND_bytes(uuid, sizeof(uuid)) != 1)
		return KEYSTORE_ERR_RANDOM;
	if ((st = keystore_derive(&ks, password, password_len, dk)) !=
	    KEYSTORE_OK)
		return st;
	if (!keystore_aes_ctr(dk, ks.iv, key, ks.ciphertext)) {
		explicit_bzero(dk, sizeof(dk));
		return KEYSTORE_ERR_CRYPTO;
	}
	keystore_mac(dk, ks.ciphertext, ks.mac);
	explicit_bzero(dk, sizeof(dk));

	hex_encode(addr, sizeof(addr), addr_hex);
	keystore_uuid(uuid, id);
	hex_encode(ks.iv, KEYSTORE_IV_LEN, iv_hex);
	hex_encode(ks.salt, KEYSTORE_SALT_LEN, salt_hex);
	hex_encode(ks.ciphertext, ETH_KEY_LEN, ct_hex);
	hex_encode(ks.mac, sizeof(ks.mac), mac_hex);
	root = json_pack("{s:s, s:s, s:i, s:{s:s, s:{s:s}, s:s, s:s, "
			 "s:{s:s, s:I, s:i, s:I, s:I}, s:s}}",
	    "address", addr_hex, "id", id, "version", 3, "crypto", "cipher",
	    "aes-128-ctr", "cipherparams", "iv", iv_hex, "ciphertext", ct_hex,
	    "kdf", "scrypt", "kdfparams", "salt", salt_hex, "n",
	    (json_int_t)ks.n, "dklen", KEYSTORE_DKLEN, "p", (json_int_t)ks.p,
	    "r", (json_int_t)ks.r, "mac", mac_hex);
	if (root != NULL)
		*json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return *json != NULL ? KEYSTORE_OK : KEYSTORE_ERR_CRYPTO;
}

/* ---- Passwords ---------------------------------------------------------- */

static enum keystore_status
keystore_password_file(const char *file, char *out, size_t cap, size_t *len)
{
	size_t got = 0, line;
	struct stat sb;
	char *nl = NULL;
	int fd;

	/* A pipe is allowed, for --password-file <(pass show ...). */
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return KEYSTORE_ERR_IO;
	if (fstat(fd, &sb) < 0 ||
	    !(S_ISREG(sb.st_mode) || S_ISFIFO(sb.st_mode))) {
		close(fd);
		return KEYSTORE_ERR_IO;
	}
	/* Read up to the first newline, at most cap bytes. */
	while (got < cap && nl == NULL) {
		ssize_t n = read(fd, out + got, cap - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return KEYSTORE_ERR_IO;
		}
		if (n == 0)
			break;
		nl = memchr(out + got, '\n', (size_t)n);
		got += (size_t)n;
	}
	close(fd);
	if (nl == NULL && got == cap)
		return KEYSTORE_ERR_TOO_LARGE;
	line = nl != NULL ? (size_t)(nl - out) : got;
	if (line > 0 && out[line - 1] == '\r')
		line--;
	explicit_bzero(out + line, cap - line);
	*len = line;
	return KEYSTORE_OK;
}

enum keystore_status
keystore_read_password(
    const char *file, const char *env_name, char *out, size_t cap, size_t *len)
{
	enum keystore_status st;
	const char *value;
	size_t n;

	*len = 0;
	if (cap == 0)
		return KEYSTORE_ERR_TOO_LARGE;
	if (file != NULL) {
		st = keystore_password_file(file, out, cap, len);
	} else if (env_name == NULL || (value = getenv(env_name)) == NULL) {
		st = KEYSTORE_ERR_NO_PASSWORD;
	} else if ((n = strlen(value)) >= cap) {
		st = KEYSTORE_ERR_TOO_LARGE;
	} else {
		memcpy(out, value, n);
		out[n] = '\0';
		*len = n;
		st = KEYSTORE_OK;
	}
	if (st != KEYSTORE_OK) {
		explicit_bzero(out, cap);
		*len = 0;
	}
	return st;
}
