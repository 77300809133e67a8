/*
 * Sending a daemon's counters to chaind (see metrics_client.h).
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "metrics_client.h"

/* How long chaind has to acknowledge a report before it is forgotten. */
#define METRICS_TIMEOUT_S 5.0

void
metrics_instance_name(const char *daemon, char *out, size_t len)
{
	unsigned int tag = 0;

	if (getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag))
		tag = (unsigned int)getpid();
	snprintf(out, len, "%s:%ld:%08x", daemon, (long)getpid(), tag);
}

static void
metrics_on_reply(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	(void)arg;
	if (st == IPC_OK && msg->type != IPC_METRICS_REPLY)
		log_debug(
		    "metrics: chaind answered %s", ipc_type_str(msg->type));
}

void
metrics_send(struct ipc_client *chaind, const char *daemon,
    const char *instance, const char *counters)
{
	struct ipc_writer w;
	uint32_t id;

	if (chaind == NULL || !ipc_client_connected(chaind))
		return;
	id = ipc_client_begin(chaind, &w, IPC_METRICS);
	ipc_put_str(&w, daemon, strlen(daemon));
	ipc_put_str(&w, instance, strlen(instance));
	ipc_put_str(&w, counters, strlen(counters));
	if (ipc_client_send(chaind, &w, id, METRICS_TIMEOUT_S, metrics_on_reply,
		NULL) != IPC_OK)
		log_debug("metrics: cannot send to chaind");
}
