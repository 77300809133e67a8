/*
 * Publish and subscribe rights: grant and revoke (the topic owner, with a
 * reason for the audit trail) and buy (anyone, paying exactly the price
 * read from the contract).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "chain.h"
#include "flytrapctl.h"

static const char grant_synopsis[] =
    "grant pub|sub TOPIC ADDRESS --reason TEXT [--until UNIX|--for "
    "SECONDS]\n"
    "                  [chain options]";
static const char grant_what[] =
    "Gives ADDRESS the publish (pub) or subscribe (sub) right on topic\n"
    "entry TOPIC, replacing any earlier one: forever, until the Unix time\n"
    "UNIX, or for SECONDS (also 90m, 12h, 30d) from the latest block's\n"
    "time. TEXT is recorded on chain. Topic owner only.";
static const char revoke_synopsis[] =
    "revoke pub|sub TOPIC ADDRESS --reason TEXT [chain options]";
static const char revoke_what[] =
    "Takes the publish (pub) or subscribe (sub) right on topic entry TOPIC\n"
    "from ADDRESS; TEXT is recorded on chain. Topic owner only.";
static const char buy_synopsis[] =
    "buy pub|sub TOPIC [--for ADDRESS] [chain options]";
static const char buy_what[] =
    "Buys the publish (pub) or subscribe (sub) right on topic entry TOPIC\n"
    "for the signing key, or for ADDRESS (a device), paying exactly the\n"
    "topic's current price (a free topic is joined for nothing). A\n"
    "purchase lasts the topic's period; buying again before the end\n"
    "extends it.";

enum {
	OPT_REASON = 0x200,
	OPT_UNTIL,
	OPT_FOR,
};

struct rights_args {
	const char *synopsis, *what;
	bool publish;
	const char *topic;
	uint8_t who[ETH_ADDRESS_LEN];
	bool has_who;
	const char *reason;
	bool has_until, has_for;
	uint64_t until, for_seconds;
};

static int
rights_usage(const struct rights_args *a, int status)
{
	return ctl_chain_usage(status, a->synopsis, a->what);
}

/*
 * Parses options and the positional arguments (pub|sub TOPIC, then ADDRESS
 * when want_address). Returns true to go on, or false with *exit_status.
 */
static bool
rights_parse(int argc, char **argv, const struct option *opts,
    struct ctl_chain *c, struct rights_args *a, bool want_address,
    int *exit_status)
{
	enum ctl_opt_result r;
	int ch, want = want_address ? 3 : 2;

	*exit_status = CTL_EXIT_USAGE;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			*exit_status = rights_usage(a, CTL_EXIT_OK);
			return false;
		case OPT_REASON:
			a->reason = optarg;
			break;
		case OPT_UNTIL:
			if (!ctl_u64_parse(optarg, &a->until) ||
			    a->until == 0 || a->until == CTL_FOREVER) {
				ctl_error(
				    "--until: '%s' is not a Unix time", optarg);
				return false;
			}
			a->has_until = true;
			break;
		case OPT_FOR:
			if (want_address) {
				if (!ctl_duration_parse(
					optarg, &a->for_seconds) ||
				    a->for_seconds == 0) {
					ctl_error("--for: '%s' is not a "
						  "number of seconds",
					    optarg);
					return false;
				}
				a->has_for = true;
			} else {
				/* buy --for ADDRESS: who gets the right. */
				if (ctl_address_arg("--for", optarg, a->who) !=
				    CTL_OK)
					return false;
				a->has_who = true;
			}
			break;
		default:
			if ((r = ctl_chain_option(c, ch, optarg)) ==
			    CTL_OPT_TAKEN)
				break;
			if (r != CTL_OPT_BAD)
				rights_usage(a, CTL_EXIT_USAGE);
			return false;
		}
	}
	if (argc - optind != want) {
		rights_usage(a, CTL_EXIT_USAGE);
		return false;
	}
	if (ctl_right_arg(argv[optind], &a->publish) != CTL_OK)
		return false;
	a->topic = argv[optind + 1];
	if (want_address) {
		if (ctl_address_arg("ADDRESS", argv[optind + 2], a->who) !=
		    CTL_OK)
			return false;
		a->has_who = true;
	}
	if (a->has_until && a->has_for) {
		ctl_error("give --until or --for, not both");
		return false;
	}
	return ctl_chain_need_contract(c) == CTL_OK;
}

static json_t *
rights_json(const struct ctl_receipt *rc, const struct rights_args *a)
{
	char who[ETH_ADDRESS_HEX_SIZE];
	json_t *o = ctl_receipt_json(rc);

	eth_address_hex(a->who, who);
	json_object_set_new(
	    o, "topic", ctl_json_text(a->topic, strlen(a->topic)));
	json_object_set_new(
	    o, "right", json_string(a->publish ? "pub" : "sub"));
	json_object_set_new(o, "address", json_string(who));
	return o;
}

/* grant and revoke: the same arguments, one more option for grant. */
static int
rights_change(int argc, char **argv, bool grant)
{
	static const struct option grant_opts[] = {
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"for", required_argument, NULL, OPT_FOR},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	static const struct option revoke_opts[] = {
	    {"reason", required_argument, NULL, OPT_REASON},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char who[ETH_ADDRESS_HEX_SIZE], expiry_text[CTL_EXPIRY_TEXT_SIZE];
	uint64_t expiry = 0, block, now;
	struct rights_args a;
	struct ctl_receipt rc;
	struct ctl_topic t;
	struct ctl_chain c;
	struct abi_enc e;
	int status;

	memset(&a, 0, sizeof(a));
	a.synopsis = grant ? grant_synopsis : revoke_synopsis;
	a.what = grant ? grant_what : revoke_what;
	ctl_chain_init(&c);
	if (!rights_parse(argc, argv, grant ? grant_opts : revoke_opts, &c, &a,
		true, &status))
		return status;
	if (a.reason == NULL) {
		ctl_error("%s needs --reason TEXT (it goes into the audit "
			  "trail)",
		    grant ? "grant" : "revoke");
		return CTL_EXIT_USAGE;
	}
	status = CTL_EXIT_FAIL;
	if (ctl_chain_signer(&c) != CTL_OK ||
	    ctl_need_topic(&c, a.topic, &t) != CTL_OK)
		goto done;
	if (a.has_until)
		expiry = a.until;
	else if (a.has_for) {
		/* The contract compares with block time: count from it. */
		if (ctl_latest_block(&c, &block, &now) != CTL_OK)
			goto done;
		if (a.for_seconds >= CTL_FOREVER - now) {
			ctl_error("--for: too long");
			goto done;
		}
		expiry = now + a.for_seconds;
	}
	if (grant) {
		ctl_enc_begin(&e, "grant(string,address,bool,uint64,string)");
		abi_enc_string(&e, a.topic, strlen(a.topic));
		abi_enc_address(&e, a.who);
		abi_enc_bool(&e, a.publish);
		abi_enc_uint(&e, expiry);
		abi_enc_string(&e, a.reason, strlen(a.reason));
	} else {
		ctl_enc_begin(&e, "revoke(string,address,bool,string)");
		abi_enc_string(&e, a.topic, strlen(a.topic));
		abi_enc_address(&e, a.who);
		abi_enc_bool(&e, a.publish);
		abi_enc_string(&e, a.reason, strlen(a.reason));
	}
	if (ctl_send_call(&c, &e, NULL, &rc) != CTL_OK)
		goto done;
	/* The contract stores "forever" as 2^64 - 1. */
	if (grant && expiry == 0)
		expiry = CTL_FOREVER;
	if (c.json) {
		json_t *o = rights_json(&rc, &a);

		json_object_set_new(
		    o, "reason", ctl_json_text(a.reason, strlen(a.reason)));
		if (grant)
			json_object_set_new(o, "expiry", ctl_json_u64(expiry));
		ctl_json_print(o);
	} else {
		eth_address_hex(a.who, who);
		if (grant)
			printf("granted %s on '%s' to %s %s\n",
			    a.publish ? "publish" : "subscribe", a.topic, who,
			    ctl_expiry_text(expiry, expiry_text));
		else
			printf("revoked %s on '%s' from %s\n",
			    a.publish ? "publish" : "subscribe", a.topic, who);
		ctl_receipt_print(&rc);
	}
	status = CTL_EXIT_OK;
done:
	ctl_chain_done(&c);
	return status;
}

int
ctl_grant(int argc, char **argv)
{
	return rights_change(argc, argv, true);
}

int
ctl_revoke(int argc, char **argv)
{
	return rights_change(argc, argv, false);
}

int
ctl_buy(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"for", required_argument, NULL, OPT_FOR},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char who[ETH_ADDRESS_HEX_SIZE], price_dec[CTL_U256_DEC_SIZE];
	char expiry_text[CTL_EXPIRY_TEXT_SIZE];
	static const uint8_t zero[ETH_ADDRESS_LEN];
	const uint8_t *price;
	struct rights_args a;
	struct ctl_receipt rc;
	struct ctl_access acc;
	struct ctl_topic t;
	struct ctl_chain c;
	struct abi_enc e;
	uint64_t expiry;
	int status;

	memset(&a, 0, sizeof(a));
	a.synopsis = buy_synopsis;
	a.what = buy_what;
	ctl_chain_init(&c);
	if (!rights_parse(argc, argv, opts, &c, &a, false, &status))
		return status;
	status = CTL_EXIT_FAIL;
	if (ctl_chain_signer(&c) != CTL_OK ||
	    ctl_need_topic(&c, a.topic, &t) != CTL_OK)
		goto done;
	price = a.publish ? t.pub_price : t.sub_price;
	ctl_enc_begin(&e, "buy(string,bool,address)");
	abi_enc_string(&e, a.topic, strlen(a.topic));
	abi_enc_bool(&e, a.publish);
	abi_enc_address(&e, a.has_who ? a.who : zero);
	if (ctl_send_call(&c, &e, price, &rc) != CTL_OK)
		goto done;
	if (!a.has_who)
		memcpy(a.who, c.address, ETH_ADDRESS_LEN);
	/* What the purchase gave: read back (0 if that read fails). */
	if (ctl_read_access(&c, a.topic, a.who, &acc) != CTL_OK)
		memset(&acc, 0, sizeof(acc));
	expiry = a.publish ? acc.pub_expiry : acc.sub_expiry;
	if (c.json) {
		json_t *o = rights_json(&rc, &a);

		json_object_set_new(o, "price", ctl_json_u256(price));
		json_object_set_new(o, "expiry", ctl_json_u64(expiry));
		ctl_json_print(o);
	} else {
		eth_address_hex(a.who, who);
		printf("bought %s on '%s' for %s (paid %s wei): %s\n",
		    a.publish ? "publish" : "subscribe", a.topic, who,
		    ctl_u256_dec(price, price_dec),
		    ctl_expiry_text(expiry, expiry_text));
		ctl_receipt_print(&rc);
	}
	status = CTL_EXIT_OK;
done:
	ctl_chain_done(&c);
	return status;
}
