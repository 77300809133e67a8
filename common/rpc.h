/*
 * JSON-RPC 2.0 client for an Ethereum node over HTTP(S): asynchronous calls
 * on a libev loop (libcurl multi-socket), a blocking call for the command
 * line, and readers for the node's hex encodings. The node is untrusted.
 */
#ifndef FLYTRAP_RPC_H
#define FLYTRAP_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <jansson.h>

#define RPC_WUR __attribute__((warn_unused_result))

/* Defaults for the zero fields of struct rpc_options. */
#define RPC_DEFAULT_TIMEOUT_MS 10000
#define RPC_DEFAULT_MAX_RESPONSE (16 * 1024 * 1024)
#define RPC_DEFAULT_MAX_IN_FLIGHT 8
#define RPC_DEFAULT_MAX_QUEUED 65536
#define RPC_DEFAULT_MAX_DEPTH 64
/* The deepest nesting max_depth may allow (jansson's own limit is 2048). */
#define RPC_MAX_DEPTH_LIMIT 1024

/* Room for rpc_hex_u64's output: "0x", 16 digits, NUL. */
#define RPC_HEX_U64_SIZE 19
/* Room for rpc_error.message, NUL included. */
#define RPC_ERROR_MESSAGE_SIZE 256

/*
 * How a call ended. Every failure has its own value so callers and tests can
 * tell a slow node from a hostile one.
 */
enum rpc_status {
	RPC_OK = 0,
	RPC_ERR_TRANSPORT, /* connect refused, DNS, TLS, connection lost */
	RPC_ERR_HTTP, /* an HTTP status other than 200 */
	RPC_ERR_TIMEOUT, /* no complete answer before the call's deadline */
	RPC_ERR_TOO_LARGE, /* body over max_response_bytes, or head over 64 KiB
			      (the transfer is aborted as soon as it is) */
	RPC_ERR_BAD_JSON, /* body is not JSON (garbage, truncated, empty) */
	RPC_ERR_TOO_DEEP, /* JSON nested deeper than max_depth */
	RPC_ERR_BAD_RESPONSE, /* JSON, but not a JSON-RPC 2.0 response */
	RPC_ERR_ID_MISMATCH, /* a response to some other request */
	RPC_ERR_JSONRPC, /* the node answered with an error object */
	RPC_ERR_INVALID, /* bad arguments to rpc_call / rpc_call_sync */
	RPC_ERR_BUSY, /* max_queued calls already waiting */
	RPC_ERR_NOMEM, /* out of memory (or libcurl refused to set up) */
};

/* A short name of st for logs ("ok", "timeout", ...); never NULL. */
const char *rpc_status_str(enum rpc_status st);

/*
 * Details of a failed call.
 * - code: the error object's code (RPC_ERR_JSONRPC), else 0.
 * - http_status: the HTTP status when a response head arrived, else 0.
 * - message: the node's message (RPC_ERR_JSONRPC), or what went wrong;
 *   control characters replaced by '?', truncated on a UTF-8 boundary.
 * - data: the error object's "data" member (for a reverted eth_call, the
 *   revert data as 0x-hex), or NULL. In an rpc_done_fn it is borrowed and
 *   lives until the callback returns; from rpc_call_sync and
 *   rpc_response_parse it is a reference released by rpc_error_clear().
 */
struct rpc_error {
	int64_t code;
	long http_status;
	char message[RPC_ERROR_MESSAGE_SIZE];
	json_t *data;
};

/* Releases err->data and zeroes err. NULL is harmless. */
void rpc_error_clear(struct rpc_error *err);

/*
 * Client settings; a zero field takes its RPC_DEFAULT_*, and a NULL
 * options pointer takes every default. Strings are copied.
 */
struct rpc_options {
	unsigned timeout_ms; /* per call, from rpc_call until its callback */
	size_t max_response_bytes; /* body cap, enforced while receiving */
	unsigned max_in_flight; /* concurrent transfers = connections */
	unsigned max_queued; /* calls waiting for a free transfer slot */
	unsigned max_depth; /* JSON nesting bound, 1..RPC_MAX_DEPTH_LIMIT */
	const char *ca_file; /* PEM bundle for https; NULL: system store */
	bool insecure; /* https without verifying the node (tests only) */
	const char *user_agent; /* NULL: "flytrap" */
};

/* ---- Asynchronous client ------------------------------------------------ */

struct rpc_client;

/*
 * The end of one call, run from the event loop exactly once unless the call
 * was cancelled or the client freed first. On RPC_OK result is the
 * "result" member (any JSON value, json null included) and err is NULL; on
 * failure result is NULL and err says why. Both are borrowed: they live
 * until the callback returns (json_incref what must outlive it). The
 * callback may make calls, cancel calls and free the client.
 */
typedef void rpc_done_fn(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err);

/*
 * A client for the node at url (http:// or https:// only; no redirects are
 * followed). Connections are HTTP keep-alive and reused; at most
 * max_in_flight transfers run at once and further calls wait in a FIFO.
 * Returns NULL (and logs why) for another URL scheme, an out-of-range
 * option, or when libcurl cannot be set up. The program should ignore
 * SIGPIPE (the daemon boot sequence does). Free the client before its loop.
 */
struct rpc_client *rpc_client_new(
    struct ev_loop *loop, const char *url, const struct rpc_options *opts);

/*
 * Drops every pending call without running its callback and frees the
 * client. May be called from a callback: the client is then freed when
 * that callback returns. NULL is harmless.
 */
void rpc_client_free(struct rpc_client *c);

/*
 * Starts a call of `method` with `params` (a JSON array or object, or NULL
 * for []); params is stolen, even on failure. On RPC_OK *call_id (if not
 * NULL) gets the call's id, never 0, which is also the JSON-RPC id sent,
 * and cb will run later from the loop, never from inside rpc_call. Any
 * other return means cb will not run: RPC_ERR_INVALID (method empty or over
 * 255 bytes, NULL cb, params neither array nor object, client being
 * freed), RPC_ERR_BUSY (max_queued calls already waiting), RPC_ERR_NOMEM.
 * The call's timeout_ms deadline starts now, time spent queued included.
 */
enum rpc_status rpc_call(struct rpc_client *c, const char *method,
    json_t *params, rpc_done_fn *cb, void *arg, uint64_t *call_id) RPC_WUR;

/*
 * Forgets a call: its callback will not run and its transfer (if started)
 * is aborted. Returns false if no such call is pending (already finished,
 * cancelled, or never issued).
 */
bool rpc_cancel(struct rpc_client *c, uint64_t call_id);

struct rpc_client_stats {
	uint64_t calls; /* calls accepted by rpc_call */
	uint64_t calls_ok; /* callbacks run with RPC_OK */
	uint64_t calls_failed; /* callbacks run with a failure */
	uint64_t connections_opened; /* TCP connections made, over all time */
	unsigned in_flight; /* transfers running now */
	unsigned queued; /* calls waiting for a transfer slot now */
};

void rpc_client_get_stats(
    const struct rpc_client *c, struct rpc_client_stats *out);

/* ---- Blocking call ------------------------------------------------------ */

/*
 * One call that blocks until it ends, at most opts->timeout_ms (for
 * flytrapctl; never in a daemon).
 * params as for rpc_call (stolen). On RPC_OK *result is a new reference to
 * the result (json_decref it). On failure *result is NULL and, if err is
 * not NULL, err is filled in (release with rpc_error_clear). Same statuses
 * as rpc_done_fn gets, plus RPC_ERR_INVALID for a bad url or argument.
 */
enum rpc_status rpc_call_sync(const char *url, const struct rpc_options *opts,
    const char *method, json_t *params, json_t **result,
    struct rpc_error *err) RPC_WUR;

/* ---- Envelope (no I/O; used by both clients, exported for tests) --------- */

/*
 * The request body {"jsonrpc":"2.0","id":id,"method":...,"params":...}
 * as compact JSON, malloc'ed, or NULL (out of memory). params is borrowed
 * and NULL means [].
 */
char *rpc_request_encode(uint64_t id, const char *method, json_t *params);

/*
 * Validates a response body to the request with `id`:
 * - RPC_ERR_TOO_DEEP: objects/arrays nested deeper than max_depth (checked
 *   before parsing, so a hostile body costs one linear scan);
 * - RPC_ERR_BAD_JSON: not one JSON value, duplicate keys, NUL in strings;
 * - RPC_ERR_BAD_RESPONSE: not an object, "jsonrpc" not "2.0", not exactly
 *   one of "result" and "error", or an error that is not an object with an
 *   integer code and a string message (other members are ignored);
 * - RPC_ERR_ID_MISMATCH: "id" missing or not the integer id (an error
 *   object with id null is accepted: the spec's answer to a request the
 *   node could not read);
 * - RPC_ERR_JSONRPC: a valid error object, copied to err;
 * - RPC_OK: *result is a new reference to "result".
 * On failure *result is NULL and err (if not NULL) says why; release it
 * with rpc_error_clear. Never reads beyond body[len - 1]; body need not be
 * NUL-terminated.
 */
enum rpc_status rpc_response_parse(const char *body, size_t len, uint64_t id,
    unsigned max_depth, json_t **result, struct rpc_error *err) RPC_WUR;

/* ---- Readers for the node's hex encodings -------------------------------- */

/*
 * A quantity ("0x" + hex digits, no leading zero except "0x0") of at most
 * 64 bits. False for any other JSON value or text, "0x", "0x01", more than
 * 64 bits, or a non-hex digit; *out is then untouched.
 */
bool rpc_result_u64(const json_t *v, uint64_t *out) RPC_WUR;

/*
 * A quantity of up to 256 bits (balances, prices in wei), as 32 bytes
 * big-endian. Same rules as rpc_result_u64.
 */
bool rpc_result_u256(const json_t *v, uint8_t out[32]) RPC_WUR;

/*
 * Data ("0x" + an even number of hex digits, "0x" being empty) of at most
 * max_len bytes, decoded into a new malloc'ed buffer (non-NULL even when
 * empty) that the caller frees. False for any other value, an odd digit
 * count, a non-hex digit, more than max_len bytes, or out of memory;
 * *data and *len are then untouched.
 */
bool rpc_result_bytes(
    const json_t *v, size_t max_len, uint8_t **data, size_t *len) RPC_WUR;

/* Writes v as a quantity ("0x0", "0x1f", ...) to buf; returns buf. */
char *rpc_hex_u64(uint64_t v, char buf[RPC_HEX_U64_SIZE]);

#endif
