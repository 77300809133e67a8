/*
 * Key commands: keygen writes a new private key file (0600, never over an
 * existing file), address prints the address a key file holds, keystore
 * create encrypts a key into a v3 JSON keystore.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eth.h"
#include "flytrapctl.h"
#include "hex.h"
#include "keystore.h"

static int
keys_usage(const char *cmd, const char *args, const char *what, int status)
{
	fprintf(status == CTL_EXIT_OK ? stdout : stderr,
	    "usage: flytrapctl %s %s\n%s\n", cmd, args, what);
	return status;
}

int
ctl_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char args[] = "--out FILE";
	static const char what[] =
	    "Creates FILE (mode 0600) holding a new secp256k1 private key as\n"
	    "0x-prefixed hex, and prints the key's Ethereum address.";
	uint8_t key[ETH_KEY_LEN], addr[ETH_ADDRESS_LEN];
	char text[2 + 2 * ETH_KEY_LEN + 2], hex[ETH_ADDRESS_HEX_SIZE];
	const char *out = NULL;
	ssize_t n;
	int ch, fd;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			return keys_usage("keygen", args, what, CTL_EXIT_OK);
		default:
			return keys_usage("keygen", args, what, CTL_EXIT_USAGE);
		}
	}
	if (out == NULL || optind != argc)
		return keys_usage("keygen", args, what, CTL_EXIT_USAGE);
	if (eth_key_generate(key) != ETH_OK ||
	    eth_key_address(key, addr) != ETH_OK) {
		ctl_error("cannot generate a key");
		return CTL_EXIT_FAIL;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ctl_error("%s: %s", out, strerror(errno));
		explicit_bzero(key, sizeof(key));
		return CTL_EXIT_FAIL;
	}
	memcpy(text, "0x", 2);
	hex_encode(key, sizeof(key), text + 2);
	text[2 + 2 * ETH_KEY_LEN] = '\n';
	n = write(fd, text, 2 + 2 * ETH_KEY_LEN + 1);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(text, sizeof(text));
	if (n != 2 + 2 * ETH_KEY_LEN + 1 || fsync(fd) < 0 || close(fd) < 0) {
		ctl_error("%s: write failed: %s", out, strerror(errno));
		unlink(out);
		return CTL_EXIT_FAIL;
	}
	eth_address_hex(addr, hex);
	printf("%s\n", hex);
	return CTL_EXIT_OK;
}

int
ctl_address(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char args[] = "--key FILE";
	static const char what[] = "Prints the Ethereum address of the key "
				   "in FILE (default: $FLYTRAP_KEY).";
	uint8_t key[ETH_KEY_LEN], addr[ETH_ADDRESS_LEN];
	char hex[ETH_ADDRESS_HEX_SIZE];
	const char *path = getenv("FLYTRAP_KEY");
	enum eth_status st;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			path = optarg;
			break;
		case 'h':
			return keys_usage("address", args, what, CTL_EXIT_OK);
		default:
			return keys_usage(
			    "address", args, what, CTL_EXIT_USAGE);
		}
	}
	if (path == NULL || optind != argc)
		return keys_usage("address", args, what, CTL_EXIT_USAGE);
	if ((st = eth_key_read_file(path, key)) != ETH_OK ||
	    (st = eth_key_address(key, addr)) != ETH_OK) {
		explicit_bzero(key, sizeof(key));
		ctl_error("%s: %s", path, eth_status_str(st));
		return CTL_EXIT_FAIL;
	}
	explicit_bzero(key, sizeof(key));
	eth_address_hex(addr, hex);
	printf("%s\n", hex);
	return CTL_EXIT_OK;
}

/* ---- keystore create ----------------------------------------------------- */

static const char keystore_args[] =
    "create --out FILE [--key FILE] [--password-file FILE] [--json]";
static const char keystore_what[] =
    "Writes FILE (mode 0600, never over an existing file): a v3 JSON\n"
    "keystore (scrypt, as geth and ethers write them) holding the key in\n"
    "--key FILE, or a new key, encrypted with the password in the first\n"
    "line of --password-file FILE, else $FLYTRAP_KEYSTORE_PASSWORD.\n"
    "Prints the key's address. chaind's wallet and --keystore read it.";

/* Writes text to a new file of mode 0600; removes it again on failure. */
static bool
keys_write_new(const char *path, const char *text)
{
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ctl_error("%s: %s", path, strerror(errno));
		return false;
	}
	while (off < len && (n = write(fd, text + off, len - off)) > 0)
		off += (size_t)n;
	if (off != len || write(fd, "\n", 1) != 1 || fsync(fd) < 0 ||
	    close(fd) < 0) {
		ctl_error("%s: write failed: %s", path, strerror(errno));
		unlink(path);
		return false;
	}
	return true;
}

static int
keystore_create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"key", required_argument, NULL, 'k'},
	    {"password-file", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *key_path = NULL, *password_file = NULL;
	uint8_t key[ETH_KEY_LEN], addr[ETH_ADDRESS_LEN];
	char password[KEYSTORE_PASSWORD_MAX], hex[ETH_ADDRESS_HEX_SIZE];
	enum keystore_status kst;
	enum eth_status st;
	bool as_json = false, ok;
	char *json = NULL;
	size_t len;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:k:p:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'p':
			password_file = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			return keys_usage("keystore", keystore_args,
			    keystore_what, CTL_EXIT_OK);
		default:
			return keys_usage("keystore", keystore_args,
			    keystore_what, CTL_EXIT_USAGE);
		}
	}
	if (out == NULL || optind != argc)
		return keys_usage(
		    "keystore", keystore_args, keystore_what, CTL_EXIT_USAGE);
	kst = keystore_read_password(password_file, "FLYTRAP_KEYSTORE_PASSWORD",
	    password, sizeof(password), &len);
	if (kst == KEYSTORE_ERR_NO_PASSWORD) {
		ctl_error("no password: give --password-file FILE or set "
			  "FLYTRAP_KEYSTORE_PASSWORD");
		return CTL_EXIT_USAGE;
	}
	if (kst != KEYSTORE_OK) {
		ctl_error("%s: %s",
		    password_file != NULL ? password_file
					  : "$FLYTRAP_KEYSTORE_PASSWORD",
		    keystore_status_str(kst));
		return CTL_EXIT_FAIL;
	}
	if (len == 0) {
		ctl_error("refusing an empty password");
		return CTL_EXIT_USAGE;
	}
	if (key_path != NULL)
		st = eth_key_read_file(key_path, key);
	else
		st = eth_key_generate(key);
	if (st == ETH_OK)
		st = eth_key_address(key, addr);
	if (st != ETH_OK) {
		explicit_bzero(key, sizeof(key));
		explicit_bzero(password, sizeof(password));
		ctl_error("%s: %s", key_path != NULL ? key_path : "new key",
		    eth_status_str(st));
		return CTL_EXIT_FAIL;
	}
	kst = keystore_encrypt(key, password, len, NULL, &json);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(password, sizeof(password));
	if (kst != KEYSTORE_OK) {
		ctl_error(
		    "cannot encrypt the key: %s", keystore_status_str(kst));
		return CTL_EXIT_FAIL;
	}
	ok = keys_write_new(out, json);
	free(json);
	if (!ok)
		return CTL_EXIT_FAIL;
	eth_address_hex(addr, hex);
	if (as_json)
		printf("{\"address\":\"%s\"}\n", hex);
	else
		printf("%s\n", hex);
	return CTL_EXIT_OK;
}

int
ctl_keystore(int argc, char **argv)
{
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return keys_usage(
		    "keystore", keystore_args, keystore_what, CTL_EXIT_OK);
	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return keys_usage(
		    "keystore", keystore_args, keystore_what, CTL_EXIT_USAGE);
	return keystore_create(argc - 1, argv + 1);
}
