/*
 * keystore.c against ethers (keystores it wrote decrypt here, ours decrypt
 * in ethers; run at test time through tests/tools/tx-vectors.js), plus
 * malformed and hostile keystores, key files and password sources.
 *
 * Links with -ljansson (the Makefile's LIBS_tests must include it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "eth.h"
#include "hex.h"
#include "keccak.h"
#include "keystore.h"
#include "test_vectors.h"

/* ---- Vectors from ethers ------------------------------------------------ */

static struct test_vectors vectors;
static char repo_root[PATH_MAX];
static char tmp_dir[] = "/tmp/flytrap-keystore-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmp_dir) == NULL)
		return -1;
	test_find_repo_root(
	    "tests/tools/tx-vectors.js", repo_root, sizeof(repo_root));
	return test_vectors_load(
	    &vectors, "tests/tools/tx-vectors.js", "keystore", NULL, 8);
}

static int
teardown(void **state)
{
	(void)state;
	test_vectors_free(&vectors);
	rmdir(tmp_dir);
	return 0;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ---- Keystores ethers wrote --------------------------------------------- */

/* Whether trying a password on json is quick (not ethers' default 2^17). */
static bool
light_kdf(const char *json)
{
	json_t *root = json_loads(json, 0, NULL);
	json_t *crypto, *n;
	bool light;

	assert_non_null(root);
	crypto = json_object_get(root, "Crypto");
	if (crypto == NULL)
		crypto = json_object_get(root, "crypto");
	n = json_object_get(json_object_get(crypto, "kdfparams"), "n");
	light = n == NULL || json_integer_value(n) <= 4096;
	json_decref(root);
	return light;
}

static void
test_ethers_keystores(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < vectors.count; i++) {
		const struct test_vector *v = &vectors.items[i];
		uint8_t want[32], key[32];
		char *password, *json, *wrong;
		size_t password_len, json_len;

		if (strcmp(v->fields[0], "keystore") != 0)
			continue;
		assert_int_equal(v->nfields, 5);
		password = (char *)test_decode_hex(v->fields[1], &password_len);
		assert_true(hex_decode_exact(
		    v->fields[2], strlen(v->fields[2]), want, 32));
		json = (char *)test_decode_hex(v->fields[4], &json_len);

		assert_int_equal(keystore_decrypt(json, json_len, password,
				     password_len, key),
		    KEYSTORE_OK);
		assert_memory_equal(key, want, 32);

		/* Wrong passwords, on keystores that are quick to try: one
		 * more byte, one byte fewer, and another byte. */
		if (!light_kdf(json)) {
			free(password);
			free(json);
			checked++;
			continue;
		}
		wrong = malloc(password_len + 2);
		assert_non_null(wrong);
		memcpy(wrong, password, password_len);
		wrong[password_len] = 'x';
		memset(key, 0xaa, sizeof(key));
		assert_int_equal(keystore_decrypt(json, json_len, wrong,
				     password_len + 1, key),
		    KEYSTORE_ERR_WRONG_PASSWORD);
		assert_true(key[0] == 0 && key[31] == 0);
		if (password_len > 0) {
			assert_int_equal(keystore_decrypt(json, json_len,
					     password, password_len - 1, key),
			    KEYSTORE_ERR_WRONG_PASSWORD);
			wrong[0] ^= 1;
			assert_int_equal(keystore_decrypt(json, json_len, wrong,
					     password_len, key),
			    KEYSTORE_ERR_WRONG_PASSWORD);
		}
		free(wrong);
		free(password);
		free(json);
		checked++;
	}
	assert_true(checked >= 8);
}

/* ---- Our keystores in ethers -------------------------------------------- */

#define OURS 4

/* Our keystores, each under its password and scrypt parameters, decrypt
 * here and (in one run of the script) in ethers to the same key. */
static void
test_ours_decrypt_in_ethers(void **state)
{
	static const char *passwords[OURS] = {
	    "correct horse battery staple",
	    "",
	    "pässwörd ✓ 🪰",
	    "with\nnewline and \"quotes\"",
	};
	static const struct keystore_scrypt_params params[OURS] = {
	    {1024, 8, 1},
	    {2048, 4, 2},
	    {2, 1, 1},
	    {16, 16, 16},
	};
	uint8_t keys[OURS][32], back[32], addr[20];
	char cmd[8192], path[PATH_MAX], line[256], want[256];
	char key_hex[2 * 32 + 1], addr_hex[ETH_ADDRESS_HEX_SIZE];
	char pw_hex[2 * 64 + 1];
	size_t used;
	char *json;
	FILE *f;

	(void)state;
	used = (size_t)snprintf(cmd, sizeof(cmd),
	    "node '%s/tests/tools/tx-vectors.js' check-keystore", repo_root);
	for (size_t i = 0; i < OURS; i++) {
		const char *pw = passwords[i];
		assert_true(strlen(pw) <= 64);
		assert_int_equal(eth_key_generate(keys[i]), ETH_OK);
		assert_int_equal(keystore_encrypt(keys[i], pw, strlen(pw),
				     &params[i], &json),
		    KEYSTORE_OK);
		assert_int_equal(
		    keystore_decrypt(json, strlen(json), pw, strlen(pw), back),
		    KEYSTORE_OK);
		assert_memory_equal(back, keys[i], 32);
		snprintf(path, sizeof(path), "%s/ours%zu.json", tmp_dir, i);
		write_file(path, json, strlen(json));
		free(json);
		hex_encode(pw, strlen(pw), pw_hex);
		used += (size_t)snprintf(
		    cmd + used, sizeof(cmd) - used, " '%s' 0x%s", path, pw_hex);
		assert_true(used < sizeof(cmd));
	}
	f = popen(cmd, "r");
	assert_non_null(f);
	for (size_t i = 0; i < OURS; i++) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		hex_encode(keys[i], 32, key_hex);
		assert_int_equal(eth_key_address(keys[i], addr), ETH_OK);
		eth_address_hex(addr, addr_hex);
		snprintf(want, sizeof(want), "ok 0x%s %s\n", key_hex, addr_hex);
		assert_string_equal(line, want);
	}
	if (pclose(f) != 0)
		fail_msg("ethers cannot decrypt our keystores");
	for (size_t i = 0; i < OURS; i++) {
		snprintf(path, sizeof(path), "%s/ours%zu.json", tmp_dir, i);
		unlink(path);
	}
}

/* What we write: the fields and formats ethers and geth write. */
static void
test_our_format(void **state)
{
	const struct keystore_scrypt_params light = {1024, 8, 1};
	uint8_t key[32] = {0}, addr[20];
	char addr_hex[ETH_ADDRESS_HEX_SIZE], *a, *b;
	json_t *root, *other, *crypto, *params;
	const char *id;

	(void)state;
	key[31] = 42;
	assert_int_equal(eth_key_address(key, addr), ETH_OK);
	eth_address_hex(addr, addr_hex);
	assert_int_equal(
	    keystore_encrypt(key, "pw", 2, &light, &a), KEYSTORE_OK);
	assert_int_equal(
	    keystore_encrypt(key, "pw", 2, &light, &b), KEYSTORE_OK);
	root = json_loads(a, JSON_REJECT_DUPLICATES, NULL);
	other = json_loads(b, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(root);
	assert_non_null(other);
	assert_int_equal(
	    json_integer_value(json_object_get(root, "version")), 3);
	assert_string_equal(
	    json_string_value(json_object_get(root, "address")), addr_hex + 2);
	id = json_string_value(json_object_get(root, "id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 36);
	assert_true(
	    id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-');
	assert_int_equal(id[14], '4');
	assert_non_null(strchr("89ab", id[19]));
	assert_string_not_equal(
	    id, json_string_value(json_object_get(other, "id")));
	crypto = json_object_get(root, "crypto");
	params = json_object_get(crypto, "kdfparams");
	assert_string_equal(
	    json_string_value(json_object_get(crypto, "cipher")),
	    "aes-128-ctr");
	assert_string_equal(
	    json_string_value(json_object_get(crypto, "kdf")), "scrypt");
	assert_int_equal(
	    json_integer_value(json_object_get(params, "n")), 1024);
	assert_int_equal(json_integer_value(json_object_get(params, "r")), 8);
	assert_int_equal(json_integer_value(json_object_get(params, "p")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(params, "dklen")), 32);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(params, "salt"))), 64);
	assert_int_equal(strlen(json_string_value(json_object_get(
			     json_object_get(crypto, "cipherparams"), "iv"))),
	    32);
	/* Fresh salt and iv every time. */
	assert_string_not_equal(
	    json_string_value(json_object_get(params, "salt")),
	    json_string_value(json_object_get(
		json_object_get(json_object_get(other, "crypto"), "kdfparams"),
		"salt")));
	assert_string_not_equal(
	    json_string_value(json_object_get(crypto, "ciphertext")),
	    json_string_value(json_object_get(
		json_object_get(other, "crypto"), "ciphertext")));
	json_decref(root);
	json_decref(other);
	free(a);
	free(b);

	/* No parameters: the defaults (geth's n = 2^18; keystore.c asserts
	 * they are within the limits, and one derivation takes a second or
	 * two, so it is not decrypted again here). */
	assert_int_equal(keystore_encrypt(key, "pw", 2, NULL, &a), KEYSTORE_OK);
	root = json_loads(a, 0, NULL);
	params = json_object_get(json_object_get(root, "crypto"), "kdfparams");
	assert_true(json_integer_value(json_object_get(params, "n")) ==
	    (json_int_t)KEYSTORE_SCRYPT_N_DEFAULT);
	assert_true(json_integer_value(json_object_get(params, "r")) ==
	    KEYSTORE_SCRYPT_R_DEFAULT);
	assert_true(json_integer_value(json_object_get(params, "p")) ==
	    KEYSTORE_SCRYPT_P_DEFAULT);
	json_decref(root);
	free(a);
}

static void
test_encrypt_refuses(void **state)
{
	static const struct keystore_scrypt_params bad[] = {
	    {0, 8, 1},
	    {1, 8, 1},
	    {1000, 8, 1},
	    {(uint64_t)1 << 21, 1, 1},
	    {1024, 0, 1},
	    {1024, 8, 0},
	    {1024, 17, 1},
	    {1024, 8, 17},
	    {(uint64_t)1 << 20, 16, 1},
	    {(uint64_t)1 << 20, 8, 4},
	};
	uint8_t key[32] = {0};
	char *json = (char *)"x";

	(void)state;
	key[31] = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(keystore_encrypt(key, "pw", 2, &bad[i], &json),
		    KEYSTORE_ERR_KDF_LIMITS);
		assert_null(json);
	}
	memset(key, 0, sizeof(key));
	assert_int_equal(
	    keystore_encrypt(key, "pw", 2,
		&(struct keystore_scrypt_params){1024, 8, 1}, &json),
	    KEYSTORE_ERR_BAD_KEY);
	assert_null(json);
}

/* ---- Malformed and hostile keystores ------------------------------------ */

/*
 * A pbkdf2 keystore built here with OpenSSL directly, around any 32 bytes
 * (even an invalid key); c iterations. Returns a jansson object.
 */
static json_t *
make_pbkdf2(const uint8_t plain[32], const char *password, int c)
{
	static const uint8_t salt[32] = {1, 2, 3};
	static const uint8_t iv[16] = {9, 8, 7};
	uint8_t dk[32], ct[32], mac[32], buf[48];
	char salt_hex[65], iv_hex[33], ct_hex[65], mac_hex[65];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;

	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
			     salt, sizeof(salt), c, EVP_sha256(), 32, dk),
	    1);
	assert_non_null(ctx);
	assert_int_equal(
	    EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, dk, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, ct, &n, plain, 32), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, ct + n, &fin), 1);
	EVP_CIPHER_CTX_free(ctx);
	memcpy(buf, dk + 16, 16);
	memcpy(buf + 16, ct, 32);
	keccak256(buf, sizeof(buf), mac);
	hex_encode(salt, sizeof(salt), salt_hex);
	hex_encode(iv, sizeof(iv), iv_hex);
	hex_encode(ct, sizeof(ct), ct_hex);
	hex_encode(mac, sizeof(mac), mac_hex);
	return json_pack("{s:i, s:{s:s, s:{s:s}, s:s, s:s, "
			 "s:{s:i, s:s, s:i, s:s}, s:s}}",
	    "version", 3, "crypto", "cipher", "aes-128-ctr", "cipherparams",
	    "iv", iv_hex, "ciphertext", ct_hex, "kdf", "pbkdf2", "kdfparams",
	    "dklen", 32, "salt", salt_hex, "c", c, "prf", "hmac-sha256", "mac",
	    mac_hex);
}

static enum keystore_status
decrypt_json(json_t *root, const char *password, uint8_t key[32])
{
	char *text = json_dumps(root, JSON_COMPACT);
	enum keystore_status st;

	assert_non_null(text);
	st = keystore_decrypt(
	    text, strlen(text), password, strlen(password), key);
	free(text);
	return st;
}

/* A change to a copy of a valid keystore, and the status it must give. */
struct mutation {
	const char *path; /* "crypto.kdfparams.n"; "" for the root */
	json_t *(*value)(void); /* NULL: remove the field */
	const char *text; /* or a string value */
	json_int_t number; /* or (when text is NULL and value is NULL and
			      number != 0) an integer */
	enum keystore_status expect;
};

static json_t *
value_null(void)
{
	return json_null();
}

static json_t *
value_zero(void)
{
	return json_integer(0);
}

static json_t *
value_object(void)
{
	return json_object();
}

static void
apply(json_t *root, const struct mutation *m)
{
	char path[128], *dot, *name = path;
	json_t *obj = root;

	snprintf(path, sizeof(path), "%s", m->path);
	while ((dot = strchr(name, '.')) != NULL) {
		*dot = '\0';
		obj = json_object_get(obj, name);
		assert_non_null(obj);
		name = dot + 1;
	}
	if (m->value != NULL)
		json_object_set_new(obj, name, m->value());
	else if (m->text != NULL)
		json_object_set_new(obj, name, json_string(m->text));
	else if (m->number != 0)
		json_object_set_new(obj, name, json_integer(m->number));
	else
		json_object_del(obj, name);
}

static void
test_malformed_keystores(void **state)
{
	static const char long_salt[] =
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "0101010101010101010101010101010101010101010101010101010101010101"
	    "01";
	static const struct mutation pbkdf2_cases[] = {
	    {"version", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"version", NULL, "3", 0, KEYSTORE_ERR_FORMAT},
	    {"version", NULL, NULL, 1, KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto", value_null, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.cipher", NULL, "aes-128-cbc", 0, KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto.cipher", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.cipherparams", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.cipherparams.iv", NULL, "0102", 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.cipherparams.iv", NULL, NULL, 42, KEYSTORE_ERR_FORMAT},
	    {"crypto.ciphertext", NULL,
		"0000000000000000000000000000000000000000000000000000000000000"
		"0",
		0, KEYSTORE_ERR_FORMAT},
	    {"crypto.ciphertext", NULL,
		"00000000000000000000000000000000000000000000000000000000000000"
		"0"
		"000",
		0, KEYSTORE_ERR_FORMAT},
	    {"crypto.ciphertext", NULL,
		"0000000000000000000000000000000000000000000000000000000000000"
		"000",
		0, KEYSTORE_ERR_WRONG_PASSWORD},
	    {"crypto.mac", NULL,
		"zz00000000000000000000000000000000000000000000000000000000000"
		"000",
		0, KEYSTORE_ERR_FORMAT},
	    {"crypto.mac", NULL,
		"0000000000000000000000000000000000000000000000000000000000000"
		"000",
		0, KEYSTORE_ERR_WRONG_PASSWORD},
	    {"crypto.kdf", NULL, "argon2id", 0, KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto.kdf", NULL, "PBKDF2", 0, KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto.kdfparams", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.prf", NULL, "hmac-sha512", 0,
		KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto.kdfparams.prf", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.dklen", NULL, NULL, 64,
		KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto.kdfparams.dklen", NULL, "32", 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.c", NULL, NULL, 10000001,
		KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.c", NULL, NULL, -1, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.c", NULL, NULL, (json_int_t)1 << 62,
		KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.c", value_zero, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.c", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.salt", NULL, "", 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.salt", NULL, "abc", 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.salt", NULL, long_salt, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.salt", NULL, "0102", 0,
		KEYSTORE_ERR_WRONG_PASSWORD},
	    {"address", NULL, "0x0000000000000000000000000000000000000000", 0,
		KEYSTORE_ERR_ADDRESS},
	    {"address", NULL, "1234", 0, KEYSTORE_ERR_FORMAT},
	    {"address", value_object, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"Crypto", value_object, NULL, 0, KEYSTORE_ERR_FORMAT},
	};
	static const struct mutation scrypt_cases[] = {
	    {"crypto.kdfparams.n", NULL, NULL, (json_int_t)1 << 21,
		KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.n", NULL, NULL, (json_int_t)1 << 40,
		KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.n", NULL, NULL, 1000, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.n", NULL, NULL, 1, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.n", value_zero, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.r", NULL, NULL, 17, KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.r", NULL, NULL, -8, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.p", NULL, NULL, 17, KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.p", NULL, NULL, (json_int_t)1 << 32,
		KEYSTORE_ERR_KDF_LIMITS},
	    {"crypto.kdfparams.p", NULL, "1", 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdfparams.dklen", NULL, NULL, 16,
		KEYSTORE_ERR_UNSUPPORTED},
	    {"crypto.kdfparams.salt", NULL, NULL, 0, KEYSTORE_ERR_FORMAT},
	    {"crypto.kdf", NULL, "Scrypt", 0, KEYSTORE_ERR_UNSUPPORTED},
	};
	uint8_t plain[32] = {0}, key[32], want[32];
	const struct keystore_scrypt_params light = {1024, 8, 1};
	json_t *base, *copy;
	char *ours;

	(void)state;
	plain[0] = 0x42;
	plain[31] = 0x17;
	memcpy(want, plain, 32);

	base = make_pbkdf2(plain, "pw", 1);
	assert_non_null(base);
	assert_int_equal(decrypt_json(base, "pw", key), KEYSTORE_OK);
	assert_memory_equal(key, want, 32);
	/* "Crypto" as ethers writes it, and a right address, are fine. */
	copy = json_deep_copy(base);
	json_object_set(copy, "Crypto", json_object_get(copy, "crypto"));
	json_object_del(copy, "crypto");
	{
		uint8_t addr[20];
		char hex[ETH_ADDRESS_HEX_SIZE];
		assert_int_equal(eth_key_address(plain, addr), ETH_OK);
		eth_address_hex(addr, hex);
		json_object_set_new(copy, "address", json_string(hex));
	}
	assert_int_equal(decrypt_json(copy, "pw", key), KEYSTORE_OK);
	json_decref(copy);
	for (size_t i = 0; i < sizeof(pbkdf2_cases) / sizeof(pbkdf2_cases[0]);
	     i++) {
		enum keystore_status st;
		copy = json_deep_copy(base);
		apply(copy, &pbkdf2_cases[i]);
		memset(key, 0xaa, sizeof(key));
		st = decrypt_json(copy, "pw", key);
		if (st != pbkdf2_cases[i].expect)
			fail_msg("pbkdf2 case %zu (%s): %s, expected %s", i,
			    pbkdf2_cases[i].path, keystore_status_str(st),
			    keystore_status_str(pbkdf2_cases[i].expect));
		assert_true(key[0] == 0 && key[31] == 0);
		json_decref(copy);
	}
	json_decref(base);

	assert_int_equal(
	    keystore_encrypt(plain, "pw", 2, &light, &ours), KEYSTORE_OK);
	base = json_loads(ours, 0, NULL);
	assert_non_null(base);
	free(ours);
	for (size_t i = 0; i < sizeof(scrypt_cases) / sizeof(scrypt_cases[0]);
	     i++) {
		enum keystore_status st;
		copy = json_deep_copy(base);
		apply(copy, &scrypt_cases[i]);
		st = decrypt_json(copy, "pw", key);
		if (st != scrypt_cases[i].expect)
			fail_msg("scrypt case %zu (%s): %s, expected %s", i,
			    scrypt_cases[i].path, keystore_status_str(st),
			    keystore_status_str(scrypt_cases[i].expect));
		json_decref(copy);
	}
	json_decref(base);

	/* Keys outside the curve's range decrypt but are refused. */
	memset(plain, 0, sizeof(plain));
	base = make_pbkdf2(plain, "pw", 1);
	assert_int_equal(decrypt_json(base, "pw", key), KEYSTORE_ERR_BAD_KEY);
	json_decref(base);
	memset(plain, 0xff, sizeof(plain));
	base = make_pbkdf2(plain, "pw", 1);
	assert_int_equal(decrypt_json(base, "pw", key), KEYSTORE_ERR_BAD_KEY);
	json_decref(base);
}

static void
test_malformed_text(void **state)
{
	static const char *texts[] = {
	    "",
	    "not json",
	    "[]",
	    "3",
	    "{\"version\":3}",
	    "{\"version\":3,\"version\":3,\"crypto\":{}}",
	    "{\"version\":3,\"crypto\":{}}",
	    "{\"version\":3,\"crypto\":[]}",
	    "{\"version\":3.0,\"crypto\":{}}",
	};
	uint8_t key[32];
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(
		    keystore_decrypt(texts[i], strlen(texts[i]), "pw", 2, key),
		    KEYSTORE_ERR_FORMAT);
	/* Bytes after the object, and a NUL inside. */
	assert_int_equal(keystore_decrypt("{\"version\":3}x", 14, "pw", 2, key),
	    KEYSTORE_ERR_FORMAT);
	assert_int_equal(
	    keystore_decrypt("{\"version\":3}\0", 14, "pw", 2, key),
	    KEYSTORE_ERR_FORMAT);
	/* Too large to parse at all. */
	big = malloc(KEYSTORE_JSON_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', KEYSTORE_JSON_MAX + 1);
	big[0] = '{';
	big[KEYSTORE_JSON_MAX] = '}';
	assert_int_equal(
	    keystore_decrypt(big, KEYSTORE_JSON_MAX + 1, "pw", 2, key),
	    KEYSTORE_ERR_TOO_LARGE);
	free(big);
}

/* ---- Files and passwords ------------------------------------------------ */

static void
test_keystore_files(void **state)
{
	const struct keystore_scrypt_params light = {1024, 8, 1};
	uint8_t key[32] = {0}, back[32];
	char path[PATH_MAX], *json, *big;

	(void)state;
	key[0] = 5;
	assert_int_equal(
	    keystore_encrypt(key, "pw", 2, &light, &json), KEYSTORE_OK);
	snprintf(path, sizeof(path), "%s/ks.json", tmp_dir);
	write_file(path, json, strlen(json));
	assert_int_equal(
	    keystore_decrypt_file(path, "pw", 2, back), KEYSTORE_OK);
	assert_memory_equal(back, key, 32);
	assert_int_equal(keystore_decrypt_file(path, "pW", 2, back),
	    KEYSTORE_ERR_WRONG_PASSWORD);
	free(json);

	big = malloc(KEYSTORE_JSON_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', KEYSTORE_JSON_MAX + 1);
	write_file(path, big, KEYSTORE_JSON_MAX + 1);
	assert_int_equal(
	    keystore_decrypt_file(path, "pw", 2, back), KEYSTORE_ERR_TOO_LARGE);
	free(big);
	unlink(path);

	assert_int_equal(
	    keystore_decrypt_file(path, "pw", 2, back), KEYSTORE_ERR_IO);
	assert_int_equal(
	    keystore_decrypt_file(tmp_dir, "pw", 2, back), KEYSTORE_ERR_IO);
	snprintf(path, sizeof(path), "%s/fifo", tmp_dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(
	    keystore_decrypt_file(path, "pw", 2, back), KEYSTORE_ERR_IO);
	unlink(path);
}

static void
expect_password(const char *content, size_t content_len, size_t cap,
    enum keystore_status want, const char *want_pw)
{
	char path[PATH_MAX], out[64];
	size_t len = 99;

	assert_true(cap <= sizeof(out));
	snprintf(path, sizeof(path), "%s/pw", tmp_dir);
	write_file(path, content, content_len);
	memset(out, 'z', sizeof(out));
	assert_int_equal(
	    keystore_read_password(path, "FLYTRAP_TEST_UNSET", out, cap, &len),
	    want);
	if (want == KEYSTORE_OK) {
		assert_int_equal(len, strlen(want_pw));
		assert_string_equal(out, want_pw);
	} else {
		assert_int_equal(len, 0);
		for (size_t i = 0; i < cap; i++)
			assert_int_equal(out[i], 0);
	}
	unlink(path);
}

static void
test_read_password(void **state)
{
	char out[KEYSTORE_PASSWORD_MAX], path[PATH_MAX];
	size_t len;
	int fds[2];

	(void)state;
	expect_password("secret\n", 7, 64, KEYSTORE_OK, "secret");
	expect_password("secret", 6, 64, KEYSTORE_OK, "secret");
	expect_password("secret\r\n", 8, 64, KEYSTORE_OK, "secret");
	expect_password("secret\nsecond line\n", 19, 64, KEYSTORE_OK, "secret");
	expect_password("  spaced \t\n", 11, 64, KEYSTORE_OK, "  spaced \t");
	expect_password("\nsecret\n", 8, 64, KEYSTORE_OK, "");
	expect_password("", 0, 64, KEYSTORE_OK, "");
	/* cap includes the NUL. */
	expect_password("1234567", 7, 8, KEYSTORE_OK, "1234567");
	expect_password("1234567\n", 8, 8, KEYSTORE_OK, "1234567");
	expect_password("12345678", 8, 8, KEYSTORE_ERR_TOO_LARGE, NULL);
	expect_password("12345678\n", 9, 8, KEYSTORE_ERR_TOO_LARGE, NULL);

	/* Missing file, a directory. */
	snprintf(path, sizeof(path), "%s/missing", tmp_dir);
	assert_int_equal(
	    keystore_read_password(path, NULL, out, sizeof(out), &len),
	    KEYSTORE_ERR_IO);
	assert_int_equal(
	    keystore_read_password(tmp_dir, NULL, out, sizeof(out), &len),
	    KEYSTORE_ERR_IO);

	/* A pipe, as from --password-file <(...). */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "piped\nrest", 10), 10);
	close(fds[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	assert_int_equal(
	    keystore_read_password(path, NULL, out, sizeof(out), &len),
	    KEYSTORE_OK);
	assert_string_equal(out, "piped");
	close(fds[0]);

	/* The environment, when no file is given. */
	assert_int_equal(setenv("FLYTRAP_TEST_PW", "from env\n", 1), 0);
	assert_int_equal(keystore_read_password(
			     NULL, "FLYTRAP_TEST_PW", out, sizeof(out), &len),
	    KEYSTORE_OK);
	assert_string_equal(out, "from env\n");
	assert_int_equal(len, 9);
	assert_int_equal(
	    keystore_read_password(NULL, "FLYTRAP_TEST_PW", out, 9, &len),
	    KEYSTORE_ERR_TOO_LARGE);
	assert_int_equal(setenv("FLYTRAP_TEST_PW", "", 1), 0);
	assert_int_equal(keystore_read_password(
			     NULL, "FLYTRAP_TEST_PW", out, sizeof(out), &len),
	    KEYSTORE_OK);
	assert_int_equal(len, 0);
	assert_int_equal(unsetenv("FLYTRAP_TEST_PW"), 0);
	assert_int_equal(keystore_read_password(
			     NULL, "FLYTRAP_TEST_PW", out, sizeof(out), &len),
	    KEYSTORE_ERR_NO_PASSWORD);
	assert_int_equal(
	    keystore_read_password(NULL, NULL, out, sizeof(out), &len),
	    KEYSTORE_ERR_NO_PASSWORD);
	assert_int_equal(keystore_read_password(NULL, NULL, out, 0, &len),
	    KEYSTORE_ERR_TOO_LARGE);

	assert_string_equal(
	    keystore_status_str(KEYSTORE_ERR_WRONG_PASSWORD), "wrong password");
	assert_string_equal(
	    keystore_status_str((enum keystore_status)99), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ethers_keystores),
	    cmocka_unit_test(test_ours_decrypt_in_ethers),
	    cmocka_unit_test(test_our_format),
	    cmocka_unit_test(test_encrypt_refuses),
	    cmocka_unit_test(test_malformed_keystores),
	    cmocka_unit_test(test_malformed_text),
	    cmocka_unit_test(test_keystore_files),
	    cmocka_unit_test(test_read_password),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
