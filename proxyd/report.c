/*
 * Access records of sensitive topics, from proxyd to reportd
 * (docs/AUDIT.md): every allowed PUBLISH, SUBSCRIBE filter and delivery on
 * a sensitive entry goes into a bounded queue (reportq.c), and batches of
 * it go to <runtime_dir>/reportd.sock, one at a time, at least every
 * second. Records leave the queue only when reportd says it has stored
 * them; a batch is sent again, identical and under the same sequence
 * number, until it has. Nothing here waits: a full queue drops the
 * newest records, counted and logged.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>

#include "ipc.h"
#include "log.h"
#include "proxyd.h"
#include "reportq.h"

/* How often the queue is sent, and drops are logged at most. */
#define REPORT_INTERVAL_S 1.0
#define REPORT_LOG_INTERVAL_S 60.0
/* Seconds reportd has to store a batch durably. */
#define REPORT_TIMEOUT_S 10.0
/* Ring bytes per record of [proxyd] report_buffer (topics vary). */
#define REPORT_BYTES_PER_RECORD 256
/*
 * A batch stays well within IPC_MAX_FRAME: what one record costs beyond
 * its topic (msgpack headers, the address, seven numbers) at most.
 */
#define REPORT_RECORD_OVERHEAD 128
#define REPORT_BATCH_BYTES (IPC_MAX_FRAME - 4096)

static struct {
	struct proxyd *px;
	struct ipc_client *reportd;
	struct reportq q;
	ev_timer tick;
	uint64_t instance; /* random per start: reportd's dedupe key */
	uint64_t seq; /* of the next batch, or of the one in flight */
	uint64_t batch_n; /* records of the batch being sent; 0: none */
	bool in_flight;
	/* Figures, logged at shutdown. */
	uint64_t accesses; /* every access recorded (joined or not) */
	uint64_t stored_records; /* records reportd has stored */
	uint64_t stored_accesses;
	uint64_t dropped; /* accesses lost to a full queue */
	uint64_t dropped_unlogged;
	ev_tstamp drop_logged;
	ev_tstamp failure_logged;
	uint64_t failures_unlogged;
} rp;

/* Logs drops at most once a minute, with how many since the last line. */
static void
report_log_drops(bool force)
{
	ev_tstamp now = ev_now(rp.px->loop);

	if (rp.dropped_unlogged == 0 ||
	    (!force && now - rp.drop_logged < REPORT_LOG_INTERVAL_S))
		return;
	log_warn("report: queue full (%" PRIu64 " records): %" PRIu64
		 " accesses of sensitive topics were not recorded (%" PRIu64
		 " since start)",
	    reportq_len(&rp.q), rp.dropped_unlogged, rp.dropped);
	rp.dropped_unlogged = 0;
	rp.drop_logged = now;
}

static void
report_log_failure(const char *why)
{
	ev_tstamp now = ev_now(rp.px->loop);

	if (now - rp.failure_logged < REPORT_LOG_INTERVAL_S) {
		rp.failures_unlogged++;
		return;
	}
	log_warn("report: batch %" PRIu64 " of %" PRIu64 " records not "
		 "stored by reportd (%s); %" PRIu64 " records kept for a "
		 "retry%s",
	    rp.seq, rp.batch_n, why, reportq_len(&rp.q),
	    rp.failures_unlogged > 0 ? "; earlier failures not logged" : "");
	rp.failure_logged = now;
	rp.failures_unlogged = 0;
}

static void report_flush(void);

/* IPC_ACCESS_BATCH_REPLY: bool stored. */
static void
report_on_reply(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	const struct reportq_rec *r;
	struct reportq_iter it;
	uint64_t i;
	bool stored;

	(void)arg;
	rp.in_flight = false;
	if (st != IPC_OK) {
		report_log_failure(ipc_status_str(st));
		return;
	}
	if (msg->type != IPC_ACCESS_BATCH_REPLY ||
	    ipc_get_bool(msg, &stored) != IPC_OK || ipc_get_end(msg) != IPC_OK)
		fatalx("malformed %s from reportd", ipc_type_str(msg->type));
	if (!stored) {
		report_log_failure("reportd could not write it");
		return;
	}
	reportq_iter_begin(&rp.q, &it);
	for (i = 0; i < rp.batch_n && (r = reportq_iter_next(&rp.q, &it)); i++)
		rp.stored_accesses += r->count;
	rp.stored_records += rp.batch_n;
	log_debug("report: batch %" PRIu64 " of %" PRIu64 " records stored",
	    rp.seq, rp.batch_n);
	reportq_pop(&rp.q, rp.batch_n);
	rp.batch_n = 0;
	rp.seq++;
	/* A backlog (reportd was away) goes at once, not one a second. */
	if (reportq_len(&rp.q) >= ACCESS_BATCH_MAX)
		report_flush();
}

/*
 * Sends the batch: the one not yet confirmed, the same records again, or
 * a new one from the oldest records.
 */
static void
report_flush(void)
{
	const struct reportq_rec *r;
	struct reportq_iter it;
	struct ipc_writer w;
	enum ipc_status st;
	size_t bytes = 0;
	uint64_t n = 0;
	uint32_t id;

	if (rp.in_flight || reportq_len(&rp.q) == 0 ||
	    !ipc_client_connected(rp.reportd))
		return;
	if (rp.batch_n == 0) {
		reportq_iter_begin(&rp.q, &it);
		while (n < ACCESS_BATCH_MAX &&
		    (r = reportq_iter_next(&rp.q, &it)) != NULL) {
			bytes += r->topic_len + REPORT_RECORD_OVERHEAD;
			if (bytes > REPORT_BATCH_BYTES)
				break;
			n++;
		}
		rp.batch_n = n;
		reportq_freeze(&rp.q, n);
	}
	id = ipc_client_begin(rp.reportd, &w, IPC_ACCESS_BATCH);
	ipc_put_u64(&w, rp.instance);
	ipc_put_u64(&w, rp.seq);
	ipc_put_u64(&w, rp.batch_n);
	reportq_iter_begin(&rp.q, &it);
	for (n = 0; n < rp.batch_n && (r = reportq_iter_next(&rp.q, &it));
	     n++) {
		ipc_put_str(&w, r->address, ACCESS_ADDRESS_LEN);
		ipc_put_str(&w, r->topic, r->topic_len);
		ipc_put_u64(&w, r->action);
		ipc_put_u64(&w, r->first_ms);
		ipc_put_u64(&w, r->last_ms);
		ipc_put_u64(&w, r->count);
		ipc_put_u64(&w, r->bytes);
	}
	st = ipc_client_send(
	    rp.reportd, &w, id, REPORT_TIMEOUT_S, report_on_reply, NULL);
	if (st != IPC_OK) {
		report_log_failure(ipc_status_str(st));
		return;
	}
	rp.in_flight = true;
}

static void
report_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	report_log_drops(false);
	report_flush();
}

void
report_access(struct session *s, enum access_action action,
    const uint8_t *topic, size_t len, size_t bytes)
{
	uint64_t now_ms = (uint64_t)(ev_now(s->px->loop) * 1000.0);

	rp.accesses++;
	switch (reportq_add(&rp.q, &s->report_ref, s->address, action, topic,
	    len, (uint64_t)bytes, now_ms)) {
	case REPORTQ_ADDED:
		/* A full batch goes now (unless one waits for a retry). */
		if (rp.batch_n == 0 && reportq_len(&rp.q) >= ACCESS_BATCH_MAX)
			report_flush();
		break;
	case REPORTQ_JOINED:
		break;
	case REPORTQ_FULL:
		rp.dropped++;
		rp.dropped_unlogged++;
		report_log_drops(false);
		break;
	}
}

uint64_t
report_dropped(void)
{
	return rp.dropped;
}

void
report_start(struct proxyd *px, const char *path)
{
	uint64_t records = (uint64_t)px->cfg->proxyd.report_buffer;

	rp.px = px;
	while (getrandom(&rp.instance, sizeof(rp.instance), 0) !=
	    (ssize_t)sizeof(rp.instance))
		if (errno != EINTR)
			fatal("getrandom");
	rp.seq = 1;
	reportq_init(&rp.q, records, (size_t)records * REPORT_BYTES_PER_RECORD);
	if ((rp.reportd = ipc_client_new(px->loop, path, "reportd")) == NULL)
		fatalx("out of memory");
	ev_timer_init(
	    &rp.tick, report_on_tick, REPORT_INTERVAL_S, REPORT_INTERVAL_S);
	ev_timer_start(px->loop, &rp.tick);
}

void
report_stop(struct proxyd *px)
{
	ev_timer_stop(px->loop, &rp.tick);
	report_log_drops(true);
	log_info("report: %" PRIu64 " accesses of sensitive topics, %" PRIu64
		 " stored by reportd in %" PRIu64 " records, %" PRIu64
		 " dropped (queue full), %" PRIu64
		 " records not sent (lost at shutdown)",
	    rp.accesses, rp.stored_accesses, rp.stored_records, rp.dropped,
	    reportq_len(&rp.q));
	ipc_client_free(rp.reportd);
	rp.reportd = NULL;
	reportq_free(&rp.q);
}
