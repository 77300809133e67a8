/*
 * flytrapctl audit prove and audit verify (docs/AUDIT.md, "The Merkle
 * root"): reportd proves that one of its access records is in its
 * period's summary; anyone checks such a proof against the SummaryRoot
 * event on the chain, without trusting reportd.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "abi.h"
#include "audit_proof.h"
#include "chain.h"
#include "config.h"
#include "flytrapctl.h"
#include "hex.h"
#include "ipc.h"

#define REPORTD_ADMIN_SOCKET_NAME "reportd-admin.sock"
#define REPORTD_DEFAULT_TIMEOUT 10.0
#define SUMMARY_ROOT_EVENT "SummaryRoot(bytes32,string,uint256,uint256)"

/* ---- reportd's admin socket --------------------------------------------- */

/* Where reportd's admin socket is, and how long to wait for it. */
struct reportd_socket {
	const char *socket; /* --admin-socket, or NULL */
	const char *config; /* --config, or NULL */
	double timeout_s;
};

/*
 * Sends IPC_REPORT_QUERY `kind` with `params` (a JSON object, stolen) and
 * sets *answer to reportd's answer (a new reference). A failure, or an
 * answer with ok = false, is reported as "CMD: why"; then false.
 */
static bool
reportd_query(const struct reportd_socket *r, const char *cmd, const char *kind,
    json_t *params, json_t **answer)
{
	enum ctl_query_status qs;
	struct ipc_writer w;
	char path[512], *text;
	const char *why;
	bool ok = false;

	*answer = NULL;
	text = params != NULL ? json_dumps(params, JSON_COMPACT) : NULL;
	json_decref(params);
	if (text == NULL) {
		ctl_error("%s: out of memory", cmd);
		return false;
	}
	if (!ctl_socket_path(r->socket, "FLYTRAP_REPORTD_ADMIN_SOCKET",
		r->config, REPORTD_ADMIN_SOCKET_NAME, path, sizeof(path))) {
		free(text);
		return false;
	}
	ipc_msg_begin(&w, IPC_REPORT_QUERY, 1);
	ipc_put_str(&w, kind, strlen(kind));
	ipc_put_str(&w, text, strlen(text));
	free(text);
	qs = ctl_query_socket(cmd, "reportd", path, r->timeout_s, &w,
	    IPC_REPORT_QUERY_REPLY, &ok, answer);
	if (qs == CTL_QUERY_UNREACHABLE) {
		ctl_error("%s: cannot connect to reportd's admin socket %s: %s "
			  "(is reportd running? give --admin-socket PATH or "
			  "set FLYTRAP_REPORTD_ADMIN_SOCKET)",
		    cmd, path, strerror(errno));
		return false;
	}
	if (qs != CTL_QUERY_OK)
		return false;
	if (!ok) {
		why = json_string_value(json_object_get(*answer, "error"));
		ctl_error("%s: reportd: %s", cmd, why != NULL ? why : "failed");
		json_decref(*answer);
		*answer = NULL;
		return false;
	}
	return true;
}

/* ---- audit prove -------------------------------------------------------- */

static const char prove_usage_text[] =
    "usage: flytrapctl audit prove RECORD-ID [--admin-socket PATH]\n"
    "                              [--config FILE] [--timeout SECONDS]\n"
    "Asks reportd for the proof that access record RECORD-ID is in its\n"
    "period's summary, and prints it (JSON): the record, its leaf, the\n"
    "sibling path and the root written on-chain. Save it to a file for\n"
    "'flytrapctl audit verify FILE'.\n\n"
    "  --admin-socket PATH  reportd's admin socket; else\n"
    "                       $FLYTRAP_REPORTD_ADMIN_SOCKET, else\n"
    "                       <runtime_dir>/" REPORTD_ADMIN_SOCKET_NAME
    " of the\n"
    "                       configuration file\n"
    "  --config FILE        that file (default $FLYTRAP_CONFIG, else "
    "" FLYTRAP_CONFIG_PATH ")\n"
    "  --timeout SECONDS    wait at most this long for reportd (default "
    "10)\n";

static int
prove_usage(int status)
{
	fputs(prove_usage_text, status == CTL_EXIT_OK ? stdout : stderr);
	return status;
}

int
ctl_audit_prove(int argc, char **argv)
{
	enum { OPT_SOCKET = 0x300, OPT_CONFIG, OPT_TIMEOUT };
	static const struct option opts[] = {
	    {"admin-socket", required_argument, NULL, OPT_SOCKET},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct reportd_socket r = {NULL, NULL, REPORTD_DEFAULT_TIMEOUT};
	uint64_t id;
	json_t *proof;
	char *text;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SOCKET:
			r.socket = optarg;
			break;
		case OPT_CONFIG:
			r.config = optarg;
			break;
		case OPT_TIMEOUT:
			if (!ctl_timeout_parse(optarg, &r.timeout_s))
				return CTL_EXIT_USAGE;
			break;
		case 'h':
			return prove_usage(CTL_EXIT_OK);
		default:
			return prove_usage(CTL_EXIT_USAGE);
		}
	}
	if (optind + 1 != argc)
		return prove_usage(CTL_EXIT_USAGE);
	if (!ctl_u64_parse(argv[optind], &id) || id == 0 || id > INT64_MAX) {
		ctl_error("audit prove: '%s' is not a record id", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if (!reportd_query(&r, "audit prove", "proof",
		json_pack("{s:I}", "id", (json_int_t)id), &proof))
		return CTL_EXIT_FAIL;
	text = json_dumps(proof, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(proof);
	if (text == NULL) {
		ctl_error("audit prove: out of memory");
		return CTL_EXIT_FAIL;
	}
	printf("%s\n", text);
	free(text);
	return CTL_EXIT_OK;
}

/* ---- audit verify ------------------------------------------------------- */

static const char verify_usage_text[] =
    "usage: flytrapctl audit verify FILE [--rpc URL] [--contract ADDRESS]\n"
    "                                [--from-block N] [--json]\n"
    "Checks a proof written by 'flytrapctl audit prove' (FILE, or - for\n"
    "standard input) without trusting reportd: recomputes the record's\n"
    "leaf and, from it and the sibling path, the root; checks that the\n"
    "record's first access lies in the period; and looks on the chain\n"
    "for the contract's SummaryRoot event with that root, for that topic\n"
    "and period. Prints one line saying valid or invalid and why; exits 0\n"
    "when valid, 1 otherwise.\n\n"
    "  --rpc URL           Ethereum node ($FLYTRAP_RPC, "
    "default " CTL_DEFAULT_RPC ")\n"
    "  --contract ADDRESS  the FlyTrap contract ($FLYTRAP_CONTRACT)\n"
    "  --from-block N      where eth_getLogs starts (default 0)\n"
    "  --json              one JSON object: {valid, reason, ...}\n";

static int
verify_usage(int status)
{
	fputs(verify_usage_text, status == CTL_EXIT_OK ? stdout : stderr);
	return status;
}

static void
hash_hex(const uint8_t h[AUDIT_HASH_LEN], char out[2 + 2 * AUDIT_HASH_LEN + 1])
{
	out[0] = '0';
	out[1] = 'x';
	hex_encode(h, AUDIT_HASH_LEN, out + 2);
}

/* A verdict: one line (or a JSON object), and the exit status. */
static int verify_result(bool json, bool valid, json_t *extra, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
verify_result(bool json, bool valid, json_t *extra, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (json) {
		json_t *o = extra != NULL ? extra : json_object();

		json_object_set_new(o, "valid", json_boolean(valid));
		json_object_set_new(o, "reason", json_string(why));
		ctl_json_print(o);
	} else {
		json_decref(extra);
		printf("%s: %s\n", valid ? "valid" : "invalid", why);
	}
	return valid ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

/* Decodes a log's data: (string name, uint256 start, uint256 end). */
static bool
verify_log_matches(const json_t *log, const struct audit_proof *p)
{
	const json_t *data = json_object_get(log, "data");
	const char *hex, *name;
	uint64_t start, end;
	struct abi_dec d;
	uint8_t *bytes;
	size_t len, name_len;
	bool match;

	if (json_is_true(json_object_get(log, "removed")) ||
	    !json_is_string(data))
		return false;
	hex = json_string_value(data);
	len = json_string_length(data);
	if (len < 2 || len % 2 != 0 || (bytes = malloc(len / 2)) == NULL)
		return false;
	if (!hex_decode_exact(hex, len, bytes, len / 2 - 1)) {
		free(bytes);
		return false;
	}
	abi_dec_init(&d, bytes, len / 2 - 1);
	match = abi_dec_string(&d, &name, &name_len) == ABI_OK &&
	    abi_dec_uint64(&d, &start) == ABI_OK &&
	    abi_dec_uint64(&d, &end) == ABI_OK && abi_dec_end(&d) == ABI_OK &&
	    name_len == p->topic_len && memcmp(name, p->topic, name_len) == 0 &&
	    start == p->period_start && end == p->period_end;
	free(bytes);
	return match;
}

/* The proof's own arithmetic: CTL_EXIT_OK, or the verdict printed. */
static int
verify_offline(
    const struct audit_proof *p, bool json, uint8_t root[AUDIT_HASH_LEN])
{
	struct access_record r;
	uint8_t leaf[AUDIT_HASH_LEN];
	char a[2 + 2 * AUDIT_HASH_LEN + 1], b[2 + 2 * AUDIT_HASH_LEN + 1];
	uint64_t first_s = p->first_ms / 1000;

	audit_proof_record(p, &r);
	audit_leaf(&r, leaf);
	if (memcmp(leaf, p->leaf, AUDIT_HASH_LEN) != 0) {
		hash_hex(leaf, a);
		return verify_result(json, false, NULL,
		    "record %" PRIu64 " hashes to %s, not to the proof's leaf "
		    "(the record was altered)",
		    p->id, a);
	}
	audit_merkle_fold(
	    leaf, (const uint8_t(*)[AUDIT_HASH_LEN])p->path, p->path_len, root);
	if (memcmp(root, p->root, AUDIT_HASH_LEN) != 0) {
		hash_hex(root, a);
		hash_hex(p->root, b);
		return verify_result(json, false, NULL,
		    "the leaf and path lead to %s, not to the proof's root %s",
		    a, b);
	}
	if (p->period_end <= p->period_start || first_s < p->period_start ||
	    first_s >= p->period_end)
		return verify_result(json, false, NULL,
		    "record %" PRIu64 " (first access at %" PRIu64
		    " s) is not in the period [%" PRIu64 ", %" PRIu64 ")",
		    p->id, first_s, p->period_start, p->period_end);
	return CTL_EXIT_OK;
}

/* Looks for the SummaryRoot event; prints the verdict. */
static int
verify_on_chain(struct ctl_chain *c, const struct audit_proof *p,
    const uint8_t root[AUDIT_HASH_LEN], uint64_t from_block)
{
	char topic0[2 + 2 * AUDIT_HASH_LEN + 1], root_hex[sizeof(topic0)];
	char contract[ETH_ADDRESS_HEX_SIZE], from[32];
	uint8_t sig[32];
	json_t *logs, *log, *extra;
	size_t i;

	abi_event_topic(SUMMARY_ROOT_EVENT, sig);
	hash_hex(sig, topic0);
	hash_hex(root, root_hex);
	eth_address_hex(c->contract, contract);
	snprintf(from, sizeof(from), "0x%" PRIx64, from_block);
	if (ctl_rpc(c, "eth_getLogs",
		json_pack("[{s:s, s:s, s:s, s:[s, s]}]", "address", contract,
		    "fromBlock", from, "toBlock", "latest", "topics", topic0,
		    root_hex),
		&logs) != CTL_OK)
		return CTL_EXIT_FAIL;
	json_array_foreach(logs, i, log)
	{
		const char *tx, *block;
		int status;

		if (!verify_log_matches(log, p))
			continue;
		tx = json_string_value(json_object_get(log, "transactionHash"));
		block = json_string_value(json_object_get(log, "blockNumber"));
		extra = json_pack("{s:I, s:s, s:I, s:I, s:s, s:s?, s:s?}", "id",
		    (json_int_t)p->id, "topic", p->topic, "period_start",
		    (json_int_t)p->period_start, "period_end",
		    (json_int_t)p->period_end, "root", root_hex, "block", block,
		    "tx", tx);
		status = verify_result(c->json, true, extra,
		    "record %" PRIu64 " is in the summary of '%s' for [%" PRIu64
		    ", %" PRIu64 "), root %s, written in block %" PRIu64
		    " (tx %s)",
		    p->id, p->topic, p->period_start, p->period_end, root_hex,
		    block != NULL ? (uint64_t)strtoull(block, NULL, 16) : 0,
		    tx != NULL ? tx : "?");
		json_decref(logs);
		return status;
	}
	json_decref(logs);
	return verify_result(c->json, false, NULL,
	    "no SummaryRoot event of contract %s has root %s for topic '%s' "
	    "and period [%" PRIu64 ", %" PRIu64 ")",
	    contract, root_hex, p->topic, p->period_start, p->period_end);
}

int
ctl_audit_verify(int argc, char **argv)
{
	enum { OPT_FROM_BLOCK = 0x300 };
	static const struct option opts[] = {
	    {"rpc", required_argument, NULL, CTL_OPT_RPC},
	    {"contract", required_argument, NULL, CTL_OPT_CONTRACT},
	    {"json", no_argument, NULL, CTL_OPT_JSON},
	    {"from-block", required_argument, NULL, OPT_FROM_BLOCK},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint8_t root[AUDIT_HASH_LEN];
	uint64_t from_block = 0;
	struct audit_proof p;
	struct ctl_chain c;
	json_error_t jerr;
	json_t *doc;
	char err[256];
	int ch, status;

	ctl_chain_init(&c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FROM_BLOCK:
			if (!ctl_u64_parse(optarg, &from_block)) {
				ctl_error("--from-block: '%s' is not a block "
					  "number",
				    optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			return verify_usage(CTL_EXIT_OK);
		default:
			switch (ctl_chain_option(&c, ch, optarg)) {
			case CTL_OPT_TAKEN:
				break;
			case CTL_OPT_BAD:
				return CTL_EXIT_USAGE;
			case CTL_OPT_OTHER:
				return verify_usage(CTL_EXIT_USAGE);
			}
		}
	}
	if (optind + 1 != argc)
		return verify_usage(CTL_EXIT_USAGE);
	if (ctl_chain_need_contract(&c) != CTL_OK)
		return CTL_EXIT_USAGE;
	if (strcmp(argv[optind], "-") == 0)
		doc = json_loadf(stdin, 0, &jerr);
	else
		doc = json_load_file(argv[optind], 0, &jerr);
	if (doc == NULL)
		return verify_result(c.json, false, NULL,
		    "%s: not a JSON proof (%s, line %d)", argv[optind],
		    jerr.text, jerr.line);
	if (!audit_proof_from_json(doc, &p, err, sizeof(err))) {
		json_decref(doc);
		audit_proof_free(&p);
		return verify_result(
		    c.json, false, NULL, "%s: %s", argv[optind], err);
	}
	json_decref(doc);
	if ((status = verify_offline(&p, c.json, root)) == CTL_EXIT_OK)
		status = verify_on_chain(&c, &p, root, from_block);
	audit_proof_free(&p);
	return status;
}
