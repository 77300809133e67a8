/*
 * A daemon's counters for chaind's /metrics: IPC_METRICS (str daemon, str
 * instance, str a JSON object of counters) on chaind.sock, fire and
 * forget (docs/AUDIT.md, "HTTP API"). A missing chaind costs nothing.
 */
#ifndef FLYTRAP_METRICS_CLIENT_H
#define FLYTRAP_METRICS_CLIENT_H

#include <stddef.h>

struct ipc_client;

/* Seconds between two reports; chaind forgets an instance after 60 s. */
#define METRICS_INTERVAL_S 10.0

/*
 * Writes "<daemon>:<pid>:<8 random hex digits>" to out: an instance name
 * distinct per start, of the characters chaind accepts.
 */
void metrics_instance_name(const char *daemon, char *out, size_t len);

/* Sends one report if the client is connected; the JSON is copied. */
void metrics_send(struct ipc_client *chaind, const char *daemon,
    const char *instance, const char *counters);

#endif
