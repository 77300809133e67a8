/*
 * proxyd's part in the defence of the broker: the PROXY header of a load
 * balancer, authd's verdict on a new connection's IP, strikes for denied
 * requests, bans that close live sessions, and the bound on credential
 * checks waiting at authd. Messages: docs/IPC.md; rules: docs/DEFENCE.md.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ipc.h"
#include "log.h"
#include "proxyd.h"
#include "proxyproto.h"

/* Buckets of the per-IP table of pending credential checks. */
#define DEFENCE_IP_BUCKETS 4096

/* A client IP with credential checks at authd, or sessions waiting. */
struct defence_ip {
	struct defence_ip *next;
	struct netaddr ip;
	uint32_t pending; /* slots it holds */
	struct session *wait_head, *wait_tail; /* waiting for its share */
};

/* ---- Credential checks at authd -------------------------------------- */

static uint32_t
defence_ip_hash(const struct netaddr *a)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ a->bytes[i]) * 16777619u;
	return h & (DEFENCE_IP_BUCKETS - 1);
}

/* The entry for ip, created when `create`; NULL when absent or no memory. */
static struct defence_ip *
defence_ip_find(struct proxyd *px, const struct netaddr *ip, bool create)
{
	struct defence_ip **bucket, *e;

	if (px->auth_by_ip == NULL) {
		if (!create)
			return NULL;
		px->auth_by_ip =
		    calloc(DEFENCE_IP_BUCKETS, sizeof(*px->auth_by_ip));
		if (px->auth_by_ip == NULL)
			return NULL;
	}
	bucket = &px->auth_by_ip[defence_ip_hash(ip)];
	for (e = *bucket; e != NULL; e = e->next)
		if (netaddr_equal(&e->ip, ip))
			return e;
	if (!create || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->ip = *ip;
	e->next = *bucket;
	*bucket = e;
	return e;
}

/* Frees an entry that holds no slot and has nobody waiting. */
static void
defence_ip_maybe_free(struct proxyd *px, struct defence_ip *e)
{
	struct defence_ip **pp;

	if (e->pending > 0 || e->wait_head != NULL)
		return;
	pp = &px->auth_by_ip[defence_ip_hash(&e->ip)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	free(e);
}

/* Appends s to a queue given by its head and tail. */
static void
wait_push(struct session **head, struct session **tail, struct session *s)
{
	s->auth_wait_next = NULL;
	s->auth_wait_prev = *tail;
	if (*tail != NULL)
		(*tail)->auth_wait_next = s;
	else
		*head = s;
	*tail = s;
}

static void
wait_unlink(struct session **head, struct session **tail, struct session *s)
{
	if (s->auth_wait_prev != NULL)
		s->auth_wait_prev->auth_wait_next = s->auth_wait_next;
	else
		*head = s->auth_wait_next;
	if (s->auth_wait_next != NULL)
		s->auth_wait_next->auth_wait_prev = s->auth_wait_prev;
	else
		*tail = s->auth_wait_prev;
	s->auth_wait_prev = s->auth_wait_next = NULL;
}

static void
defence_take_slot(struct proxyd *px, struct defence_ip *e, struct session *s)
{
	e->pending++;
	px->auth_pending++;
	s->auth_slot = true;
}

bool
defence_auth_acquire(struct session *s)
{
	struct proxyd *px = s->px;
	struct defence_ip *e;

	if (s->auth_slot)
		return true;
	if ((e = defence_ip_find(px, &s->ip, true)) == NULL)
		fatalx("out of memory for the credential-check table");
	if (e->pending >= px->max_auth_pending_per_ip) {
		s->auth_waiting = DEFENCE_WAIT_IP;
		wait_push(&e->wait_head, &e->wait_tail, s);
		return false;
	}
	if (px->auth_pending >= px->max_auth_pending) {
		s->auth_waiting = DEFENCE_WAIT_ALL;
		wait_push(&px->auth_wait_head, &px->auth_wait_tail, s);
		return false;
	}
	defence_take_slot(px, e, s);
	return true;
}

/*
 * Hands free slots to waiting sessions: first the next of the IP that
 * just gave one back (its share is free again), then the proxy's queue
 * in order, each to its IP's queue instead when that IP has its share.
 * A resumed session whose request fails releases its slot from inside
 * connect_auth_resume(): the nested release does not dispatch, this loop
 * goes on.
 */
static bool defence_dispatching;

static void
defence_dispatch(struct proxyd *px, struct defence_ip *freed)
{
	struct defence_ip *e;
	struct session *s;

	if (defence_dispatching)
		return;
	defence_dispatching = true;
	/* A loop: a resumed session may give its slot straight back. */
	while (freed != NULL && (s = freed->wait_head) != NULL &&
	    px->auth_pending < px->max_auth_pending &&
	    freed->pending < px->max_auth_pending_per_ip) {
		wait_unlink(&freed->wait_head, &freed->wait_tail, s);
		s->auth_waiting = 0;
		defence_take_slot(px, freed, s);
		connect_auth_resume(s);
	}
	while (px->auth_pending < px->max_auth_pending &&
	    (s = px->auth_wait_head) != NULL) {
		wait_unlink(&px->auth_wait_head, &px->auth_wait_tail, s);
		e = defence_ip_find(px, &s->ip, false);
		if (e == NULL)
			fatalx("defence: a waiting session without its IP");
		if (e->pending >= px->max_auth_pending_per_ip) {
			s->auth_waiting = DEFENCE_WAIT_IP;
			wait_push(&e->wait_head, &e->wait_tail, s);
			continue;
		}
		s->auth_waiting = 0;
		defence_take_slot(px, e, s);
		connect_auth_resume(s);
		/* Entries are freed here only, and `freed` by the caller. */
		if (e != freed)
			defence_ip_maybe_free(px, e);
	}
	defence_dispatching = false;
}

void
defence_auth_release(struct session *s)
{
	struct proxyd *px = s->px;
	struct defence_ip *e;

	if (!s->auth_slot && s->auth_waiting == 0)
		return;
	e = defence_ip_find(px, &s->ip, false);
	if (e == NULL)
		fatalx("defence: a credential-check slot without its IP");
	if (s->auth_waiting == DEFENCE_WAIT_IP) {
		wait_unlink(&e->wait_head, &e->wait_tail, s);
	} else if (s->auth_waiting == DEFENCE_WAIT_ALL) {
		wait_unlink(&px->auth_wait_head, &px->auth_wait_tail, s);
	} else {
		s->auth_slot = false;
		e->pending--;
		px->auth_pending--;
		defence_dispatch(px, e);
	}
	s->auth_waiting = 0;
	if (!defence_dispatching)
		defence_ip_maybe_free(px, e);
}

/* ---- The new connection's IP ----------------------------------------- */

/*
 * Reply to IPC_CONN_CHECK: u64 verdict, u64 banned until, str country.
 * Without an answer the connection is refused once its CONNECT shows the
 * protocol version (fail closed).
 */
static void
defence_on_conn_check(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct session *s = arg;
	const char *cc = NULL;
	uint64_t verdict = CONN_OK, until = 0;
	size_t cc_len = 0;

	s->ipc_pending = false;
	if (st == IPC_OK &&
	    (ipc_get_u64(msg, &verdict) != IPC_OK ||
		ipc_get_u64(msg, &until) != IPC_OK ||
		ipc_get_str(msg, &cc, &cc_len) != IPC_OK ||
		ipc_get_end(msg) != IPC_OK || verdict > CONN_DROP ||
		(cc_len != 0 && cc_len != 2)))
		fatalx("malformed %s from authd", ipc_type_str(msg->type));
	if (st != IPC_OK) {
		log_warn("session %s: no verdict on the IP from authd: %s",
		    s->peer, ipc_status_str(st));
		s->refuse = MQTT_RC_SERVER_UNAVAILABLE;
	} else if (verdict == CONN_DROP) {
		log_info("session %s: over the attempt rate: closed", s->peer);
		session_abort(s, "over the attempt rate");
		return;
	} else if (verdict == CONN_BANNED) {
		s->refuse = MQTT_RC_BANNED;
	} else {
		memcpy(s->country, cc, cc_len);
		s->country[cc_len] = '\0';
	}
	session_set_state(s, SESSION_WAIT_CONNECT);
	session_resume(s);
}

void
defence_check_connection(struct session *s)
{
	struct proxyd *px = s->px;
	struct ipc_writer w;
	enum ipc_status st;
	uint32_t id;

	id = ipc_client_begin(px->authd, &w, IPC_CONN_CHECK);
	ipc_put_str(&w, s->peer, strlen(s->peer));
	st = ipc_client_send(
	    px->authd, &w, id, px->auth_timeout, defence_on_conn_check, s);
	if (st != IPC_OK) {
		log_warn("session %s: cannot ask authd about the IP: %s",
		    s->peer, ipc_status_str(st));
		s->refuse = MQTT_RC_SERVER_UNAVAILABLE;
		session_set_state(s, SESSION_WAIT_CONNECT);
		return;
	}
	s->ipc_pending = true;
	s->ipc_id = id;
	session_set_state(s, SESSION_CONN_CHECK);
}

/* ---- The PROXY header ------------------------------------------------ */

void
defence_proxy_header(struct session *s)
{
	struct proxyproto_result r;
	enum proxyproto_status st;

	st = proxyproto_parse(buf_head(&s->client.in), buf_len(&s->client.in),
	    s->px->proxy_versions, &r);
	if (st == PROXYPROTO_NEED_MORE)
		return;
	if (st != PROXYPROTO_OK) {
		log_info("session %s: bad PROXY header: %s", s->peer, r.error);
		session_abort(s, "bad PROXY header");
		return;
	}
	buf_consume(&s->client.in, r.consumed);
	/* LOCAL (the balancer's own health check): the socket's peer. */
	if (!r.local) {
		s->ip = r.src;
		netaddr_format(&s->ip, s->peer);
	}
	defence_check_connection(s);
}

/* ---- Strikes and bans ------------------------------------------------ */

static void
defence_on_strike(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct proxyd *px = arg;

	if (st == IPC_OK &&
	    (msg->type != IPC_STRIKE_REPLY || ipc_get_end(msg) != IPC_OK))
		fatalx("malformed %s from authd", ipc_type_str(msg->type));
	if (st != IPC_OK)
		px->strikes_lost++;
}

void
defence_strike(struct session *s, enum acl_action action, const uint8_t *topic,
    size_t len, bool wrong_country)
{
	struct proxyd *px = s->px;
	struct ipc_writer w;
	uint32_t id;

	id = ipc_client_begin(px->authd, &w, IPC_STRIKE);
	ipc_put_str(&w, s->peer, strlen(s->peer));
	ipc_put_str(&w, s->address, strlen(s->address));
	ipc_put_u64(&w, action);
	ipc_put_str(&w, (const char *)topic, len);
	ipc_put_bool(&w, wrong_country);
	ipc_put_str(&w, s->country, strlen(s->country));
	if (ipc_client_send(px->authd, &w, id, px->auth_timeout,
		defence_on_strike, px) != IPC_OK) {
		/* Counted and logged, never silent. */
		if (px->strikes_lost++ % 1000 == 0)
			log_warn("authd unreachable: %llu strikes not counted "
				 "toward bans",
			    (unsigned long long)px->strikes_lost);
	}
}

/* Whether a ban's subject covers the session. */
static bool
defence_covers(const struct session *s, const char *subject, size_t len)
{
	struct netrange r;

	if (len == ETH_ADDRESS_HEX_SIZE - 1 && subject[0] == '0' &&
	    subject[1] == 'x')
		return s->address[0] != '\0' &&
		    strncasecmp(s->address, subject, len) == 0;
	if (!netrange_parse(subject, len, &r))
		return false; /* an ip-hmac subject: new connections only */
	return netrange_contains(&r, &s->ip);
}

/* IPC_BAN_NOTICE push: str subject. Closes every session it covers. */
static bool
defence_on_ban_notice(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct proxyd *px = arg;
	struct session *s, *next;
	const char *subject;
	size_t len;
	unsigned closed = 0;

	(void)conn;
	if (ipc_get_str(msg, &subject, &len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	for (s = px->first; s != NULL; s = next) {
		next = s->next;
		if (s->state == SESSION_CLOSING ||
		    !defence_covers(s, subject, len))
			continue;
		closed++;
		if (s->state < SESSION_RELAY)
			connect_refuse(s, MQTT_RC_BANNED, "banned");
		else
			session_disconnect(s, MQTT_RC_NOT_AUTHORIZED, "banned");
	}
	if (closed > 0)
		log_info("ban of %.*s: closed %u sessions",
		    (int)(len > 100 ? 100 : len), subject, closed);
	return true;
}

static const struct ipc_handler defence_push_handlers[] = {
    {IPC_BAN_NOTICE, defence_on_ban_notice},
    {0, NULL},
};

void
defence_start(struct proxyd *px)
{
	ipc_client_on_push(px->authd, defence_push_handlers, px);
}
