/*
 * The event follower: polls the node for new blocks, pulls the contract's
 * logs in ranges, stores every ACLChange event (and every SummaryRoot),
 * invalidates exactly the cached answers each one changes and tells
 * proxyd, and undoes blocks the chain reorganised away. For the audit
 * queries it also reads what the events leave out: the expiry each grant
 * set, and each entry's settings after it changed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "abi.h"
#include "chaind.h"
#include "hex.h"
#include "log.h"
#include "rpc.h"

/* Blocks asked for in one eth_getLogs (public nodes cap the range). */
#define FOLLOWER_MAX_RANGE 1000
/* Largest log data: two strings of at most 64 KiB and a number. */
#define FOLLOWER_MAX_DATA (4 * 32 + 2 * 65600)

/* The contract's Action numbers (docs/CONTRACT.md). */
enum follower_action {
	ACTION_ADD_TOPIC = 0,
	ACTION_ADD_PUB = 1,
	ACTION_ADD_SUB = 2,
	ACTION_REVOKE_PUB = 3,
	ACTION_REVOKE_SUB = 4,
	ACTION_TOPIC_CHANGED = 8,
};

/* Most countries an entry lists (there are fewer ISO codes than this). */
#define FOLLOWER_MAX_COUNTRIES 255
/* Largest access() or topic() answer: head words plus the countries. */
#define FOLLOWER_MAX_ANSWER (32 * 10 + 32 * FOLLOWER_MAX_COUNTRIES)
/* Times a node's error for one read is retried before giving up on it. */
#define FOLLOWER_DETAIL_TRIES 3

enum follower_step {
	STEP_IDLE,
	STEP_HEAD, /* eth_blockNumber */
	STEP_CHECK, /* eth_getBlockByNumber(synced): still our chain? */
	STEP_MARK, /* eth_getBlockByNumber(to): remember its hash */
	STEP_LOGS, /* eth_getLogs(from, to) */
};

static struct {
	struct chaind *cd;
	ev_timer tick;
	enum follower_step step;
	uint64_t call_id;
	uint64_t from, to;
	char to_hash[67];
	uint64_t to_time; /* block `to`'s timestamp */
	uint8_t aclchange_topic[32];
	uint8_t summaryroot_topic[32];
} fw;

static void follower_next(void);
static void details_next(void);
static void details_cancel(void);

static void
follower_fail(const char *what, enum rpc_status st, const struct rpc_error *err)
{
	struct chaind *cd = fw.cd;

	if (cd->node_ok)
		log_warn("node %s: %s: %s%s%s", cd->cfg->chaind.rpc_url, what,
		    rpc_status_str(st), err && err->message[0] ? ": " : "",
		    err ? err->message : "");
	cd->node_ok = false;
	cd->rpc_errors++;
	fw.step = STEP_IDLE;
}

static bool
follower_call(const char *method, json_t *params, rpc_done_fn *cb)
{
	enum rpc_status st;

	st = rpc_call(fw.cd->rpc, method, params, cb, NULL, &fw.call_id);
	if (st != RPC_OK) {
		follower_fail(method, st, NULL);
		return false;
	}
	return true;
}

static json_t *
block_param(uint64_t n)
{
	char buf[RPC_HEX_U64_SIZE];

	return json_string(rpc_hex_u64(n, buf));
}

/* ---- Applying events --------------------------------------------------- */

/*
 * Decodes a 32-byte log topic whose first `zeros` bytes must be zero (a
 * smaller value widened to a word, as the ABI does).
 */
static bool
topic_word(const json_t *v, size_t zeros, uint8_t word[32])
{
	size_t i;

	if (!json_is_string(v) ||
	    !hex_decode_exact(
		json_string_value(v), json_string_length(v), word, 32))
		return false;
	for (i = 0; i < zeros; i++)
		if (word[i] != 0)
			return false;
	return true;
}

/* A topic holding an address: 12 zero bytes, then 20. */
static bool
topic_address(const json_t *v, char out[ETH_ADDRESS_HEX_SIZE])
{
	uint8_t word[32];

	if (!topic_word(v, 12, word))
		return false;
	eth_address_hex(word + 12, out);
	return true;
}

/* A topic holding a small number (an enum value). */
static bool
topic_u64(const json_t *v, uint64_t *out)
{
	uint8_t word[32];
	size_t i;

	if (!topic_word(v, 24, word))
		return false;
	*out = 0;
	for (i = 24; i < 32; i++)
		*out = *out << 8 | word[i];
	return true;
}

static bool
json_hex_u64(const json_t *obj, const char *key, uint64_t *out)
{
	return rpc_result_u64(json_object_get(obj, key), out);
}

/* A number that tells one event's change of an entry from the next. */
static uint64_t
follower_mark(const struct store_event *ev)
{
	return ev->block << 20 | (ev->log_index & 0xfffff);
}

/*
 * Stores a SummaryRoot(bytes32 indexed root, string name, uint256
 * periodStart, uint256 periodEnd) log. Like ACLChange, one that does not
 * decode is skipped with a warning; false only on a storage error.
 */
static bool
follower_apply_summary_root(const json_t *log, const json_t *topics)
{
	struct store_summary_root r;
	const json_t *tx = json_object_get(log, "transactionHash");
	uint8_t word[32], *data = NULL;
	struct abi_dec d;
	size_t len;
	bool ok;

	memset(&r, 0, sizeof(r));
	if (!topic_word(json_array_get(topics, 0), 0, word) ||
	    memcmp(word, fw.summaryroot_topic, 32) != 0)
		return true;
	if (!json_hex_u64(log, "blockNumber", &r.block) ||
	    !json_hex_u64(log, "logIndex", &r.log_index) ||
	    !json_is_string(tx) || json_string_length(tx) != 66 ||
	    !topic_word(json_array_get(topics, 1), 0, word) ||
	    !rpc_result_bytes(
		json_object_get(log, "data"), FOLLOWER_MAX_DATA, &data, &len)) {
		log_warn("skipping a log that does not decode as SummaryRoot");
		return true;
	}
	snprintf(r.tx_hash, sizeof(r.tx_hash), "%s", json_string_value(tx));
	memcpy(r.root, "0x", 2);
	hex_encode(word, 32, r.root + 2);
	abi_dec_init(&d, data, len);
	if (abi_dec_string(&d, &r.name, &r.name_len) != ABI_OK ||
	    abi_dec_uint64(&d, &r.period_start) != ABI_OK ||
	    abi_dec_uint64(&d, &r.period_end) != ABI_OK ||
	    abi_dec_end(&d) != ABI_OK ||
	    memchr(r.name, '\0', r.name_len) != NULL) {
		log_warn("skipping a SummaryRoot whose data does not decode");
		free(data);
		return true;
	}
	fw.cd->events_seen++;
	ok = store_summary_root_add(fw.cd->store, &r) == STORE_OK;
	free(data);
	return ok;
}

/*
 * Stores one log if it is an ACLChange of our contract, and invalidates
 * what it changes. Returns false only on a storage error; logs that do not
 * decode are skipped with a warning (a hostile node cannot stop us).
 */
static bool
follower_apply_log(const json_t *log, bool *invalidate_all, json_t *invalidated)
{
	struct chaind *cd = fw.cd;
	struct store_event ev;
	const json_t *topics, *t0;
	uint8_t *data = NULL, word[32];
	uint64_t action;
	struct abi_dec d;
	size_t len;
	bool ok = true;

	memset(&ev, 0, sizeof(ev));
	topics = json_object_get(log, "topics");
	if (json_is_true(json_object_get(log, "removed")))
		return true;
	if (json_is_array(topics) && json_array_size(topics) == 2)
		return follower_apply_summary_root(log, topics);
	if (!json_is_array(topics) || json_array_size(topics) != 4)
		return true; /* not an event of ours */
	t0 = json_array_get(topics, 0);
	if (!topic_word(t0, 0, word) ||
	    memcmp(word, fw.aclchange_topic, 32) != 0)
		return true;
	if (!json_hex_u64(log, "blockNumber", &ev.block) ||
	    !json_hex_u64(log, "logIndex", &ev.log_index) ||
	    !json_is_string(json_object_get(log, "transactionHash")) ||
	    json_string_length(json_object_get(log, "transactionHash")) != 66 ||
	    !topic_address(json_array_get(topics, 1), ev.source) ||
	    !topic_address(json_array_get(topics, 2), ev.target) ||
	    !topic_u64(json_array_get(topics, 3), &action) || action > 255 ||
	    !rpc_result_bytes(
		json_object_get(log, "data"), FOLLOWER_MAX_DATA, &data, &len)) {
		log_warn("skipping a log that does not decode as ACLChange");
		return true;
	}
	ev.action = (unsigned)action;
	snprintf(ev.tx_hash, sizeof(ev.tx_hash), "%s",
	    json_string_value(json_object_get(log, "transactionHash")));
	abi_dec_init(&d, data, len);
	if (abi_dec_string(&d, &ev.name, &ev.name_len) != ABI_OK ||
	    abi_dec_string(&d, &ev.reason, &ev.reason_len) != ABI_OK ||
	    abi_dec_uint64(&d, &ev.time) != ABI_OK ||
	    abi_dec_end(&d) != ABI_OK ||
	    memchr(ev.name, '\0', ev.name_len) != NULL) {
		log_warn("skipping an ACLChange whose data does not decode");
		free(data);
		return true;
	}
	cd->events_seen++;
	if (store_event_add(cd->store, &ev) != STORE_OK)
		ok = false;

	switch (ev.action) {
	case ACTION_ADD_TOPIC:
		if (store_topic_add(cd->store, ev.name, ev.name_len,
			ev.block) != STORE_OK ||
		    !chaind_entry_add(cd, ev.name, ev.name_len) ||
		    store_topic_details_stale(cd->store, ev.name, ev.name_len,
			follower_mark(&ev)) != STORE_OK)
			ok = false;
		/* A new entry may grant what was denied: everyone re-asks. */
		*invalidate_all = true;
		break;
	case ACTION_ADD_PUB:
	case ACTION_ADD_SUB:
	case ACTION_REVOKE_PUB:
	case ACTION_REVOKE_SUB: {
		char *name = strndup(ev.name, ev.name_len);

		if (name == NULL ||
		    store_access_forget(cd->store, name, ev.target) != STORE_OK)
			ok = false;
		free(name);
		json_array_append_new(invalidated, json_string(ev.target));
		break;
	}
	case ACTION_TOPIC_CHANGED: {
		char *name = strndup(ev.name, ev.name_len);

		if (name == NULL ||
		    store_access_forget(cd->store, name, NULL) != STORE_OK ||
		    store_topic_details_stale(cd->store, ev.name, ev.name_len,
			follower_mark(&ev)) != STORE_OK)
			ok = false;
		free(name);
		*invalidate_all = true;
		break;
	}
	default:
		break; /* alerts, summaries: audit trail only */
	}
	free(data);
	return ok;
}

/* ---- Details the events leave out -------------------------------------- */

/*
 * A grant's event names no expiry and a TopicChanged event no new value,
 * yet the audit queries answer with both. One read at a time: the expiry
 * of each grant, as access(name, target) answers at the end of the
 * grant's block (so a second change of the same right in that block wins,
 * and a revocation there reads as 0), and each changed entry's settings,
 * as topic(name) answers at the synced block. Results go to the database;
 * what is still to read is found there again after a restart.
 */
static struct {
	bool busy;
	uint64_t call_id;
	uint64_t grant_cursor; /* grants up to this id are read */
	bool grants_done; /* none left up to the newest event */
	uint64_t event_id; /* the grant being read */
	unsigned action;
	char *name; /* the entry being read */
	uint64_t mark;
	unsigned tries; /* node errors for the current read */
} fd;

static void
details_cancel(void)
{
	if (fd.busy)
		rpc_cancel(fw.cd->rpc, fd.call_id);
	fd.busy = false;
	free(fd.name);
	fd.name = NULL;
	fd.grants_done = false;
}

/* Starts eth_call of data on the contract at block `block`. */
static bool
details_call(uint8_t *data, size_t len, uint64_t block, rpc_done_fn *cb)
{
	char tag[RPC_HEX_U64_SIZE];
	json_t *params;
	char *hex;

	if ((hex = malloc(2 * len + 3)) == NULL)
		fatalx("out of memory");
	memcpy(hex, "0x", 2);
	hex_encode(data, len, hex + 2);
	free(data);
	params = json_pack("[{s:s, s:s}, s]", "to", fw.cd->contract, "data",
	    hex, rpc_hex_u64(block, tag));
	free(hex);
	if (params == NULL)
		fatalx("out of memory");
	if (rpc_call(fw.cd->rpc, "eth_call", params, cb, NULL, &fd.call_id) !=
	    RPC_OK) {
		fw.cd->rpc_errors++;
		return false;
	}
	fd.busy = true;
	return true;
}

/*
 * Whether an answer settles the current read: true when it decoded, or
 * when the node refused it FOLLOWER_DETAIL_TRIES times (a pruned state:
 * then it stays unknown); false when it is to be asked again later.
 */
static bool
details_settled(enum rpc_status st, bool decoded, const struct rpc_error *err)
{
	fd.busy = false;
	if (st == RPC_OK && decoded) {
		fd.tries = 0;
		return true;
	}
	fw.cd->rpc_errors++;
	if (st == RPC_ERR_JSONRPC || st == RPC_OK) {
		if (++fd.tries < FOLLOWER_DETAIL_TRIES)
			return false;
		log_warn("eth_call for the audit trail: %s%s%s; left unknown",
		    st == RPC_OK ? "the answer does not decode"
				 : rpc_status_str(st),
		    err != NULL && err->message[0] ? ": " : "",
		    err != NULL ? err->message : "");
		fd.tries = 0;
		return true;
	}
	return false; /* the node is away: the tick asks again */
}

static void
details_on_access(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	uint8_t codes[2 * FOLLOWER_MAX_COUNTRIES], *data = NULL;
	uint64_t pub = 0, sub = 0, block;
	bool exists, sensitive, decoded = false;
	struct abi_dec d;
	size_t len, n;

	(void)arg;
	if (st == RPC_OK &&
	    rpc_result_bytes(result, FOLLOWER_MAX_ANSWER, &data, &len)) {
		abi_dec_init(&d, data, len);
		decoded = abi_dec_bool(&d, &exists) == ABI_OK &&
		    abi_dec_uint64(&d, &pub) == ABI_OK &&
		    abi_dec_uint64(&d, &sub) == ABI_OK &&
		    abi_dec_bool(&d, &sensitive) == ABI_OK &&
		    abi_dec_bytes2_array(
			&d, codes, FOLLOWER_MAX_COUNTRIES, &n) == ABI_OK &&
		    abi_dec_uint64(&d, &block) == ABI_OK &&
		    abi_dec_end(&d) == ABI_OK;
		free(data);
	}
	if (!details_settled(st, decoded, err))
		return;
	if (store_grant_expiry_put(fw.cd->store, fd.event_id, decoded,
		fd.action == ACTION_ADD_PUB ? pub : sub) != STORE_OK)
		fatalx("cannot write the database");
	fd.grant_cursor = fd.event_id;
	details_next();
}

/* Decimal text of a 256-bit big-endian number. */
static void
details_u256_dec(const uint8_t v[32], char *out, size_t cap)
{
	uint8_t n[32];
	char digits[80];
	size_t k = 0, i;
	bool zero;

	memcpy(n, v, 32);
	do {
		unsigned rem = 0;

		zero = true;
		for (i = 0; i < 32; i++) {
			unsigned cur = rem << 8 | n[i];

			n[i] = (uint8_t)(cur / 10);
			rem = cur % 10;
			if (n[i] != 0)
				zero = false;
		}
		digits[k++] = (char)('0' + rem);
	} while (!zero && k < sizeof(digits));
	for (i = 0; i < k && i + 1 < cap; i++)
		out[i] = digits[k - 1 - i];
	out[i] = '\0';
}

static void
details_on_topic(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	uint8_t codes[2 * FOLLOWER_MAX_COUNTRIES], owner[20], pub[32], sub[32];
	struct store_topic_details t;
	uint8_t *data = NULL;
	bool decoded = false;
	struct abi_dec d;
	size_t len, n = 0, i;

	(void)arg;
	memset(&t, 0, sizeof(t));
	if (st == RPC_OK &&
	    rpc_result_bytes(result, FOLLOWER_MAX_ANSWER, &data, &len)) {
		abi_dec_init(&d, data, len);
		decoded = abi_dec_bool(&d, &t.exists) == ABI_OK &&
		    abi_dec_address(&d, owner) == ABI_OK &&
		    abi_dec_bool(&d, &t.sensitive) == ABI_OK &&
		    abi_dec_bool(&d, &t.self_service) == ABI_OK &&
		    abi_dec_uint_n(&d, 128, pub) == ABI_OK &&
		    abi_dec_uint_n(&d, 128, sub) == ABI_OK &&
		    abi_dec_uint64(&d, &t.period) == ABI_OK &&
		    abi_dec_bytes2_array(
			&d, codes, FOLLOWER_MAX_COUNTRIES, &n) == ABI_OK &&
		    abi_dec_uint64(&d, &t.block) == ABI_OK &&
		    abi_dec_end(&d) == ABI_OK;
		free(data);
		for (i = 0; decoded && i < 2 * n; i++)
			if (codes[i] < 'A' || codes[i] > 'Z')
				decoded = false;
	}
	if (!details_settled(st, decoded, err))
		return;
	if (decoded) {
		details_u256_dec(pub, t.pub_price, sizeof(t.pub_price));
		details_u256_dec(sub, t.sub_price, sizeof(t.sub_price));
		memcpy(t.countries, codes, 2 * n);
		t.countries[2 * n] = '\0';
	}
	/* An answer that never decodes is kept as "no settings known". */
	if (store_topic_details_put(fw.cd->store, fd.name, fd.mark, &t) !=
	    STORE_OK)
		fatalx("cannot write the database");
	free(fd.name);
	fd.name = NULL;
	details_next();
}

/* Starts the next read, if any is due and none is running. */
static void
details_next(void)
{
	static uint8_t access_sel[ABI_SELECTOR_LEN],
	    topic_sel[ABI_SELECTOR_LEN];
	static bool have_selectors;
	struct chaind *cd = fw.cd;
	enum store_status r;
	uint8_t addr[ETH_ADDRESS_LEN], *data;
	char target[43], *name = NULL;
	struct abi_enc e;
	uint64_t id, block;
	unsigned action;
	size_t len;

	if (fd.busy || cd->synced == 0)
		return;
	if (!have_selectors) {
		abi_selector("access(string,address)", access_sel);
		abi_selector("topic(string)", topic_sel);
		have_selectors = true;
	}
	while (!fd.grants_done) {
		r = store_grant_expiry_next(cd->store, fd.grant_cursor, &id,
		    &block, &action, target, &name);
		if (r == STORE_ERROR)
			fatalx("cannot read the database");
		if (r == STORE_MISSING) {
			/* Remembered, so a restart does not look again. */
			if (id != fd.grant_cursor &&
			    store_meta_set(cd->store, "grant_cursor", id) !=
				STORE_OK)
				fatalx("cannot write the database");
			fd.grant_cursor = id;
			fd.grants_done = true;
			break;
		}
		if (!eth_address_parse(target, strlen(target), addr)) {
			free(name);
			fd.grant_cursor = id;
			continue;
		}
		abi_enc_begin(&e, access_sel);
		abi_enc_string(&e, name, strlen(name));
		abi_enc_address(&e, addr);
		free(name);
		if (abi_enc_finish(&e, &data, &len) != ABI_OK)
			fatalx("out of memory");
		fd.event_id = id;
		fd.action = action;
		(void)details_call(data, len, block, details_on_access);
		return;
	}
	if (fd.name == NULL) {
		r = store_topic_details_next_stale(
		    cd->store, &fd.name, &fd.mark);
		if (r == STORE_ERROR)
			fatalx("cannot read the database");
		if (r == STORE_MISSING)
			return;
	}
	abi_enc_begin(&e, topic_sel);
	abi_enc_string(&e, fd.name, strlen(fd.name));
	if (abi_enc_finish(&e, &data, &len) != ABI_OK)
		fatalx("out of memory");
	(void)details_call(data, len, cd->synced, details_on_topic);
}

/* ---- The polling steps ------------------------------------------------- */

static void
follower_on_logs(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct chaind *cd = fw.cd;
	bool all = false, ok = true;
	json_t *addresses, *v;
	size_t i;

	(void)arg;
	if (st != RPC_OK || !json_is_array(result)) {
		follower_fail("eth_getLogs",
		    st == RPC_OK ? RPC_ERR_BAD_RESPONSE : st, err);
		return;
	}
	if ((addresses = json_array()) == NULL ||
	    store_begin(cd->store) != STORE_OK)
		fatalx("cannot start a database transaction");
	json_array_foreach(result, i, v)
	{
		if (!follower_apply_log(v, &all, addresses)) {
			ok = false;
			break;
		}
	}
	if (ok)
		ok =
		    store_block_put(cd->store, fw.to, fw.to_hash) == STORE_OK &&
		    store_meta_set(cd->store, "synced", fw.to) == STORE_OK &&
		    store_meta_set(cd->store, "synced_time", fw.to_time) ==
			STORE_OK &&
		    store_blocks_trim(cd->store, fw.to + 1,
			fw.to > (uint64_t)cd->cfg->chaind.reorg_depth
			    ? fw.to - (uint64_t)cd->cfg->chaind.reorg_depth
			    : 0) == STORE_OK;
	if (!ok || store_commit(cd->store) != STORE_OK) {
		store_rollback(cd->store);
		json_decref(addresses);
		fatalx("cannot store events: the database is unusable");
	}
	cd->synced = fw.to;
	cd->node_ok = true;
	if (json_array_size(result) > 0)
		fd.grants_done = false; /* new grants may need their expiry */
	/* Tell proxyd only once the new state is committed. */
	if (all) {
		acl_push_invalidate(cd, "");
	} else {
		json_array_foreach(addresses, i, v)
		    acl_push_invalidate(cd, json_string_value(v));
	}
	json_decref(addresses);
	if (json_array_size(result) > 0)
		log_debug("blocks %" PRIu64 "-%" PRIu64 ": %zu logs", fw.from,
		    fw.to, json_array_size(result));
	fw.step = STEP_IDLE;
	details_next();
	follower_next();
}

static void
follower_on_mark(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	const json_t *hash;
	json_t *filter;

	(void)arg;
	hash = json_object_get(result, "hash");
	if (st != RPC_OK || !json_is_string(hash) ||
	    json_string_length(hash) != 66) {
		follower_fail("eth_getBlockByNumber",
		    st == RPC_OK ? RPC_ERR_BAD_RESPONSE : st, err);
		return;
	}
	snprintf(fw.to_hash, sizeof(fw.to_hash), "%s", json_string_value(hash));
	if (!json_hex_u64(result, "timestamp", &fw.to_time))
		fw.to_time = 0;
	filter = json_pack("[{s:s, s:o, s:o}]", "address", fw.cd->contract,
	    "fromBlock", block_param(fw.from), "toBlock", block_param(fw.to));
	fw.step = STEP_LOGS;
	(void)follower_call("eth_getLogs", filter, follower_on_logs);
}

static bool
follower_reload_entry(void *arg, const char *name, size_t len)
{
	if (!chaind_entry_add(arg, name, len))
		fatalx("out of memory");
	return true;
}

/* Drops everything learnt from blocks >= from and re-reads from there. */
static void
follower_rewind(uint64_t from)
{
	struct chaind *cd = fw.cd;

	log_warn("chain reorganisation: undoing blocks from %" PRIu64, from);
	details_cancel();
	if (store_begin(cd->store) != STORE_OK ||
	    store_events_drop_from(cd->store, from) != STORE_OK ||
	    store_topics_drop_from(cd->store, from) != STORE_OK ||
	    store_blocks_trim(cd->store, from, 0) != STORE_OK ||
	    store_access_forget_all(cd->store) != STORE_OK ||
	    store_topic_details_stale_all(cd->store) != STORE_OK ||
	    store_meta_set(cd->store, "synced", from - 1) != STORE_OK ||
	    store_commit(cd->store) != STORE_OK)
		fatalx("cannot undo reorganised blocks in the database");
	cd->synced = from - 1;
	/* Entries created in undone blocks are gone too: reload them. */
	chaind_entries_free(cd);
	if (store_topics_each(cd->store, follower_reload_entry, cd) != STORE_OK)
		fatalx("cannot reload topic entries");
	acl_push_invalidate(cd, "");
}

static void
follower_on_check(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct chaind *cd = fw.cd;
	char stored[67];
	const json_t *hash;
	uint64_t head = cd->head;

	(void)arg;
	hash = json_object_get(result, "hash");
	if (st != RPC_OK || (!json_is_null(result) && !json_is_string(hash))) {
		follower_fail("eth_getBlockByNumber",
		    st == RPC_OK ? RPC_ERR_BAD_RESPONSE : st, err);
		return;
	}
	if (store_block_get(cd->store, cd->synced, stored) == STORE_OK &&
	    (json_is_null(result) ||
		strcmp(stored, json_string_value(hash)) != 0)) {
		/*
		 * Our last block is no longer the node's: undo it and compare
		 * the one before on the next step, as far back as hashes are
		 * kept (reorg_depth).
		 */
		follower_rewind(cd->synced);
		fw.step = STEP_IDLE;
		follower_next();
		return;
	}
	if (head <= cd->synced) {
		fw.step = STEP_IDLE;
		return;
	}
	fw.from = cd->synced + 1;
	fw.to = head - fw.from + 1 > FOLLOWER_MAX_RANGE
	    ? fw.from + FOLLOWER_MAX_RANGE - 1
	    : head;
	fw.step = STEP_MARK;
	(void)follower_call("eth_getBlockByNumber",
	    json_pack("[o, b]", block_param(fw.to), 0), follower_on_mark);
}

static void
follower_on_head(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct chaind *cd = fw.cd;
	uint64_t head;

	(void)arg;
	if (st != RPC_OK || !rpc_result_u64(result, &head)) {
		follower_fail("eth_blockNumber",
		    st == RPC_OK ? RPC_ERR_BAD_RESPONSE : st, err);
		return;
	}
	if (!cd->node_ok)
		log_info("node %s reachable, head block %" PRIu64,
		    cd->cfg->chaind.rpc_url, head);
	cd->node_ok = true;
	if (head != cd->head) {
		cd->head = head;
		cd->head_seen = ev_now(cd->loop);
	}
	fw.step = STEP_IDLE;
	follower_next();
}

/* Takes the next step: catch up while behind, else wait for the timer. */
static void
follower_next(void)
{
	struct chaind *cd = fw.cd;

	if (fw.step != STEP_IDLE)
		return;
	if (cd->synced == 0 ||
	    cd->synced < (uint64_t)cd->cfg->chaind.start_block) {
		if (cd->head <= cd->synced)
			return;
		/* Nothing stored yet: no hash to compare, start afresh. */
		fw.from = cd->synced + 1;
		if (fw.from < (uint64_t)cd->cfg->chaind.start_block)
			fw.from = (uint64_t)cd->cfg->chaind.start_block;
		fw.to = cd->head - fw.from + 1 > FOLLOWER_MAX_RANGE
		    ? fw.from + FOLLOWER_MAX_RANGE - 1
		    : cd->head;
		if (fw.from > cd->head)
			return;
		fw.step = STEP_MARK;
		(void)follower_call("eth_getBlockByNumber",
		    json_pack("[o, b]", block_param(fw.to), 0),
		    follower_on_mark);
		return;
	}
	/*
	 * Even with no new block, the newest one may have been replaced by
	 * another at the same height: compare its hash on every poll.
	 */
	fw.step = STEP_CHECK;
	(void)follower_call("eth_getBlockByNumber",
	    json_pack("[o, b]", block_param(cd->synced), 0), follower_on_check);
}

static void
follower_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	details_next();
	if (fw.step != STEP_IDLE)
		return;
	fw.step = STEP_HEAD;
	(void)follower_call("eth_blockNumber", NULL, follower_on_head);
}

void
follower_start(struct chaind *cd)
{
	double every = (double)cd->cfg->chaind.poll_interval_ms / 1e3;

	fw.cd = cd;
	if (store_meta_get(cd->store, "grant_cursor", &fd.grant_cursor) ==
	    STORE_ERROR)
		fatalx("cannot read the database");
	abi_event_topic(
	    "ACLChange(address,address,uint8,string,string,uint256)",
	    fw.aclchange_topic);
	abi_event_topic("SummaryRoot(bytes32,string,uint256,uint256)",
	    fw.summaryroot_topic);
	ev_timer_init(&fw.tick, follower_on_tick, 0., every);
	ev_timer_start(cd->loop, &fw.tick);
}

void
follower_stop(struct chaind *cd)
{
	if (fw.step != STEP_IDLE)
		rpc_cancel(cd->rpc, fw.call_id);
	details_cancel();
	ev_timer_stop(cd->loop, &fw.tick);
}
