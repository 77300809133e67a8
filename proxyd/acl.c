/*
 * Permission answers for proxyd: IPC_ACL_CHECK requests to chaind, each
 * session's cache of the answers (bounded, CLOCK eviction, valid_until
 * honoured), the batches that hold a packet while it is being judged, and
 * chaind's IPC_ACL_INVALIDATE pushes. Messages: docs/IPC.md; rules:
 * docs/AUTHORISATION.md.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eth.h"
#include "ipc.h"
#include "log.h"
#include "proxyd.h"

/* Requests one side may have in flight for one packet (a SUBSCRIBE). */
#define ACL_INFLIGHT_MAX 32
/* Longer topics are judged by chaind every time rather than cached. */
#define ACL_CACHE_TOPIC_MAX 512
/* The longest countries string accepted from chaind. */
#define ACL_COUNTRIES_MAX 512
/* Denials logged per session per second; the rest are counted. */
#define ACL_LOG_BURST 10
/* The most of a topic a log line shows. */
#define ACL_LOG_TOPIC_MAX 128

/* Where each decision of a batch stands. */
enum acl_mark {
	ACL_MARK_UNKNOWN = 0,
	ACL_MARK_ASKED,
	ACL_MARK_ALLOW,
	ACL_MARK_DENY,
	ACL_MARK_DENY_COUNTRY,
	ACL_MARK_FAILED,
};
/* Or'ed into an answered mark: the deciding entry is sensitive. */
#define ACL_MARK_SENSITIVE 0x80

/* One remembered answer. */
struct acl_entry {
	struct acl_entry *next; /* in its bucket */
	uint64_t valid_until; /* Unix seconds; 0: until invalidated */
	uint32_t hash;
	uint32_t slot; /* its index in acl_cache.slots */
	uint16_t topic_len;
	uint16_t countries_len;
	uint8_t action;
	uint8_t verdict; /* ACL_ALLOW or ACL_DENY */
	bool sensitive;
	bool wrong_country; /* denied only for the session's country */
	bool referenced; /* CLOCK: used since the hand last passed */
	char data[]; /* the topic, then the countries */
};

/* A question in flight to chaind, on a session's list. */
struct acl_request {
	struct session *s;
	struct acl_request *prev, *next;
	uint32_t id;
	uint32_t generation; /* the session's, when asked */
	uint32_t index; /* in the side's batch */
	bool client_side;
	uint8_t action;
	uint16_t topic_len;
	char topic[];
};

/* A reply as read: chaind's verdict, or why there is none. */
struct acl_answer {
	const char *failure; /* NULL when chaind judged */
	uint8_t verdict; /* ACL_ALLOW or ACL_DENY */
	uint64_t valid_until;
	bool sensitive;
	bool wrong_country; /* chaind allowed, the session's country not */
	const char *countries;
	size_t countries_len;
};

static const char *
acl_action_name(enum acl_action action)
{
	switch (action) {
	case ACL_PUBLISH:
		return "publish";
	case ACL_SUBSCRIBE:
		return "subscribe";
	}
	return "?";
}

/* ---- The per-session cache ---------------------------------------------- */

/* FNV-1a; collisions only lengthen the asking session's own chains. */
static uint32_t
acl_hash(uint8_t action, const uint8_t *topic, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	h = (h ^ action) * 16777619u;
	for (i = 0; i < len; i++)
		h = (h ^ topic[i]) * 16777619u;
	return h;
}

/* The entry for (action, topic), expired or not; NULL if none. */
static struct acl_entry *
cache_lookup(const struct acl_cache *c, uint8_t action, const uint8_t *topic,
    size_t len, uint32_t h)
{
	struct acl_entry *e;

	if (c->buckets == NULL)
		return NULL;
	for (e = c->buckets[h & c->mask]; e != NULL; e = e->next)
		if (e->hash == h && e->action == action &&
		    e->topic_len == len && memcmp(e->data, topic, len) == 0)
			return e;
	return NULL;
}

/* Unlinks and frees e; the last slot moves into its place. */
static void
cache_remove(struct acl_cache *c, struct acl_entry *e)
{
	struct acl_entry **pp = &c->buckets[e->hash & c->mask];
	uint32_t last = c->count - 1;

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	if (e->slot != last) {
		c->slots[e->slot] = c->slots[last];
		c->slots[e->slot]->slot = e->slot;
	}
	c->slots[last] = NULL;
	c->count--;
	if (c->hand >= c->count)
		c->hand = 0;
	free(e);
}

/*
 * The usable answer for (action, topic), or NULL. An entry past its
 * valid_until is dropped: a paid period ends by itself, with no event.
 */
static struct acl_entry *
cache_find(struct acl_cache *c, uint8_t action, const uint8_t *topic,
    size_t len, ev_tstamp now)
{
	struct acl_entry *e;

	e = cache_lookup(c, action, topic, len, acl_hash(action, topic, len));
	if (e == NULL)
		return NULL;
	if (e->valid_until != 0 && now > (ev_tstamp)e->valid_until) {
		cache_remove(c, e);
		return NULL;
	}
	e->referenced = true;
	return e;
}

static void
cache_clear(struct acl_cache *c)
{
	uint32_t i;

	if (c->buckets == NULL)
		return;
	for (i = 0; i < c->count; i++) {
		free(c->slots[i]);
		c->slots[i] = NULL;
	}
	memset(c->buckets, 0, ((size_t)c->mask + 1) * sizeof(*c->buckets));
	c->count = 0;
	c->hand = 0;
}

/*
 * Remembers an answer. Out of memory, or a topic over ACL_CACHE_TOPIC_MAX,
 * leaves it unremembered (chaind is asked again next time). When full,
 * the CLOCK hand evicts the first entry not used since it last passed.
 */
static void
cache_insert(struct session *s, uint8_t action, const char *topic, size_t len,
    const struct acl_answer *a)
{
	struct acl_cache *c = &s->acl_cache;
	uint32_t cap = s->px->acl_cache_size, nbuckets, h;
	struct acl_entry *e, **bucket;

	if (len > ACL_CACHE_TOPIC_MAX || cap == 0)
		return;
	if (c->buckets == NULL) {
		for (nbuckets = 1; nbuckets < cap; nbuckets <<= 1)
			;
		c->buckets = calloc(nbuckets, sizeof(*c->buckets));
		c->slots = calloc(cap, sizeof(*c->slots));
		if (c->buckets == NULL || c->slots == NULL) {
			free(c->buckets);
			free(c->slots);
			memset(c, 0, sizeof(*c));
			return;
		}
		c->mask = nbuckets - 1;
	}
	h = acl_hash(action, (const uint8_t *)topic, len);
	/* A newer answer replaces an older one. */
	if ((e = cache_lookup(c, action, (const uint8_t *)topic, len, h)) !=
	    NULL)
		cache_remove(c, e);
	if ((e = malloc(sizeof(*e) + len + a->countries_len)) == NULL)
		return;
	e->valid_until = a->valid_until;
	e->hash = h;
	e->topic_len = (uint16_t)len;
	e->countries_len = (uint16_t)a->countries_len;
	e->action = action;
	e->verdict = a->verdict;
	e->sensitive = a->sensitive;
	e->wrong_country = a->wrong_country;
	e->referenced = false;
	memcpy(e->data, topic, len);
	memcpy(e->data + len, a->countries, a->countries_len);
	if (c->count == cap) {
		while (c->slots[c->hand]->referenced) {
			c->slots[c->hand]->referenced = false;
			c->hand = (c->hand + 1) % c->count;
		}
		cache_remove(c, c->slots[c->hand]);
	}
	e->slot = c->count;
	c->slots[c->count++] = e;
	bucket = &c->buckets[h & c->mask];
	e->next = *bucket;
	*bucket = e;
}

static void
cache_free(struct acl_cache *c)
{
	cache_clear(c);
	free(c->buckets);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

/* ---- Batches and requests ----------------------------------------------- */

static bool
batch_open(struct acl_batch *b, uint32_t count)
{
	if (count == 1) {
		b->marks = &b->single;
	} else if ((b->marks = calloc(count, 1)) == NULL) {
		log_err("acl: out of memory for %u decisions", count);
		return false;
	}
	b->marks[0] = ACL_MARK_UNKNOWN;
	b->count = count;
	b->inflight = 0;
	return true;
}

static void
batch_close(struct acl_batch *b)
{
	if (b->marks != &b->single)
		free(b->marks);
	memset(b, 0, sizeof(*b));
}

static void
request_unlink(struct session *s, struct acl_request *rq)
{
	if (rq->prev != NULL)
		rq->prev->next = rq->next;
	else
		s->acl_requests = rq->next;
	if (rq->next != NULL)
		rq->next->prev = rq->prev;
}

/* Cancels the requests of one side (both when client_side is NULL). */
static void
requests_cancel(struct session *s, const bool *client_side)
{
	struct acl_request *rq, *next;

	for (rq = s->acl_requests; rq != NULL; rq = next) {
		next = rq->next;
		if (client_side != NULL && rq->client_side != *client_side)
			continue;
		ipc_client_cancel(s->px->chaind, rq->id);
		request_unlink(s, rq);
		(rq->client_side ? &s->client : &s->broker)->acl.inflight--;
		free(rq);
	}
}

/* Logs a failed check, at most once a second for the whole process. */
static void
acl_log_failure(struct session *s, const char *why)
{
	static ev_tstamp window;
	static unsigned suppressed;
	ev_tstamp now = ev_now(s->px->loop);

	if (now - window < 1.0) {
		suppressed++;
		return;
	}
	log_warn("acl: no answer from chaind for %s (%s): %s; denying "
		 "(fail closed)%s",
	    s->peer, s->address, why,
	    suppressed > 0 ? "; more such failures not logged" : "");
	window = now;
	suppressed = 0;
}

/*
 * Reads a reply: IPC_ACL_CHECK_REPLY (u64 verdict, u64 valid_until, bool
 * sensitive, str countries), or IPC_ERROR_REPLY (u64 code, str text), or
 * the IPC failure. A malformed reply from chaind, a trusted peer, is a
 * bug: fatalx.
 */
static void
acl_read_answer(struct proxyd *px, struct ipc_reader *msg, enum ipc_status st,
    struct acl_answer *a)
{
	uint64_t verdict, code;
	const char *text;
	size_t text_len, i;

	memset(a, 0, sizeof(*a));
	a->verdict = ACL_DENY;
	if (st != IPC_OK) {
		a->failure = ipc_status_str(st);
		return;
	}
	if (msg->type == IPC_ERROR_REPLY) {
		if (ipc_get_u64(msg, &code) != IPC_OK ||
		    ipc_get_str(msg, &text, &text_len) != IPC_OK ||
		    ipc_get_end(msg) != IPC_OK)
			fatalx("malformed ERROR_REPLY from chaind");
		log_warn("acl: chaind refused a check (code %llu): %.*s",
		    (unsigned long long)code,
		    (int)(text_len > 200 ? 200 : text_len), text);
		a->failure = "chaind refused the check";
		return;
	}
	if (msg->type != IPC_ACL_CHECK_REPLY ||
	    ipc_get_u64(msg, &verdict) != IPC_OK ||
	    ipc_get_u64(msg, &a->valid_until) != IPC_OK ||
	    ipc_get_bool(msg, &a->sensitive) != IPC_OK ||
	    ipc_get_str(msg, &a->countries, &a->countries_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || verdict > ACL_UNAVAILABLE ||
	    a->countries_len > ACL_COUNTRIES_MAX || a->countries_len % 2 != 0)
		fatalx("malformed %s from chaind", ipc_type_str(msg->type));
	for (i = 0; i < a->countries_len; i++)
		if ((a->countries[i] < 'A' || a->countries[i] > 'Z') &&
		    (a->countries[i] < 'a' || a->countries[i] > 'z'))
			fatalx("malformed countries from chaind");
	if (verdict == ACL_UNAVAILABLE) {
		a->failure = "chaind cannot tell now";
		return;
	}
	/* Already over: not to be used, not even once. */
	if (a->valid_until != 0 &&
	    ev_now(px->loop) > (ev_tstamp)a->valid_until) {
		a->failure = "the answer came back expired";
		return;
	}
	a->verdict = (uint8_t)verdict;
}

/*
 * Whether the session's country is among `countries` (concatenated ISO
 * alpha-2 codes; empty: anywhere). An unknown country passes only with
 * [proxyd] unknown_country = allow.
 */
static bool
acl_country_ok(const struct session *s, const char *countries, size_t len)
{
	if (len == 0)
		return true;
	if (s->country[0] == '\0')
		return s->px->unknown_country_allow;
	for (size_t i = 0; i + 1 < len; i += 2)
		if (strncasecmp(countries + i, s->country, 2) == 0)
			return true;
	return false;
}

/* The mark (and decision) an answer makes. */
static enum acl_mark
acl_mark_of(uint8_t verdict, bool wrong_country)
{
	if (verdict == ACL_ALLOW)
		return ACL_MARK_ALLOW;
	return wrong_country ? ACL_MARK_DENY_COUNTRY : ACL_MARK_DENY;
}

static enum acl_decision
acl_decision_of(enum acl_mark m)
{
	switch (m) {
	case ACL_MARK_ALLOW:
		return ACL_DECISION_ALLOW;
	case ACL_MARK_DENY:
		return ACL_DECISION_DENY;
	case ACL_MARK_DENY_COUNTRY:
		return ACL_DECISION_DENY_COUNTRY;
	case ACL_MARK_ASKED:
		return ACL_DECISION_PENDING;
	case ACL_MARK_FAILED:
	case ACL_MARK_UNKNOWN:
		break;
	}
	return ACL_DECISION_FAILED;
}

static void
acl_answered(struct session *s)
{
	if (s->state == SESSION_ACL_WILL)
		connect_authorize_will(s);
	session_resume(s);
}

static void
acl_on_reply(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct acl_request *rq = arg;
	struct session *s = rq->s;
	struct acl_batch *b = rq->client_side ? &s->client.acl : &s->broker.acl;
	struct acl_answer a;

	request_unlink(s, rq);
	acl_read_answer(s->px, msg, st, &a);
	/*
	 * An answer asked before an invalidation may be stale: it is not
	 * used, and the decision is asked again (its mark was reset).
	 */
	if (rq->generation == s->acl_generation && rq->index < b->count) {
		if (a.failure == NULL && a.verdict == ACL_ALLOW &&
		    !acl_country_ok(s, a.countries, a.countries_len)) {
			a.verdict = ACL_DENY;
			a.wrong_country = true;
		}
		if (a.failure != NULL)
			acl_log_failure(s, a.failure);
		else
			cache_insert(
			    s, rq->action, rq->topic, rq->topic_len, &a);
		b->marks[rq->index] = a.failure != NULL
		    ? ACL_MARK_FAILED
		    : acl_mark_of(a.verdict, a.wrong_country) |
			(a.sensitive ? ACL_MARK_SENSITIVE : 0);
	}
	b->inflight--;
	free(rq);
	if (b->inflight == 0)
		acl_answered(s);
}

/* Sends one question; the mark says what became of it. */
static enum acl_decision
acl_ask(struct session *s, struct session_side *side, uint32_t index,
    enum acl_action action, const uint8_t *topic, size_t len)
{
	struct proxyd *px = s->px;
	struct acl_batch *b = &side->acl;
	struct acl_request *rq;
	struct ipc_writer w;
	enum ipc_status st;

	b->marks[index] = ACL_MARK_FAILED; /* unless the question goes out */
	if (!ipc_client_connected(px->chaind)) {
		acl_log_failure(s, ipc_status_str(IPC_ERR_DISCONNECTED));
		return ACL_DECISION_FAILED;
	}
	if (len > UINT16_MAX || (rq = malloc(sizeof(*rq) + len)) == NULL) {
		acl_log_failure(s, "out of memory");
		return ACL_DECISION_FAILED;
	}
	rq->s = s;
	rq->generation = s->acl_generation;
	rq->index = index;
	rq->client_side = side == &s->client;
	rq->action = (uint8_t)action;
	rq->topic_len = (uint16_t)len;
	memcpy(rq->topic, topic, len);
	rq->id = ipc_client_begin(px->chaind, &w, IPC_ACL_CHECK);
	ipc_put_str(&w, s->address, strlen(s->address));
	ipc_put_u64(&w, (uint64_t)action);
	ipc_put_str(&w, (const char *)topic, len);
	st = ipc_client_send(
	    px->chaind, &w, rq->id, px->acl_timeout, acl_on_reply, rq);
	if (st != IPC_OK) {
		free(rq);
		acl_log_failure(s, ipc_status_str(st));
		return ACL_DECISION_FAILED;
	}
	rq->prev = NULL;
	rq->next = s->acl_requests;
	if (rq->next != NULL)
		rq->next->prev = rq;
	s->acl_requests = rq;
	b->marks[index] = ACL_MARK_ASKED;
	b->inflight++;
	return ACL_DECISION_PENDING;
}

enum acl_decision
acl_decide(struct session *s, struct session_side *side, uint32_t index,
    uint32_t count, enum acl_action action, const uint8_t *topic, size_t len)
{
	struct acl_batch *b = &side->acl;
	struct acl_entry *e;

	b->last_sensitive = false;
	if (b->count != 0) {
		if (b->count != count || index >= count)
			fatalx("acl: decision %u of %u asked of a batch of %u",
			    index, count, b->count);
		if (b->marks[index] != ACL_MARK_UNKNOWN) {
			b->last_sensitive =
			    (b->marks[index] & ACL_MARK_SENSITIVE) != 0;
			return acl_decision_of((enum acl_mark)(
			    b->marks[index] & ~ACL_MARK_SENSITIVE));
		}
	}
	e = cache_find(
	    &s->acl_cache, (uint8_t)action, topic, len, ev_now(s->px->loop));
	if (e != NULL) {
		/* Kept in the batch: the cache may evict it meanwhile. */
		if (b->count != 0)
			b->marks[index] =
			    acl_mark_of(e->verdict, e->wrong_country) |
			    (e->sensitive ? ACL_MARK_SENSITIVE : 0);
		b->last_sensitive = e->sensitive;
		return acl_decision_of(
		    acl_mark_of(e->verdict, e->wrong_country));
	}
	if (b->count == 0 && !batch_open(b, count))
		return ACL_DECISION_FAILED;
	if (b->inflight >= ACL_INFLIGHT_MAX)
		return ACL_DECISION_PENDING; /* asked in a later round */
	return acl_ask(s, side, index, action, topic, len);
}

void
acl_packet_done(struct session *s, struct session_side *side)
{
	bool client_side = side == &s->client;

	if (side->acl.count == 0)
		return;
	if (side->acl.inflight > 0)
		requests_cancel(s, &client_side);
	batch_close(&side->acl);
}

void
acl_session_cancel(struct session *s)
{
	requests_cancel(s, NULL);
}

void
acl_session_free(struct session *s)
{
	requests_cancel(s, NULL);
	batch_close(&s->client.acl);
	batch_close(&s->broker.acl);
	cache_free(&s->acl_cache);
}

void
acl_log_denial(struct session *s, enum acl_action action, const uint8_t *topic,
    size_t len, const char *what)
{
	ev_tstamp now = ev_now(s->px->loop);

	if (now - s->deny_log_window >= 1.0) {
		if (s->deny_log_suppressed > 0)
			log_info("session %s (%s): %u more denials not logged",
			    s->peer, s->address, s->deny_log_suppressed);
		s->deny_log_window = now;
		s->deny_log_count = 0;
		s->deny_log_suppressed = 0;
	}
	if (s->deny_log_count >= ACL_LOG_BURST) {
		s->deny_log_suppressed++;
		return;
	}
	s->deny_log_count++;
	log_info("session %s (%s): %s denied: no right to %s on '%.*s'%s",
	    s->peer, s->address, what, acl_action_name(action),
	    (int)(len > ACL_LOG_TOPIC_MAX ? ACL_LOG_TOPIC_MAX : len),
	    (const char *)topic, len > ACL_LOG_TOPIC_MAX ? "..." : "");
}

/* ---- Invalidation ------------------------------------------------------- */

/*
 * Forgets every answer a session holds, including those of a packet being
 * judged, and makes answers still in flight count as stale.
 */
static void
acl_session_forget(struct session *s)
{
	cache_clear(&s->acl_cache);
	s->acl_generation++;
	if (s->client.acl.count != 0)
		memset(
		    s->client.acl.marks, ACL_MARK_UNKNOWN, s->client.acl.count);
	if (s->broker.acl.count != 0)
		memset(
		    s->broker.acl.marks, ACL_MARK_UNKNOWN, s->broker.acl.count);
}

static bool
acl_address_valid(const char *a, size_t len)
{
	size_t i;

	if (len != ETH_ADDRESS_HEX_SIZE - 1 || a[0] != '0' || a[1] != 'x')
		return false;
	for (i = 2; i < len; i++)
		if (!((a[i] >= '0' && a[i] <= '9') ||
			(a[i] >= 'a' && a[i] <= 'f') ||
			(a[i] >= 'A' && a[i] <= 'F')))
			return false;
	return true;
}

/* IPC_ACL_INVALIDATE (push): str address, "" for every address. */
static bool
acl_on_invalidate(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct proxyd *px = arg;
	struct session *s;
	const char *addr;
	size_t len, n = 0;

	(void)conn;
	if (ipc_get_str(msg, &addr, &len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK ||
	    (len != 0 && !acl_address_valid(addr, len)))
		return false;
	for (s = px->first; s != NULL; s = s->next) {
		if (len != 0 &&
		    (strlen(s->address) != len ||
			strncasecmp(s->address, addr, len) != 0))
			continue;
		acl_session_forget(s);
		n++;
	}
	if (len != 0)
		log_debug("acl: chaind invalidated %.*s: %zu session(s)",
		    (int)len, addr, n);
	else
		log_debug("acl: chaind invalidated every address: %zu "
			  "session(s)",
		    n);
	return true;
}

static const struct ipc_handler acl_push_handlers[] = {
    {IPC_ACL_INVALIDATE, acl_on_invalidate},
    {.fn = NULL},
};

/* Invalidations sent while disconnected are lost: forget everything. */
static void
acl_on_chaind_connect(void *arg)
{
	struct proxyd *px = arg;
	struct session *s;

	for (s = px->first; s != NULL; s = s->next)
		acl_session_forget(s);
	log_info("acl: connected to chaind; cached permissions dropped");
}

void
acl_start(struct proxyd *px, const char *path)
{
	px->chaind = ipc_client_new(px->loop, path, "chaind");
	if (px->chaind == NULL)
		fatalx("out of memory");
	ipc_client_on_push(px->chaind, acl_push_handlers, px);
	ipc_client_on_connect(px->chaind, acl_on_chaind_connect, px);
}

void
acl_stop(struct proxyd *px)
{
	ipc_client_free(px->chaind);
	px->chaind = NULL;
}
