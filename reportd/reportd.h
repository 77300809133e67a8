/*
 * reportd's shared state and the interfaces between its parts: the spool
 * (spool.c), proxyd's batches (intake.c), the periods and their summaries
 * on-chain through chaind's wallet (summary.c) and the admin socket
 * (admin.c). docs/AUDIT.md is the contract they implement.
 */
#ifndef FLYTRAP_REPORTD_H
#define FLYTRAP_REPORTD_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <jansson.h>

#include "config.h"
#include "spool.h"

struct ipc_server;

struct reportd {
	struct ev_loop *loop;
	const struct flytrap_config *cfg;
	struct spool *spool;
	uint64_t period_s;
	uint64_t grace_s;
	struct ipc_server *intake; /* reportd.sock: proxyd */
	struct ipc_server *admin; /* reportd-admin.sock: flytrapctl */
	char wallet_path[512]; /* chaind's wallet.sock */

	/* Figures since start, for the status query and the logs. */
	uint64_t batches_stored;
	uint64_t batches_duplicate; /* already stored: a lost reply */
	uint64_t batches_failed; /* answered stored = false */
	uint64_t records_stored;
	uint64_t accesses_stored;
	uint64_t late_records;
	uint64_t periods_summarised;
	uint64_t summaries_accepted; /* by chaind's wallet */
	uint64_t periods_done;
	bool store_failing; /* the last batch could not be stored */
};

/* intake.c: IPC_ACCESS_BATCH on reportd.sock (mode 0660). */
void intake_open(struct reportd *rd, const char *path);
void intake_close(struct reportd *rd);

/*
 * summary.c: builds each period's summaries grace_s after it ends (and,
 * after a start, not before proxyd has had time to deliver what it kept)
 * and hands them to chaind's wallet, one at a time, until every one has
 * been accepted; then the period is done.
 */
void summary_start(struct reportd *rd);
void summary_stop(struct reportd *rd);
/* Adds the summary side's state to a status object. */
void summary_status(struct reportd *rd, json_t *status);

/*
 * metrics.c: reportd's counters to chaind (IPC_METRICS on chaind.sock)
 * every 10 s, for its /metrics page; nothing depends on them arriving.
 */
void metrics_start(struct reportd *rd, const char *chaind_path);
void metrics_stop(struct reportd *rd);

/* admin.c: IPC_REPORT_QUERY on reportd-admin.sock (mode 0600). */
void admin_open(struct reportd *rd, const char *path);
void admin_close(struct reportd *rd);

#endif
