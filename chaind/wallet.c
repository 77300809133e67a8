/*
 * chaind's wallet: the only place the reporter key signs. Transactions wait
 * in sqlite; each gets its nonce in the same database transaction that
 * records its signed bytes, so a crash can re-broadcast but never reuse a
 * nonce. Receipts are awaited to the configured confirmations; reverts and
 * refusals are recorded and logged, never dropped silently.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "abi.h"
#include "audit.h"
#include "chaind.h"
#include "hex.h"
#include "ipc.h"
#include "log.h"
#include "rpc.h"
#include "tx.h"

/* Gas estimate margin, in percent. */
#define WALLET_GAS_MARGIN 20
/* Re-broadcast a sent transaction the node has not mined after this. */
#define WALLET_REBROADCAST_S 30.0
/* A purpose with this prefix is an idempotency key (wallet_submit). */
#define WALLET_ONCE_PREFIX "once:"
/* Priority fee when the node does not suggest one: 1 gwei. */
#define WALLET_DEFAULT_TIP 1000000000ull

enum wallet_step {
	W_IDLE,
	W_NONCE, /* eth_getTransactionCount(pending) */
	W_RECEIPT, /* eth_getTransactionReceipt of one sent tx */
	W_RESEND, /* eth_sendRawTransaction again */
	W_ESTIMATE, /* eth_estimateGas of the next queued tx */
	W_FEES, /* eth_getBlockByNumber(latest): base fee? */
	W_TIP, /* eth_maxPriorityFeePerGas or eth_gasPrice */
	W_SEND, /* eth_sendRawTransaction */
	W_BALANCE, /* eth_getBalance */
};

static struct {
	struct chaind *cd;
	ev_timer tick;
	struct ipc_server *server;
	enum wallet_step step;
	uint64_t call_id;
	bool nonce_known;
	uint64_t next_nonce;
	uint64_t checked_id; /* receipts checked this round, by id */
	ev_tstamp last_broadcast;
	struct store_tx tx; /* the transaction being worked on */
	uint64_t gas;
	bool eip1559;
	uint64_t base_fee;
} wl;

static void wallet_next(void);

static void
wallet_call(
    const char *method, json_t *params, rpc_done_fn *cb, enum wallet_step step)
{
	wl.step = step;
	if (rpc_call(wl.cd->rpc, method, params, cb, NULL, &wl.call_id) !=
	    RPC_OK) {
		log_warn("wallet: cannot start %s", method);
		wl.step = W_IDLE;
	}
}

static bool
wallet_rpc_ok(const char *what, enum rpc_status st, const struct rpc_error *err)
{
	if (st == RPC_OK)
		return true;
	log_warn("wallet: %s: %s%s%s", what, rpc_status_str(st),
	    err && err->message[0] ? ": " : "", err ? err->message : "");
	store_tx_free(&wl.tx);
	wl.step = W_IDLE;
	return false;
}

static json_t *
hex_bytes(const uint8_t *p, size_t len)
{
	char *text = malloc(2 * len + 3);
	json_t *v;

	if (text == NULL)
		fatalx("out of memory");
	memcpy(text, "0x", 2);
	hex_encode(p, len, text + 2);
	v = json_string(text);
	free(text);
	return v;
}

static void
wallet_finish(
    uint64_t id, enum store_tx_state state, uint64_t block, const char *error)
{
	if (store_tx_finish(wl.cd->store, id, state, block, error) != STORE_OK)
		fatalx("cannot record a transaction's outcome");
	wl.cd->pending_tx = store_tx_pending(wl.cd->store);
}

/* ---- Sending a queued transaction -------------------------------------- */

static void
wallet_on_send(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	(void)arg;
	(void)result;
	wl.last_broadcast = ev_now(wl.cd->loop);
	if (st == RPC_ERR_JSONRPC && err != NULL &&
	    strstr(err->message, "nonce too low") != NULL) {
		/* The nonce went to a transaction of someone else's. */
		log_err("wallet: tx %" PRIu64 " (%s): nonce %" PRIu64
			" already used outside chaind",
		    wl.tx.id, wl.tx.purpose, wl.tx.nonce);
		wallet_finish(
		    wl.tx.id, STORE_TX_FAILED, 0, "nonce used outside chaind");
		wl.nonce_known = false;
	} else if (st != RPC_OK) {
		/* Recorded as sent: the receipt check re-broadcasts it. */
		log_warn("wallet: broadcast of tx %" PRIu64 ": %s%s%s",
		    wl.tx.id, rpc_status_str(st), err ? ": " : "",
		    err ? err->message : "");
	} else {
		log_info("wallet: sent tx %" PRIu64 " (%s) nonce %" PRIu64
			 " as %s",
		    wl.tx.id, wl.tx.purpose, wl.tx.nonce, wl.tx.hash);
	}
	store_tx_free(&wl.tx);
	wl.step = W_IDLE;
	wallet_next();
}

/* Signs with the next nonce, records it, then broadcasts. */
static void
wallet_sign_and_send(uint64_t tip, uint64_t gas_price)
{
	struct chaind *cd = wl.cd;
	struct tx_signed signed_tx;
	struct tx t;
	char hash[67];

	memset(&t, 0, sizeof(t));
	t.type = wl.eip1559 ? TX_TYPE_EIP1559 : TX_TYPE_LEGACY;
	t.chain_id = cd->chain_id;
	t.nonce = wl.next_nonce;
	t.gas_limit = wl.gas;
	if (wl.eip1559) {
		tx_uint256(t.max_priority_fee_per_gas, tip);
		tx_uint256(t.max_fee_per_gas, 2 * wl.base_fee + tip);
	} else {
		tx_uint256(t.gas_price, gas_price);
	}
	if (!eth_address_parse(cd->contract, strlen(cd->contract), t.to))
		fatalx("bad contract address");
	t.data = wl.tx.data;
	t.data_len = wl.tx.data_len;
	if (tx_sign(&t, cd->wallet_key, &signed_tx) != TX_OK)
		fatalx("wallet: cannot sign a transaction");
	memcpy(hash, "0x", 2);
	hex_encode(signed_tx.hash, 32, hash + 2);
	/* Nonce, bytes and hash are durable before anything leaves. */
	if (store_tx_mark_sent(cd->store, wl.tx.id, t.nonce, hash,
		signed_tx.raw, signed_tx.raw_len) != STORE_OK)
		fatalx("wallet: cannot record a signed transaction");
	wl.next_nonce++;
	wl.tx.nonce = t.nonce;
	snprintf(wl.tx.hash, sizeof(wl.tx.hash), "%s", hash);
	wallet_call("eth_sendRawTransaction",
	    json_pack("[o]", hex_bytes(signed_tx.raw, signed_tx.raw_len)),
	    wallet_on_send, W_SEND);
	tx_signed_free(&signed_tx);
}

static void
wallet_on_tip(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	uint64_t v;

	(void)arg;
	if (!wl.eip1559) {
		if (!wallet_rpc_ok("eth_gasPrice", st, err))
			return;
		if (!rpc_result_u64(result, &v)) {
			wallet_rpc_ok(
			    "eth_gasPrice", RPC_ERR_BAD_RESPONSE, NULL);
			return;
		}
		wallet_sign_and_send(0, v);
		return;
	}
	if (st != RPC_OK || !rpc_result_u64(result, &v))
		v = WALLET_DEFAULT_TIP;
	wallet_sign_and_send(v, 0);
}

static void
wallet_on_fees(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	json_t *base;

	(void)arg;
	if (!wallet_rpc_ok("eth_getBlockByNumber", st, err))
		return;
	base = json_object_get(result, "baseFeePerGas");
	/* A node without a base fee takes legacy (EIP-155) transactions. */
	wl.eip1559 = base != NULL && rpc_result_u64(base, &wl.base_fee);
	if (wl.eip1559)
		wallet_call(
		    "eth_maxPriorityFeePerGas", NULL, wallet_on_tip, W_TIP);
	else
		wallet_call("eth_gasPrice", NULL, wallet_on_tip, W_TIP);
}

static void
wallet_on_estimate(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	uint64_t gas;

	(void)arg;
	if (st == RPC_ERR_JSONRPC) {
		/* It would revert: refuse it before it costs a nonce. */
		char why[300];

		snprintf(why, sizeof(why), "refused by the node: %s",
		    err ? err->message : "?");
		log_err("wallet: tx %" PRIu64 " (%s) %s", wl.tx.id,
		    wl.tx.purpose, why);
		wallet_finish(wl.tx.id, STORE_TX_FAILED, 0, why);
		store_tx_free(&wl.tx);
		wl.step = W_IDLE;
		wallet_next();
		return;
	}
	if (!wallet_rpc_ok("eth_estimateGas", st, err))
		return;
	if (!rpc_result_u64(result, &gas) || gas > 30000000) {
		wallet_rpc_ok("eth_estimateGas", RPC_ERR_BAD_RESPONSE, NULL);
		return;
	}
	wl.gas = gas + gas * WALLET_GAS_MARGIN / 100;
	wallet_call("eth_getBlockByNumber", json_pack("[s, b]", "latest", 0),
	    wallet_on_fees, W_FEES);
}

static void
wallet_start_queued(void)
{
	struct chaind *cd = wl.cd;

	switch (store_tx_next_queued(cd->store, &wl.tx)) {
	case STORE_OK:
		break;
	case STORE_MISSING:
		wl.step = W_IDLE;
		return;
	case STORE_ERROR:
		fatalx("cannot read the transaction queue");
	}
	wallet_call("eth_estimateGas",
	    json_pack("[{s:s, s:s, s:o}]", "from", cd->wallet_address, "to",
		cd->contract, "data", hex_bytes(wl.tx.data, wl.tx.data_len)),
	    wallet_on_estimate, W_ESTIMATE);
}

/* ---- Watching sent transactions ---------------------------------------- */

static void wallet_check_sent(void);

static void
wallet_on_resend(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	(void)arg;
	(void)result;
	if (st != RPC_OK)
		log_debug("wallet: re-broadcast of tx %" PRIu64 ": %s",
		    wl.tx.id, err ? err->message : rpc_status_str(st));
	wl.last_broadcast = ev_now(wl.cd->loop);
	store_tx_free(&wl.tx);
	wallet_check_sent();
}

static void
wallet_on_receipt(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct chaind *cd = wl.cd;
	uint64_t block, status;

	(void)arg;
	if (!wallet_rpc_ok("eth_getTransactionReceipt", st, err))
		return;
	if (json_is_null(result)) {
		if (ev_now(cd->loop) - wl.last_broadcast >
		    WALLET_REBROADCAST_S) {
			wallet_call("eth_sendRawTransaction",
			    json_pack(
				"[o]", hex_bytes(wl.tx.raw, wl.tx.raw_len)),
			    wallet_on_resend, W_RESEND);
			return;
		}
	} else if (!rpc_result_u64(
		       json_object_get(result, "blockNumber"), &block) ||
	    !rpc_result_u64(json_object_get(result, "status"), &status)) {
		wallet_rpc_ok(
		    "eth_getTransactionReceipt", RPC_ERR_BAD_RESPONSE, NULL);
		return;
	} else if (cd->head + 1 >=
	    block + (uint64_t)cd->cfg->chaind.confirmations) {
		if (status == 1) {
			log_info("wallet: tx %" PRIu64 " (%s) confirmed in "
				 "block %" PRIu64,
			    wl.tx.id, wl.tx.purpose, block);
			wallet_finish(wl.tx.id, STORE_TX_DONE, block, NULL);
		} else {
			log_err("wallet: tx %" PRIu64 " (%s) reverted in "
				"block %" PRIu64,
			    wl.tx.id, wl.tx.purpose, block);
			wallet_finish(
			    wl.tx.id, STORE_TX_FAILED, block, "reverted");
		}
	}
	store_tx_free(&wl.tx);
	wallet_check_sent();
}

/* Checks the next sent transaction's receipt; then sends queued ones. */
static void
wallet_check_sent(void)
{
	switch (store_tx_next_sent(wl.cd->store, wl.checked_id, &wl.tx)) {
	case STORE_OK:
		wl.checked_id = wl.tx.id;
		wallet_call("eth_getTransactionReceipt",
		    json_pack("[s]", wl.tx.hash), wallet_on_receipt, W_RECEIPT);
		return;
	case STORE_MISSING:
		wallet_start_queued();
		return;
	case STORE_ERROR:
		fatalx("cannot read sent transactions");
	}
}

/* ---- The round --------------------------------------------------------- */

static void
wallet_on_nonce(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	uint64_t count, stored = 0;

	(void)arg;
	if (!wallet_rpc_ok("eth_getTransactionCount", st, err))
		return;
	if (!rpc_result_u64(result, &count)) {
		wallet_rpc_ok(
		    "eth_getTransactionCount", RPC_ERR_BAD_RESPONSE, NULL);
		return;
	}
	if (store_meta_get(wl.cd->store, "next_nonce", &stored) == STORE_ERROR)
		fatalx("cannot read the database");
	/* Our record wins over a node that has not seen our sends yet. */
	wl.next_nonce = count > stored ? count : stored;
	wl.nonce_known = true;
	wl.checked_id = 0;
	wallet_check_sent();
}

static void
wallet_on_balance(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	(void)arg;
	(void)err;
	if (st == RPC_OK && json_is_string(result))
		snprintf(wl.cd->wallet_balance, sizeof(wl.cd->wallet_balance),
		    "%s", json_string_value(result));
	wl.step = W_IDLE;
	wl.checked_id = 0;
	if (wl.nonce_known)
		wallet_check_sent();
	else
		wallet_call("eth_getTransactionCount",
		    json_pack("[s, s]", wl.cd->wallet_address, "pending"),
		    wallet_on_nonce, W_NONCE);
}

static void
wallet_next(void)
{
	if (wl.step != W_IDLE || wl.cd->chain_id == 0)
		return;
	wallet_call("eth_getBalance",
	    json_pack("[s, s]", wl.cd->wallet_address, "latest"),
	    wallet_on_balance, W_BALANCE);
}

static void
wallet_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	wallet_next();
}

uint64_t
wallet_submit(
    struct chaind *cd, const char *purpose, const uint8_t *data, size_t len)
{
	uint64_t id = 0;

	/*
	 * A purpose starting with "once:" is an idempotency key: while a
	 * transaction with it has not failed, submitting it again is that
	 * transaction (reportd resubmits summaries after restarts).
	 */
	if (strncmp(purpose, WALLET_ONCE_PREFIX, strlen(WALLET_ONCE_PREFIX)) ==
	    0) {
		switch (store_tx_find_purpose(cd->store, purpose, &id)) {
		case STORE_OK:
			log_info("wallet: %s is tx %" PRIu64 " already",
			    purpose, id);
			return id;
		case STORE_MISSING:
			break;
		case STORE_ERROR:
			log_warn(
			    "wallet: cannot queue a transaction (%s)", purpose);
			return 0;
		}
	}
	if (store_tx_add(cd->store, purpose, data, len, (uint64_t)time(NULL),
		&id) != STORE_OK)
		id = 0;
	cd->pending_tx = store_tx_pending(cd->store);
	if (id == 0) {
		log_warn("wallet: cannot queue a transaction (%s)", purpose);
		return 0;
	}
	log_info("wallet: queued tx %" PRIu64 " (%s)", id, purpose);
	/* Only starts a call: the queue is read from a later callback. */
	wallet_next();
	return id;
}

/*
 * IPC_TX_SUBMIT: str purpose, bin call data (to the contract).
 * Reply IPC_TX_SUBMIT_REPLY: u64 transaction id (0: refused).
 */
static bool
wallet_on_submit(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	struct ipc_writer w;
	const char *purpose;
	const void *data;
	size_t purpose_len, len;
	char name[STORE_TX_PURPOSE_MAX];
	uint64_t id;

	if (ipc_get_str(msg, &purpose, &purpose_len) != IPC_OK ||
	    ipc_get_bin(msg, &data, &len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || purpose_len >= sizeof(name) ||
	    len < 4)
		return false;
	memcpy(name, purpose, purpose_len);
	name[purpose_len] = '\0';
	id = wallet_submit(cd, name, data, len);
	ipc_msg_begin(&w, IPC_TX_SUBMIT_REPLY, msg->id);
	ipc_put_u64(&w, id);
	ipc_conn_reply(conn, &w);
	return true;
}

/*
 * IPC_ERASE: str subject (an address or an IP). Reply IPC_ERASE_REPLY:
 * bool ok, str JSON: what was removed and what remains on-chain
 * (audit_erase), or {"error": "..."}. On this socket because only the
 * operator may erase (mode 0600).
 */
static bool
wallet_on_erase(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	struct ipc_writer w;
	const char *subject;
	char err[256], *out;
	size_t len;
	json_t *o;

	if (ipc_get_str(msg, &subject, &len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	err[0] = '\0';
	if ((o = audit_erase(cd, subject, len, err, sizeof(err))) != NULL)
		log_info("erased what chaind kept about a subject on request");
	else if ((o = json_pack("{s:s}", "error", err)) == NULL)
		fatalx("out of memory");
	if ((out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		fatalx("out of memory");
	ipc_msg_begin(&w, IPC_ERASE_REPLY, msg->id);
	ipc_put_bool(&w, err[0] == '\0');
	ipc_put_str(&w, out, strlen(out));
	ipc_conn_reply(conn, &w);
	free(out);
	json_decref(o);
	return true;
}

static const struct ipc_handler wallet_handlers[] = {
    {IPC_TX_SUBMIT, wallet_on_submit},
    {IPC_ERASE, wallet_on_erase},
    {0, NULL},
};

void
wallet_open(struct chaind *cd, const char *path)
{
	wl.cd = cd;
	wl.server =
	    ipc_server_listen(cd->loop, path, 0600, wallet_handlers, cd);
	if (wl.server == NULL)
		fatal("listen on %s", path);
	cd->pending_tx = store_tx_pending(cd->store);
}

void
wallet_start(struct chaind *cd)
{
	double every = (double)cd->cfg->chaind.poll_interval_ms / 1e3;

	ev_timer_init(&wl.tick, wallet_on_tick, every, every);
	ev_timer_start(cd->loop, &wl.tick);
}

void
wallet_close(struct chaind *cd)
{
	if (wl.step != W_IDLE)
		rpc_cancel(cd->rpc, wl.call_id);
	ev_timer_stop(cd->loop, &wl.tick);
	ipc_server_close(wl.server);
	store_tx_free(&wl.tx);
}
