/*
 * Sessions: the two sockets of one proxied MQTT connection, their buffers,
 * back-pressure, deadlines and teardown, and the loop that hands each
 * packet on. The CONNECT phase lives in connect.c, the relay of an
 * authenticated session in relay.c, permission answers in acl.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ipc.h"
#include "log.h"
#include "proxyd.h"

/* How long a closing session may take to flush before it is cut. */
#define SESSION_LINGER 2.0

static struct session *session_graveyard;
static ev_check session_reaper;
static bool session_reaper_started;

static void session_pump(struct session *s);

static const char *const session_state_names[] = {
    [SESSION_PROXY_HEADER] = "proxy-header",
    [SESSION_CONN_CHECK] = "conn-check",
    [SESSION_WAIT_CONNECT] = "wait-connect",
    [SESSION_AUTH_TOKEN] = "auth-token",
    [SESSION_AUTH_CHALLENGE] = "auth-challenge",
    [SESSION_AUTH_WAIT] = "auth-wait",
    [SESSION_AUTH_RESPONSE] = "auth-response",
    [SESSION_ACL_WILL] = "acl-will",
    [SESSION_BROKER_CONNECT] = "broker-connect",
    [SESSION_BROKER_CONNACK] = "broker-connack",
    [SESSION_RELAY] = "relay",
    [SESSION_CLOSING] = "closing",
};

static bool
session_dead(const struct session *s)
{
	return s->dead;
}

/* ---- Watchers: one function decides which are armed ------------------- */

static void
watcher_set(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

static bool
client_may_read(const struct session *s)
{
	switch (s->state) {
	case SESSION_PROXY_HEADER:
	case SESSION_WAIT_CONNECT:
	case SESSION_AUTH_WAIT:
	case SESSION_RELAY:
		return true;
	default:
		return false;
	}
}

static bool
broker_may_read(const struct session *s)
{
	return s->state == SESSION_BROKER_CONNACK || s->state == SESSION_RELAY;
}

bool
session_side_waiting(const struct session *s, const struct session_side *side)
{
	return side->acl.inflight > 0 ||
	    (side == &s->client && s->subscribe_blocked);
}

/*
 * Whether a side's input is handled now: the state allows it, the other
 * side's queue is under the limit, and no packet of it awaits a decision.
 */
static bool
side_may_process(const struct session *s, const struct session_side *side)
{
	return (side == &s->client ? client_may_read(s) : broker_may_read(s)) &&
	    !side->paused && !session_side_waiting(s, side);
}

/*
 * Arms exactly the watchers the state and the buffers call for: a side is
 * read only while the other side's queue is under the limit and while
 * none of its packets is held.
 */
static void
session_update_watchers(struct session *s)
{
	struct ev_loop *loop = s->px->loop;
	size_t limit = s->px->buffer_limit;

	s->client.paused = buf_len(&s->broker.out) >= limit;
	s->broker.paused = buf_len(&s->client.out) >= limit;
	if (s->client.fd >= 0) {
		watcher_set(
		    loop, &s->client.rd, side_may_process(s, &s->client));
		watcher_set(loop, &s->client.wr, buf_len(&s->client.out) > 0);
	}
	if (s->broker.fd >= 0) {
		watcher_set(
		    loop, &s->broker.rd, side_may_process(s, &s->broker));
		watcher_set(loop, &s->broker.wr,
		    s->state == SESSION_BROKER_CONNECT ||
			buf_len(&s->broker.out) > 0);
	}
}

void
session_set_state(struct session *s, enum session_state st)
{
	log_debug("session %s: %s -> %s", s->peer,
	    session_state_names[s->state], session_state_names[st]);
	s->state = st;
	session_update_watchers(s);
}

/* ---- Teardown ---------------------------------------------------------- */

void
session_close_side(struct session *s, struct session_side *side)
{
	if (side->fd < 0)
		return;
	ev_io_stop(s->px->loop, &side->rd);
	ev_io_stop(s->px->loop, &side->wr);
	close(side->fd);
	side->fd = -1;
	/* Nothing more can be sent there; drop what was queued. */
	buf_consume(&side->out, buf_len(&side->out));
}

static void
session_reap(struct ev_loop *loop, ev_check *w, int revents)
{
	struct session *s;

	(void)loop;
	(void)w;
	(void)revents;
	while ((s = session_graveyard) != NULL) {
		session_graveyard = s->next;
		buf_free(&s->client.in);
		buf_free(&s->client.out);
		buf_free(&s->broker.in);
		buf_free(&s->broker.out);
		acl_session_free(s);
		relay_session_free(s);
		free(s->connect_pkt);
		free(s->auth_sig);
		free(s);
	}
}

void
session_abort(struct session *s, const char *why)
{
	struct proxyd *px = s->px;

	if (session_dead(s))
		return;
	log_debug("session %s closed: %s", s->peer, why);
	connect_cancel(s);
	acl_session_cancel(s);
	session_close_side(s, &s->client);
	session_close_side(s, &s->broker);
	ev_timer_stop(px->loop, &s->timer);
	s->state = SESSION_CLOSING;
	s->dead = true;
	/* Unlink now, free after this loop iteration's callbacks. */
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		px->first = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = session_graveyard;
	session_graveyard = s;
	px->sessions--;
}

static void
session_maybe_done(struct session *s)
{
	if (s->state != SESSION_CLOSING || session_dead(s))
		return;
	if (buf_len(&s->client.out) == 0 && buf_len(&s->broker.out) == 0)
		session_abort(s, "finished");
}

void
session_finish(struct session *s, const char *why)
{
	if (s->state == SESSION_CLOSING)
		return;
	log_debug("session %s finishing: %s", s->peer, why);
	connect_cancel(s);
	acl_session_cancel(s);
	ev_timer_stop(s->px->loop, &s->timer);
	ev_timer_set(&s->timer, SESSION_LINGER, 0.);
	ev_timer_start(s->px->loop, &s->timer);
	session_set_state(s, SESSION_CLOSING);
	session_flush(s, &s->client);
	session_flush(s, &s->broker);
	session_maybe_done(s);
}

void
session_disconnect(struct session *s, uint8_t reason, const char *why)
{
	struct mqtt_packet p;
	uint8_t pkt[8];
	size_t len;

	if (s->state < SESSION_RELAY) {
		/* The client has had no CONNACK yet: refuse instead. */
		connect_refuse(s, reason, why);
		return;
	}
	log_info("session %s (%s): disconnecting: %s", s->peer,
	    s->address[0] ? s->address : "unauthenticated", why);
	if (s->version == MQTT_V5 && s->client.fd >= 0) {
		memset(&p, 0, sizeof(p));
		p.type = MQTT_DISCONNECT;
		p.u.reason.reason = reason;
		if (mqtt_encode(MQTT_V5, &p, pkt, sizeof(pkt), &len) ==
			MQTT_OK &&
		    !session_queue(s, &s->client, pkt, len))
			return;
	}
	/* The broker must not see a clean DISCONNECT: the Will applies. */
	session_close_side(s, &s->broker);
	session_finish(s, why);
}

void
session_close_all(struct proxyd *px)
{
	while (px->first != NULL)
		session_abort(px->first, "shutting down");
	session_reap(px->loop, NULL, 0);
}

/* ---- Output ------------------------------------------------------------ */

bool
session_queue(
    struct session *s, struct session_side *side, const void *data, size_t len)
{
	if (side->fd < 0)
		return true;
	if (!buf_append(&side->out, data, len)) {
		log_err("session %s: out of memory queueing %zu bytes", s->peer,
		    len);
		session_abort(s, "out of memory");
		return false;
	}
	return true;
}

void
session_flush(struct session *s, struct session_side *side)
{
	enum buf_io r;

	if (side->fd < 0)
		return;
	do
		r = buf_write_fd(&side->out, side->fd);
	while (r == BUF_IO_OK && buf_len(&side->out) > 0);
	if (r == BUF_IO_ERROR) {
		log_debug("session %s: write to %s: %s", s->peer,
		    side == &s->client ? "client" : "broker", strerror(errno));
		session_close_side(s, side);
		if (s->state != SESSION_CLOSING)
			session_finish(s, "write failed");
	}
}

/* ---- Input ------------------------------------------------------------ */

/*
 * Reads every complete packet queued from one side and hands it on, until
 * the input runs out, the other side's queue is full, the state stops
 * this side being read, or a packet is held (awaiting chaind's answer, or
 * room for a filtered SUBSCRIBE): it then stays at the head of the input
 * and is handled again, from the start, when the side may go on.
 */
static void
session_process(struct session *s, struct session_side *side)
{
	struct mqtt_fixed_header hdr;
	struct mqtt_packet p;
	enum mqtt_result r;
	enum relay_result rr;
	bool from_client = side == &s->client;
	size_t len;

	while (buf_len(&side->in) > 0 && !session_dead(s)) {
		if (!side_may_process(s, side))
			return;
		if (s->state == SESSION_PROXY_HEADER) {
			defence_proxy_header(s);
			if (s->state == SESSION_PROXY_HEADER)
				return; /* more to come, or closed */
			continue;
		}
		r = mqtt_frame(buf_head(&side->in), buf_len(&side->in),
		    s->px->max_packet, &hdr);
		if (r == MQTT_INCOMPLETE)
			return;
		if (r != MQTT_OK) {
			if (from_client)
				session_disconnect(s, mqtt_result_reason(r),
				    mqtt_result_str(r));
			else
				session_disconnect(s, MQTT_RC_UNSPECIFIED,
				    "broker sent a bad packet");
			return;
		}
		len = hdr.header_len + (size_t)hdr.remaining;
		if (from_client && s->state != SESSION_RELAY) {
			connect_on_client_packet(s, &hdr, buf_head(&side->in));
			if (!session_dead(s))
				buf_consume(&side->in, len);
			continue;
		}
		r = mqtt_decode(
		    s->version, &hdr, buf_head(&side->in) + hdr.header_len, &p);
		if (r != MQTT_OK) {
			if (from_client) {
				session_disconnect(s, mqtt_result_reason(r),
				    mqtt_result_str(r));
			} else {
				log_warn("session %s: broker sent a bad %s: %s",
				    s->peer, mqtt_packet_name(hdr.type),
				    mqtt_result_str(r));
				session_disconnect(s, MQTT_RC_UNSPECIFIED,
				    "broker sent a bad packet");
			}
			return;
		}
		rr = RELAY_CONSUMED;
		if (from_client) {
			s->last_client_packet = ev_now(s->px->loop);
			rr = relay_client_packet(
			    s, &p, buf_head(&side->in), len);
		} else if (s->state == SESSION_BROKER_CONNACK) {
			connect_on_broker_connack(
			    s, &p, buf_head(&side->in), len);
		} else {
			rr = relay_broker_packet(
			    s, &p, buf_head(&side->in), len);
		}
		if (session_dead(s))
			return;
		if (rr == RELAY_HOLD) {
			/* Something must wake the side, or it would hang. */
			if (!session_side_waiting(s, side))
				fatalx("session %s: packet held with nothing "
				       "to wait for",
				    s->peer);
			return;
		}
		buf_consume(&side->in, len);
		acl_packet_done(s, side);
		s->client.paused =
		    buf_len(&s->broker.out) >= s->px->buffer_limit;
		s->broker.paused =
		    buf_len(&s->client.out) >= s->px->buffer_limit;
	}
}

/* Moves whatever can move now, then re-arms the watchers. */
static void
session_pump(struct session *s)
{
	enum session_state before;

	/*
	 * A state change (the broker's CONNACK) can make bytes already read
	 * from the other side processable, and so can a SUBACK that makes
	 * room for the SUBSCRIBE the client is held on: go round until
	 * nothing changes.
	 */
	do {
		before = s->state;
		s->client_kick = false;
		session_process(s, &s->client);
		if (!session_dead(s))
			session_process(s, &s->broker);
	} while (!session_dead(s) && (s->state != before || s->client_kick));
	if (!session_dead(s))
		session_flush(s, &s->client);
	if (!session_dead(s))
		session_flush(s, &s->broker);
	if (!session_dead(s))
		session_maybe_done(s);
	if (!session_dead(s))
		session_update_watchers(s);
}

/* ---- Events ------------------------------------------------------------ */

static void
session_read_side(struct session *s, struct session_side *side)
{
	size_t max = (size_t)s->px->max_packet + MQTT_MAX_FIXED_HEADER;
	bool from_client = side == &s->client;

	switch (buf_read_fd(&side->in, side->fd, max)) {
	case BUF_IO_OK:
	case BUF_IO_AGAIN:
	case BUF_IO_FULL:
		break;
	case BUF_IO_EOF:
		session_close_side(s, side);
		if (from_client)
			session_finish(s, "client closed the connection");
		else
			session_disconnect(s,
			    s->state < SESSION_RELAY
				? MQTT_RC_SERVER_UNAVAILABLE
				: MQTT_RC_UNSPECIFIED,
			    "broker closed the connection");
		return;
	case BUF_IO_ERROR:
		log_debug("session %s: read from %s: %s", s->peer,
		    from_client ? "client" : "broker", strerror(errno));
		session_close_side(s, side);
		session_finish(s, "read failed");
		return;
	case BUF_IO_NOMEM:
		session_abort(s, "out of memory");
		return;
	}
}

static void
session_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;

	(void)loop;
	(void)revents;
	session_read_side(s, w == &s->client.rd ? &s->client : &s->broker);
	if (!session_dead(s))
		session_pump(s);
}

static void
session_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = w->data;

	(void)loop;
	(void)revents;
	if (w == &s->broker.wr && s->state == SESSION_BROKER_CONNECT) {
		connect_on_broker_writable(s);
		if (session_dead(s))
			return;
	}
	session_pump(s);
}

static void
session_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = w->data;
	ev_tstamp deadline;

	(void)revents;
	switch (s->state) {
	case SESSION_CLOSING:
		session_abort(s, "linger time over");
		return;
	case SESSION_RELAY:
		/* A packet held for a decision did arrive: the client lives. */
		if (session_side_waiting(s, &s->client))
			s->last_client_packet = ev_now(loop);
		/* [MQTT-3.1.2-22]: one and a half keep-alive periods. */
		deadline = s->last_client_packet + 1.5 * s->keep_alive;
		if (ev_now(loop) < deadline) {
			ev_timer_set(w, deadline - ev_now(loop), 0.);
			ev_timer_start(loop, w);
			return;
		}
		session_disconnect(
		    s, MQTT_RC_KEEP_ALIVE_TIMEOUT, "keep-alive expired");
		return;
	default:
		connect_refuse(s,
		    s->state == SESSION_AUTH_WAIT ? MQTT_RC_NOT_AUTHORIZED
						  : MQTT_RC_SERVER_UNAVAILABLE,
		    "no CONNECT completed within connect_timeout_ms");
		return;
	}
}

void
session_start_relay(struct session *s, uint16_t keep_alive)
{
	struct ev_loop *loop = s->px->loop;

	ev_timer_stop(loop, &s->timer);
	s->keep_alive = keep_alive;
	s->last_client_packet = ev_now(loop);
	if (keep_alive > 0) {
		ev_timer_set(&s->timer, 1.5 * keep_alive, 0.);
		ev_timer_start(loop, &s->timer);
	}
	session_set_state(s, SESSION_RELAY);
}

static void
side_init(struct session *s, struct session_side *side, int fd)
{
	side->fd = fd;
	ev_io_init(&side->rd, session_on_read, fd, EV_READ);
	ev_io_init(&side->wr, session_on_write, fd, EV_WRITE);
	side->rd.data = s;
	side->wr.data = s;
}

void
session_attach_broker(struct session *s, int fd)
{
	side_init(s, &s->broker, fd);
}

void
session_accept(struct proxyd *px, int fd, const struct sockaddr *sa,
    socklen_t salen, bool proxy_header)
{
	struct session *s;
	struct netaddr ip;
	char text[NETADDR_STRLEN];
	int one = 1;

	if (!netaddr_from_sockaddr(sa, salen, &ip)) {
		close(fd);
		return;
	}
	if (proxy_header &&
	    !netrange_list_contains(
		px->proxy_trusted, px->n_proxy_trusted, &ip)) {
		netaddr_format(&ip, text);
		log_warn(
		    "connection from %s to a PROXY listener: not a trusted "
		    "load balancer (proxy_trusted); closed",
		    text);
		close(fd);
		return;
	}
	if (!session_reaper_started) {
		ev_check_init(&session_reaper, session_reap);
		ev_check_start(px->loop, &session_reaper);
		ev_unref(px->loop);
		session_reaper_started = true;
	}
	if (px->sessions >= (size_t)px->cfg->proxyd.max_sessions) {
		log_warn("session limit (%zu) reached: refusing a connection",
		    px->sessions);
		close(fd);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_err("out of memory for a new session");
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	px->connections_total++;
	s->px = px;
	s->broker.fd = -1;
	side_init(s, &s->client, fd);
	s->ip = ip;
	netaddr_format(&ip, s->peer);

	s->next = px->first;
	if (px->first != NULL)
		px->first->prev = s;
	px->first = s;
	px->sessions++;

	ev_timer_init(&s->timer, session_on_timer, px->connect_timeout, 0.);
	s->timer.data = s;
	ev_timer_start(px->loop, &s->timer);
	s->state = SESSION_PROXY_HEADER;
	if (proxy_header)
		session_update_watchers(s);
	else
		defence_check_connection(s);
}

void
session_resume(struct session *s)
{
	if (!session_dead(s))
		session_pump(s);
}
