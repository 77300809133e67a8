/*
 * Periods and their summaries (docs/AUDIT.md): grace_s after a period
 * ends, each topic with records gets its publishers, subscribers and the
 * Merkle root of its records, written in the spool in one transaction;
 * then each summary goes to chaind's wallet (IPC_TX_SUBMIT, purpose
 * once:summary:<start>:<keccak of topic>, so a resubmission after any
 * restart is the same transaction), one at a time. A period is done when
 * the wallet has accepted every topic's summary.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi.h"
#include "hex.h"
#include "ipc.h"
#include "keccak.h"
#include "log.h"
#include "reportd.h"

#define SUMMARY_TICK_S 1.0
/* Addresses per role the on-chain reason names; "+k" counts the rest. */
#define SUMMARY_REASON_ADDRESSES 64
/* Seconds chaind has to answer a submission, and before trying again. */
#define SUMMARY_SUBMIT_TIMEOUT_S 10.0
#define SUMMARY_RETRY_S 5.0
/*
 * After a start, summaries wait for proxyd to reconnect (its back-off
 * reaches 5 s) and send what it kept (every second) on top of grace_s.
 */
#define SUMMARY_START_HOLD_S 6.0
/* Periods built per tick at most, so a long backlog does not hog it. */
#define SUMMARY_BUILDS_PER_TICK 8
/* How long a stored batch is remembered for deduplication. */
#define SUMMARY_BATCH_MEMORY_S (7 * 86400)
#define SUMMARY_LOG_INTERVAL_S 60.0

#define SUMMARY_SIGNATURE "logSummary(string,string,bytes32,uint64,uint64)"

static struct {
	struct reportd *rd;
	ev_timer tick;
	struct ipc_client *wallet;
	bool in_flight;
	uint32_t call_id;
	struct spool_summary current; /* the submission in flight */
	ev_tstamp hold_until;
	ev_tstamp retry_at;
	ev_tstamp trimmed;
	ev_tstamp wallet_logged;
	ev_tstamp build_logged;
} sm;

/* ---- Building a period's summaries --------------------------------------- */

/* A growable list of strings (topics or addresses). */
struct summary_list {
	char **items;
	size_t *lens;
	size_t n, cap;
};

static void
summary_list_add(void *arg, const char *s, size_t len)
{
	struct summary_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->items = realloc(l->items, l->cap * sizeof(*l->items));
		l->lens = realloc(l->lens, l->cap * sizeof(*l->lens));
		if (l->items == NULL || l->lens == NULL)
			fatalx("out of memory");
	}
	if ((l->items[l->n] = malloc(len + 1)) == NULL)
		fatalx("out of memory");
	memcpy(l->items[l->n], s, len);
	l->items[l->n][len] = '\0';
	l->lens[l->n++] = len;
}

static void
summary_list_add_address(void *arg, const char *address)
{
	summary_list_add(arg, address, strlen(address));
}

static void
summary_list_free(struct summary_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	free(l->lens);
	memset(l, 0, sizeof(*l));
}

/* Writes "a,b,...,+k": at most SUMMARY_REASON_ADDRESSES addresses. */
static void
summary_reason_role(FILE *f, const struct summary_list *l)
{
	size_t i;

	for (i = 0; i < l->n && i < SUMMARY_REASON_ADDRESSES; i++)
		fprintf(f, "%s%s", i > 0 ? "," : "", l->items[i]);
	if (l->n > i)
		fprintf(f, "%s+%zu", i > 0 ? "," : "", l->n - i);
}

/* "pub=<a>,... sub=<a>,... records=<n>" (malloc'd). */
static char *
summary_reason(const struct summary_list *pubs, const struct summary_list *subs,
    size_t records)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&out, &len)) == NULL)
		fatalx("out of memory");
	fputs("pub=", f);
	summary_reason_role(f, pubs);
	fputs(" sub=", f);
	summary_reason_role(f, subs);
	fprintf(f, " records=%zu", records);
	if (fclose(f) != 0 || out == NULL)
		fatalx("out of memory");
	return out;
}

static void
summary_hex(const uint8_t *h, size_t len, char *out)
{
	out[0] = '0';
	out[1] = 'x';
	hex_encode(h, len, out + 2);
}

/* One topic's summary of period `start` into the spool. */
static enum spool_status
summary_build_topic(struct reportd *rd, uint64_t start, const char *topic,
    size_t topic_len, uint64_t *records)
{
	struct summary_list pubs = {0}, subs = {0};
	uint8_t(*leaves)[AUDIT_HASH_LEN] = NULL;
	struct spool_summary sum;
	enum spool_status r;
	char root_hex[2 + 2 * AUDIT_HASH_LEN + 1];
	size_t n = 0;

	memset(&sum, 0, sizeof(sum));
	if ((r = spool_topic_leaves(rd->spool, start, topic, topic_len, &leaves,
		 &n)) != SPOOL_OK ||
	    (r = spool_topic_addresses(rd->spool, start, topic, topic_len, true,
		 summary_list_add_address, &pubs)) != SPOOL_OK ||
	    (r = spool_topic_addresses(rd->spool, start, topic, topic_len,
		 false, summary_list_add_address, &subs)) != SPOOL_OK)
		goto out;
	if (n == 0) /* cannot be: the topic came from the same records */
		goto out;
	audit_merkle_root(leaves, n, sum.root);
	sum.period = start;
	sum.period_end = start + rd->period_s;
	sum.topic = (char *)topic;
	sum.topic_len = topic_len;
	sum.records = n;
	sum.publishers = pubs.n;
	sum.subscribers = subs.n;
	sum.reason = summary_reason(&pubs, &subs, n);
	r = spool_summary_add(rd->spool, &sum);
	if (r == SPOOL_OK) {
		summary_hex(sum.root, AUDIT_HASH_LEN, root_hex);
		log_info("summary: period %" PRIu64 " topic '%s': %zu records, "
			 "%zu publishers, %zu subscribers, root %s",
		    start, topic, n, pubs.n, subs.n, root_hex);
		*records += n;
	}
	free(sum.reason);
out:
	free(leaves);
	summary_list_free(&pubs);
	summary_list_free(&subs);
	return r;
}

/* Builds every topic's summary of period `start` in one transaction. */
static bool
summary_build_period(struct reportd *rd, uint64_t start)
{
	struct summary_list topics = {0};
	uint64_t records = 0;
	size_t i;

	if (spool_begin(rd->spool) != SPOOL_OK)
		goto fail;
	if (spool_period_topics(rd->spool, start, summary_list_add, &topics) !=
	    SPOOL_OK)
		goto rollback;
	for (i = 0; i < topics.n; i++)
		if (summary_build_topic(rd, start, topics.items[i],
			topics.lens[i], &records) != SPOOL_OK)
			goto rollback;
	if (spool_period_add(rd->spool, start, start + rd->period_s, topics.n,
		records, (uint64_t)time(NULL)) != SPOOL_OK ||
	    spool_commit(rd->spool) != SPOOL_OK)
		goto rollback;
	rd->periods_summarised++;
	log_info("summary: period %" PRIu64 "-%" PRIu64 " summarised: %zu "
		 "topics, %" PRIu64 " records",
	    start, start + rd->period_s, topics.n, records);
	summary_list_free(&topics);
	return true;
rollback:
	spool_rollback(rd->spool);
fail:
	summary_list_free(&topics);
	if (ev_now(rd->loop) - sm.build_logged >= SUMMARY_LOG_INTERVAL_S) {
		log_err("summary: cannot summarise period %" PRIu64 ": %s; "
			"trying again",
		    start, spool_error(rd->spool));
		sm.build_logged = ev_now(rd->loop);
	}
	return false;
}

/* Builds the summaries of every period whose grace time has passed. */
static void
summary_build_due(struct reportd *rd, uint64_t now)
{
	uint64_t last, start;
	int i;

	if (now < rd->period_s + rd->grace_s)
		return;
	/* The latest period with start + period_s + grace_s <= now. */
	last = (now - rd->grace_s) / rd->period_s * rd->period_s - rd->period_s;
	for (i = 0; i < SUMMARY_BUILDS_PER_TICK; i++) {
		switch (spool_next_unsummarised(rd->spool, last, &start)) {
		case SPOOL_OK:
			if (!summary_build_period(rd, start))
				return;
			break;
		case SPOOL_MISSING:
			return;
		case SPOOL_ERROR:
			log_err("summary: cannot read the spool: %s",
			    spool_error(rd->spool));
			return;
		}
	}
}

/* ---- Submitting to chaind's wallet ---------------------------------------- */

static void summary_submit_next(struct reportd *rd);

static void
summary_log_tx(void *arg, const struct spool_summary *s)
{
	(void)arg;
	log_info("summary: period %" PRIu64 " topic '%s': tx %" PRIu64
		 " (%" PRIu64 " records)",
	    s->period, s->topic, s->tx, s->records);
}

/* IPC_TX_SUBMIT_REPLY: u64 transaction id (0: refused). */
static void
summary_on_submitted(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct reportd *rd = arg;
	struct spool_summary *cur = &sm.current;
	uint64_t tx;
	bool done;

	sm.in_flight = false;
	if (st != IPC_OK) {
		log_warn("summary: chaind's wallet did not take the summary of "
			 "period %" PRIu64 " topic '%s': %s; trying again",
		    cur->period, cur->topic, ipc_status_str(st));
		sm.retry_at = ev_now(rd->loop) + SUMMARY_RETRY_S;
		goto out;
	}
	if (msg->type != IPC_TX_SUBMIT_REPLY ||
	    ipc_get_u64(msg, &tx) != IPC_OK || ipc_get_end(msg) != IPC_OK)
		fatalx("malformed %s from chaind's wallet",
		    ipc_type_str(msg->type));
	if (tx == 0) {
		log_warn("summary: chaind's wallet refused the summary of "
			 "period %" PRIu64 " topic '%s' (see chaind's log); "
			 "trying again",
		    cur->period, cur->topic);
		sm.retry_at = ev_now(rd->loop) + SUMMARY_RETRY_S;
		goto out;
	}
	if (spool_summary_submitted(rd->spool, cur->period, cur->topic,
		cur->topic_len, tx, (uint64_t)time(NULL), &done) != SPOOL_OK) {
		/* Submitting again returns the same transaction. */
		log_err("summary: cannot record tx %" PRIu64 ": %s", tx,
		    spool_error(rd->spool));
		sm.retry_at = ev_now(rd->loop) + SUMMARY_RETRY_S;
		goto out;
	}
	rd->summaries_accepted++;
	log_info("summary: chaind accepted the summary of period %" PRIu64
		 " topic '%s' as tx %" PRIu64,
	    cur->period, cur->topic, tx);
	if (done) {
		rd->periods_done++;
		log_info("summary: period %" PRIu64 "-%" PRIu64
			 " done; its transactions:",
		    cur->period, cur->period_end);
		if (spool_period_summaries(rd->spool, cur->period,
			summary_log_tx, NULL) != SPOOL_OK)
			log_err("summary: cannot read the spool: %s",
			    spool_error(rd->spool));
	}
	spool_summary_free(cur);
	summary_submit_next(rd);
	return;
out:
	spool_summary_free(cur);
}

/* The wallet's idempotency key of a summary. */
static void
summary_purpose(const struct spool_summary *s, char *out, size_t len)
{
	uint8_t h[32];
	char hex[65];

	keccak256(s->topic, s->topic_len, h);
	hex_encode(h, sizeof(h), hex);
	snprintf(out, len, "once:summary:%" PRIu64 ":%s", s->period, hex);
}

/* Sends the first summary not yet accepted, if any. */
static void
summary_submit_next(struct reportd *rd)
{
	struct spool_summary *cur = &sm.current;
	uint8_t selector[ABI_SELECTOR_LEN], *data = NULL;
	struct ipc_writer w;
	struct abi_enc e;
	char purpose[128];
	enum ipc_status st;
	size_t len;

	if (sm.in_flight || ev_now(rd->loop) < sm.retry_at)
		return;
	switch (spool_next_unsubmitted(rd->spool, cur)) {
	case SPOOL_OK:
		break;
	case SPOOL_MISSING:
		return;
	case SPOOL_ERROR:
		log_err("summary: cannot read the spool: %s",
		    spool_error(rd->spool));
		sm.retry_at = ev_now(rd->loop) + SUMMARY_RETRY_S;
		return;
	}
	if (!ipc_client_connected(sm.wallet)) {
		if (ev_now(rd->loop) - sm.wallet_logged >=
		    SUMMARY_LOG_INTERVAL_S) {
			log_warn("summary: no connection to chaind's wallet "
				 "at %s: summaries wait (is chaind running "
				 "with a keystore?)",
			    rd->wallet_path);
			sm.wallet_logged = ev_now(rd->loop);
		}
		spool_summary_free(cur);
		return;
	}
	abi_selector(SUMMARY_SIGNATURE, selector);
	abi_enc_begin(&e, selector);
	abi_enc_string(&e, cur->topic, cur->topic_len);
	abi_enc_string(&e, cur->reason, strlen(cur->reason));
	abi_enc_bytes32(&e, cur->root);
	abi_enc_uint(&e, cur->period);
	abi_enc_uint(&e, cur->period_end);
	if (abi_enc_finish(&e, &data, &len) != ABI_OK)
		fatalx("cannot encode a summary");
	summary_purpose(cur, purpose, sizeof(purpose));
	sm.call_id = ipc_client_begin(sm.wallet, &w, IPC_TX_SUBMIT);
	ipc_put_str(&w, purpose, strlen(purpose));
	ipc_put_bin(&w, data, len);
	free(data);
	st = ipc_client_send(sm.wallet, &w, sm.call_id,
	    SUMMARY_SUBMIT_TIMEOUT_S, summary_on_submitted, rd);
	if (st != IPC_OK) {
		log_warn("summary: cannot submit to chaind's wallet: %s",
		    ipc_status_str(st));
		sm.retry_at = ev_now(rd->loop) + SUMMARY_RETRY_S;
		spool_summary_free(cur);
		return;
	}
	sm.in_flight = true;
	log_debug("summary: submitted period %" PRIu64 " topic '%s' (%s)",
	    cur->period, cur->topic, purpose);
}

/* ---- The tick ------------------------------------------------------------- */

static void
summary_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct reportd *rd = w->data;
	uint64_t now = (uint64_t)time(NULL);

	(void)loop;
	(void)revents;
	if (ev_now(rd->loop) >= sm.hold_until)
		summary_build_due(rd, now);
	summary_submit_next(rd);
	if (ev_now(rd->loop) - sm.trimmed >= 3600.0) {
		sm.trimmed = ev_now(rd->loop);
		if (now > SUMMARY_BATCH_MEMORY_S &&
		    spool_batches_trim(
			rd->spool, now - SUMMARY_BATCH_MEMORY_S) != SPOOL_OK)
			log_warn("summary: cannot trim the batch list: %s",
			    spool_error(rd->spool));
	}
}

/* When the next period is due to be summarised (Unix s). */
static uint64_t
summary_next_due(struct reportd *rd, uint64_t now)
{
	uint64_t current = now / rd->period_s * rd->period_s;

	/* The previous period is due at current + grace_s. */
	if (now < current + rd->grace_s)
		return current + rd->grace_s;
	return current + rd->period_s + rd->grace_s;
}

void
summary_status(struct reportd *rd, json_t *status)
{
	uint64_t now = (uint64_t)time(NULL);
	double hold = sm.hold_until - ev_now(rd->loop);

	json_object_set_new(status, "wallet_connected",
	    json_boolean(ipc_client_connected(sm.wallet)));
	json_object_set_new(status, "submitting", json_boolean(sm.in_flight));
	json_object_set_new(status, "next_summary_at",
	    json_integer((json_int_t)summary_next_due(rd, now)));
	json_object_set_new(
	    status, "start_hold_s", json_real(hold > 0 ? hold : 0.0));
}

void
summary_start(struct reportd *rd)
{
	sm.rd = rd;
	if ((sm.wallet = ipc_client_new(
		 rd->loop, rd->wallet_path, "chaind's wallet")) == NULL)
		fatalx("out of memory");
	sm.hold_until =
	    ev_now(rd->loop) + (double)rd->grace_s + SUMMARY_START_HOLD_S;
	sm.trimmed = ev_now(rd->loop) - 3600.0;
	ev_timer_init(
	    &sm.tick, summary_on_tick, SUMMARY_TICK_S, SUMMARY_TICK_S);
	sm.tick.data = rd;
	ev_timer_start(rd->loop, &sm.tick);
}

void
summary_stop(struct reportd *rd)
{
	ev_timer_stop(rd->loop, &sm.tick);
	ipc_client_free(sm.wallet);
	sm.wallet = NULL;
	if (sm.in_flight)
		spool_summary_free(&sm.current);
	sm.in_flight = false;
}
