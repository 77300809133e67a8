/*
 * flytrapctl's command table and the helpers its commands share.
 */
#ifndef FLYTRAP_FLYTRAPCTL_H
#define FLYTRAP_FLYTRAPCTL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "ipc.h"

struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Exit statuses: 0 success, 1 failure, 2 usage error. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

int ctl_keygen(int argc, char **argv);
int ctl_address(int argc, char **argv);
int ctl_token(int argc, char **argv);
int ctl_config(int argc, char **argv);
int ctl_keystore(int argc, char **argv);
int ctl_deploy(int argc, char **argv);
int ctl_topic(int argc, char **argv);
int ctl_grant(int argc, char **argv);
int ctl_revoke(int argc, char **argv);
int ctl_buy(int argc, char **argv);
int ctl_reporter(int argc, char **argv);
int ctl_withdraw(int argc, char **argv);
int ctl_status(int argc, char **argv);
int ctl_ban(int argc, char **argv);
int ctl_unban(int argc, char **argv);
int ctl_bans(int argc, char **argv);
int ctl_authd_status(int argc, char **argv);
/* audit_proof.c: `flytrapctl audit prove` and `audit verify`. */
int ctl_audit_prove(int argc, char **argv);
int ctl_audit_verify(int argc, char **argv);

/* audit.c: `flytrapctl audit SUBCOMMAND`, a table of subcommands. */
int ctl_audit(int argc, char **argv);
/* audit_query.c: chaind's audit queries (argv[0] names the kind). */
int ctl_audit_query(int argc, char **argv);
/* erase.c */
int ctl_erase(int argc, char **argv);

/* How ctl_query_socket ended. */
enum ctl_query_status {
	CTL_QUERY_OK, /* *ok and *answer hold the reply */
	CTL_QUERY_UNREACHABLE, /* cannot connect (errno says why); unreported */
	CTL_QUERY_FAILED, /* any other failure, already reported */
};

/*
 * Sends request w to a daemon's socket and reads a reply of type `reply`
 * made of (bool ok, str JSON object), as IPC_AUDIT_QUERY, IPC_ERASE and
 * IPC_REPORT_QUERY have. On CTL_QUERY_OK *answer is a new reference (the
 * answer, or {"error": ...} when *ok is false). Failures are reported as
 * "CMD: DAEMON ..." except an unreachable socket, left to the caller.
 */
enum ctl_query_status ctl_query_socket(const char *cmd, const char *daemon,
    const char *path, double timeout_s, struct ipc_writer *w,
    enum ipc_type reply, bool *ok, json_t **answer);

/*
 * A time: Unix seconds, "now", or a UTC date "2025-01-31",
 * "2025-01-31T12:00", "2025-01-31T12:00:00Z". False for anything else.
 */
bool ctl_time_parse(const char *s, uint64_t *out);

/*
 * sockets.c. The path of a daemon's socket: `given` (an option), else the
 * environment variable `env`, else <runtime_dir>/`name` of the
 * configuration (`config`, else $FLYTRAP_CONFIG, else the default file,
 * whose absence means the defaults). Reports and returns false on failure.
 */
bool ctl_socket_path(const char *given, const char *env, const char *config,
    const char *name, char *out, size_t len);
/* --timeout SECONDS: 1 to 3600; reports and returns false otherwise. */
bool ctl_timeout_parse(const char *arg, double *out);
/* Prints untrusted text with control characters shown as '?'. */
void ctl_print_text(FILE *out, const char *s, size_t len);
/* The same for a NUL-terminated string on stdout; NULL prints nothing. */
void ctl_print_str(const char *s);

/* Prints "flytrapctl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
