/*
 * Audit queries over chaind's copy of the contract's events
 * (docs/AUDIT.md, "The audit trail (chaind)"): who held what when, why
 * an address may use a topic, the event list, the summaries and alerts
 * on chain. Shared by the status socket (IPC_AUDIT_QUERY), the HTTP
 * server and flytrapctl's `audit` commands.
 */
#ifndef FLYTRAP_CHAIND_AUDIT_H
#define FLYTRAP_CHAIND_AUDIT_H

#include <stddef.h>

#include <jansson.h>

struct chaind;

/* Answers one audit query (docs/AUDIT.md): kind and a JSON object of
 * parameters (strings or integers). Returns a new JSON object, or NULL
 * with a message for the caller to show in err (bad parameter, unknown
 * kind, database error). */
json_t *audit_query(struct chaind *cd, const char *kind, const json_t *params,
    char *err, size_t errlen);

/*
 * Erasure (IPC_ERASE on wallet.sock): forgets what chaind keeps locally
 * about subject, an address (0x and 40 hex digits) or an IP, and lists
 * what stays on the public chain about it. Returns a new JSON object
 * {subject, kind, removed: {...}, remains_on_chain: [...], ...}, or NULL
 * with a message in err (not an address nor an IP, database error).
 */
json_t *audit_erase(struct chaind *cd, const char *subject, size_t len,
    char *err, size_t errlen);

#endif
