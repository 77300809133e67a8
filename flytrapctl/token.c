/*
 * flytrapctl token: signs a FlyTrap token with a key file and prints what a
 * stock MQTT client needs to present it (mosquitto_pub/sub options for
 * MQTT v5 and v3.1.1), as text or as JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "eth.h"
#include "flytrapctl.h"
#include "hex.h"
#include "token.h"

static const char token_args[] =
    "[--key FILE] [--client-id ID] [--realm REALM] [--time UNIX] "
    "[--static] [--json | --args v5|v311]";
static const char token_what[] =
    "Signs a timed token for client id ID at time UNIX (default now)\n"
    "with the key in FILE (default $FLYTRAP_KEY), for REALM (default\n"
    "$FLYTRAP_REALM). A timed token is accepted once, within the\n"
    "deployment's clock-skew window. --static signs a static token\n"
    "instead (replayable; only accepted where static tokens are on).\n"
    "--args prints only the mosquitto_pub/sub options, shell-quoted,\n"
    "for use in $(...).";

static int
token_usage(int status)
{
	fprintf(status == CTL_EXIT_OK ? stdout : stderr,
	    "usage: flytrapctl token %s\n%s\n", token_args, token_what);
	return status;
}

/* Prints s quoted for a POSIX shell. */
static void
print_shell_word(const char *s)
{
	if (*s != '\0' &&
	    strspn(s,
		"abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		"-_.:/@+=,") == strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

static void
print_argv(json_t *args)
{
	size_t i;
	json_t *v;

	json_array_foreach(args, i, v)
	{
		if (i > 0)
			putchar(' ');
		print_shell_word(json_string_value(v));
	}
	putchar('\n');
}

/* Appends every item of a new array to arr, and drops the new array. */
static void
append_all(json_t *arr, json_t *items)
{
	json_array_extend(arr, items);
	json_decref(items);
}

static bool
parse_time(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return false;
	*out = v;
	return true;
}

int
ctl_token(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"client-id", required_argument, NULL, 'i'},
	    {"realm", required_argument, NULL, 'r'},
	    {"time", required_argument, NULL, 't'},
	    {"static", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"args", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *key_path = getenv("FLYTRAP_KEY");
	const char *realm = getenv("FLYTRAP_REALM");
	const char *client_id = NULL;
	const char *args_only = NULL;
	bool is_static = false, as_json = false;
	int64_t when = (int64_t)time(NULL);
	uint8_t key[ETH_KEY_LEN], addr[ETH_ADDRESS_LEN], digest[32];
	uint8_t sig[ETH_SIG_LEN];
	char address[ETH_ADDRESS_HEX_SIZE], sighex[ETH_SIG_HEX_SIZE];
	char message[1024], password[ETH_SIG_HEX_SIZE + 32], when_s[32];
	json_t *out, *v5, *v311;
	enum eth_status st;
	size_t len;
	int ch;

	optind = 1;
	while (
	    (ch = getopt_long(argc, argv, "k:i:r:t:sja:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			key_path = optarg;
			break;
		case 'i':
			client_id = optarg;
			break;
		case 'r':
			realm = optarg;
			break;
		case 't':
			if (!parse_time(optarg, &when)) {
				ctl_error(
				    "--time: '%s' is not a Unix time", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 's':
			is_static = true;
			break;
		case 'j':
			as_json = true;
			break;
		case 'a':
			if (strcmp(optarg, "v5") != 0 &&
			    strcmp(optarg, "v311") != 0) {
				ctl_error("--args takes v5 or v311");
				return CTL_EXIT_USAGE;
			}
			args_only = optarg;
			break;
		case 'h':
			return token_usage(CTL_EXIT_OK);
		default:
			return token_usage(CTL_EXIT_USAGE);
		}
	}
	if (optind != argc)
		return token_usage(CTL_EXIT_USAGE);
	if (key_path == NULL || *key_path == '\0') {
		ctl_error("no key: give --key FILE or set FLYTRAP_KEY");
		return CTL_EXIT_USAGE;
	}
	if (realm == NULL || *realm == '\0') {
		ctl_error("no realm: give --realm or set FLYTRAP_REALM");
		return CTL_EXIT_USAGE;
	}
	if (!is_static && client_id == NULL) {
		ctl_error("a timed token needs --client-id");
		return CTL_EXIT_USAGE;
	}
	if ((st = eth_key_read_file(key_path, key)) != ETH_OK ||
	    (st = eth_key_address(key, addr)) != ETH_OK) {
		explicit_bzero(key, sizeof(key));
		ctl_error("%s: %s", key_path, eth_status_str(st));
		return CTL_EXIT_FAIL;
	}
	if (is_static)
		len =
		    token_message_static(message, sizeof(message), realm, addr);
	else
		len = token_message_timed(message, sizeof(message), realm,
		    (const uint8_t *)client_id, strlen(client_id), when);
	if (len == 0) {
		explicit_bzero(key, sizeof(key));
		ctl_error("realm or client id too long");
		return CTL_EXIT_USAGE;
	}
	eth_eip191_digest(message, len, digest);
	st = eth_sign(key, digest, sig);
	explicit_bzero(key, sizeof(key));
	if (st != ETH_OK) {
		ctl_error("signing failed: %s", eth_status_str(st));
		return CTL_EXIT_FAIL;
	}
	eth_address_hex(addr, address);
	memcpy(sighex, "0x", 2);
	hex_encode(sig, sizeof(sig), sighex + 2);
	snprintf(when_s, sizeof(when_s), "%" PRId64, when);
	if (is_static)
		snprintf(password, sizeof(password), "static:%s", sighex);
	else
		snprintf(password, sizeof(password), "%s:%s", when_s, sighex);

	v5 = json_pack("[ss]", "-V", "mqttv5");
	v311 = json_pack("[ss]", "-V", "mqttv311");
	if (client_id != NULL) {
		append_all(v5, json_pack("[ss]", "-i", client_id));
		append_all(v311, json_pack("[ss]", "-i", client_id));
	}
	if (is_static)
		append_all(v5,
		    json_pack("[ssssssssss]", "-D", "connect", "user-property",
			"flytrap-address", address, "-D", "connect",
			"user-property", "flytrap-sig", sighex));
	else
		append_all(v5,
		    json_pack("[ssssssssss]", "-D", "connect", "user-property",
			"flytrap-sig", sighex, "-D", "connect", "user-property",
			"flytrap-time", when_s));
	append_all(v311, json_pack("[ssss]", "-u", address, "-P", password));

	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "address",
	    address, "realm", realm, "signature", sighex, "username", address,
	    "password", password, "mosquitto_v5", v5, "mosquitto_v311", v311);
	if (out == NULL) {
		ctl_error("out of memory");
		return CTL_EXIT_FAIL;
	}
	if (!is_static) {
		json_object_set_new(out, "client_id", json_string(client_id));
		json_object_set_new(out, "time", json_integer(when));
	}
	if (args_only != NULL) {
		print_argv(strcmp(args_only, "v5") == 0 ? v5 : v311);
	} else if (as_json) {
		json_dumpf(out, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		printf("address: %s\nrealm:   %s\n", address, realm);
		if (!is_static)
			printf("time:    %s (valid once, within the "
			       "deployment's clock skew)\n",
			    when_s);
		printf(
		    "\nMQTT v5 (mosquitto_pub / mosquitto_sub options):\n  ");
		print_argv(v5);
		printf("\nMQTT v3.1.1:\n  ");
		print_argv(v311);
	}
	json_decref(out);
	return CTL_EXIT_OK;
}
