/*
 * flytrapctl's link to the chain: shared options, the signing key, JSON-RPC
 * calls, transactions from estimate to receipt, and failures explained
 * (the contract's custom errors by name, unreachable node, no funds).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "abi.h"
#include "chain.h"
#include "flytrapctl.h"
#include "hex.h"
#include "keystore.h"
#include "rpc.h"
#include "tx.h"

/* Largest return data or revert data accepted from the node. */
#define CTL_MAX_RETURN (1024 * 1024)
/* The priority fee when the node does not suggest one: 1 gwei. */
#define CTL_DEFAULT_PRIORITY_FEE 1000000000ULL

const char ctl_chain_help[] =
    "Chain options (each defaults from the environment):\n"
    "  --rpc URL             Ethereum node ($FLYTRAP_RPC, "
    "default " CTL_DEFAULT_RPC ")\n"
    "  --contract ADDRESS    the FlyTrap contract ($FLYTRAP_CONTRACT)\n"
    "  --key FILE            signing key, raw hex as keygen writes it "
    "($FLYTRAP_KEY)\n"
    "  --keystore FILE       signing key in a v3 keystore "
    "($FLYTRAP_KEYSTORE)\n"
    "  --password-file FILE  the keystore's password (first line), else\n"
    "                        $FLYTRAP_KEYSTORE_PASSWORD\n"
    "  --timeout SECONDS     wait at most this long for a transaction to be\n"
    "                        mined (default 120)\n"
    "  --json                machine-readable output (one JSON object)\n";

/* ---- Options ------------------------------------------------------------- */

/* An environment variable, or NULL when unset or empty. */
static const char *
ctl_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

void
ctl_chain_init(struct ctl_chain *c)
{
	memset(c, 0, sizeof(*c));
	c->rpc_url = ctl_env("FLYTRAP_RPC");
	if (c->rpc_url == NULL)
		c->rpc_url = CTL_DEFAULT_RPC;
	c->contract_text = ctl_env("FLYTRAP_CONTRACT");
	c->key_path = ctl_env("FLYTRAP_KEY");
	c->keystore_path = ctl_env("FLYTRAP_KEYSTORE");
	c->status_socket = ctl_env("FLYTRAP_STATUS_SOCKET");
	if (c->status_socket == NULL)
		c->status_socket = CTL_DEFAULT_STATUS_SOCKET;
	c->timeout_s = CTL_DEFAULT_TIMEOUT;
}

void
ctl_chain_done(struct ctl_chain *c)
{
	explicit_bzero(c->key, sizeof(c->key));
	c->has_key = false;
}

enum ctl_opt_result
ctl_chain_option(struct ctl_chain *c, int ch, const char *arg)
{
	uint64_t seconds;

	switch (ch) {
	case CTL_OPT_RPC:
		c->rpc_url = arg;
		return CTL_OPT_TAKEN;
	case CTL_OPT_CONTRACT:
		c->contract_text = arg;
		return CTL_OPT_TAKEN;
	case CTL_OPT_KEY:
		c->key_path = arg;
		c->key_from_cli = true;
		return CTL_OPT_TAKEN;
	case CTL_OPT_KEYSTORE:
		c->keystore_path = arg;
		c->keystore_from_cli = true;
		return CTL_OPT_TAKEN;
	case CTL_OPT_PASSWORD_FILE:
		c->password_file = arg;
		return CTL_OPT_TAKEN;
	case CTL_OPT_STATUS_SOCKET:
		c->status_socket = arg;
		return CTL_OPT_TAKEN;
	case CTL_OPT_TIMEOUT:
		if (!ctl_duration_parse(arg, &seconds) || seconds == 0 ||
		    seconds > 86400) {
			ctl_error("--timeout: '%s' is not a number of seconds "
				  "(1 to 86400)",
			    arg);
			return CTL_OPT_BAD;
		}
		c->timeout_s = (double)seconds;
		return CTL_OPT_TAKEN;
	case CTL_OPT_JSON:
		c->json = true;
		return CTL_OPT_TAKEN;
	default:
		return CTL_OPT_OTHER;
	}
}

enum ctl_status
ctl_chain_need_contract(struct ctl_chain *c)
{
	if (c->contract_text == NULL) {
		ctl_error("no contract: give --contract ADDRESS or set "
			  "FLYTRAP_CONTRACT");
		return CTL_FAILED;
	}
	return ctl_address_arg("--contract", c->contract_text, c->contract);
}

/* ---- The signer ---------------------------------------------------------- */

static enum ctl_status
ctl_load_keystore(struct ctl_chain *c, const char *path)
{
	char password[KEYSTORE_PASSWORD_MAX];
	enum keystore_status st;
	size_t len;

	st = keystore_read_password(c->password_file,
	    "FLYTRAP_KEYSTORE_PASSWORD", password, sizeof(password), &len);
	if (st == KEYSTORE_ERR_NO_PASSWORD) {
		ctl_error("keystore %s needs a password: give --password-file "
			  "FILE or set FLYTRAP_KEYSTORE_PASSWORD",
		    path);
		return CTL_FAILED;
	}
	if (st != KEYSTORE_OK) {
		ctl_error("%s: %s",
		    c->password_file != NULL ? c->password_file
					     : "$FLYTRAP_KEYSTORE_PASSWORD",
		    keystore_status_str(st));
		return CTL_FAILED;
	}
	st = keystore_decrypt_file(path, password, len, c->key);
	explicit_bzero(password, sizeof(password));
	if (st == KEYSTORE_ERR_WRONG_PASSWORD) {
		ctl_error("keystore %s: wrong password", path);
		return CTL_FAILED;
	}
	if (st != KEYSTORE_OK) {
		ctl_error("keystore %s: %s", path, keystore_status_str(st));
		return CTL_FAILED;
	}
	return CTL_OK;
}

enum ctl_status
ctl_chain_signer(struct ctl_chain *c)
{
	const char *key = c->key_path, *keystore = c->keystore_path;
	enum eth_status st;

	if (c->has_key)
		return CTL_OK;
	if (c->key_from_cli && c->keystore_from_cli) {
		ctl_error("give --key or --keystore, not both");
		return CTL_FAILED;
	}
	if (c->key_from_cli)
		keystore = NULL;
	else if (c->keystore_from_cli)
		key = NULL;
	else if (key != NULL && keystore != NULL) {
		ctl_error("both FLYTRAP_KEY and FLYTRAP_KEYSTORE are set: give "
			  "--key or --keystore");
		return CTL_FAILED;
	}
	if (key == NULL && keystore == NULL) {
		ctl_error("no key: give --key FILE or --keystore FILE (or set "
			  "FLYTRAP_KEY or FLYTRAP_KEYSTORE)");
		return CTL_FAILED;
	}
	if (key != NULL) {
		if ((st = eth_key_read_file(key, c->key)) != ETH_OK) {
			ctl_error("key file %s: %s", key, eth_status_str(st));
			return CTL_FAILED;
		}
	} else if (ctl_load_keystore(c, keystore) != CTL_OK)
		return CTL_FAILED;
	if ((st = eth_key_address(c->key, c->address)) != ETH_OK) {
		explicit_bzero(c->key, sizeof(c->key));
		ctl_error(
		    "%s: %s", key != NULL ? key : keystore, eth_status_str(st));
		return CTL_FAILED;
	}
	c->has_key = true;
	return CTL_OK;
}

/* ---- Output -------------------------------------------------------------- */

/* "0x" + hex of data, malloc'd (NULL: out of memory, reported). */
static char *
ctl_hex_data(const uint8_t *data, size_t len)
{
	char *s = malloc(2 * len + 3);

	if (s == NULL) {
		ctl_error("out of memory");
		return NULL;
	}
	s[0] = '0';
	s[1] = 'x';
	hex_encode(data, len, s + 2);
	return s;
}

void
ctl_json_print(json_t *v)
{
	if (v == NULL) {
		ctl_error("out of memory");
		return;
	}
	json_dumpf(v, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(v);
}

json_t *
ctl_json_u256(const uint8_t v[32])
{
	char dec[CTL_U256_DEC_SIZE];

	return json_string(ctl_u256_dec(v, dec));
}

json_t *
ctl_json_u64(uint64_t v)
{
	char dec[24];

	snprintf(dec, sizeof(dec), "%llu", (unsigned long long)v);
	return json_string(dec);
}

json_t *
ctl_json_text(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	char *hex;

	if (v != NULL || (hex = ctl_hex_data((const uint8_t *)s, len)) == NULL)
		return v;
	v = json_string(hex);
	free(hex);
	return v;
}

char *
ctl_expiry_text(uint64_t expiry, char out[CTL_EXPIRY_TEXT_SIZE])
{
	char date[32];
	struct tm tm;
	time_t t;

	if (expiry == CTL_FOREVER)
		snprintf(out, CTL_EXPIRY_TEXT_SIZE, "forever");
	else if (expiry == 0)
		snprintf(out, CTL_EXPIRY_TEXT_SIZE, "none");
	else {
		t = (time_t)expiry;
		if (expiry > (uint64_t)INT32_MAX * 1000 ||
		    gmtime_r(&t, &tm) == NULL ||
		    strftime(
			date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
			snprintf(out, CTL_EXPIRY_TEXT_SIZE, "until %llu",
			    (unsigned long long)expiry);
		else
			snprintf(out, CTL_EXPIRY_TEXT_SIZE, "until %s (%llu)",
			    date, (unsigned long long)expiry);
	}
	return out;
}

int
ctl_chain_usage(int status, const char *synopsis, const char *what)
{
	FILE *f = status == CTL_EXIT_OK ? stdout : stderr;

	fprintf(f, "usage: flytrapctl %s\n%s\n\n%s", synopsis, what,
	    ctl_chain_help);
	return status;
}

json_t *
ctl_receipt_json(const struct ctl_receipt *r)
{
	return json_pack("{s:s, s:I, s:I}", "tx", r->hash, "block",
	    (json_int_t)r->block, "gas_used", (json_int_t)r->gas_used);
}

void
ctl_receipt_print(const struct ctl_receipt *r)
{
	printf("tx %s (block %llu, gas %llu)\n", r->hash,
	    (unsigned long long)r->block, (unsigned long long)r->gas_used);
}

/* ---- Revert data --------------------------------------------------------- */

/* The contract's custom errors (docs/CONTRACT.md, "Errors"). */
struct ctl_contract_error {
	const char *signature;
	const char *meaning;
};

static const struct ctl_contract_error ctl_contract_errors[] = {
    {"NotOwner()", "you are not the contract owner"},
    {"NotReporter()", "you are not a reporter"},
    {"NotTopicOwner()", "you are not this topic's owner"},
    {"UnknownTopic()", "no such topic"},
    {"TopicExists()", "a topic of that name exists already"},
    {"BadName()", "bad topic name (empty or over 65535 bytes)"},
    {"BadCountry()",
	"bad country code (two capital letters each, at most 255)"},
    {"BadExpiry()", "the expiry is not in the future"},
    {"BadAddress()", "the zero address is not allowed here"},
    {"BadAction()", "not an alert action"},
    {"WrongFee()", "the value sent is not the topic-creation fee"},
    {"WrongPrice()", "the value sent is not the price"},
    {"SelfServiceClosed()",
	"the topic's owner has closed self-service purchase"},
    {"AlreadyGranted()", "the right is already held forever"},
    {"NoCredit()", "nothing to withdraw"},
    {"TransferFailed()", "the recipient refused the ether"},
};

/* Which of the contract's errors r is, or NULL. */
static const struct ctl_contract_error *
ctl_contract_error_of(const struct abi_revert *r)
{
	size_t i;

	for (i = 0;
	     i < sizeof(ctl_contract_errors) / sizeof(ctl_contract_errors[0]);
	     i++)
		if (abi_revert_is(r, ctl_contract_errors[i].signature))
			return &ctl_contract_errors[i];
	return NULL;
}

static const char *
ctl_panic_meaning(uint64_t code)
{
	switch (code) {
	case 0x01:
		return "assertion failed";
	case 0x11:
		return "arithmetic overflow";
	case 0x12:
		return "division by zero";
	case 0x21:
		return "bad enum value";
	case 0x32:
		return "array index out of bounds";
	case 0x41:
		return "out of memory";
	default:
		return "internal error";
	}
}

/* Prints len bytes of untrusted text with anything unprintable as '?'. */
static void
ctl_fputs_safe(const char *s, size_t len, FILE *f)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		fputc(ch >= 0x20 && ch != 0x7f ? ch : '?', f);
	}
}

/* The revert data in a JSON-RPC error's data: "0x..." or {"data": "0x..."}. */
static const char *
ctl_revert_hex(const json_t *data)
{
	const json_t *inner;

	if (json_is_string(data))
		return json_string_value(data);
	if (json_is_object(data) &&
	    json_is_string(inner = json_object_get(data, "data")))
		return json_string_value(inner);
	return NULL;
}

void
ctl_report_revert(const json_t *data, const char *msg)
{
	const char *text = ctl_revert_hex(data), *hex;
	const struct ctl_contract_error *known;
	uint8_t *bytes = NULL;
	struct abi_revert r;
	size_t len = 0;

	fputs("flytrapctl: ", stderr);
	if (text == NULL) {
		fprintf(stderr, "transaction would revert: %s\n",
		    msg != NULL ? msg : "no reason given");
		return;
	}
	hex = strncmp(text, "0x", 2) == 0 ? text + 2 : text;
	len = strlen(hex) / 2;
	if (strlen(hex) % 2 != 0 || len > CTL_MAX_RETURN ||
	    (bytes = malloc(len + 1)) == NULL ||
	    !hex_decode_exact(hex, 2 * len, bytes, len) ||
	    abi_decode_revert(bytes, len, &r) != ABI_OK) {
		fputs("revert with undecodable data: ", stderr);
		ctl_fputs_safe(
		    text, strlen(text) > 200 ? 200 : strlen(text), stderr);
		fputc('\n', stderr);
	} else if (r.kind == ABI_REVERT_EMPTY) {
		fputs("transaction reverted without a reason (call data "
		      "refused, or out of gas)\n",
		    stderr);
	} else if (r.kind == ABI_REVERT_ERROR) {
		fputs("revert: ", stderr);
		ctl_fputs_safe(r.message, r.message_len, stderr);
		fputc('\n', stderr);
	} else if (r.kind == ABI_REVERT_PANIC) {
		fprintf(stderr, "revert: panic 0x%02llx (%s)\n",
		    (unsigned long long)r.panic_code,
		    ctl_panic_meaning(r.panic_code));
	} else if ((known = ctl_contract_error_of(&r)) != NULL) {
		fprintf(stderr, "revert: %s — %s\n", known->signature,
		    known->meaning);
	} else {
		fprintf(stderr, "revert: unknown error 0x%02x%02x%02x%02x\n",
		    r.selector[0], r.selector[1], r.selector[2], r.selector[3]);
	}
	free(bytes);
}

/* ---- JSON-RPC ------------------------------------------------------------ */

/* Prints why a call failed, from what rpc_call_sync put in err. */
static void
ctl_report_rpc(const struct ctl_chain *c, const char *method,
    enum rpc_status st, const struct rpc_error *err)
{
	const char *msg = err->message;

	switch (st) {
	case RPC_ERR_TRANSPORT:
		ctl_error("cannot reach the Ethereum node at %s: %s (set --rpc "
			  "or FLYTRAP_RPC)",
		    c->rpc_url, msg);
		break;
	case RPC_ERR_TIMEOUT:
		ctl_error("the Ethereum node at %s did not answer %s in time",
		    c->rpc_url, method);
		break;
	case RPC_ERR_INVALID:
		ctl_error(
		    "bad node URL '%s' (http:// or https:// only)", c->rpc_url);
		break;
	case RPC_ERR_JSONRPC:
		ctl_error("%s: the node answered error %lld: %s", method,
		    (long long)err->code, msg);
		break;
	default:
		ctl_error("%s at %s: %s%s%s", method, c->rpc_url,
		    rpc_status_str(st), *msg != '\0' ? ": " : "", msg);
		break;
	}
}

/* What rpc_call_sync accepts, checked first so that we explain it. */
static bool
ctl_url_ok(const char *url)
{
	const char *p;

	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		return false;
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* rpc_call_sync; the caller reports failures and clears err. */
static enum rpc_status
ctl_rpc_raw(struct ctl_chain *c, const char *method, json_t *params,
    json_t **result, struct rpc_error *err)
{
	if (!ctl_url_ok(c->rpc_url)) {
		json_decref(params);
		memset(err, 0, sizeof(*err));
		*result = NULL;
		return RPC_ERR_INVALID;
	}
	if (params == NULL) {
		/* json_pack failed: reported like rpc_call_sync's own. */
		memset(err, 0, sizeof(*err));
		snprintf(err->message, sizeof(err->message), "out of memory");
		*result = NULL;
		return RPC_ERR_NOMEM;
	}
	return rpc_call_sync(c->rpc_url, NULL, method, params, result, err);
}

enum ctl_status
ctl_rpc(
    struct ctl_chain *c, const char *method, json_t *params, json_t **result)
{
	struct rpc_error err;
	enum rpc_status st;

	st = ctl_rpc_raw(c, method, params, result, &err);
	if (st != RPC_OK) {
		ctl_report_rpc(c, method, st, &err);
		rpc_error_clear(&err);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* A quantity result of at most 64 bits. */
static enum ctl_status
ctl_rpc_u64(
    struct ctl_chain *c, const char *method, json_t *params, uint64_t *out)
{
	json_t *r;
	bool ok;

	if (ctl_rpc(c, method, params, &r) != CTL_OK)
		return CTL_FAILED;
	ok = rpc_result_u64(r, out);
	json_decref(r);
	if (!ok) {
		ctl_error("%s: the node's answer is not a quantity", method);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* A quantity result of up to 256 bits. */
static enum ctl_status
ctl_rpc_u256(
    struct ctl_chain *c, const char *method, json_t *params, uint8_t out[32])
{
	json_t *r;
	bool ok;

	if (ctl_rpc(c, method, params, &r) != CTL_OK)
		return CTL_FAILED;
	ok = rpc_result_u256(r, out);
	json_decref(r);
	if (!ok) {
		ctl_error("%s: the node's answer is not a quantity", method);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* Whether a node's error message is about a lack of funds. */
static bool
ctl_is_funds_error(const struct rpc_error *err)
{
	return strstr(err->message, "insufficient funds") != NULL ||
	    strstr(err->message, "Insufficient funds") != NULL;
}

/*
 * The node says the sender cannot pay: say who, what it has and what the
 * transaction sends (value; the gas comes on top).
 */
static void
ctl_report_no_funds(
    struct ctl_chain *c, const uint8_t value[32], const char *node_says)
{
	char from[ETH_ADDRESS_HEX_SIZE], b[CTL_U256_DEC_SIZE];
	char v[CTL_U256_DEC_SIZE];
	uint8_t balance[32];
	struct rpc_error err;
	json_t *r;

	eth_address_hex(c->address, from);
	if (ctl_rpc_raw(c, "eth_getBalance", json_pack("[ss]", from, "latest"),
		&r, &err) == RPC_OK &&
	    rpc_result_u256(r, balance))
		ctl_error("insufficient funds: %s has %s wei, and this "
			  "transaction sends %s wei plus gas (the node says: "
			  "%s)",
		    from, ctl_u256_dec(balance, b), ctl_u256_dec(value, v),
		    node_says);
	else
		ctl_error("insufficient funds: %s cannot pay for this "
			  "transaction (the node says: %s)",
		    from, node_says);
	json_decref(r);
	rpc_error_clear(&err);
}

/* An eth_call / eth_estimateGas failure: a revert, or something else. */
static void
ctl_report_exec_failure(struct ctl_chain *c, const char *method,
    enum rpc_status st, const struct rpc_error *err, const uint8_t *value)
{
	static const uint8_t zero[32];

	if (st == RPC_ERR_JSONRPC &&
	    (ctl_revert_hex(err->data) != NULL ||
		strstr(err->message, "revert") != NULL))
		ctl_report_revert(err->data, err->message);
	else if (st == RPC_ERR_JSONRPC && ctl_is_funds_error(err))
		ctl_report_no_funds(
		    c, value != NULL ? value : zero, err->message);
	else
		ctl_report_rpc(c, method, st, err);
}

enum ctl_status
ctl_call(struct ctl_chain *c, const char *what, const uint8_t *data, size_t len,
    uint8_t **ret, size_t *ret_len)
{
	char to[ETH_ADDRESS_HEX_SIZE], *hex;
	struct rpc_error err;
	enum rpc_status st;
	json_t *r;
	bool ok;

	*ret = NULL;
	*ret_len = 0;
	if ((hex = ctl_hex_data(data, len)) == NULL)
		return CTL_FAILED;
	eth_address_hex(c->contract, to);
	st = ctl_rpc_raw(c, "eth_call",
	    json_pack("[{s:s, s:s}, s]", "to", to, "data", hex, "latest"), &r,
	    &err);
	free(hex);
	if (st != RPC_OK) {
		ctl_report_exec_failure(c, "eth_call", st, &err, NULL);
		rpc_error_clear(&err);
		return CTL_FAILED;
	}
	ok = rpc_result_bytes(r, CTL_MAX_RETURN, ret, ret_len);
	json_decref(r);
	if (!ok) {
		ctl_error("%s: the node's answer is not data", what);
		return CTL_FAILED;
	}
	if (*ret_len == 0) {
		/* A call to an address without code answers "0x". */
		free(*ret);
		*ret = NULL;
		ctl_error("%s: no FlyTrap contract at %s (check --contract "
			  "and --rpc)",
		    what, to);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* The latest block: number, timestamp, gas limit and base fee (if any). */
struct ctl_block {
	uint64_t number;
	uint64_t timestamp;
	uint64_t gas_limit;
	bool has_base_fee;
	uint8_t base_fee[32];
};

static enum ctl_status
ctl_read_latest(struct ctl_chain *c, struct ctl_block *b)
{
	json_t *r, *fee;
	bool ok;

	memset(b, 0, sizeof(*b));
	if (ctl_rpc(c, "eth_getBlockByNumber", json_pack("[sb]", "latest", 0),
		&r) != CTL_OK)
		return CTL_FAILED;
	ok = json_is_object(r) &&
	    rpc_result_u64(json_object_get(r, "number"), &b->number) &&
	    rpc_result_u64(json_object_get(r, "timestamp"), &b->timestamp) &&
	    rpc_result_u64(json_object_get(r, "gasLimit"), &b->gas_limit);
	if (ok && (fee = json_object_get(r, "baseFeePerGas")) != NULL &&
	    !json_is_null(fee)) {
		b->has_base_fee = true;
		ok = rpc_result_u256(fee, b->base_fee);
	}
	json_decref(r);
	if (!ok) {
		ctl_error("eth_getBlockByNumber: the node's answer is not a "
			  "block");
		return CTL_FAILED;
	}
	return CTL_OK;
}

enum ctl_status
ctl_latest_block(struct ctl_chain *c, uint64_t *number, uint64_t *timestamp)
{
	struct ctl_block b;

	if (ctl_read_latest(c, &b) != CTL_OK)
		return CTL_FAILED;
	*number = b.number;
	*timestamp = b.timestamp;
	return CTL_OK;
}

/* ---- Transactions -------------------------------------------------------- */

/* The call object of eth_estimateGas / eth_call for req. */
static json_t *
ctl_tx_call_object(const struct ctl_chain *c, const struct ctl_tx_request *req,
    const char *data)
{
	char from[ETH_ADDRESS_HEX_SIZE], to[ETH_ADDRESS_HEX_SIZE];
	char value[CTL_U256_HEX_SIZE];
	json_t *o;

	eth_address_hex(c->address, from);
	ctl_u256_hex(req->value, value);
	o = json_pack(
	    "{s:s, s:s, s:s}", "from", from, "value", value, "data", data);
	if (o != NULL && !req->create) {
		eth_address_hex(c->contract, to);
		json_object_set_new(o, "to", json_string(to));
	}
	return o;
}

static double
ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
ctl_sleep(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reports a lack of funds with the figures, when the balance is short. */
static enum ctl_status
ctl_check_funds(struct ctl_chain *c, const struct ctl_tx_request *req,
    uint64_t gas, const uint8_t fee_cap[32])
{
	char from[ETH_ADDRESS_HEX_SIZE], b[CTL_U256_DEC_SIZE];
	char n[CTL_U256_DEC_SIZE], v[CTL_U256_DEC_SIZE];
	uint8_t balance[32], need[32];

	eth_address_hex(c->address, from);
	if (ctl_rpc_u256(c, "eth_getBalance", json_pack("[ss]", from, "latest"),
		balance) != CTL_OK)
		return CTL_FAILED;
	memcpy(need, fee_cap, 32);
	if (!ctl_u256_mul_u64(need, gas) || !ctl_u256_add(need, req->value) ||
	    ctl_u256_cmp(balance, need) < 0) {
		ctl_error("insufficient funds: %s has %s wei; this "
			  "transaction may cost %s wei (value %s wei plus "
			  "up to %llu gas)",
		    from, ctl_u256_dec(balance, b), ctl_u256_dec(need, n),
		    ctl_u256_dec(req->value, v), (unsigned long long)gas);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* Explains a mined transaction with status 0 by replaying it. */
static void
ctl_report_reverted(struct ctl_chain *c, const struct ctl_tx_request *req,
    const char *data, const struct ctl_receipt *rc, uint64_t gas_limit)
{
	char block[RPC_HEX_U64_SIZE];
	struct rpc_error err;
	enum rpc_status st;
	json_t *r;

	ctl_error("transaction %s reverted in block %llu (gas used %llu of "
		  "%llu)",
	    rc->hash, (unsigned long long)rc->block,
	    (unsigned long long)rc->gas_used, (unsigned long long)gas_limit);
	rpc_hex_u64(rc->block, block);
	st = ctl_rpc_raw(c, "eth_call",
	    json_pack("[o, s]", ctl_tx_call_object(c, req, data), block), &r,
	    &err);
	if (st == RPC_OK)
		json_decref(r);
	else if (st == RPC_ERR_JSONRPC)
		ctl_report_exec_failure(c, "eth_call", st, &err, req->value);
	rpc_error_clear(&err);
}

/* Reads a receipt object into out; false if it is malformed. */
static bool
ctl_parse_receipt(json_t *r, struct ctl_receipt *out, uint64_t *status)
{
	json_t *addr;

	if (!json_is_object(r) ||
	    !rpc_result_u64(json_object_get(r, "status"), status) ||
	    !rpc_result_u64(json_object_get(r, "blockNumber"), &out->block) ||
	    !rpc_result_u64(json_object_get(r, "gasUsed"), &out->gas_used))
		return false;
	addr = json_object_get(r, "contractAddress");
	if (json_is_string(addr)) {
		const char *s = json_string_value(addr);

		out->has_contract =
		    eth_address_parse(s, strlen(s), out->contract);
	}
	return true;
}

/* Polls for the receipt of out->hash until c->timeout_s has passed. */
static enum ctl_status
ctl_wait_receipt(struct ctl_chain *c, struct ctl_receipt *out, uint64_t *status)
{
	double deadline = ctl_now() + c->timeout_s, pause = 0.05;
	json_t *r;
	bool ok;

	for (;;) {
		if (ctl_rpc(c, "eth_getTransactionReceipt",
			json_pack("[s]", out->hash), &r) != CTL_OK)
			return CTL_FAILED;
		if (!json_is_null(r)) {
			ok = ctl_parse_receipt(r, out, status);
			json_decref(r);
			if (!ok) {
				ctl_error("eth_getTransactionReceipt: the "
					  "node's answer is not a receipt");
				return CTL_FAILED;
			}
			return CTL_OK;
		}
		json_decref(r);
		if (ctl_now() + pause > deadline) {
			ctl_error("transaction %s was sent but not mined "
				  "within %.0f s; it may still be (raise "
				  "--timeout, or look it up later)",
			    out->hash, c->timeout_s);
			return CTL_FAILED;
		}
		ctl_sleep(pause);
		if (pause < 1.0)
			pause *= 1.5;
	}
}

/* Fills the fee fields of tx; *fee_cap gets the most one gas may cost. */
static enum ctl_status
ctl_fees(struct ctl_chain *c, const struct ctl_block *b, struct tx *tx,
    uint8_t fee_cap[32])
{
	struct rpc_error err;
	enum rpc_status st;
	json_t *r;

	if (!b->has_base_fee) {
		tx->type = TX_TYPE_LEGACY;
		if (ctl_rpc_u256(c, "eth_gasPrice", json_array(),
			tx->gas_price) != CTL_OK)
			return CTL_FAILED;
		memcpy(fee_cap, tx->gas_price, 32);
		return CTL_OK;
	}
	tx->type = TX_TYPE_EIP1559;
	st = ctl_rpc_raw(c, "eth_maxPriorityFeePerGas", json_array(), &r, &err);
	if (st == RPC_OK && rpc_result_u256(r, tx->max_priority_fee_per_gas)) {
		json_decref(r);
	} else {
		/* Not every node has it: fall back to 1 gwei. */
		json_decref(r);
		if (st == RPC_ERR_TRANSPORT || st == RPC_ERR_TIMEOUT) {
			ctl_report_rpc(c, "eth_maxPriorityFeePerGas", st, &err);
			rpc_error_clear(&err);
			return CTL_FAILED;
		}
		tx_uint256(
		    tx->max_priority_fee_per_gas, CTL_DEFAULT_PRIORITY_FEE);
	}
	rpc_error_clear(&err);
	memcpy(tx->max_fee_per_gas, b->base_fee, 32);
	if (!ctl_u256_mul_u64(tx->max_fee_per_gas, 2) ||
	    !ctl_u256_add(tx->max_fee_per_gas, tx->max_priority_fee_per_gas)) {
		ctl_error("the node's base fee is absurdly high");
		return CTL_FAILED;
	}
	memcpy(fee_cap, tx->max_fee_per_gas, 32);
	return CTL_OK;
}

/* eth_estimateGas plus 20 %, at most the block gas limit. */
static enum ctl_status
ctl_estimate(struct ctl_chain *c, const struct ctl_tx_request *req,
    const char *data, const struct ctl_block *b, uint64_t *gas)
{
	struct rpc_error err;
	enum rpc_status st;
	uint64_t est;
	json_t *r;
	bool ok;

	st = ctl_rpc_raw(c, "eth_estimateGas",
	    json_pack("[o]", ctl_tx_call_object(c, req, data)), &r, &err);
	if (st != RPC_OK) {
		ctl_report_exec_failure(
		    c, "eth_estimateGas", st, &err, req->value);
		rpc_error_clear(&err);
		return CTL_FAILED;
	}
	ok = rpc_result_u64(r, &est);
	json_decref(r);
	if (!ok || est == 0) {
		ctl_error("eth_estimateGas: the node's answer is not a gas "
			  "amount");
		return CTL_FAILED;
	}
	*gas = est > UINT64_MAX / 2 ? est : est + est / 5;
	if (b->gas_limit != 0 && *gas > b->gas_limit)
		*gas = b->gas_limit > est ? b->gas_limit : est;
	return CTL_OK;
}

/* eth_sendRawTransaction of a signed transaction. */
static enum ctl_status
ctl_submit(
    struct ctl_chain *c, const struct tx_signed *s, const uint8_t value[32])
{
	struct rpc_error err;
	enum rpc_status st;
	char *raw;
	json_t *r;

	if ((raw = ctl_hex_data(s->raw, s->raw_len)) == NULL)
		return CTL_FAILED;
	st = ctl_rpc_raw(
	    c, "eth_sendRawTransaction", json_pack("[s]", raw), &r, &err);
	free(raw);
	if (st == RPC_OK) {
		/* Our own hash is the one we trust; the node's is ignored. */
		json_decref(r);
		return CTL_OK;
	}
	if (st == RPC_ERR_JSONRPC && ctl_is_funds_error(&err))
		ctl_report_no_funds(c, value, err.message);
	else if (st == RPC_ERR_JSONRPC && ctl_revert_hex(err.data) != NULL)
		ctl_report_revert(err.data, err.message);
	else if (st == RPC_ERR_JSONRPC)
		ctl_error("the node refused the transaction: %s", err.message);
	else
		ctl_report_rpc(c, "eth_sendRawTransaction", st, &err);
	rpc_error_clear(&err);
	return CTL_FAILED;
}

enum ctl_status
ctl_send(struct ctl_chain *c, const struct ctl_tx_request *req,
    struct ctl_receipt *out)
{
	char from[ETH_ADDRESS_HEX_SIZE], *data = NULL;
	struct tx_signed signed_tx = {0};
	enum ctl_status rc = CTL_FAILED;
	uint8_t fee_cap[32];
	struct ctl_block b;
	enum tx_status ts;
	uint64_t status;
	struct tx tx;

	memset(out, 0, sizeof(*out));
	memset(&tx, 0, sizeof(tx));
	if (ctl_chain_signer(c) != CTL_OK)
		return CTL_FAILED;
	eth_address_hex(c->address, from);
	if ((data = ctl_hex_data(req->data, req->data_len)) == NULL)
		return CTL_FAILED;
	if (ctl_rpc_u64(c, "eth_chainId", json_array(), &tx.chain_id) !=
		CTL_OK ||
	    ctl_rpc_u64(c, "eth_getTransactionCount",
		json_pack("[ss]", from, "pending"), &tx.nonce) != CTL_OK ||
	    ctl_read_latest(c, &b) != CTL_OK ||
	    ctl_fees(c, &b, &tx, fee_cap) != CTL_OK ||
	    ctl_estimate(c, req, data, &b, &tx.gas_limit) != CTL_OK ||
	    ctl_check_funds(c, req, tx.gas_limit, fee_cap) != CTL_OK)
		goto done;
	tx.create = req->create;
	if (!req->create)
		memcpy(tx.to, c->contract, ETH_ADDRESS_LEN);
	memcpy(tx.value, req->value, 32);
	tx.data = req->data_len > 0 ? req->data : NULL;
	tx.data_len = req->data_len;
	if ((ts = tx_sign(&tx, c->key, &signed_tx)) != TX_OK) {
		ctl_error("cannot sign the transaction: %s", tx_status_str(ts));
		goto done;
	}
	out->hash[0] = '0';
	out->hash[1] = 'x';
	hex_encode(signed_tx.hash, sizeof(signed_tx.hash), out->hash + 2);
	if (ctl_submit(c, &signed_tx, req->value) != CTL_OK ||
	    ctl_wait_receipt(c, out, &status) != CTL_OK)
		goto done;
	if (status != 1) {
		ctl_report_reverted(c, req, data, out, tx.gas_limit);
		goto done;
	}
	rc = CTL_OK;
done:
	tx_signed_free(&signed_tx);
	free(data);
	return rc;
}
