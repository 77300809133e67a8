/*
 * chaind's status socket: answers IPC_STATUS with a JSON object of what an
 * operator asks first (`flytrapctl status`): which node and contract, how
 * far behind the chain head, the wallet, the cache's figures and what
 * became of authd's alerts; and IPC_AUDIT_QUERY, the audit queries of
 * `flytrapctl audit` (chaind/audit.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "chaind.h"
#include "ipc.h"
#include "log.h"
#include "rpc.h"

static bool
status_on_request(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	struct ipc_writer w;
	json_t *o;
	char *text;
	uint64_t lookups = cd->cache_hits + cd->cache_misses;

	if (ipc_get_end(msg) != IPC_OK)
		return false;
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:f, s:I, s:I, "
		      "s:I, s:I, s:f, s:I, s:I}",
	    "node", cd->cfg->chaind.rpc_url, "contract", cd->contract,
	    "chain_id", (json_int_t)cd->chain_id, "head_block",
	    (json_int_t)cd->head, "synced_block", (json_int_t)cd->synced,
	    "sync_lag_blocks",
	    (json_int_t)(cd->head > cd->synced ? cd->head - cd->synced : 0),
	    "node_reachable", cd->node_ok, "seconds_since_new_block",
	    cd->head_seen > 0 ? ev_now(cd->loop) - cd->head_seen : -1.0,
	    "events", (json_int_t)store_event_count(cd->store), "topics",
	    (json_int_t)cd->n_entries, "cache_entries",
	    (json_int_t)store_access_count(cd->store), "acl_checks",
	    (json_int_t)cd->acl_checks, "cache_hit_rate",
	    lookups ? (double)cd->cache_hits / (double)lookups : 0.0,
	    "rpc_errors", (json_int_t)cd->rpc_errors, "pending_transactions",
	    (json_int_t)cd->pending_tx);
	if (o == NULL)
		fatalx("out of memory");
	json_object_set_new(o, "wallet",
	    cd->has_wallet ? json_string(cd->wallet_address) : json_null());
	/* Alert outcomes since chaind started; last_hour from the table. */
	json_object_set_new(o, "alerts",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "queued",
		(json_int_t)cd->alerts[ALERT_QUEUED], "duplicate",
		(json_int_t)cd->alerts[ALERT_DUPLICATE], "over_budget",
		(json_int_t)cd->alerts[ALERT_OVER_BUDGET], "no_wallet",
		(json_int_t)cd->alerts[ALERT_NO_WALLET], "failed",
		(json_int_t)cd->alerts[ALERT_FAILED], "on_chain_last_hour",
		(json_int_t)alert_last_hour(cd), "budget_per_hour",
		(json_int_t)cd->cfg->chaind.alert_budget_per_hour, "ban_syncs",
		(json_int_t)cd->ban_syncs, "ip", cd->cfg->chaind.alert_ip));
	json_object_set_new(o, "wallet_balance_wei",
	    cd->has_wallet && cd->wallet_balance[0]
		? json_string(cd->wallet_balance)
		: json_null());
	if ((text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		fatalx("out of memory");
	ipc_msg_begin(&w, IPC_STATUS_REPLY, msg->id);
	ipc_put_str(&w, text, strlen(text));
	ipc_conn_reply(conn, &w);
	free(text);
	json_decref(o);
	return true;
}

/* Largest audit parameters accepted (a topic is at most 64 KiB). */
#define STATUS_MAX_PARAMS (128 * 1024)

/*
 * IPC_AUDIT_QUERY: str kind, str parameters (a JSON object). Reply
 * IPC_AUDIT_QUERY_REPLY: bool ok, str JSON: the answer when ok, else
 * {"error": "..."} saying what was wrong with the question.
 */
static bool
status_on_audit(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	const char *kind, *text;
	size_t kind_len, len;
	struct ipc_writer w;
	json_error_t jerr;
	json_t *params = NULL, *answer = NULL;
	char err[512], name[32], *out;

	if (ipc_get_str(msg, &kind, &kind_len) != IPC_OK ||
	    ipc_get_str(msg, &text, &len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	err[0] = '\0';
	if (kind_len == 0 || kind_len >= sizeof(name) ||
	    memchr(kind, '\0', kind_len) != NULL) {
		snprintf(err, sizeof(err), "unknown kind '%.*s'",
		    kind_len > 31 ? 31 : (int)kind_len, kind ? kind : "");
	} else if (len > STATUS_MAX_PARAMS) {
		snprintf(err, sizeof(err), "parameters over %d bytes",
		    STATUS_MAX_PARAMS);
	} else if (len > 0 &&
	    (params = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
		NULL) {
		snprintf(
		    err, sizeof(err), "parameters are not JSON: %s", jerr.text);
	} else {
		memcpy(name, kind, kind_len);
		name[kind_len] = '\0';
		answer = audit_query(cd, name, params, err, sizeof(err));
	}
	json_decref(params);
	if (answer == NULL)
		answer = json_pack("{s:s}", "error", err);
	if (answer == NULL ||
	    (out = json_dumps(answer, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		fatalx("out of memory");
	json_decref(answer);
	/* Pages are cut to fit a frame; this guards against the unforeseen. */
	if (strlen(out) > IPC_MAX_FRAME - 4096) {
		free(out);
		err[0] = '\0';
		if ((out = strdup("{\"error\":\"the answer is too large for "
				  "one message: ask with a smaller "
				  "limit\"}")) == NULL)
			fatalx("out of memory");
	}
	ipc_msg_begin(&w, IPC_AUDIT_QUERY_REPLY, msg->id);
	ipc_put_bool(&w, err[0] == '\0');
	ipc_put_str(&w, out, strlen(out));
	ipc_conn_reply(conn, &w);
	free(out);
	return true;
}

static const struct ipc_handler status_handlers[] = {
    {IPC_STATUS, status_on_request},
    {IPC_AUDIT_QUERY, status_on_audit},
    {0, NULL},
};

void
status_open(struct chaind *cd, const char *path)
{
	/* Read-only figures: any local user in the group may ask. */
	cd->status_server =
	    ipc_server_listen(cd->loop, path, 0660, status_handlers, cd);
	if (cd->status_server == NULL)
		fatal("listen on %s", path);
}

void
status_close(struct chaind *cd)
{
	ipc_server_close(cd->status_server);
	cd->status_server = NULL;
}
