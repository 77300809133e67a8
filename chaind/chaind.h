/*
 * chaind's shared state and the interfaces between its parts: the ACL
 * evaluator (acl.c), the event follower (follower.c), the contract calls
 * (contract.c), the wallet (wallet.c), authd's alerts and ban sync
 * (alert.c), the status socket (status.c), the HTTP server (http.c) and
 * the metrics (metrics.c).
 */
#ifndef FLYTRAP_CHAIND_H
#define FLYTRAP_CHAIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "auth.h"
#include "config.h"
#include "eth.h"
#include "store.h"

struct ipc_server;
struct ipc_conn;
struct ipc_reader;
struct rpc_client;

/* One topic entry of the contract, as a name or MQTT filter. */
struct chaind_entry {
	char *name;
	size_t len;
};

struct chaind {
	struct ev_loop *loop;
	const struct flytrap_config *cfg;
	struct store *store;
	struct rpc_client *rpc;
	struct ipc_server *acl_server; /* proxyd instances */
	struct ipc_server *status_server; /* flytrapctl status */
	char contract[ETH_ADDRESS_HEX_SIZE];

	/* Chain state. */
	uint64_t chain_id;
	uint64_t head; /* latest block the node reported */
	uint64_t synced; /* last block whose events are stored */
	ev_tstamp head_seen; /* when head last advanced */
	bool node_ok; /* the last call to the node worked */
	uint64_t epoch; /* bumped on every invalidation */

	/* Wallet (optional). */
	bool has_wallet;
	uint8_t wallet_key[ETH_KEY_LEN];
	char wallet_address[ETH_ADDRESS_HEX_SIZE];
	char wallet_balance[80]; /* wei, decimal or 0x-hex as the node said */
	uint64_t pending_tx;

	/* Topic entries in creation order. */
	struct chaind_entry *entries;
	size_t n_entries;
	size_t cap_entries;

	/* Counters for the status socket. */
	uint64_t acl_checks;
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t rpc_errors;
	uint64_t events_seen;
	uint64_t alerts[ALERT_FAILED + 1]; /* by enum alert_outcome */
	uint64_t ban_syncs; /* IPC_BAN_SYNC requests answered */
};

/* acl.c */
void acl_open(struct chaind *cd, const char *path);
void acl_close(struct chaind *cd);
/* Tells every proxyd to forget answers about address ("" = everyone). */
void acl_push_invalidate(struct chaind *cd, const char *address);

/* follower.c */
void follower_start(struct chaind *cd);
void follower_stop(struct chaind *cd);

/* entries (in acl.c): the in-memory list of topic entries. */
bool chaind_entry_add(struct chaind *cd, const char *name, size_t len);
void chaind_entries_free(struct chaind *cd);

/* wallet.c: signed writes (only with a keystore). */
void wallet_open(struct chaind *cd, const char *path);
void wallet_start(struct chaind *cd);
void wallet_close(struct chaind *cd);
/*
 * Queues call data to the contract and wakes the wallet; only with a
 * wallet. Returns the transaction id, or 0 when it could not be stored
 * (logged). Safe inside a store transaction: the wallet reads its queue
 * only from later callbacks, so a rolled-back one is never sent.
 */
uint64_t wallet_submit(
    struct chaind *cd, const char *purpose, const uint8_t *data, size_t len);

/*
 * alert.c: authd's alerts to the chain (IPC_ALERT) and the Banned events
 * it enforces (IPC_BAN_SYNC), both on chaind.sock. alert_open checks the
 * alert options (fatal when [chaind] alert_ip is neither hash nor clear).
 */
void alert_open(struct chaind *cd);
void alert_close(struct chaind *cd);
bool alert_on_alert(struct ipc_conn *conn, struct ipc_reader *msg, void *arg);
bool alert_on_ban_sync(
    struct ipc_conn *conn, struct ipc_reader *msg, void *arg);
/* On-chain alerts handed to the wallet in the last hour. */
uint64_t alert_last_hour(struct chaind *cd);

/* status.c */
void status_open(struct chaind *cd, const char *path);
void status_close(struct chaind *cd);

/*
 * http.c: the read-only HTTP API, /metrics and the auditor's page on
 * [chaind] http_listen ("" : off). http_open binds at once: a listen
 * address that cannot be used is fatal.
 */
void http_open(struct chaind *cd);
void http_close(struct chaind *cd);

/*
 * metrics.c: IPC_METRICS on chaind.sock (the daemons' counters, kept a
 * minute per instance), and the Prometheus text of /metrics: a malloc'ed
 * string of *len bytes.
 */
bool metrics_on_report(
    struct ipc_conn *conn, struct ipc_reader *msg, void *arg);
char *metrics_render(struct chaind *cd, size_t *len);
void metrics_close(struct chaind *cd);

/* contract.c: reads of the FlyTrap contract through the node. */
typedef void contract_access_fn(
    void *arg, bool ok, const struct store_access *answer);
/*
 * Calls access(name, address) with eth_call at the latest block. The
 * callback runs later, never from inside this call; ok is false when the
 * node could not answer or answered nonsense. Returns a call id for
 * contract_cancel(), or 0 when the call could not even start (then the
 * callback does not run).
 */
uint64_t contract_call_access(struct chaind *cd, const char *name,
    const char *address, contract_access_fn *cb, void *arg);
void contract_cancel(struct chaind *cd, uint64_t call_id);

#endif
