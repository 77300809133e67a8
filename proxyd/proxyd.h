/*
 * proxyd's shared state and the session state machine's interface. A
 * session pairs one client socket with one broker socket; each side has a
 * stream buffer in and out, and one handler per packet type. What a
 * session may do is chaind's answer, cached per session (acl.c).
 */
#ifndef FLYTRAP_PROXYD_H
#define FLYTRAP_PROXYD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "acl.h"
#include "auth.h"
#include "buffer.h"
#include "config.h"
#include "eth.h"
#include "mqtt.h"
#include "netaddr.h"
#include "reportq.h"
#include "token.h"

struct acl_entry;
struct acl_request;
struct defence_ip;
struct ipc_client;
struct listener;

struct proxyd {
	struct ev_loop *loop;
	const struct flytrap_config *cfg;
	struct ipc_client *authd;
	struct ipc_client *chaind; /* permission answers (acl.c) */
	struct sockaddr_storage broker_addr;
	socklen_t broker_addrlen;
	uint32_t max_packet; /* whole packet, fixed header included */
	size_t buffer_limit; /* queued bytes that pause the other side */
	double connect_timeout;
	double auth_timeout;
	double acl_timeout; /* seconds chaind has to answer a check */
	uint32_t acl_cache_size; /* answers each session remembers */
	size_t sessions;
	struct session *first; /* every live session, for shutdown */
	/*
	 * Room for one rewritten packet (CONNECT, CONNACK, SUBSCRIBE,
	 * SUBACK) and for its properties or filter list, used and released
	 * within one call.
	 */
	uint8_t *scratch; /* max_packet + 1024 + broker credentials */
	size_t scratch_len;
	uint8_t *props_scratch; /* max_packet */
	struct listener *listeners;
	/* Defence (defence.c): load balancers, countries, authd's work. */
	struct netrange *proxy_trusted; /* who may send PROXY headers */
	size_t n_proxy_trusted;
	unsigned proxy_versions; /* PROXYPROTO_V1 | PROXYPROTO_V2 */
	bool unknown_country_allow;
	uint32_t max_auth_pending; /* credential checks at authd at once */
	uint32_t max_auth_pending_per_ip;
	uint32_t auth_pending;
	struct defence_ip **auth_by_ip; /* pending checks per client IP */
	/* Sessions waiting for a slot while every one is taken. */
	struct session *auth_wait_head, *auth_wait_tail;
	uint64_t strikes_lost; /* strikes authd never got */
	/* Counters for chaind's /metrics (main.c sends them). */
	uint64_t connections_total;
	uint64_t
	    denials[3]; /* PUBLISH (and Will), SUBSCRIBE filter, delivery */
};

/*
 * Session states, in the order a session passes through them. Every
 * change goes through session_set_state().
 */
enum session_state {
	SESSION_PROXY_HEADER, /* reading the load balancer's PROXY header */
	SESSION_CONN_CHECK, /* authd judges the client IP; nothing read */
	SESSION_WAIT_CONNECT, /* reading the client's CONNECT */
	SESSION_AUTH_TOKEN, /* authd is checking a token */
	SESSION_AUTH_CHALLENGE, /* authd is issuing a nonce */
	SESSION_AUTH_WAIT, /* client owes us an AUTH answer */
	SESSION_AUTH_RESPONSE, /* authd is checking the answer */
	SESSION_ACL_WILL, /* chaind is judging the Will topic */
	SESSION_BROKER_CONNECT, /* TCP connect to the broker under way */
	SESSION_BROKER_CONNACK, /* CONNECT forwarded, awaiting CONNACK */
	SESSION_RELAY, /* authenticated: packets flow both ways */
	SESSION_CLOSING, /* flushing what is queued, then closing */
};

/*
 * The permission decisions the packet at the head of one side's input
 * needs while any of them is not known yet (acl.c): that packet stays in
 * the buffer, the side is not read, and the packet is handled again from
 * the start once chaind has answered every request in flight.
 */
struct acl_batch {
	uint8_t *marks; /* `count` enum acl_mark; NULL when none is open */
	uint8_t single; /* the marks' storage when count == 1 */
	uint32_t count; /* decisions the packet needs; 0: no batch */
	uint32_t inflight; /* requests to chaind not answered yet */
	/*
	 * Whether the decision acl_decide() returned last for this side
	 * came from a sensitive entry (its accesses are reported).
	 */
	bool last_sensitive;
};

/* A session's remembered answers: a hash table with CLOCK eviction. */
struct acl_cache {
	struct acl_entry **buckets; /* NULL until the first answer */
	struct acl_entry **slots; /* [0, count) in use, for eviction */
	uint32_t mask; /* buckets - 1 */
	uint32_t count;
	uint32_t hand; /* the CLOCK hand, an index into slots */
};

/* One side of a session: a socket and its two buffers. */
struct session_side {
	int fd;
	ev_io rd;
	ev_io wr;
	struct buf in;
	struct buf out;
	bool paused; /* reading stopped for back-pressure */
	struct acl_batch acl;
	/*
	 * Bitmap of the 65536 packet ids of QoS 2 flows from this side that
	 * proxyd answered itself (denied): their PUBREL gets a PUBCOMP from
	 * proxyd and goes no further. NULL until first needed.
	 */
	uint8_t *answered_ids;
};

/*
 * The most SUBSCRIBEs with refused filters awaiting the broker's SUBACK
 * per session; beyond it the client is not read until one completes.
 */
#define RELAY_FILTERED_MAX 16

/* A SUBSCRIBE forwarded without its refused filters. */
struct relay_filtered {
	uint16_t packet_id;
	uint32_t count; /* filters in the client's SUBSCRIBE */
	uint32_t denied_count;
	uint8_t *denied; /* count flags, in the client's order */
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
	struct netaddr ip; /* the client's, from the socket or PROXY header */
	char country[3]; /* ISO 3166 alpha-2 from authd; "" unknown */
	/*
	 * The CONNACK reason every CONNECT on this connection gets, decided
	 * before it arrived (a banned IP, authd unreachable); 0: none.
	 */
	uint8_t refuse;
	bool auth_slot; /* holds one of the credential-check slots */
	/*
	 * Waiting for a slot (defence.c): on its IP's queue (that IP has
	 * its share at authd) or on the proxy's (all slots taken).
	 */
	uint8_t auth_waiting; /* 0, DEFENCE_WAIT_IP or DEFENCE_WAIT_ALL */
	struct session *auth_wait_prev, *auth_wait_next;
	uint8_t auth_request; /* what to ask once it has a slot */
	uint8_t *auth_sig; /* a challenge answer kept while waiting */
	size_t auth_sig_len;
	bool dead; /* torn down; freed after this loop iteration */
	/* Authorisation (acl.c, relay.c). */
	struct acl_cache acl_cache;
	struct acl_request *acl_requests; /* in flight to chaind */
	uint32_t acl_generation; /* bumped when answers are invalidated */
	ev_tstamp deny_log_window; /* denial logs are rate-limited */
	uint32_t deny_log_count;
	uint32_t deny_log_suppressed;
	struct relay_filtered filtered[RELAY_FILTERED_MAX];
	uint32_t nfiltered;
	bool subscribe_blocked; /* a SUBSCRIBE waits for room in filtered */
	bool client_kick; /* process the client's input again */
	struct reportq_ref report_ref; /* its last access record (report.c) */
};

/* session.c */
void session_accept(struct proxyd *px, int fd, const struct sockaddr *sa,
    socklen_t salen, bool proxy_header);
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
/* Closes one side's socket and drops what was queued for it. */
void session_close_side(struct session *s, struct session_side *side);
/* True while a side's input is held for a decision or for room. */
bool session_side_waiting(
    const struct session *s, const struct session_side *side);

/* relay.c: packets of an authenticated session, authorisation enforced. */
enum relay_result {
	RELAY_CONSUMED, /* the packet has been dealt with */
	RELAY_HOLD, /* keep it at the head of the input: the side waits */
};

enum relay_result relay_client_packet(struct session *s,
    const struct mqtt_packet *p, const uint8_t *pkt, size_t len)
    __attribute__((warn_unused_result));
enum relay_result relay_broker_packet(struct session *s,
    const struct mqtt_packet *p, const uint8_t *pkt, size_t len)
    __attribute__((warn_unused_result));
/* Frees what relay.c keeps per session. */
void relay_session_free(struct session *s);

/* acl.c: chaind's answers, the per-session cache, invalidation. */
enum acl_decision {
	ACL_DECISION_ALLOW,
	ACL_DECISION_DENY, /* no right: counts toward a ban */
	ACL_DECISION_DENY_COUNTRY, /* a right, but not from this country */
	ACL_DECISION_FAILED, /* chaind failed to answer: denied, not counted */
	ACL_DECISION_PENDING, /* asked chaind: hold the packet */
};

/* Connects to chaind at `path` and listens for its invalidations. */
void acl_start(struct proxyd *px, const char *path);
void acl_stop(struct proxyd *px);
/*
 * Decision `index` of the `count` the packet at the head of `side`'s input
 * needs: may the session's address do `action` on `topic` (a concrete
 * topic, or a subscription filter without $share prefix)? Answers from
 * the packet's batch, then the session's cache, else asks chaind and
 * returns ACL_DECISION_PENDING; the caller then holds the packet (every
 * decision of it is asked for before returning, up to a bound), and it is
 * handled again once the answers are in. Failures (chaind down, busy,
 * timed out, unable to tell) are ACL_DECISION_FAILED and are not cached.
 * An answer that allows, from an entry limited to countries the session's
 * country is not among (or unknown, unless [proxyd] unknown_country =
 * allow), is ACL_DECISION_DENY_COUNTRY.
 * A cached answer costs no allocation and no IPC.
 */
enum acl_decision acl_decide(struct session *s, struct session_side *side,
    uint32_t index, uint32_t count, enum acl_action action,
    const uint8_t *topic, size_t len) __attribute__((warn_unused_result));
/* The head packet of `side` has been handled: closes its batch. */
void acl_packet_done(struct session *s, struct session_side *side);
/* Drops the session's requests in flight (a closing session). */
void acl_session_cancel(struct session *s);
/* Frees the session's cache and batches. */
void acl_session_free(struct session *s);
/* Logs a refusal at info, rate-limited per session. */
void acl_log_denial(struct session *s, enum acl_action action,
    const uint8_t *topic, size_t len, const char *what);

/*
 * report.c: access records of sensitive topics for reportd
 * (docs/AUDIT.md). report_access() records one allowed access by the
 * session (a PUBLISH, a SUBSCRIBE filter without $share prefix, or a
 * delivery) with its payload bytes; it never waits and never allocates.
 */
void report_start(struct proxyd *px, const char *path);
/* Accesses lost to a full queue since the start. */
uint64_t report_dropped(void);
void report_stop(struct proxyd *px);
void report_access(struct session *s, enum access_action action,
    const uint8_t *topic, size_t len, size_t bytes);

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
/* A session that waited for a credential-check slot has one now. */
void connect_auth_resume(struct session *s);
/*
 * After authentication: has chaind judge the Will topic (the broker will
 * publish it for the client), then connects to the broker or refuses.
 * Run again when chaind answers.
 */
void connect_authorize_will(struct session *s);

/*
 * defence.c: authd's side of a connection's life. Each connection's IP is
 * judged (banned? over the attempt rate? which country?) before any
 * CONNECT byte is read; denied requests are reported as strikes; a ban
 * closes the sessions it covers; credential checks waiting at authd are
 * bounded, per client IP and in all.
 */
void defence_start(struct proxyd *px);
/* Sends IPC_CONN_CHECK for a connection whose client IP is known. */
void defence_check_connection(struct session *s);
/* Reports a denied request to authd (fire and forget). */
void defence_strike(struct session *s, enum acl_action action,
    const uint8_t *topic, size_t len, bool wrong_country);
/*
 * Credential checks at authd are bounded: max_auth_pending_per_ip for one
 * client IP, max_auth_pending in all. defence_auth_acquire() takes a slot
 * and returns true, or queues the session and returns false: it gets its
 * slot later, in turn (its own IP's queue first when that IP frees one),
 * and connect_auth_resume() then sends its request. Release gives the slot
 * back, or takes the session out of its queue.
 */
enum { DEFENCE_WAIT_IP = 1, DEFENCE_WAIT_ALL = 2 };
bool defence_auth_acquire(struct session *s)
    __attribute__((warn_unused_result));
void defence_auth_release(struct session *s);
/* Reads the PROXY header at the head of the client's input. */
void defence_proxy_header(struct session *s);

/* listener.c */
bool listener_open_all(struct proxyd *px, const char *spec, bool proxy_header)
    __attribute__((warn_unused_result));
void listener_start_all(struct proxyd *px);
void listener_close_all(struct proxyd *px);

/* Parses "host:port" or "[v6]:port" into a socket address. */
bool proxyd_resolve(const char *spec, bool passive, struct sockaddr_storage *ss,
    socklen_t *len) __attribute__((warn_unused_result));

#endif
