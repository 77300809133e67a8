/*
 * IPC between the FlyTrap daemons: msgpack messages framed on Unix stream
 * sockets, driven by libev. Requests carry an id that the reply echoes, so
 * many requests can be in flight on one socket; a request without a reply
 * before its deadline fails (and callers fail closed).
 *
 * Frame:   u32 big-endian length of the body, then the body.
 * Body:    a sequence of msgpack objects: IPC_VERSION, type, id, fields...
 *          Readers take the fields in order; leftover fields are an error.
 */
#ifndef FLYTRAP_IPC_H
#define FLYTRAP_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <msgpack.h>

#define IPC_WUR __attribute__((warn_unused_result))

/* Bumped on every change to the message set or to a message's fields. */
#define IPC_VERSION 7

/* The largest frame body either side accepts. */
#define IPC_MAX_FRAME (1024 * 1024)

/*
 * The most output one connection may have queued that the kernel has not
 * taken yet: beyond it a server disconnects the peer (it does not read its
 * replies) and a client refuses new requests with IPC_ERR_BUSY.
 */
#define IPC_MAX_QUEUED (8 * 1024 * 1024)

/*
 * Every message type of the suite. Replies are their own types. The fields
 * of each are listed in docs/IPC.md.
 */
enum ipc_type {
	IPC_ERROR_REPLY = 1, /* generic refusal: u64 code, str text */
	IPC_AUTH_TOKEN, /* proxyd -> authd: verify a timed/static token */
	IPC_AUTH_TOKEN_REPLY,
	IPC_AUTH_CHALLENGE, /* proxyd -> authd: issue a challenge nonce */
	IPC_AUTH_CHALLENGE_REPLY,
	IPC_AUTH_RESPONSE, /* proxyd -> authd: verify a challenge answer */
	IPC_AUTH_RESPONSE_REPLY,
	IPC_ACL_CHECK, /* proxyd -> chaind: may an address act on a topic */
	IPC_ACL_CHECK_REPLY,
	IPC_ACL_INVALIDATE, /* chaind -> proxyd, unsolicited: forget answers */
	IPC_STATUS, /* flytrapctl -> chaind: how is the chain side */
	IPC_STATUS_REPLY, /* str: a JSON object of figures */
	IPC_TX_SUBMIT, /* a daemon -> chaind: send this call to the contract */
	IPC_TX_SUBMIT_REPLY,
	IPC_CONN_CHECK, /* proxyd -> authd: may this IP connect; country */
	IPC_CONN_CHECK_REPLY,
	IPC_STRIKE, /* proxyd -> authd: a denied request counts to a ban */
	IPC_STRIKE_REPLY,
	IPC_BAN_NOTICE, /* authd -> proxyd, unsolicited: close these */
	IPC_BAN_ADD, /* flytrapctl -> authd (admin socket): ban by hand */
	IPC_BAN_REMOVE, /* flytrapctl -> authd (admin socket): lift a ban */
	IPC_BAN_REPLY,
	IPC_BAN_LIST, /* flytrapctl -> authd (admin socket) */
	IPC_BAN_LIST_REPLY, /* str: a JSON array of bans */
	IPC_AUTHD_STATUS, /* flytrapctl -> authd (admin socket): counters */
	IPC_AUTHD_STATUS_REPLY, /* str: a JSON object */
	IPC_ALERT, /* authd -> chaind: write a Banned/WrongCountry alert */
	IPC_ALERT_REPLY,
	IPC_BAN_SYNC, /* authd -> chaind: Banned events after a cursor */
	IPC_BAN_SYNC_REPLY,
	IPC_ACCESS_BATCH, /* proxyd -> reportd: sensitive-topic accesses */
	IPC_ACCESS_BATCH_REPLY,
	IPC_REPORT_QUERY, /* flytrapctl -> reportd (admin socket) */
	IPC_REPORT_QUERY_REPLY,
	IPC_AUDIT_QUERY, /* flytrapctl -> chaind (status socket) */
	IPC_AUDIT_QUERY_REPLY,
	IPC_ERASE, /* flytrapctl -> chaind (wallet socket): forget a subject */
	IPC_ERASE_REPLY,
	IPC_METRICS, /* a daemon -> chaind: its counters, for /metrics */
	IPC_METRICS_REPLY,
	IPC_TYPE_MAX
};

enum ipc_status {
	IPC_OK = 0,
	IPC_ERR_DECODE, /* bad msgpack, wrong field type, or leftovers */
	IPC_ERR_VERSION, /* peer speaks another IPC_VERSION */
	IPC_ERR_TOO_LARGE, /* frame over IPC_MAX_FRAME */
	IPC_ERR_DISCONNECTED, /* no connection to the peer */
	IPC_ERR_TIMEOUT, /* no reply before the deadline */
	IPC_ERR_BUSY, /* too many requests in flight or queued */
};

const char *ipc_status_str(enum ipc_status s);
const char *ipc_type_str(enum ipc_type t);

/* ---- Building messages -------------------------------------------------- */

struct ipc_writer {
	msgpack_sbuffer buf;
	msgpack_packer pk;
};

/* Starts a message; the writer owns a buffer until sent or discarded. */
void ipc_msg_begin(struct ipc_writer *w, enum ipc_type type, uint32_t id);
void ipc_put_u64(struct ipc_writer *w, uint64_t v);
void ipc_put_i64(struct ipc_writer *w, int64_t v);
void ipc_put_bool(struct ipc_writer *w, bool v);
void ipc_put_str(struct ipc_writer *w, const char *s, size_t len);
void ipc_put_bin(struct ipc_writer *w, const void *data, size_t len);
/* Frees the writer's buffer without sending it. */
void ipc_msg_discard(struct ipc_writer *w);
/* Running out of memory while building a message is fatal. */

/* ---- Reading messages --------------------------------------------------- */

struct ipc_reader {
	const char *data;
	size_t len;
	size_t off;
	msgpack_unpacked obj;
	enum ipc_type type;
	uint32_t id;
};

/*
 * Each getter takes the next field. Strings and binary data (never NULL, even when empty) point into the
 * frame and live until the handler returns. Returns IPC_ERR_DECODE when the
 * next field is missing or of another type.
 */
enum ipc_status ipc_get_u64(struct ipc_reader *r, uint64_t *v) IPC_WUR;
enum ipc_status ipc_get_i64(struct ipc_reader *r, int64_t *v) IPC_WUR;
enum ipc_status ipc_get_bool(struct ipc_reader *r, bool *v) IPC_WUR;
enum ipc_status ipc_get_str(
    struct ipc_reader *r, const char **s, size_t *len) IPC_WUR;
enum ipc_status ipc_get_bin(
    struct ipc_reader *r, const void **data, size_t *len) IPC_WUR;
/* IPC_OK only if every field has been read. */
enum ipc_status ipc_get_end(struct ipc_reader *r) IPC_WUR;

/*
 * Parses a frame body (without the length prefix) into a reader positioned
 * at the first field. Used by the connection code and by unit tests.
 */
enum ipc_status ipc_reader_init(
    struct ipc_reader *r, const char *body, size_t len) IPC_WUR;
void ipc_reader_done(struct ipc_reader *r);
/*
 * Strings from ipc_get_str are not NUL-terminated. Fields may only be
 * integers, booleans, strings and binary data: anything else (containers,
 * floats, nil) is IPC_ERR_DECODE. ipc_reader_init returns IPC_ERR_VERSION
 * when the first field is another version number, and IPC_ERR_DECODE for
 * a type outside 1..IPC_TYPE_MAX-1 or an id over 32 bits; after a failure
 * there is nothing to release, and ipc_reader_done is still harmless.
 */

/* ---- Server side -------------------------------------------------------- */

struct ipc_conn;
struct ipc_server;

/*
 * A handler gets one request. It answers with ipc_conn_reply() now or later
 * (the conn stays valid until its close callback has run). A handler that
 * finds the fields malformed returns false: the peer is disconnected.
 */
typedef bool ipc_handler_fn(
    struct ipc_conn *conn, struct ipc_reader *msg, void *arg);

struct ipc_handler {
	enum ipc_type type;
	ipc_handler_fn *fn;
};

/*
 * Listens on `path` (an old socket file is replaced) with file mode `mode`.
 * `handlers` ends with an entry whose fn is NULL. A message whose type has
 * no handler disconnects the peer. Returns NULL with errno set on failure.
 */
struct ipc_server *ipc_server_listen(struct ev_loop *loop, const char *path,
    unsigned mode, const struct ipc_handler *handlers, void *arg);
void ipc_server_close(struct ipc_server *srv);
/*
 * ipc_server_close closes every connection (running their on_close
 * callbacks) and removes the socket file if it is still this server's.
 * It must not be called from inside a handler.
 */

/* Sends a finished message on a server-side connection and frees w. */
void ipc_conn_reply(struct ipc_conn *conn, struct ipc_writer *w);

/*
 * Sends one unsolicited message (a push: begun with ipc_msg_begin() and
 * id 0) to every live connection, and frees w. A connection that would
 * exceed IPC_MAX_QUEUED, or whose write fails, is dropped as for a reply
 * (its on_close runs from the loop). May be called from a handler.
 */
void ipc_server_broadcast(struct ipc_server *srv, struct ipc_writer *w);

/*
 * Per-connection user data and a callback run when the peer goes away, so
 * a daemon can drop pending work for that peer.
 */
void ipc_conn_set_data(struct ipc_conn *conn, void *data,
    void (*on_close)(struct ipc_conn *conn, void *data));
void *ipc_conn_data(struct ipc_conn *conn);
/*
 * Lifetime of a conn: it is valid until its on_close callback has returned;
 * after that it is freed, and replying to it is forbidden. A daemon that
 * answers asynchronously registers on_close and drops the pending work for
 * the conn there. on_close always runs from the event loop (or from
 * ipc_server_close), never from inside ipc_conn_reply: a reply that fails
 * (write error, or more than IPC_MAX_QUEUED queued) marks the conn closing,
 * later replies to it are dropped, and on_close runs right after.
 * A malformed frame, an unknown type, another IPC version, a frame over
 * IPC_MAX_FRAME, or a handler returning false disconnects that peer only.
 */

/* ---- Client side -------------------------------------------------------- */

struct ipc_client;

/*
 * Called exactly once per request: with the reply (st == IPC_OK), or with
 * msg == NULL and the reason it failed (timeout, disconnect, busy).
 */
typedef void ipc_reply_fn(
    void *arg, struct ipc_reader *msg, enum ipc_status st);

/*
 * A client that connects to `path` and reconnects with exponential back-off
 * (from 50 ms up to 5 s) whenever the peer goes away. `name` is the peer's
 * name for logs. Requests made while disconnected fail at once with
 * IPC_ERR_DISCONNECTED (fail closed, never queued for later).
 */
struct ipc_client *ipc_client_new(
    struct ev_loop *loop, const char *path, const char *name);
void ipc_client_free(struct ipc_client *c);
bool ipc_client_connected(const struct ipc_client *c);

/* Starts a request message and returns its id. */
uint32_t ipc_client_begin(
    struct ipc_client *c, struct ipc_writer *w, enum ipc_type type);

/*
 * Sends a request started with ipc_client_begin() and frees w. The callback
 * runs later, never from inside this call. Returns IPC_OK, or
 * IPC_ERR_DISCONNECTED / IPC_ERR_BUSY, in which case the callback will not
 * be called.
 */
enum ipc_status ipc_client_send(struct ipc_client *c, struct ipc_writer *w,
    uint32_t id, double timeout_s, ipc_reply_fn *cb, void *arg) IPC_WUR;

/* Forgets a pending request: its callback will not be called. */
void ipc_client_cancel(struct ipc_client *c, uint32_t id);

/*
 * Accepts pushes (messages with id 0) from the server: each is handed to
 * the handler for its type in `handlers` (a table like the server's,
 * ending with fn == NULL), called with conn == NULL and `arg`. A push of
 * a type without a handler, or one whose handler returns false
 * (malformed), drops the connection like a malformed reply: pending
 * requests fail with IPC_ERR_DISCONNECTED and the client reconnects.
 * Without this call every push is unexpected. The table must outlive the
 * client. A handler may call ipc_client_free().
 */
void ipc_client_on_push(
    struct ipc_client *c, const struct ipc_handler *handlers, void *arg);

/*
 * Runs fn(arg) each time a connection to the server is established after
 * this call (not for one already up), from the event loop: a daemon that
 * caches answers drops them there, since pushes sent while it was
 * disconnected are lost. fn may call ipc_client_free(). NULL unsets it.
 */
void ipc_client_on_connect(
    struct ipc_client *c, void (*fn)(void *arg), void *arg);

/*
 * More on the client:
 * - ipc_client_send also returns IPC_ERR_TOO_LARGE (body over
 *   IPC_MAX_FRAME), and IPC_ERR_BUSY when 65536 requests are in flight or
 *   IPC_MAX_QUEUED bytes are queued. A timeout of 0 fails at the next loop
 *   iteration. Deadlines use the monotonic clock.
 * - A reply whose id matches no pending request (timed out, cancelled) is
 *   ignored. A malformed reply or another IPC version from the server drops
 *   the connection: every pending request fails with IPC_ERR_DISCONNECTED,
 *   then the client reconnects.
 * - ipc_client_free drops pending requests without calling their callbacks;
 *   it may be called from a callback (the client is freed when it returns).
 * - Ids start at 1 and are never 0: id 0 marks a push from the server.
 * - Bugs are fatal (fatalx): a socket path too long for sun_path, a NULL
 *   callback; likewise a handler table entry out of range or listed twice
 *   in ipc_server_listen.
 */

#endif
