/*
 * The contract owner's and payees' commands: deploy (a new FlyTrap contract
 * from the build's artifact), reporter add|remove, and withdraw (pull
 * payments).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi.h"
#include "chain.h"
#include "flytrapctl.h"
#include "hex.h"

/* The largest artifact read (the contract's init code is ~8 KB). */
#define CTL_ARTIFACT_MAX (1024 * 1024)

/* ---- deploy -------------------------------------------------------------- */

static const char deploy_synopsis[] =
    "deploy [--fee WEI] [--artifact FILE] [chain options]";
static const char deploy_what[] =
    "Deploys a new FlyTrap contract, owned by the signing key, whose\n"
    "topic-creation fee is WEI (default 0; units allowed: 10gwei,\n"
    "0.01ether). The init code is FILE, else $FLYTRAP_ARTIFACT, else\n"
    "contracts/FlyTrap.bin next to the build's bin/ directory. Waits for\n"
    "the receipt and prints the contract's address (with --json: also\n"
    "the block, gas used and transaction).";

/* <directory of this program>/../contracts/FlyTrap.bin, or NULL. */
static char *
deploy_default_artifact(void)
{
	char exe[PATH_MAX], *dir, *path;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	dir = dirname(exe);
	if (asprintf(&path, "%s/../contracts/FlyTrap.bin", dir) < 0)
		return NULL;
	return path;
}

/* Reads an artifact of hex init code (0x optional, white space around). */
static enum ctl_status
deploy_read_artifact(const char *path, uint8_t **code, size_t *len)
{
	char *text;
	size_t n = 0, start = 0;
	struct stat sb;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ctl_error("contract artifact %s: %s (build it with 'make', or "
			  "give --artifact FILE)",
		    path, strerror(errno));
		return CTL_FAILED;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CTL_ARTIFACT_MAX) {
		close(fd);
		ctl_error("contract artifact %s: not a regular file of at "
			  "most 1 MiB",
		    path);
		return CTL_FAILED;
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		ctl_error("out of memory");
		return CTL_FAILED;
	}
	while (n < (size_t)sb.st_size &&
	    (got = read(fd, text + n, (size_t)sb.st_size - n)) > 0)
		n += (size_t)got;
	close(fd);
	while (n > 0 && strchr(" \t\r\n", text[n - 1]) != NULL)
		n--;
	while (start < n && strchr(" \t\r\n", text[start]) != NULL)
		start++;
	if (n - start >= 2 && text[start] == '0' &&
	    (text[start + 1] == 'x' || text[start + 1] == 'X'))
		start += 2;
	*code = NULL;
	*len = (n - start) / 2;
	if (*len == 0 || (n - start) % 2 != 0 ||
	    (*code = malloc(*len)) == NULL ||
	    !hex_decode_exact(text + start, n - start, *code, *len)) {
		free(*code);
		*code = NULL;
		free(text);
		ctl_error("contract artifact %s: not hex init code", path);
		return CTL_FAILED;
	}
	free(text);
	return CTL_OK;
}

int
ctl_deploy(int argc, char **argv)
{
	enum { OPT_FEE = 0x200, OPT_ARTIFACT };
	static const struct option opts[] = {
	    {"fee", required_argument, NULL, OPT_FEE},
	    {"artifact", required_argument, NULL, OPT_ARTIFACT},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char owner[ETH_ADDRESS_HEX_SIZE], address[ETH_ADDRESS_HEX_SIZE];
	char fee_dec[CTL_U256_DEC_SIZE];
	const char *artifact = getenv("FLYTRAP_ARTIFACT");
	char *default_artifact = NULL;
	struct ctl_tx_request req;
	struct ctl_receipt rc;
	struct ctl_chain c;
	uint8_t fee[32] = {0}, *code = NULL, *args = NULL, *init;
	size_t code_len, args_len;
	int ch, status = CTL_EXIT_FAIL;
	enum ctl_opt_result r;
	struct abi_enc e;

	ctl_chain_init(&c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FEE:
			if (!ctl_wei_parse(optarg, fee) ||
			    !ctl_u256_fits(fee, 96)) {
				ctl_error("--fee: '%s' is not an amount of wei "
					  "(at most 96 bits)",
				    optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case OPT_ARTIFACT:
			artifact = optarg;
			break;
		case 'h':
			return ctl_chain_usage(
			    CTL_EXIT_OK, deploy_synopsis, deploy_what);
		default:
			if ((r = ctl_chain_option(&c, ch, optarg)) ==
			    CTL_OPT_TAKEN)
				break;
			return r == CTL_OPT_BAD
			    ? CTL_EXIT_USAGE
			    : ctl_chain_usage(
				  CTL_EXIT_USAGE, deploy_synopsis, deploy_what);
		}
	}
	if (optind != argc)
		return ctl_chain_usage(
		    CTL_EXIT_USAGE, deploy_synopsis, deploy_what);
	if (artifact == NULL || *artifact == '\0') {
		if ((default_artifact = deploy_default_artifact()) == NULL) {
			ctl_error("cannot find the contract artifact: give "
				  "--artifact FILE");
			return CTL_EXIT_FAIL;
		}
		artifact = default_artifact;
	}
	if (deploy_read_artifact(artifact, &code, &code_len) != CTL_OK)
		goto done;
	/* The constructor's argument, abi.encode(uint96 fee), follows. */
	abi_enc_begin(&e, NULL);
	abi_enc_uint_n(&e, 96, fee);
	if (ctl_enc_finish(&e, &args, &args_len) != CTL_OK)
		goto done;
	if ((init = realloc(code, code_len + args_len)) == NULL) {
		ctl_error("out of memory");
		goto done;
	}
	code = init;
	memcpy(code + code_len, args, args_len);
	memset(&req, 0, sizeof(req));
	req.create = true;
	req.data = code;
	req.data_len = code_len + args_len;
	if (ctl_send(&c, &req, &rc) != CTL_OK)
		goto done;
	if (!rc.has_contract) {
		ctl_error("the receipt of %s has no contract address", rc.hash);
		goto done;
	}
	eth_address_hex(rc.contract, address);
	eth_address_hex(c.address, owner);
	if (c.json) {
		json_t *o = ctl_receipt_json(&rc);

		json_object_set_new(o, "address", json_string(address));
		json_object_set_new(o, "owner", json_string(owner));
		json_object_set_new(o, "fee", ctl_json_u256(fee));
		ctl_json_print(o);
	} else {
		printf("%s\n", address);
		fprintf(stderr,
		    "flytrapctl: deployed by %s, fee %s wei, block %llu, "
		    "gas %llu (export FLYTRAP_CONTRACT=%s)\n",
		    owner, ctl_u256_dec(fee, fee_dec),
		    (unsigned long long)rc.block,
		    (unsigned long long)rc.gas_used, address);
	}
	status = CTL_EXIT_OK;
done:
	free(code);
	free(args);
	free(default_artifact);
	ctl_chain_done(&c);
	return status;
}

/* ---- reporter ------------------------------------------------------------ */

static const char reporter_synopsis[] =
    "reporter add|remove ADDRESS [chain options]";
static const char reporter_what[] =
    "Adds ADDRESS to the reporters (the chaind wallets allowed to log\n"
    "alerts and summaries) or removes it. Contract owner only.";

int
ctl_reporter(int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char who_hex[ETH_ADDRESS_HEX_SIZE];
	uint8_t who[ETH_ADDRESS_LEN];
	struct ctl_receipt rc;
	struct ctl_chain c;
	enum ctl_opt_result r;
	int ch, status = CTL_EXIT_FAIL;
	struct abi_enc e;
	bool enable;

	ctl_chain_init(&c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return ctl_chain_usage(
			    CTL_EXIT_OK, reporter_synopsis, reporter_what);
		if ((r = ctl_chain_option(&c, ch, optarg)) != CTL_OPT_TAKEN)
			return r == CTL_OPT_BAD
			    ? CTL_EXIT_USAGE
			    : ctl_chain_usage(CTL_EXIT_USAGE, reporter_synopsis,
				  reporter_what);
	}
	if (argc - optind != 2 ||
	    (strcmp(argv[optind], "add") != 0 &&
		strcmp(argv[optind], "remove") != 0))
		return ctl_chain_usage(
		    CTL_EXIT_USAGE, reporter_synopsis, reporter_what);
	enable = strcmp(argv[optind], "add") == 0;
	if (ctl_address_arg("reporter", argv[optind + 1], who) != CTL_OK)
		return CTL_EXIT_USAGE;
	if (ctl_chain_need_contract(&c) != CTL_OK)
		return CTL_EXIT_USAGE;
	ctl_enc_begin(&e, "setReporter(address,bool)");
	abi_enc_address(&e, who);
	abi_enc_bool(&e, enable);
	if (ctl_send_call(&c, &e, NULL, &rc) != CTL_OK)
		goto done;
	eth_address_hex(who, who_hex);
	if (c.json) {
		json_t *o = ctl_receipt_json(&rc);

		json_object_set_new(o, "address", json_string(who_hex));
		json_object_set_new(o, "reporter", json_boolean(enable));
		ctl_json_print(o);
	} else {
		printf("%s %s a reporter\n", who_hex,
		    enable ? "is now" : "is no longer");
		ctl_receipt_print(&rc);
	}
	status = CTL_EXIT_OK;
done:
	ctl_chain_done(&c);
	return status;
}

/* ---- withdraw ------------------------------------------------------------ */

static const char withdraw_synopsis[] = "withdraw [chain options]";
static const char withdraw_what[] =
    "Sends the signing key's whole credit (payments for its topics; for\n"
    "the contract owner also the topic-creation fees) to it.";

int
ctl_withdraw(int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char to[ETH_ADDRESS_HEX_SIZE], amount_dec[CTL_U256_DEC_SIZE];
	uint8_t amount[32];
	struct ctl_receipt rc;
	struct ctl_chain c;
	enum ctl_opt_result r;
	int ch, status = CTL_EXIT_FAIL;
	struct abi_enc e;

	ctl_chain_init(&c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return ctl_chain_usage(
			    CTL_EXIT_OK, withdraw_synopsis, withdraw_what);
		if ((r = ctl_chain_option(&c, ch, optarg)) != CTL_OPT_TAKEN)
			return r == CTL_OPT_BAD
			    ? CTL_EXIT_USAGE
			    : ctl_chain_usage(CTL_EXIT_USAGE, withdraw_synopsis,
				  withdraw_what);
	}
	if (optind != argc)
		return ctl_chain_usage(
		    CTL_EXIT_USAGE, withdraw_synopsis, withdraw_what);
	if (ctl_chain_need_contract(&c) != CTL_OK)
		return CTL_EXIT_USAGE;
	if (ctl_chain_signer(&c) != CTL_OK ||
	    ctl_read_credit(&c, c.address, amount) != CTL_OK)
		goto done;
	ctl_enc_begin(&e, "withdraw()");
	if (ctl_send_call(&c, &e, NULL, &rc) != CTL_OK)
		goto done;
	eth_address_hex(c.address, to);
	if (c.json) {
		json_t *o = ctl_receipt_json(&rc);

		json_object_set_new(o, "to", json_string(to));
		json_object_set_new(o, "amount", ctl_json_u256(amount));
		ctl_json_print(o);
	} else {
		printf("withdrew %s wei to %s\n",
		    ctl_u256_dec(amount, amount_dec), to);
		ctl_receipt_print(&rc);
	}
	status = CTL_EXIT_OK;
done:
	ctl_chain_done(&c);
	return status;
}
