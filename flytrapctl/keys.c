/*
 * Key commands: keygen writes a new private key file (0600, never over an
 * existing file), address prints the address a key file holds.
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
