/*
 * reportd's counters for chaind's /metrics (docs/AUDIT.md, "HTTP API"):
 * every 10 s one IPC_METRICS (str daemon, str instance, str a JSON object)
 * on chaind.sock. Fire and forget: a missing chaind costs nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ipc.h"
#include "log.h"
#include "metrics_client.h"
#include "reportd.h"

static struct {
	struct ipc_client *chaind;
	ev_timer tick;
	char instance[64];
} mt;

static void
metrics_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct reportd *rd = w->data;
	uint64_t pending = 0;
	json_t *o;
	char *text;

	(void)loop;
	(void)revents;
	if (!ipc_client_connected(mt.chaind))
		return;
	if (spool_summaries_pending(rd->spool, &pending) != SPOOL_OK)
		return;
	o = json_pack("{s:I, s:I}", "access_records_total",
	    (json_int_t)rd->records_stored, "summaries_pending",
	    (json_int_t)pending);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	json_decref(o);
	metrics_send(mt.chaind, "reportd", mt.instance, text);
	free(text);
}

void
metrics_start(struct reportd *rd, const char *chaind_path)
{
	metrics_instance_name("reportd", mt.instance, sizeof(mt.instance));
	if ((mt.chaind = ipc_client_new(rd->loop, chaind_path, "chaind")) ==
	    NULL)
		fatalx("out of memory");
	ev_timer_init(
	    &mt.tick, metrics_on_tick, METRICS_INTERVAL_S, METRICS_INTERVAL_S);
	mt.tick.data = rd;
	ev_timer_start(rd->loop, &mt.tick);
}

void
metrics_stop(struct reportd *rd)
{
	ev_timer_stop(rd->loop, &mt.tick);
	ipc_client_free(mt.chaind);
	mt.chaind = NULL;
}
