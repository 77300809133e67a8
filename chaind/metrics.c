/*
 * chaind's /metrics: its own figures (chain, cache, wallet, alerts,
 * summaries) and the counters proxyd, authd and reportd send every 10 s
 * with IPC_METRICS on chaind.sock, kept per instance for a minute and
 * rendered in the Prometheus text exposition format.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaind.h"
#include "ipc.h"
#include "log.h"

/* How long an instance's last report stands; it reports every 10 s. */
#define METRICS_TTL_S 60.0
/* Instances kept at once (proxyd restarts make new ones). */
#define METRICS_MAX_INSTANCES 256
/* The largest counters object an instance may send, in bytes. */
#define METRICS_MAX_JSON (64 * 1024)
#define METRICS_DAEMON_MAX 15
#define METRICS_INSTANCE_MAX 64
/* Label values per labelled counter, and their length. */
#define METRICS_MAX_LABELS 64
#define METRICS_LABEL_MAX 64
/* A refused new instance is logged at most once a minute. */
#define METRICS_LOG_EVERY_S 60.0

/* The contract's Action number of a Summary event (docs/CONTRACT.md). */
#define METRICS_ACTION_SUMMARY 7

enum metrics_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
};

static const char *const metrics_type_name[] = {
    [METRIC_COUNTER] = "counter",
    [METRIC_GAUGE] = "gauge",
};

/*
 * What the daemons may send: one row per counter, keyed by its name in the
 * IPC_METRICS object (the metric's name without "flytrap_"). A row
 * without a label takes a number; one with a label takes an object of
 * label value -> number. Keys not in this table are ignored (logged once
 * per instance), so a daemon newer than chaind does not lose its peer.
 */
struct metrics_row {
	const char *key;
	enum metrics_type type;
	const char *label; /* NULL: a plain number */
	const char *help;
};

static const struct metrics_row metrics_rows[] = {
    /* proxyd */
    {"sessions", METRIC_GAUGE, NULL, "MQTT sessions open through proxyd"},
    {"connections_total", METRIC_COUNTER, NULL,
	"Client connections proxyd accepted"},
    {"denials_total", METRIC_COUNTER, "action",
	"Requests proxyd refused for want of a grant, by action"},
    {"report_dropped_total", METRIC_COUNTER, NULL,
	"Sensitive-topic access records dropped with reportd's queue full"},
    /* authd */
    {"auth_total", METRIC_COUNTER, "verdict",
	"Authentications authd judged, by verdict"},
    {"bans_active", METRIC_GAUGE, "origin",
	"Bans in force at authd, by origin (auto, manual, chain)"},
    {"strikes_total", METRIC_COUNTER, NULL,
	"Denied requests proxyd reported to authd"},
    /* reportd */
    {"access_records_total", METRIC_COUNTER, NULL,
	"Sensitive-topic access records reportd stored"},
    {"summaries_pending", METRIC_GAUGE, NULL,
	"Summaries reportd has still to hand to the wallet"},
};

#define METRICS_NROWS (sizeof(metrics_rows) / sizeof(metrics_rows[0]))

struct metrics_instance {
	char daemon[METRICS_DAEMON_MAX + 1];
	char instance[METRICS_INSTANCE_MAX + 1];
	ev_tstamp seen; /* ev_now of the last report */
	json_t *counters; /* the last report's object */
	bool warned; /* unknown keys logged */
};

static struct {
	struct metrics_instance *inst[METRICS_MAX_INSTANCES];
	size_t n;
	ev_tstamp refused_logged;
	uint64_t refused;
} metrics;

/* ---- IPC_METRICS ------------------------------------------------------- */

static bool
metrics_name_ok(const char *s, size_t len, size_t max, bool instance)
{
	size_t i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			continue;
		if (instance &&
		    ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == ':' || c == '-'))
			continue;
		return false;
	}
	return true;
}

static bool
metrics_number_ok(const json_t *v)
{
	return json_is_integer(v) ||
	    (json_is_real(v) && isfinite(json_real_value(v)));
}

/*
 * Checks a report's counters against the table: the known keys have the
 * right shape. Returns NULL when well formed, else what is wrong; *unknown
 * tells whether some key is not in the table.
 */
static const char *
metrics_check(const json_t *o, bool *unknown)
{
	const char *key, *label;
	json_t *v, *lv;
	size_t i;

	*unknown = false;
	json_object_foreach((json_t *)o, key, v)
	{
		for (i = 0; i < METRICS_NROWS; i++)
			if (strcmp(metrics_rows[i].key, key) == 0)
				break;
		if (i == METRICS_NROWS) {
			*unknown = true;
			continue;
		}
		if (metrics_rows[i].label == NULL) {
			if (!metrics_number_ok(v))
				return "a counter that is not a number";
			continue;
		}
		if (!json_is_object(v) ||
		    json_object_size(v) > METRICS_MAX_LABELS)
			return "a labelled counter that is not an object";
		json_object_foreach(v, label, lv)
		{
			if (label[0] == '\0' ||
			    strlen(label) > METRICS_LABEL_MAX)
				return "a label value empty or too long";
			if (!metrics_number_ok(lv))
				return "a counter that is not a number";
		}
	}
	return NULL;
}

static void
metrics_instance_free(struct metrics_instance *mi)
{
	json_decref(mi->counters);
	free(mi);
}

/* Forgets the instances that have not reported for METRICS_TTL_S. */
static void
metrics_expire(ev_tstamp now)
{
	size_t i = 0;

	while (i < metrics.n) {
		if (now - metrics.inst[i]->seen > METRICS_TTL_S) {
			metrics_instance_free(metrics.inst[i]);
			metrics.inst[i] = metrics.inst[--metrics.n];
		} else {
			i++;
		}
	}
}

/*
 * IPC_METRICS: str daemon, str instance, str a JSON object of counters.
 * Reply: IPC_METRICS_REPLY, no fields. A malformed report disconnects
 * the peer, like any malformed message.
 */
bool
metrics_on_report(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	struct metrics_instance *mi = NULL;
	const char *daemon, *instance, *text, *why = NULL;
	size_t daemon_len, instance_len, text_len, i;
	ev_tstamp now = ev_now(cd->loop);
	struct ipc_writer w;
	json_error_t jerr;
	json_t *o = NULL;
	bool unknown;

	if (ipc_get_str(msg, &daemon, &daemon_len) != IPC_OK ||
	    ipc_get_str(msg, &instance, &instance_len) != IPC_OK ||
	    ipc_get_str(msg, &text, &text_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		why = "fields";
	else if (!metrics_name_ok(
		     daemon, daemon_len, METRICS_DAEMON_MAX, false))
		why = "daemon";
	else if (!metrics_name_ok(
		     instance, instance_len, METRICS_INSTANCE_MAX, true))
		why = "instance";
	else if (text_len > METRICS_MAX_JSON ||
	    (o = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, &jerr)) ==
		NULL ||
	    !json_is_object(o))
		why = "not a JSON object";
	else
		why = metrics_check(o, &unknown);
	if (why != NULL) {
		log_warn("chaind.sock: malformed IPC_METRICS (%s): dropping "
			 "the peer",
		    why);
		json_decref(o);
		return false;
	}

	metrics_expire(now);
	for (i = 0; i < metrics.n; i++) {
		struct metrics_instance *m = metrics.inst[i];

		if (strlen(m->daemon) == daemon_len &&
		    memcmp(m->daemon, daemon, daemon_len) == 0 &&
		    strlen(m->instance) == instance_len &&
		    memcmp(m->instance, instance, instance_len) == 0) {
			mi = m;
			break;
		}
	}
	if (mi == NULL && metrics.n == METRICS_MAX_INSTANCES) {
		/* Kept going: the peer did nothing wrong, chaind is full. */
		metrics.refused++;
		if (now - metrics.refused_logged >= METRICS_LOG_EVERY_S) {
			log_warn("metrics: %d instances report already; "
				 "%" PRIu64 " reports of new ones ignored",
			    METRICS_MAX_INSTANCES, metrics.refused);
			metrics.refused_logged = now;
			metrics.refused = 0;
		}
		json_decref(o);
	} else {
		if (mi == NULL) {
			if ((mi = calloc(1, sizeof(*mi))) == NULL)
				fatalx("out of memory");
			memcpy(mi->daemon, daemon, daemon_len);
			memcpy(mi->instance, instance, instance_len);
			metrics.inst[metrics.n++] = mi;
			log_debug(
			    "metrics: %s %s reports", mi->daemon, mi->instance);
		}
		json_decref(mi->counters);
		mi->counters = o;
		mi->seen = now;
		if (unknown && !mi->warned) {
			log_info("metrics: %s %s sends counters this chaind "
				 "does not know; they are left out",
			    mi->daemon, mi->instance);
			mi->warned = true;
		}
	}
	ipc_msg_begin(&w, IPC_METRICS_REPLY, msg->id);
	ipc_conn_reply(conn, &w);
	return true;
}

void
metrics_close(struct chaind *cd)
{
	(void)cd;
	while (metrics.n > 0)
		metrics_instance_free(metrics.inst[--metrics.n]);
}

/* ---- Rendering --------------------------------------------------------- */

/* A label value in the exposition format: \\, \" and \n escaped. */
static void
metrics_put_label(FILE *f, const char *name, const char *value)
{
	const char *p;

	fprintf(f, "%s=\"", name);
	for (p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void
metrics_put_value(FILE *f, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(
		    f, " %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else
		fprintf(f, " %.17g\n", json_real_value(v));
}

static void
metrics_head(
    FILE *f, const char *name, enum metrics_type type, const char *help)
{
	fprintf(f, "# HELP flytrap_%s %s\n# TYPE flytrap_%s %s\n", name, help,
	    name, metrics_type_name[type]);
}

static void
metrics_u64(FILE *f, const char *name, enum metrics_type type, const char *help,
    uint64_t value)
{
	metrics_head(f, name, type, help);
	fprintf(f, "flytrap_%s %" PRIu64 "\n", name, value);
}

/* Summary events on the chain sent by this node's wallet. */
static uint64_t
metrics_summaries_written(struct chaind *cd)
{
	struct store_event_query q;
	uint64_t n = 0;

	if (!cd->has_wallet)
		return 0;
	memset(&q, 0, sizeof(q));
	q.address = cd->wallet_address;
	q.roles = STORE_ROLE_SOURCE;
	q.actions = 1u << METRICS_ACTION_SUMMARY;
	q.to = (uint64_t)INT64_MAX;
	if (store_events_count(cd->store, &q, &n) != STORE_OK)
		return 0;
	return n;
}

static void
metrics_render_chaind(struct chaind *cd, FILE *f)
{
	static const struct {
		unsigned outcome;
		const char *name;
	} outcomes[] = {
	    {ALERT_QUEUED, "queued"},
	    {ALERT_DUPLICATE, "duplicate"},
	    {ALERT_OVER_BUDGET, "over_budget"},
	    {ALERT_NO_WALLET, "no_wallet"},
	    {ALERT_FAILED, "failed"},
	};
	uint64_t lookups = cd->cache_hits + cd->cache_misses;
	size_t i;

	metrics_u64(f, "chain_head", METRIC_GAUGE,
	    "Latest block the Ethereum node reported", cd->head);
	metrics_u64(f, "chain_synced", METRIC_GAUGE,
	    "Last block whose contract events chaind has stored", cd->synced);
	metrics_u64(f, "chain_lag_blocks", METRIC_GAUGE,
	    "Blocks between the node's head and chaind's events",
	    cd->head > cd->synced ? cd->head - cd->synced : 0);
	metrics_u64(f, "node_up", METRIC_GAUGE,
	    "1 when chaind's last call to the node worked", cd->node_ok);
	metrics_u64(f, "rpc_errors_total", METRIC_COUNTER,
	    "JSON-RPC calls to the node that failed", cd->rpc_errors);
	metrics_u64(f, "acl_checks_total", METRIC_COUNTER,
	    "Permission questions proxyd asked chaind", cd->acl_checks);
	metrics_head(f, "acl_cache_hit_ratio", METRIC_GAUGE,
	    "Share of permission lookups chaind answered from its cache "
	    "(NaN before the first)");
	if (lookups == 0)
		fputs("flytrap_acl_cache_hit_ratio NaN\n", f);
	else
		fprintf(f, "flytrap_acl_cache_hit_ratio %.6f\n",
		    (double)cd->cache_hits / (double)lookups);
	metrics_u64(f, "pending_transactions", METRIC_GAUGE,
	    "Wallet transactions sent or queued and not yet final",
	    cd->pending_tx);
	metrics_u64(f, "events_total", METRIC_COUNTER,
	    "Contract events chaind has stored", store_event_count(cd->store));
	metrics_head(f, "alerts_total", METRIC_COUNTER,
	    "authd's alerts since chaind started, by outcome");
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
		fputs("flytrap_alerts_total{", f);
		metrics_put_label(f, "outcome", outcomes[i].name);
		fprintf(f, "} %" PRIu64 "\n", cd->alerts[outcomes[i].outcome]);
	}
	metrics_u64(f, "summaries_written_total", METRIC_COUNTER,
	    "Summary events on the chain written by this node's wallet",
	    metrics_summaries_written(cd));
}

/* One table row: every instance that sent it, under one HELP/TYPE. */
static void
metrics_render_row(FILE *f, const struct metrics_row *row)
{
	bool headed = false;
	const char *label;
	json_t *v, *lv;
	size_t i;

	for (i = 0; i < metrics.n; i++) {
		const struct metrics_instance *mi = metrics.inst[i];

		if ((v = json_object_get(mi->counters, row->key)) == NULL)
			continue;
		if (!headed) {
			metrics_head(f, row->key, row->type, row->help);
			headed = true;
		}
		if (row->label == NULL) {
			fprintf(f, "flytrap_%s{", row->key);
			metrics_put_label(f, "daemon", mi->daemon);
			fputc(',', f);
			metrics_put_label(f, "instance", mi->instance);
			fputc('}', f);
			metrics_put_value(f, v);
			continue;
		}
		json_object_foreach(v, label, lv)
		{
			fprintf(f, "flytrap_%s{", row->key);
			metrics_put_label(f, "daemon", mi->daemon);
			fputc(',', f);
			metrics_put_label(f, "instance", mi->instance);
			fputc(',', f);
			metrics_put_label(f, row->label, label);
			fputc('}', f);
			metrics_put_value(f, lv);
		}
	}
}

char *
metrics_render(struct chaind *cd, size_t *len)
{
	char *text = NULL;
	size_t i;
	FILE *f;

	if ((f = open_memstream(&text, len)) == NULL)
		fatal("open_memstream");
	metrics_expire(ev_now(cd->loop));
	metrics_render_chaind(cd, f);
	metrics_u64(f, "instances_reporting", METRIC_GAUGE,
	    "Daemon instances whose counters chaind holds (reported in the "
	    "last minute)",
	    metrics.n);
	for (i = 0; i < METRICS_NROWS; i++)
		metrics_render_row(f, &metrics_rows[i]);
	if (fclose(f) != 0)
		fatalx("out of memory");
	return text;
}
