/*
 * The event follower: polls the node for new blocks, pulls the contract's
 * logs in ranges, stores every ACLChange event, invalidates exactly the
 * cached answers each one changes and tells proxyd, and undoes blocks the
 * chain reorganised away.
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
	uint8_t aclchange_topic[32];
} fw;

static void follower_next(void);

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
	if (!json_is_array(topics) || json_array_size(topics) != 4)
		return true; /* another event (SummaryRoot): not ours here */
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
		    !chaind_entry_add(cd, ev.name, ev.name_len))
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
		    store_access_forget(cd->store, name, NULL) != STORE_OK)
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
	if (store_begin(cd->store) != STORE_OK ||
	    store_events_drop_from(cd->store, from) != STORE_OK ||
	    store_topics_drop_from(cd->store, from) != STORE_OK ||
	    store_blocks_trim(cd->store, from, 0) != STORE_OK ||
	    store_access_forget_all(cd->store) != STORE_OK ||
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
	abi_event_topic(
	    "ACLChange(address,address,uint8,string,string,uint256)",
	    fw.aclchange_topic);
	ev_timer_init(&fw.tick, follower_on_tick, 0., every);
	ev_timer_start(cd->loop, &fw.tick);
}

void
follower_stop(struct chaind *cd)
{
	if (fw.step != STEP_IDLE)
		rpc_cancel(cd->rpc, fw.call_id);
	ev_timer_stop(cd->loop, &fw.tick);
}
