/*
 * proxyd's shared state and the session state machine's interface. A
 * session pairs one client socket with one broker socket; each side has a
 * stream buffer in and out, and one handler per packet type.
 */
#ifndef FLYTRAP_PROXYD_H
#define FLYTRAP_PROXYD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "auth.h"
#include "buffer.h"
#include "config.h"
#include "eth.h"
#include "mqtt.h"
#include "token.h"

struct ipc_client;
struct listener;

struct proxyd {
	struct ev_loop *loop;
	const struct flytrap_config *cfg;
	struct ipc_client *authd;
	struct sockaddr_storage broker_addr;
	socklen_t broker_addrlen;
	uint32_t max_packet; /* whole packet, fixed header included */
	size_t buffer_limit; /* queued bytes that pause the other side */
	double connect_timeout;
	double auth_timeout;
	size_t sessions;
	struct session *first; /* every live session, for shutdown */
	uint8_t *scratch; /* room for one rewritten CONNECT */
	size_t scratch_len;
	uint8_t *props_scratch; /* room for its properties */
	struct listener *listeners;
};

/*
 * Session states, in the order a session passes through them. Every
 * change goes through session_set_state().
 */
enum session_state {
	SESSION_WAIT_CONNECT, /* reading the client's CONNECT */
	SESSION_AUTH_TOKEN, /* authd is checking a token */
	SESSION_AUTH_CHALLENGE, /* authd is issuing a nonce */
	SESSION_AUTH_WAIT, /* client owes us an AUTH answer */
	SESSION_AUTH_RESPONSE, /* authd is checking the answer */
	SESSION_BROKER_CONNECT, /* TCP connect to the broker under way */
	SESSION_BROKER_CONNACK, /* CONNECT forwarded, awaiting CONNACK */
	SESSION_RELAY, /* authenticated: packets flow both ways */
	SESSION_CLOSING, /* flushing what is queued, then closing */
};

/* One side of a session: a socket and its two buffers. */
struct session_side {
	int fd;
	ev_io rd;
	ev_io wr;
	struct buf in;
	struct buf out;
	bool paused; /* reading stopped for back-pressure */
};

struct session {
	struct proxyd *px;
	struct session *prev, *next;
	enum session_state state;
	struct session_side client;
	struct session_side broker;
	ev_timer timer; /* CONNECT deadline, keep-alive, or linger */
	uint8_t version; /* 0 until the CONNECT is decoded */
	uint16_t keep_alive;
	ev_tstamp last_client_packet;
	bool ipc_pending;
	uint32_t ipc_id;
	uint8_t *connect_pkt; /* the client's CONNECT, held during auth */
	size_t connect_len;
	uint8_t nonce[TOKEN_NONCE_LEN];
	char address[ETH_ADDRESS_HEX_SIZE];
	char peer[64]; /* client IP, for logs and authd */
	bool dead; /* torn down; freed after this loop iteration */
};

/* session.c */
void session_accept(
    struct proxyd *px, int fd, const struct sockaddr *sa, socklen_t salen);
void session_set_state(struct session *s, enum session_state st);
/*
 * Queues bytes for one side. Returns false when out of memory, and then
 * the session has been aborted already.
 */
bool session_queue(
    struct session *s, struct session_side *side, const void *data, size_t len);
void session_flush(struct session *s, struct session_side *side);
/* Flushes what is queued to live sides, then frees the session. */
void session_finish(struct session *s, const char *why);
/* Frees the session now. */
void session_abort(struct session *s, const char *why);
/* v5: DISCONNECT with reason, then finish; v3.1.1: finish. */
void session_disconnect(struct session *s, uint8_t reason, const char *why);
void session_close_all(struct proxyd *px);
/* Gives a session its broker socket (connect.c opens it). */
void session_attach_broker(struct session *s, int fd);
/* Enters the relay state with the keep-alive the broker settled on. */
void session_start_relay(struct session *s, uint16_t keep_alive);
/* Moves what can move after an asynchronous step (an authd reply). */
void session_resume(struct session *s);

/* connect.c: the CONNECT phase up to the broker's CONNACK. */
void connect_on_client_packet(
    struct session *s, const struct mqtt_fixed_header *hdr, const uint8_t *pkt);
void connect_on_broker_writable(struct session *s);
void connect_on_broker_connack(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len);
/*
 * Answers the client with a refusal CONNACK (v5 reason, or the v3.1.1
 * return code that matches it; none where v3.1.1 has no fitting code) and
 * finishes the session.
 */
void connect_refuse(struct session *s, uint8_t reason, const char *why);
void connect_cancel(struct session *s);

/* listener.c */
bool listener_open_all(struct proxyd *px, const char *spec)
    __attribute__((warn_unused_result));
void listener_start_all(struct proxyd *px);
void listener_close_all(struct proxyd *px);

/* Parses "host:port" or "[v6]:port" into a socket address. */
bool proxyd_resolve(const char *spec, bool passive, struct sockaddr_storage *ss,
    socklen_t *len) __attribute__((warn_unused_result));

#endif
