/*
 * proxyd's access records (IPC_ACCESS_BATCH on reportd.sock): each batch
 * is checked whole, stored in one sqlite transaction, and only then
 * answered stored = true. A batch seen before is answered the same way
 * without being stored twice; one that cannot be written (disk full,
 * read-only) is answered false, and proxyd keeps it for a retry.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "log.h"
#include "reportd.h"

/* Store failures logged at most this often; the rest are counted. */
#define INTAKE_LOG_INTERVAL_S 60.0

/* The records of the batch being handled (pointing into its frame). */
static struct access_record intake_recs[ACCESS_BATCH_MAX];
static ev_tstamp intake_failure_logged;
static uint64_t intake_failures_unlogged;

static void
intake_reply(struct ipc_conn *conn, uint32_t id, bool stored)
{
	struct ipc_writer w;

	ipc_msg_begin(&w, IPC_ACCESS_BATCH_REPLY, id);
	ipc_put_bool(&w, stored);
	ipc_conn_reply(conn, &w);
}

static void
intake_log_failure(struct reportd *rd, uint64_t n)
{
	ev_tstamp now = ev_now(rd->loop);

	if (rd->store_failing &&
	    now - intake_failure_logged < INTAKE_LOG_INTERVAL_S) {
		intake_failures_unlogged++;
		return;
	}
	log_err("intake: cannot store a batch of %" PRIu64 " records: %s; "
		"answered stored=false, proxyd keeps it%s",
	    n, spool_error(rd->spool),
	    intake_failures_unlogged > 0 ? " (more such failures not logged)"
					 : "");
	intake_failure_logged = now;
	intake_failures_unlogged = 0;
}

/*
 * IPC_ACCESS_BATCH: u64 instance, u64 seq, u64 n, then n times (str
 * address, str topic, u64 action, u64 first_ms, u64 last_ms, u64 count,
 * u64 bytes). Reply IPC_ACCESS_BATCH_REPLY: bool stored.
 */
static bool
intake_on_batch(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct reportd *rd = arg;
	uint64_t instance, seq, n = 0, i, action, late, accesses = 0;
	struct access_record *r;
	const char *why = NULL;
	size_t address_len;
	bool duplicate;

	if (ipc_get_u64(msg, &instance) != IPC_OK ||
	    ipc_get_u64(msg, &seq) != IPC_OK || ipc_get_u64(msg, &n) != IPC_OK)
		why = "header";
	else if (n > ACCESS_BATCH_MAX)
		why = "more records than a batch holds";
	for (i = 0; why == NULL && i < n; i++) {
		r = &intake_recs[i];
		if (ipc_get_str(msg, &r->address, &address_len) != IPC_OK ||
		    ipc_get_str(msg, &r->topic, &r->topic_len) != IPC_OK ||
		    ipc_get_u64(msg, &action) != IPC_OK ||
		    ipc_get_u64(msg, &r->first_ms) != IPC_OK ||
		    ipc_get_u64(msg, &r->last_ms) != IPC_OK ||
		    ipc_get_u64(msg, &r->count) != IPC_OK ||
		    ipc_get_u64(msg, &r->bytes) != IPC_OK) {
			why = "a record's fields";
			break;
		}
		r->action = action > ACCESS_DELIVERY ? 0 : (unsigned)action;
		if (address_len != ACCESS_ADDRESS_LEN)
			why = "address";
		else
			(void)access_record_valid(r, &why);
		accesses += r->count;
	}
	if (why == NULL && ipc_get_end(msg) != IPC_OK)
		why = "fields after the last record";
	if (why != NULL) {
		log_warn("intake: malformed IPC_ACCESS_BATCH (%s); "
			 "disconnecting the peer",
		    why);
		return false;
	}
	if (spool_store_batch(rd->spool, instance, seq, intake_recs, n,
		rd->period_s, (uint64_t)time(NULL), &duplicate,
		&late) != SPOOL_OK) {
		rd->batches_failed++;
		intake_log_failure(rd, n);
		rd->store_failing = true;
		intake_reply(conn, msg->id, false);
		return true;
	}
	if (rd->store_failing) {
		log_info("intake: storing works again");
		rd->store_failing = false;
	}
	if (duplicate) {
		rd->batches_duplicate++;
		log_info("intake: batch %" PRIu64 " of proxyd %016" PRIx64
			 " was stored before (its answer was lost)",
		    seq, instance);
	} else {
		rd->batches_stored++;
		rd->records_stored += n;
		rd->accesses_stored += accesses;
		rd->late_records += late;
		log_debug("intake: batch %" PRIu64 " of proxyd %016" PRIx64
			  ": %" PRIu64 " records stored",
		    seq, instance, n);
		if (late > 0)
			log_warn("intake: %" PRIu64 " records arrived after "
				 "their period was summarised: kept, but in "
				 "no summary",
			    late);
	}
	intake_reply(conn, msg->id, true);
	return true;
}

static const struct ipc_handler intake_handlers[] = {
    {IPC_ACCESS_BATCH, intake_on_batch},
    {0, NULL},
};

void
intake_open(struct reportd *rd, const char *path)
{
	rd->intake =
	    ipc_server_listen(rd->loop, path, 0660, intake_handlers, rd);
	if (rd->intake == NULL)
		fatal("listen on %s", path);
}

void
intake_close(struct reportd *rd)
{
	ipc_server_close(rd->intake);
	rd->intake = NULL;
}
