/*
 * flytrapctl topic add|show|list|set: creating topic entries (paying the
 * creation fee), reading them back, and changing their settings (one
 * transaction per changed setting).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "chain.h"
#include "flytrapctl.h"

static const char topic_synopsis[] =
    "topic add NAME [--sensitive] [--pub-price WEI] [--sub-price WEI]\n"
    "                 [--period SECONDS] [--countries CC,CC,...|--eu]\n"
    "       flytrapctl topic show NAME [--who ADDRESS]\n"
    "       flytrapctl topic list\n"
    "       flytrapctl topic set NAME [--sensitive yes|no] [--pub-price WEI]\n"
    "                 [--sub-price WEI] [--period SECONDS]\n"
    "                 [--countries CC,...|any|--eu] "
    "[--self-service open|closed]\n"
    "                 [--owner ADDRESS]\n"
    "       (each with [chain options])";
static const char topic_what[] =
    "add: creates topic entry NAME (an MQTT topic or filter), owned by the\n"
    "  signing key, paying the contract's creation fee. Prices are wei per\n"
    "  purchase (0 = free; units allowed: 10gwei, 0.01ether); a period\n"
    "  is how long one purchase lasts (seconds, or 90m, 12h, 30d; 0 =\n"
    "  forever); countries are ISO 3166 alpha-2 codes where clients may\n"
    "  connect from (none = anywhere); EU stands for its 27 member states.\n"
    "show: prints the entry's settings; --who also ADDRESS's rights.\n"
    "list: prints every entry's name, in creation order.\n"
    "set: changes the given settings (topic owner only), one transaction\n"
    "  each, skipping those already so; --countries any clears the list;\n"
    "  --owner transfers the entry (sent last).";

static int
topic_usage(int status)
{
	return ctl_chain_usage(status, topic_synopsis, topic_what);
}

/* The settings a command line gives; has_* says which. */
struct topic_settings {
	bool has_sensitive, sensitive;
	bool has_pub_price, has_sub_price;
	uint8_t pub_price[32], sub_price[32];
	bool has_period;
	uint64_t period;
	bool has_countries;
	uint8_t countries[2 * CTL_MAX_COUNTRIES];
	size_t ncountries;
	bool has_self_service, self_service;
	bool has_owner;
	uint8_t owner[ETH_ADDRESS_LEN];
};

enum {
	OPT_SENSITIVE = 0x200,
	OPT_PUB_PRICE,
	OPT_SUB_PRICE,
	OPT_PERIOD,
	OPT_COUNTRIES,
	OPT_EU,
	OPT_SELF_SERVICE,
	OPT_OWNER,
	OPT_WHO,
};

/* A yes/no, open/closed style argument. */
static enum ctl_status
topic_flag(const char *opt, const char *arg, const char *yes, const char *no,
    bool *out)
{
	if (strcmp(arg, yes) == 0)
		*out = true;
	else if (strcmp(arg, no) == 0)
		*out = false;
	else {
		ctl_error("%s takes %s or %s", opt, yes, no);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* Records a setting option; CTL_FAILED (reported) for a bad value. */
static enum ctl_status
topic_setting(struct topic_settings *s, int ch, const char *arg)
{
	switch (ch) {
	case OPT_SENSITIVE:
		s->has_sensitive = true;
		if (arg == NULL) {
			s->sensitive = true;
			return CTL_OK;
		}
		return topic_flag(
		    "--sensitive", arg, "yes", "no", &s->sensitive);
	case OPT_PUB_PRICE:
	case OPT_SUB_PRICE: {
		uint8_t *price =
		    ch == OPT_PUB_PRICE ? s->pub_price : s->sub_price;

		if (!ctl_wei_parse(arg, price) || !ctl_u256_fits(price, 128)) {
			ctl_error("%s: '%s' is not an amount of wei (at most "
				  "128 bits)",
			    ch == OPT_PUB_PRICE ? "--pub-price" : "--sub-price",
			    arg);
			return CTL_FAILED;
		}
		if (ch == OPT_PUB_PRICE)
			s->has_pub_price = true;
		else
			s->has_sub_price = true;
		return CTL_OK;
	}
	case OPT_PERIOD:
		if (!ctl_duration_parse(arg, &s->period)) {
			ctl_error(
			    "--period: '%s' is not a number of seconds", arg);
			return CTL_FAILED;
		}
		s->has_period = true;
		return CTL_OK;
	case OPT_COUNTRIES:
	case OPT_EU:
		if (s->has_countries) {
			ctl_error("give --countries or --eu once");
			return CTL_FAILED;
		}
		s->has_countries = true;
		return ctl_countries_parse(
		    ch == OPT_EU ? "EU" : arg, s->countries, &s->ncountries);
	case OPT_SELF_SERVICE:
		s->has_self_service = true;
		return topic_flag(
		    "--self-service", arg, "open", "closed", &s->self_service);
	case OPT_OWNER:
		s->has_owner = true;
		return ctl_address_arg("--owner", arg, s->owner);
	default:
		ctl_error("unexpected option");
		return CTL_FAILED;
	}
}

/*
 * Parses a topic subcommand's options (opts: the command's own rows then
 * the shared ones) and its one NAME (if want_name). Returns true to go on,
 * or false with *exit_status to return at once (help, or a usage error).
 */
static bool
topic_parse(int argc, char **argv, const struct option *opts,
    struct ctl_chain *c, struct topic_settings *s, const char **who,
    const char **name, bool want_name, int *exit_status)
{
	enum ctl_opt_result r;
	int ch;

	*exit_status = CTL_EXIT_USAGE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			*exit_status = topic_usage(CTL_EXIT_OK);
			return false;
		}
		if (ch == OPT_WHO) {
			*who = optarg;
			continue;
		}
		if (ch >= OPT_SENSITIVE && ch <= OPT_OWNER) {
			if (topic_setting(s, ch, optarg) != CTL_OK)
				return false;
			continue;
		}
		if ((r = ctl_chain_option(c, ch, optarg)) != CTL_OPT_TAKEN) {
			if (r != CTL_OPT_BAD)
				topic_usage(CTL_EXIT_USAGE);
			return false;
		}
	}
	if (argc - optind != (want_name ? 1 : 0)) {
		topic_usage(CTL_EXIT_USAGE);
		return false;
	}
	*name = want_name ? argv[optind] : NULL;
	if (want_name && **name == '\0') {
		ctl_error("the topic name is empty");
		return false;
	}
	return ctl_chain_need_contract(c) == CTL_OK;
}

/* ---- add ----------------------------------------------------------------- */

static int
topic_add(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sensitive", no_argument, NULL, OPT_SENSITIVE},
	    {"pub-price", required_argument, NULL, OPT_PUB_PRICE},
	    {"sub-price", required_argument, NULL, OPT_SUB_PRICE},
	    {"period", required_argument, NULL, OPT_PERIOD},
	    {"countries", required_argument, NULL, OPT_COUNTRIES},
	    {"eu", no_argument, NULL, OPT_EU},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char fee_dec[CTL_U256_DEC_SIZE], owner[ETH_ADDRESS_HEX_SIZE];
	struct topic_settings s;
	struct ctl_receipt rc;
	struct ctl_topic t;
	struct ctl_chain c;
	const char *name, *who = NULL;
	uint8_t fee[32];
	int status = CTL_EXIT_FAIL;
	struct abi_enc e;

	memset(&s, 0, sizeof(s));
	ctl_chain_init(&c);
	if (!topic_parse(argc, argv, opts, &c, &s, &who, &name, true, &status))
		return status;
	status = CTL_EXIT_FAIL;
	if (ctl_chain_signer(&c) != CTL_OK ||
	    ctl_read_topic(&c, name, &t) != CTL_OK ||
	    ctl_read_fee(&c, fee) != CTL_OK)
		goto done;
	if (t.exists) {
		eth_address_hex(t.owner, owner);
		ctl_error("topic '%s' exists already (owner %s)", name, owner);
		goto done;
	}
	ctl_enc_begin(
	    &e, "addTopic(string,bool,uint128,uint128,uint64,bytes2[])");
	abi_enc_string(&e, name, strlen(name));
	abi_enc_bool(&e, s.sensitive);
	abi_enc_uint_n(&e, 128, s.pub_price);
	abi_enc_uint_n(&e, 128, s.sub_price);
	abi_enc_uint(&e, s.period);
	abi_enc_bytes2_array(&e, s.countries, s.ncountries);
	if (ctl_send_call(&c, &e, fee, &rc) != CTL_OK)
		goto done;
	if (c.json) {
		json_t *o = ctl_receipt_json(&rc);

		json_object_set_new(
		    o, "topic", ctl_json_text(name, strlen(name)));
		json_object_set_new(o, "fee", ctl_json_u256(fee));
		ctl_json_print(o);
	} else {
		printf("created topic '%s' (fee paid: %s wei)\n", name,
		    ctl_u256_dec(fee, fee_dec));
		ctl_receipt_print(&rc);
	}
	status = CTL_EXIT_OK;
done:
	ctl_chain_done(&c);
	return status;
}

/* ---- show ---------------------------------------------------------------- */

static void
topic_print_price(const char *label, const uint8_t price[32])
{
	char dec[CTL_U256_DEC_SIZE];

	printf("%-13s %s wei%s\n", label, ctl_u256_dec(price, dec),
	    ctl_u256_is_zero(price) ? " (free)" : "");
}

static void
topic_print_right(const char *label, uint64_t expiry, uint64_t now)
{
	char text[CTL_EXPIRY_TEXT_SIZE];

	ctl_expiry_text(expiry, text);
	printf("%-13s %s%s\n", label, text,
	    expiry != 0 && expiry != CTL_FOREVER && expiry <= now ? ", expired"
								  : "");
}

static json_t *
topic_json(const char *name, const struct ctl_topic *t)
{
	char owner[ETH_ADDRESS_HEX_SIZE];
	json_t *o, *countries;
	size_t i;

	eth_address_hex(t->owner, owner);
	countries = json_array();
	for (i = 0; i < t->ncountries; i++)
		json_array_append_new(countries,
		    json_stringn((const char *)t->countries + 2 * i, 2));
	o = json_pack("{s:o, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:I}", "name",
	    ctl_json_text(name, strlen(name)), "owner", owner, "sensitive",
	    t->sensitive, "self_service", t->self_service, "pub_price",
	    ctl_json_u256(t->pub_price), "sub_price",
	    ctl_json_u256(t->sub_price), "period", ctl_json_u64(t->period),
	    "countries", countries, "block", (json_int_t)t->block);
	return o;
}

static int
topic_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"who", required_argument, NULL, OPT_WHO},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char owner[ETH_ADDRESS_HEX_SIZE], who_hex[ETH_ADDRESS_HEX_SIZE];
	char countries[3 * CTL_MAX_COUNTRIES + 1];
	const char *name, *who_text = NULL;
	uint8_t who[ETH_ADDRESS_LEN];
	uint64_t block, now = 0;
	struct topic_settings s;
	struct ctl_access a;
	struct ctl_topic t;
	struct ctl_chain c;
	int status;

	memset(&s, 0, sizeof(s));
	ctl_chain_init(&c);
	if (!topic_parse(
		argc, argv, opts, &c, &s, &who_text, &name, true, &status))
		return status;
	if (who_text != NULL &&
	    ctl_address_arg("--who", who_text, who) != CTL_OK)
		return CTL_EXIT_USAGE;
	if (ctl_need_topic(&c, name, &t) != CTL_OK)
		return CTL_EXIT_FAIL;
	if (who_text != NULL &&
	    (ctl_read_access(&c, name, who, &a) != CTL_OK ||
		ctl_latest_block(&c, &block, &now) != CTL_OK))
		return CTL_EXIT_FAIL;
	if (c.json) {
		json_t *o = topic_json(name, &t);

		if (who_text != NULL) {
			eth_address_hex(who, who_hex);
			json_object_set_new(o, "who", json_string(who_hex));
			json_object_set_new(
			    o, "pub_expiry", ctl_json_u64(a.pub_expiry));
			json_object_set_new(
			    o, "sub_expiry", ctl_json_u64(a.sub_expiry));
			json_object_set_new(
			    o, "pub_active", json_boolean(a.pub_expiry > now));
			json_object_set_new(
			    o, "sub_active", json_boolean(a.sub_expiry > now));
		}
		ctl_json_print(o);
		return CTL_EXIT_OK;
	}
	eth_address_hex(t.owner, owner);
	printf("%-13s %s\n", "topic", name);
	printf("%-13s %s\n", "owner", owner);
	printf("%-13s %s\n", "sensitive", t.sensitive ? "yes" : "no");
	printf(
	    "%-13s %s\n", "self-service", t.self_service ? "open" : "closed");
	topic_print_price("pub price", t.pub_price);
	topic_print_price("sub price", t.sub_price);
	if (t.period == 0)
		printf("%-13s forever (one purchase never ends)\n", "period");
	else
		printf(
		    "%-13s %llu s\n", "period", (unsigned long long)t.period);
	ctl_countries_text(t.countries, t.ncountries, countries);
	if (t.ncountries == 0)
		printf("%-13s anywhere\n", "countries");
	else if (ctl_countries_are_eu(t.countries, t.ncountries))
		printf("%-13s EU (%s)\n", "countries", countries);
	else
		printf("%-13s %s\n", "countries", countries);
	printf("%-13s %llu\n", "as of block", (unsigned long long)t.block);
	if (who_text != NULL) {
		eth_address_hex(who, who_hex);
		printf("%-13s %s\n", "address", who_hex);
		topic_print_right("publish", a.pub_expiry, now);
		topic_print_right("subscribe", a.sub_expiry, now);
	}
	return CTL_EXIT_OK;
}

/* ---- list ---------------------------------------------------------------- */

static int
topic_list(int argc, char **argv)
{
	static const struct option opts[] = {
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *name, *who = NULL;
	struct topic_settings s;
	struct ctl_chain c;
	uint64_t count, i;
	json_t *names;
	size_t len, j;
	char *n;
	int status;

	memset(&s, 0, sizeof(s));
	ctl_chain_init(&c);
	if (!topic_parse(argc, argv, opts, &c, &s, &who, &name, false, &status))
		return status;
	if (ctl_read_topic_count(&c, &count) != CTL_OK)
		return CTL_EXIT_FAIL;
	if ((names = json_array()) == NULL) {
		ctl_error("out of memory");
		return CTL_EXIT_FAIL;
	}
	for (i = 0; i < count; i++) {
		if (ctl_read_topic_name_at(&c, i, &n, &len) != CTL_OK) {
			json_decref(names);
			return CTL_EXIT_FAIL;
		}
		if (c.json)
			json_array_append_new(names, ctl_json_text(n, len));
		else {
			/* Names are anyone's bytes: no control characters. */
			for (j = 0; j < len; j++)
				putchar(
				    (unsigned char)n[j] < 0x20 || n[j] == 0x7f
					? '?'
					: n[j]);
			putchar('\n');
		}
		free(n);
	}
	if (c.json)
		ctl_json_print(json_pack(
		    "{s:I, s:o}", "count", (json_int_t)count, "topics", names));
	else
		json_decref(names);
	return CTL_EXIT_OK;
}

/* ---- set ----------------------------------------------------------------- */

/* Records one sent change in the output. */
static void
topic_done(const struct ctl_chain *c, json_t *changed, const char *setting,
    const char *text, const struct ctl_receipt *rc)
{
	json_t *o;

	if (c->json) {
		o = ctl_receipt_json(rc);
		json_object_set_new(o, "setting", json_string(setting));
		json_array_append_new(changed, o);
	} else {
		printf("%s: %s\n  ", setting, text);
		ctl_receipt_print(rc);
	}
}

static void
topic_unchanged(
    const struct ctl_chain *c, json_t *unchanged, const char *setting)
{
	if (c->json)
		json_array_append_new(unchanged, json_string(setting));
	else
		printf("%s: unchanged\n", setting);
}

/* The changes, in order; the owner goes last (then we may set no more). */
static enum ctl_status
topic_apply(struct ctl_chain *c, const char *name, const struct ctl_topic *t,
    const struct topic_settings *s, json_t *changed, json_t *unchanged)
{
	char text[3 * CTL_MAX_COUNTRIES + 64], a[CTL_U256_DEC_SIZE];
	char b[CTL_U256_DEC_SIZE];
	struct ctl_receipt rc;
	struct abi_enc e;

	if (s->has_pub_price || s->has_sub_price) {
		const uint8_t *pub =
		    s->has_pub_price ? s->pub_price : t->pub_price;
		const uint8_t *sub =
		    s->has_sub_price ? s->sub_price : t->sub_price;

		if (ctl_u256_cmp(pub, t->pub_price) == 0 &&
		    ctl_u256_cmp(sub, t->sub_price) == 0)
			topic_unchanged(c, unchanged, "prices");
		else {
			ctl_enc_begin(&e, "setPrices(string,uint128,uint128)");
			abi_enc_string(&e, name, strlen(name));
			abi_enc_uint_n(&e, 128, pub);
			abi_enc_uint_n(&e, 128, sub);
			if (ctl_send_call(c, &e, NULL, &rc) != CTL_OK)
				return CTL_FAILED;
			snprintf(text, sizeof(text), "pub %s wei, sub %s wei",
			    ctl_u256_dec(pub, a), ctl_u256_dec(sub, b));
			topic_done(c, changed, "prices", text, &rc);
		}
	}
	if (s->has_period) {
		if (s->period == t->period)
			topic_unchanged(c, unchanged, "period");
		else {
			ctl_enc_begin(&e, "setPeriod(string,uint64)");
			abi_enc_string(&e, name, strlen(name));
			abi_enc_uint(&e, s->period);
			if (ctl_send_call(c, &e, NULL, &rc) != CTL_OK)
				return CTL_FAILED;
			snprintf(text, sizeof(text), "%llu s%s",
			    (unsigned long long)s->period,
			    s->period == 0 ? " (forever)" : "");
			topic_done(c, changed, "period", text, &rc);
		}
	}
	if (s->has_countries) {
		if (s->ncountries == t->ncountries &&
		    memcmp(s->countries, t->countries, 2 * s->ncountries) == 0)
			topic_unchanged(c, unchanged, "countries");
		else {
			ctl_enc_begin(&e, "setCountries(string,bytes2[])");
			abi_enc_string(&e, name, strlen(name));
			abi_enc_bytes2_array(&e, s->countries, s->ncountries);
			if (ctl_send_call(c, &e, NULL, &rc) != CTL_OK)
				return CTL_FAILED;
			if (s->ncountries == 0)
				snprintf(text, sizeof(text), "anywhere");
			else
				ctl_countries_text(
				    s->countries, s->ncountries, text);
			topic_done(c, changed, "countries", text, &rc);
		}
	}
	if (s->has_sensitive) {
		if (s->sensitive == t->sensitive)
			topic_unchanged(c, unchanged, "sensitive");
		else {
			ctl_enc_begin(&e, "setSensitive(string,bool)");
			abi_enc_string(&e, name, strlen(name));
			abi_enc_bool(&e, s->sensitive);
			if (ctl_send_call(c, &e, NULL, &rc) != CTL_OK)
				return CTL_FAILED;
			topic_done(c, changed, "sensitive",
			    s->sensitive ? "yes" : "no", &rc);
		}
	}
	if (s->has_self_service) {
		if (s->self_service == t->self_service)
			topic_unchanged(c, unchanged, "self_service");
		else {
			ctl_enc_begin(&e, "setSelfService(string,bool)");
			abi_enc_string(&e, name, strlen(name));
			abi_enc_bool(&e, s->self_service);
			if (ctl_send_call(c, &e, NULL, &rc) != CTL_OK)
				return CTL_FAILED;
			topic_done(c, changed, "self_service",
			    s->self_service ? "open" : "closed", &rc);
		}
	}
	if (s->has_owner) {
		if (memcmp(s->owner, t->owner, ETH_ADDRESS_LEN) == 0)
			topic_unchanged(c, unchanged, "owner");
		else {
			ctl_enc_begin(&e, "transferTopic(string,address)");
			abi_enc_string(&e, name, strlen(name));
			abi_enc_address(&e, s->owner);
			if (ctl_send_call(c, &e, NULL, &rc) != CTL_OK)
				return CTL_FAILED;
			eth_address_hex(s->owner, text);
			topic_done(c, changed, "owner", text, &rc);
		}
	}
	return CTL_OK;
}

static int
topic_set(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sensitive", required_argument, NULL, OPT_SENSITIVE},
	    {"pub-price", required_argument, NULL, OPT_PUB_PRICE},
	    {"sub-price", required_argument, NULL, OPT_SUB_PRICE},
	    {"period", required_argument, NULL, OPT_PERIOD},
	    {"countries", required_argument, NULL, OPT_COUNTRIES},
	    {"eu", no_argument, NULL, OPT_EU},
	    {"self-service", required_argument, NULL, OPT_SELF_SERVICE},
	    {"owner", required_argument, NULL, OPT_OWNER},
	    CTL_CHAIN_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *name, *who = NULL;
	struct topic_settings s;
	json_t *changed, *unchanged;
	enum ctl_status st;
	struct ctl_topic t;
	struct ctl_chain c;
	int status;

	memset(&s, 0, sizeof(s));
	ctl_chain_init(&c);
	if (!topic_parse(argc, argv, opts, &c, &s, &who, &name, true, &status))
		return status;
	if (!s.has_sensitive && !s.has_pub_price && !s.has_sub_price &&
	    !s.has_period && !s.has_countries && !s.has_self_service &&
	    !s.has_owner) {
		ctl_error("topic set: nothing to set");
		return topic_usage(CTL_EXIT_USAGE);
	}
	if (ctl_chain_signer(&c) != CTL_OK ||
	    ctl_need_topic(&c, name, &t) != CTL_OK) {
		ctl_chain_done(&c);
		return CTL_EXIT_FAIL;
	}
	changed = json_array();
	unchanged = json_array();
	st = topic_apply(&c, name, &t, &s, changed, unchanged);
	if (c.json) {
		/* Also after a failure: what was done stays done. */
		json_t *o = json_pack("{s:o, s:o, s:o, s:b}", "topic",
		    ctl_json_text(name, strlen(name)), "changed", changed,
		    "unchanged", unchanged, "ok", st == CTL_OK);

		ctl_json_print(o);
	} else {
		json_decref(changed);
		json_decref(unchanged);
	}
	ctl_chain_done(&c);
	return st == CTL_OK ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

/* ---- Dispatch ------------------------------------------------------------ */

int
ctl_topic(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} subs[] = {
	    {"add", topic_add},
	    {"show", topic_show},
	    {"list", topic_list},
	    {"set", topic_set},
	};
	size_t i;

	if (argc < 2)
		return topic_usage(CTL_EXIT_USAGE);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return topic_usage(CTL_EXIT_OK);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(argc - 1, argv + 1);
	ctl_error("topic: unknown subcommand '%s'", argv[1]);
	return topic_usage(CTL_EXIT_USAGE);
}
