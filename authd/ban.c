/*
 * The ban table (see ban.h). Every subject authd knows is one entry in a
 * hash table with chaining, keyed by a keyed hash (SipHash-2-4) so clients
 * cannot choose colliding addresses. An entry is on exactly one of two
 * lists: the bans in force, or the others in order of last use, the
 * oldest of which makes room when the table is full. Timed bans also sit
 * in a min-heap by end; range bans in a short array that is scanned.
 */
#include "ban.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "eth.h"
#include "hex.h"

#define BAN_NO_HEAP UINT32_MAX
#define BAN_FIRST_BUCKETS 1024
/* The bans file's format; another is refused rather than guessed at. */
#define BAN_FILE_VERSION 1
#define BAN_WHY_LEN (BAN_SUBJECT_STRLEN + BAN_REASON_MAX + 32)

struct ban_link {
	struct ban_link *prev, *next;
};

struct ban_entry {
	struct ban_link link; /* first: a link is its entry */
	struct ban_entry *hash_next;
	char *reason; /* the ban in force, else NULL */
	double last_failure;
	double last_end; /* when the latest ban ended; 0: none */
	double tokens; /* attempt rate bucket */
	double tokens_at;
	double since;
	double until; /* 0: until lifted */
	uint32_t heap_index;
	uint32_t failures; /* in the current run */
	uint32_t causes; /* bit mask of the run's causes */
	uint32_t bans; /* remembered bans, this one included */
	uint8_t origin;
	bool banned;
	bool has_tokens;
	struct ban_subject subject;
};

struct ban_table {
	struct ban_config cfg;
	ban_event_fn *on_event;
	void *arg;
	bool quiet; /* loading the file: no events */
	bool dirty;
	uint64_t hash_key[2];
	struct ban_entry **buckets;
	size_t bucket_mask;
	size_t count;
	struct ban_link idle; /* oldest first */
	struct ban_link banned;
	struct ban_entry **heap;
	size_t heap_len, heap_cap;
	struct ban_entry **ranges;
	size_t nranges, ranges_cap;
	size_t hmac_bans;
	size_t active[BAN_ORIGIN_MAX];
	uint64_t started;
	uint8_t *hmac_key;
	size_t hmac_key_len;
	char why[BAN_WHY_LEN];
};

/* ---- Hashing --------------------------------------------------------------- */

static uint64_t
rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                              \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = rotl64(v1, 13);                                           \
		v1 ^= v0;                                                      \
		v0 = rotl64(v0, 32);                                           \
		v2 += v3;                                                      \
		v3 = rotl64(v3, 16);                                           \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = rotl64(v3, 21);                                           \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = rotl64(v1, 17);                                           \
		v1 ^= v2;                                                      \
		v2 = rotl64(v2, 32);                                           \
	} while (0)

/* SipHash-2-4 of data under key k. */
static uint64_t
siphash24(const uint64_t k[2], const uint8_t *data, size_t len)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k[1] ^ 0x7465646279746573ULL;
	uint64_t m, last = (uint64_t)len << 56;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | data[i + (size_t)j];
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (i = full; i < len; i++)
		last |= (uint64_t)data[i] << (8 * (i - full));
	v3 ^= last;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static size_t
ban_bucket(const struct ban_table *t, const struct ban_subject *s)
{
	return (size_t)siphash24(t->hash_key, (const uint8_t *)s, sizeof(*s)) &
	    t->bucket_mask;
}

/* ---- Lists and the heap ----------------------------------------------------- */

static void
link_remove(struct ban_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

/* Appends l at the end of the list headed by head (newest last). */
static void
link_append(struct ban_link *head, struct ban_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static bool
heap_before(const struct ban_entry *a, const struct ban_entry *b)
{
	return a->until < b->until;
}

static void
heap_set(struct ban_table *t, size_t i, struct ban_entry *e)
{
	t->heap[i] = e;
	e->heap_index = (uint32_t)i;
}

static void
heap_up(struct ban_table *t, size_t i)
{
	struct ban_entry *e = t->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!heap_before(e, t->heap[parent]))
			break;
		heap_set(t, i, t->heap[parent]);
		i = parent;
	}
	heap_set(t, i, e);
}

static void
heap_down(struct ban_table *t, size_t i)
{
	struct ban_entry *e = t->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->heap_len)
			break;
		if (c + 1 < t->heap_len &&
		    heap_before(t->heap[c + 1], t->heap[c]))
			c++;
		if (!heap_before(t->heap[c], e))
			break;
		heap_set(t, i, t->heap[c]);
		i = c;
	}
	heap_set(t, i, e);
}

/* Room for one more timed ban; false when out of memory. */
static bool
heap_reserve(struct ban_table *t)
{
	size_t cap;
	struct ban_entry **h;

	if (t->heap_len < t->heap_cap)
		return true;
	cap = t->heap_cap ? 2 * t->heap_cap : 64;
	if ((h = realloc(t->heap, cap * sizeof(*h))) == NULL)
		return false;
	t->heap = h;
	t->heap_cap = cap;
	return true;
}

/* Adds e; heap_reserve() has made room. */
static void
heap_push(struct ban_table *t, struct ban_entry *e)
{
	t->heap[t->heap_len] = e;
	e->heap_index = (uint32_t)t->heap_len;
	t->heap_len++;
	heap_up(t, t->heap_len - 1);
}

static void
heap_remove(struct ban_table *t, struct ban_entry *e)
{
	size_t i = e->heap_index;
	struct ban_entry *last;

	if (i == BAN_NO_HEAP)
		return;
	e->heap_index = BAN_NO_HEAP;
	last = t->heap[--t->heap_len];
	if (last == e)
		return;
	heap_set(t, i, last);
	heap_up(t, i);
	heap_down(t, last->heap_index);
}

/* Room for one more range ban; false when out of memory. */
static bool
ranges_reserve(struct ban_table *t)
{
	size_t cap;
	struct ban_entry **r;

	if (t->nranges < t->ranges_cap)
		return true;
	cap = t->ranges_cap ? 2 * t->ranges_cap : 16;
	if ((r = realloc(t->ranges, cap * sizeof(*r))) == NULL)
		return false;
	t->ranges = r;
	t->ranges_cap = cap;
	return true;
}

static void
ranges_remove(struct ban_table *t, struct ban_entry *e)
{
	for (size_t i = 0; i < t->nranges; i++)
		if (t->ranges[i] == e) {
			t->ranges[i] = t->ranges[--t->nranges];
			return;
		}
}

/* ---- Entries ----------------------------------------------------------------- */

static struct ban_entry *
entry_find(const struct ban_table *t, const struct ban_subject *s)
{
	struct ban_entry *e;

	for (e = t->buckets[ban_bucket(t, s)]; e != NULL; e = e->hash_next)
		if (memcmp(&e->subject, s, sizeof(*s)) == 0)
			return e;
	return NULL;
}

/* Doubles the buckets while the load exceeds one; failure is harmless. */
static void
table_grow(struct ban_table *t)
{
	size_t n = (t->bucket_mask + 1) * 2, i;
	struct ban_entry **b, **old = t->buckets, *e, *next;
	size_t old_n = t->bucket_mask + 1;

	if (t->count <= old_n || (b = calloc(n, sizeof(*b))) == NULL)
		return;
	t->buckets = b;
	t->bucket_mask = n - 1;
	for (i = 0; i < old_n; i++)
		for (e = old[i]; e != NULL; e = next) {
			size_t k = ban_bucket(t, &e->subject);

			next = e->hash_next;
			e->hash_next = b[k];
			b[k] = e;
		}
	free(old);
}

/* Unlinks e from everything and frees it; e must not be banned. */
static void
entry_free(struct ban_table *t, struct ban_entry *e)
{
	struct ban_entry **pp = &t->buckets[ban_bucket(t, &e->subject)];

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	link_remove(&e->link);
	free(e->reason);
	free(e);
	t->count--;
}

/*
 * The entry of s, made if absent. When the table is full the least
 * recently used entry without a ban makes room; if every entry is banned,
 * NULL unless `force` (manual bans are always kept).
 */
static struct ban_entry *
entry_get(struct ban_table *t, const struct ban_subject *s, bool force)
{
	struct ban_entry *e = entry_find(t, s);
	size_t k;

	if (e != NULL)
		return e;
	if (t->count >= t->cfg.max_entries) {
		if (t->idle.next != &t->idle)
			entry_free(t, (struct ban_entry *)t->idle.next);
		else if (!force)
			return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->subject = *s;
	e->heap_index = BAN_NO_HEAP;
	k = ban_bucket(t, s);
	e->hash_next = t->buckets[k];
	t->buckets[k] = e;
	link_append(&t->idle, &e->link);
	t->count++;
	table_grow(t);
	return e;
}

/* Marks e used: it moves to the young end of the idle list. */
static void
entry_touch(struct ban_table *t, struct ban_entry *e)
{
	if (!e->banned) {
		link_remove(&e->link);
		link_append(&t->idle, &e->link);
	}
}

static bool
entry_in_force(const struct ban_entry *e, double now)
{
	return e->banned && (e->until == 0 || e->until > now);
}

/* Whether forgetting e now loses nothing that matters. */
static bool
entry_idle(const struct ban_table *t, const struct ban_entry *e, double now)
{
	if (e->banned)
		return false;
	if (e->failures > 0 && now - e->last_failure <= t->cfg.window)
		return false;
	if (e->bans > 0 && now - e->last_end < t->cfg.memory)
		return false;
	if (e->has_tokens && t->cfg.connect_rate > 0 &&
	    e->tokens + (now - e->tokens_at) * t->cfg.connect_rate <
		t->cfg.connect_burst)
		return false;
	return true;
}

/* ---- Starting and ending bans ------------------------------------------------ */

static void
ban_emit(struct ban_table *t, enum ban_event_type type,
    const struct ban_entry *e, const struct netaddr *ip, const uint8_t *address)
{
	char text[BAN_SUBJECT_STRLEN];
	struct ban_event ev;

	if (t->on_event == NULL || t->quiet)
		return;
	ban_subject_format(&e->subject, text);
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.subject = &e->subject;
	ev.subject_text = text;
	ev.origin = (enum ban_origin)e->origin;
	ev.since = e->since;
	ev.until = e->until;
	ev.bans = e->bans;
	ev.reason = e->reason != NULL ? e->reason : "";
	ev.ip = ip;
	ev.address = address;
	t->on_event(&ev, t->arg);
}

/* The length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Over-long forms, surrogates, beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * A copy of reason cut at BAN_REASON_MAX bytes, as printable UTF-8 (a
 * control character or a byte of no valid sequence becomes '?'), so logs
 * and JSON can carry it; NULL when out of memory.
 */
static char *
reason_dup(const char *reason)
{
	const unsigned char *s = (const unsigned char *)reason;
	size_t n = strnlen(reason, BAN_REASON_MAX), i = 0, k;
	char *r = malloc(n + 1);

	if (r == NULL)
		return NULL;
	while (i < n) {
		k = utf8_sequence(s + i, n - i);
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			r[i++] = '?';
			continue;
		}
		memcpy(r + i, s + i, k);
		i += k;
	}
	r[n] = '\0';
	return r;
}

/* Forgets an ended ban history once `memory` has passed. */
static void
entry_forget_old_bans(
    const struct ban_table *t, struct ban_entry *e, double now)
{
	if (!e->banned && e->bans > 0 && now - e->last_end >= t->cfg.memory)
		e->bans = 0;
}

/*
 * Puts a ban on e (replacing one in force), taking ownership of reason.
 * False when out of memory (e is then unchanged and reason freed).
 */
static bool
ban_begin(struct ban_table *t, struct ban_entry *e, double now,
    enum ban_origin origin, double until, char *reason,
    enum ban_event_type type, const struct netaddr *ip, const uint8_t *address)
{
	if (reason == NULL ||
	    (until != 0 && e->heap_index == BAN_NO_HEAP && !heap_reserve(t)) ||
	    (!e->banned && e->subject.kind == BAN_KIND_RANGE &&
		!ranges_reserve(t))) {
		free(reason);
		return false;
	}
	if (e->banned) {
		heap_remove(t, e);
		t->active[e->origin]--;
		if (e->origin != BAN_ORIGIN_CHAIN)
			t->dirty = true;
		free(e->reason);
	} else {
		if (e->subject.kind == BAN_KIND_RANGE)
			t->ranges[t->nranges++] = e;
		if (e->subject.kind == BAN_KIND_IP_HMAC)
			t->hmac_bans++;
		link_remove(&e->link);
		link_append(&t->banned, &e->link);
		e->banned = true;
	}
	if (type == BAN_EVENT_START) {
		e->since = now;
		e->bans++;
		if (!t->quiet)
			t->started++;
	}
	e->reason = reason;
	e->origin = (uint8_t)origin;
	e->until = until;
	e->failures = 0;
	e->causes = 0;
	t->active[origin]++;
	if (origin != BAN_ORIGIN_CHAIN)
		t->dirty = true;
	if (until != 0)
		heap_push(t, e);
	ban_emit(t, type, e, ip, address);
	return true;
}

/* Ends the ban of e (its time was up, or lifted). */
static void
ban_end(struct ban_table *t, struct ban_entry *e, double now,
    enum ban_event_type type)
{
	ban_emit(t, type, e, NULL, NULL);
	heap_remove(t, e);
	link_remove(&e->link);
	if (e->subject.kind == BAN_KIND_RANGE)
		ranges_remove(t, e);
	if (e->subject.kind == BAN_KIND_IP_HMAC)
		t->hmac_bans--;
	t->active[e->origin]--;
	if (e->origin != BAN_ORIGIN_CHAIN)
		t->dirty = true;
	free(e->reason);
	e->reason = NULL;
	e->banned = false;
	e->last_end = type == BAN_EVENT_END && e->until != 0 && e->until < now
	    ? e->until
	    : now;
	/* Ranges and hashes have no counters: nothing left to keep. */
	if (e->subject.kind == BAN_KIND_RANGE ||
	    e->subject.kind == BAN_KIND_IP_HMAC) {
		entry_free(t, e);
		return;
	}
	link_append(&t->idle, &e->link);
}

/* Ends e's ban if its time is up; returns whether one is in force. */
static bool
entry_settle(struct ban_table *t, struct ban_entry *e, double now)
{
	if (e->banned && e->until != 0 && e->until <= now)
		ban_end(t, e, now, BAN_EVENT_END);
	return e->banned;
}

/* ---- Table ------------------------------------------------------------------- */

struct ban_table *
ban_table_new(const struct ban_config *cfg, ban_event_fn *fn, void *arg)
{
	struct ban_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	if (t->cfg.max_entries == 0)
		t->cfg.max_entries = 1;
	if (t->cfg.escalation < 1)
		t->cfg.escalation = 1;
	t->on_event = fn;
	t->arg = arg;
	t->idle.prev = t->idle.next = &t->idle;
	t->banned.prev = t->banned.next = &t->banned;
	if (getrandom(t->hash_key, sizeof(t->hash_key), 0) !=
	    (ssize_t)sizeof(t->hash_key)) {
		free(t);
		return NULL;
	}
	t->buckets = calloc(BAN_FIRST_BUCKETS, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->bucket_mask = BAN_FIRST_BUCKETS - 1;
	return t;
}

void
ban_table_free(struct ban_table *t)
{
	struct ban_entry *e, *next;

	if (t == NULL)
		return;
	for (size_t i = 0; i <= t->bucket_mask; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->hash_next;
			free(e->reason);
			free(e);
		}
	free(t->buckets);
	free(t->heap);
	free(t->ranges);
	if (t->hmac_key != NULL) {
		explicit_bzero(t->hmac_key, t->hmac_key_len);
		free(t->hmac_key);
	}
	free(t);
}

bool
ban_set_hmac_key(struct ban_table *t, const uint8_t *key, size_t len)
{
	uint8_t *k;

	if (len < BAN_HMAC_KEY_MIN || len > 4096 || (k = malloc(len)) == NULL)
		return false;
	memcpy(k, key, len);
	if (t->hmac_key != NULL) {
		explicit_bzero(t->hmac_key, t->hmac_key_len);
		free(t->hmac_key);
	}
	t->hmac_key = k;
	t->hmac_key_len = len;
	return true;
}

void
ban_ip_hmac(
    const struct ban_table *t, const struct netaddr *ip, uint8_t out[32])
{
	char text[NETADDR_STRLEN];
	unsigned int len = 32;

	netaddr_format(ip, text);
	if (t->hmac_key == NULL ||
	    HMAC(EVP_sha256(), t->hmac_key, (int)t->hmac_key_len,
		(const unsigned char *)text, strlen(text), out, &len) == NULL)
		memset(out, 0, 32); /* matches no hash anyone can name */
}

/* ---- Subjects ---------------------------------------------------------------- */

static const char *const ban_kind_names[] = {
    [BAN_KIND_IP] = "ip",
    [BAN_KIND_RANGE] = "range",
    [BAN_KIND_ADDRESS] = "address",
    [BAN_KIND_IP_HMAC] = "ip-hmac",
};

static const char *const ban_origin_names[] = {
    [BAN_ORIGIN_AUTO] = "auto",
    [BAN_ORIGIN_MANUAL] = "manual",
    [BAN_ORIGIN_CHAIN] = "chain",
};

const char *
ban_kind_str(enum ban_kind k)
{
	return (unsigned)k <= BAN_KIND_IP_HMAC ? ban_kind_names[k] : "?";
}

const char *
ban_origin_str(enum ban_origin o)
{
	return (unsigned)o < BAN_ORIGIN_MAX ? ban_origin_names[o] : "?";
}

const char *
ban_cause_str(enum ban_cause c)
{
	switch (c) {
	case BAN_CAUSE_DENIED_PUBLISH:
		return "denied publish";
	case BAN_CAUSE_DENIED_SUBSCRIBE:
		return "denied subscribe";
	case BAN_CAUSE_WRONG_COUNTRY:
		return "wrong country";
	case BAN_CAUSE_MAX:
		break;
	}
	if ((unsigned)c < AUTH_RESULT_MAX)
		return auth_result_str((enum auth_result)c);
	return "?";
}

void
ban_subject_from_ip(const struct netaddr *ip, struct ban_subject *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = BAN_KIND_IP;
	out->family = ip->family;
	memcpy(out->key, ip->bytes, ip->family == AF_INET ? 4 : 16);
}

void
ban_subject_from_address(const uint8_t addr[20], struct ban_subject *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = BAN_KIND_ADDRESS;
	memcpy(out->key, addr, ETH_ADDRESS_LEN);
}

static void
subject_netaddr(const struct ban_subject *s, struct netaddr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = s->family;
	memcpy(a->bytes, s->key, 16);
}

static void
subject_netrange(const struct ban_subject *s, struct netrange *r)
{
	memset(r, 0, sizeof(*r));
	subject_netaddr(s, &r->addr);
	r->prefix = s->prefix;
}

void
ban_subject_format(const struct ban_subject *s, char out[BAN_SUBJECT_STRLEN])
{
	struct netaddr a;
	struct netrange r;

	switch ((enum ban_kind)s->kind) {
	case BAN_KIND_IP:
		subject_netaddr(s, &a);
		netaddr_format(&a, out);
		return;
	case BAN_KIND_RANGE:
		subject_netrange(s, &r);
		netrange_format(&r, out);
		return;
	case BAN_KIND_ADDRESS:
		eth_address_hex(s->key, out);
		return;
	case BAN_KIND_IP_HMAC:
		memcpy(out, "ip-hmac:", 8);
		hex_encode(s->key, BAN_HMAC_LEN, out + 8);
		return;
	}
	snprintf(out, BAN_SUBJECT_STRLEN, "?");
}

/* Untrusted text for an error message: printable, and not too long. */
static void
subject_quote(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < outlen; i++)
		out[n++] =
		    (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (i < len && n + 4 <= outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* Explains why "addr/prefix" is no range; false if it is not that shape. */
static bool
range_explain(
    const char *s, size_t len, const char *quoted, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', len);
	char fixed[NETADDR_STRLEN];
	uint8_t original[16];
	struct netrange r;
	unsigned prefix = 0, bits;
	size_t i, plen;

	if (slash == NULL)
		return false;
	memset(&r, 0, sizeof(r));
	if (!netaddr_parse(s, (size_t)(slash - s), &r.addr)) {
		snprintf(err, errlen,
		    "'%s' is not a CIDR range: '%.*s' is not an IP address",
		    quoted, (int)(slash - s) > 64 ? 64 : (int)(slash - s), s);
		return true;
	}
	bits = r.addr.family == AF_INET ? 32 : 128;
	plen = len - (size_t)(slash - s) - 1;
	for (i = 0; i < plen; i++) {
		char c = slash[1 + i];

		if (c < '0' || c > '9' || i >= 3)
			break;
		prefix = prefix * 10 + (unsigned)(c - '0');
	}
	if (plen == 0 || i < plen || prefix > bits) {
		snprintf(err, errlen,
		    "'%s' is not a CIDR range: the prefix length must be a "
		    "number from 0 to %u",
		    quoted, bits);
		return true;
	}
	/* The only other refusal: host bits set. Name the range meant. */
	memcpy(original, r.addr.bytes, sizeof(original));
	for (i = 0; i < 16; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8
		    : prefix > 8 * i                  ? prefix - 8 * (unsigned)i
						      : 0;

		r.addr.bytes[i] &= (uint8_t)(0xff00u >> keep);
	}
	r.prefix = (uint8_t)prefix;
	if (memcmp(r.addr.bytes, original, sizeof(original)) == 0)
		return false;
	netrange_format(&r, fixed);
	snprintf(err, errlen,
	    "'%s' has host bits set: the range containing it is %s", quoted,
	    fixed);
	return true;
}

bool
ban_subject_parse(const char *s, size_t len, struct ban_subject *out, char *err,
    size_t errlen)
{
	char quoted[80];
	struct netrange r;
	struct netaddr a;
	uint8_t addr[ETH_ADDRESS_LEN];

	subject_quote(s, len, quoted, sizeof(quoted));
	memset(out, 0, sizeof(*out));
	if (len == 0) {
		snprintf(err, errlen, "empty subject");
		return false;
	}
	if (len >= 8 && memcmp(s, "ip-hmac:", 8) == 0) {
		if (len != 8 + 2 * BAN_HMAC_LEN ||
		    (s[8] == '0' && (s[9] == 'x' || s[9] == 'X')) ||
		    !hex_decode_exact(s + 8, len - 8, out->key, BAN_HMAC_LEN)) {
			snprintf(err, errlen,
			    "'%s' is not an IP hash: ip-hmac: and 64 hex "
			    "digits",
			    quoted);
			return false;
		}
		out->kind = BAN_KIND_IP_HMAC;
		return true;
	}
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!eth_address_parse(s, len, addr)) {
			snprintf(err, errlen,
			    "'%s' is not an address: 0x and 40 hex digits",
			    quoted);
			return false;
		}
		ban_subject_from_address(addr, out);
		return true;
	}
	if (memchr(s, '/', len) != NULL) {
		if (!netrange_parse(s, len, &r)) {
			if (!range_explain(s, len, quoted, err, errlen))
				snprintf(err, errlen,
				    "'%s' is not a CIDR range", quoted);
			return false;
		}
		if (r.prefix == (r.addr.family == AF_INET ? 32 : 128)) {
			ban_subject_from_ip(&r.addr, out);
			return true;
		}
		out->kind = BAN_KIND_RANGE;
		out->family = r.addr.family;
		out->prefix = r.prefix;
		memcpy(out->key, r.addr.bytes, 16);
		return true;
	}
	if (!netaddr_parse(s, len, &a)) {
		snprintf(err, errlen,
		    "'%s' is neither an IP address, a CIDR range "
		    "(192.0.2.0/24), an address (0x and 40 hex digits) nor an "
		    "IP hash (ip-hmac: and 64 hex digits)",
		    quoted);
		return false;
	}
	ban_subject_from_ip(&a, out);
	return true;
}

/* ---- Counting ---------------------------------------------------------------- */

/* "3 failures: bad-signature, denied publish" */
static char *
auto_reason(uint32_t count, const char *what, uint32_t causes)
{
	char buf[BAN_REASON_MAX];
	size_t n;
	bool first = true;

	n = (size_t)snprintf(buf, sizeof(buf), "%u %s", count, what);
	for (unsigned c = 0; c < BAN_CAUSE_MAX && n < sizeof(buf); c++) {
		if (!(causes & (1u << c)))
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    first ? ": " : ", ", ban_cause_str((enum ban_cause)c));
		first = false;
	}
	return reason_dup(buf);
}

/* The length of the k-th repeat ban (k = 0 for the first). */
static double
auto_duration(const struct ban_config *cfg, uint32_t k)
{
	double d = cfg->duration;

	for (uint32_t i = 0; i < k && d < cfg->max_duration; i++)
		d *= cfg->escalation;
	return d < cfg->max_duration ? d : cfg->max_duration;
}

static enum ban_outcome
record_failure(struct ban_table *t, double now, const struct ban_subject *s,
    uint32_t threshold, const char *what, const struct netaddr *ip,
    const uint8_t *address, enum ban_cause cause)
{
	struct ban_entry *e;
	double until;

	if (threshold == 0)
		return BAN_OFF;
	if ((e = entry_get(t, s, false)) == NULL)
		return BAN_FULL;
	if (entry_settle(t, e, now))
		return BAN_UNCHANGED;
	if (e->failures > 0 && now - e->last_failure > t->cfg.window) {
		e->failures = 0;
		e->causes = 0;
	}
	e->failures++;
	e->last_failure = now;
	if ((unsigned)cause < BAN_CAUSE_MAX)
		e->causes |= 1u << cause;
	entry_touch(t, e);
	if (e->failures < threshold)
		return BAN_COUNTED;
	entry_forget_old_bans(t, e, now);
	until = now + auto_duration(&t->cfg, e->bans);
	if (!ban_begin(t, e, now, BAN_ORIGIN_AUTO, until,
		auto_reason(e->failures, what, e->causes), BAN_EVENT_START, ip,
		address))
		return BAN_FULL;
	return BAN_STARTED;
}

enum ban_outcome
ban_record_ip_failure(struct ban_table *t, double now, const struct netaddr *ip,
    const uint8_t *address, enum ban_cause cause)
{
	struct ban_subject s;

	ban_subject_from_ip(ip, &s);
	return record_failure(
	    t, now, &s, t->cfg.threshold, "failures", ip, address, cause);
}

enum ban_outcome
ban_record_address_failure(struct ban_table *t, double now,
    const uint8_t address[20], const struct netaddr *ip, enum ban_cause cause)
{
	struct ban_subject s;

	ban_subject_from_address(address, &s);
	return record_failure(t, now, &s, t->cfg.address_threshold, "denials",
	    ip, address, cause);
}

void
ban_record_ip_success(struct ban_table *t, double now, const struct netaddr *ip)
{
	struct ban_subject s;
	struct ban_entry *e;

	ban_subject_from_ip(ip, &s);
	if ((e = entry_find(t, &s)) == NULL)
		return;
	/* A ban whose time is up ends here rather than at the next sweep. */
	entry_settle(t, e, now);
	e->failures = 0;
	e->causes = 0;
	entry_touch(t, e);
}

/* ---- Questions --------------------------------------------------------------- */

/* Keeps the match that ends last; writes why. */
static void
consider(
    struct ban_table *t, const struct ban_entry *e, bool *found, double *until)
{
	char text[BAN_SUBJECT_STRLEN];

	if (*found && (*until == 0 || (e->until != 0 && e->until <= *until)))
		return;
	*found = true;
	*until = e->until;
	ban_subject_format(&e->subject, text);
	snprintf(t->why, sizeof(t->why), "%s (%s ban: %s)", text,
	    ban_origin_str((enum ban_origin)e->origin),
	    e->reason != NULL ? e->reason : "");
}

bool
ban_check_ip(struct ban_table *t, double now, const struct netaddr *ip,
    double *until, const char **why)
{
	struct ban_subject s;
	struct ban_entry *e;
	struct netrange r;
	bool found = false;

	*until = 0;
	ban_subject_from_ip(ip, &s);
	if ((e = entry_find(t, &s)) != NULL && entry_in_force(e, now))
		consider(t, e, &found, until);
	for (size_t i = 0; i < t->nranges; i++) {
		e = t->ranges[i];
		subject_netrange(&e->subject, &r);
		if (entry_in_force(e, now) && netrange_contains(&r, ip))
			consider(t, e, &found, until);
	}
	if (t->hmac_bans > 0) {
		memset(&s, 0, sizeof(s));
		s.kind = BAN_KIND_IP_HMAC;
		ban_ip_hmac(t, ip, s.key);
		if ((e = entry_find(t, &s)) != NULL && entry_in_force(e, now))
			consider(t, e, &found, until);
	}
	if (why != NULL)
		*why = found ? t->why : "";
	return found;
}

bool
ban_check_address(struct ban_table *t, double now, const uint8_t address[20],
    double *until, const char **why)
{
	struct ban_subject s;
	struct ban_entry *e;
	bool found = false;

	*until = 0;
	ban_subject_from_address(address, &s);
	if ((e = entry_find(t, &s)) != NULL && entry_in_force(e, now))
		consider(t, e, &found, until);
	if (why != NULL)
		*why = found ? t->why : "";
	return found;
}

enum conn_verdict
ban_check_connect(
    struct ban_table *t, double now, const struct netaddr *ip, double *until)
{
	struct ban_subject s;
	struct ban_entry *e;
	double rate = t->cfg.connect_rate, burst = t->cfg.connect_burst;

	if (rate > 0) {
		ban_subject_from_ip(ip, &s);
		/* With no room to track it, the IP goes unlimited. */
		if ((e = entry_get(t, &s, false)) != NULL) {
			if (!e->has_tokens) {
				e->has_tokens = true;
				e->tokens = burst;
			} else if (now > e->tokens_at) {
				e->tokens += (now - e->tokens_at) * rate;
				if (e->tokens > burst)
					e->tokens = burst;
			}
			e->tokens_at = now;
			entry_touch(t, e);
			if (e->tokens < 1)
				return CONN_DROP;
			e->tokens -= 1;
		}
	}
	return ban_check_ip(t, now, ip, until, NULL) ? CONN_BANNED : CONN_OK;
}

/* ---- Manual and chain bans --------------------------------------------------- */

enum ban_outcome
ban_add_manual(struct ban_table *t, double now, const struct ban_subject *s,
    double seconds, const char *reason)
{
	struct ban_entry *e;

	if ((e = entry_get(t, s, true)) == NULL)
		return BAN_FULL;
	entry_settle(t, e, now);
	entry_forget_old_bans(t, e, now);
	if (!ban_begin(t, e, now, BAN_ORIGIN_MANUAL,
		seconds > 0 ? now + seconds : 0, reason_dup(reason),
		BAN_EVENT_START, NULL, NULL))
		return BAN_FULL;
	return BAN_STARTED;
}

enum ban_outcome
ban_add_chain(struct ban_table *t, double now, const struct ban_subject *s,
    double until, const char *reason)
{
	struct ban_entry *e;

	if (until <= now)
		return BAN_EXPIRED;
	if ((e = entry_get(t, s, false)) == NULL)
		return BAN_FULL;
	if (entry_settle(t, e, now)) {
		if (e->until == 0 || e->until >= until)
			return BAN_UNCHANGED;
		if (!ban_begin(t, e, now, BAN_ORIGIN_CHAIN, until,
			reason_dup(reason), BAN_EVENT_EXTEND, NULL, NULL))
			return BAN_FULL;
		return BAN_EXTENDED;
	}
	entry_forget_old_bans(t, e, now);
	if (!ban_begin(t, e, now, BAN_ORIGIN_CHAIN, until, reason_dup(reason),
		BAN_EVENT_START, NULL, NULL)) {
		if (!e->banned && entry_idle(t, e, now))
			entry_free(t, e);
		return BAN_FULL;
	}
	return BAN_STARTED;
}

enum ban_outcome
ban_remove(struct ban_table *t, double now, const struct ban_subject *s)
{
	struct ban_entry *e = entry_find(t, s);

	if (e == NULL)
		return BAN_NOT_FOUND;
	if (!entry_settle(t, e, now)) {
		e->failures = 0;
		e->causes = 0;
		return BAN_NOT_FOUND;
	}
	e->failures = 0;
	e->causes = 0;
	/* Ranges and hashes are freed with their ban: e is gone then. */
	ban_end(t, e, now, BAN_EVENT_LIFT);
	return BAN_LIFTED;
}

/* ---- Time, listing, figures -------------------------------------------------- */

void
ban_expire(struct ban_table *t, double now)
{
	struct ban_entry *e;

	while (t->heap_len > 0 && t->heap[0]->until <= now)
		ban_end(t, t->heap[0], now, BAN_EVENT_END);
	while (t->idle.next != &t->idle) {
		e = (struct ban_entry *)t->idle.next;
		if (!entry_idle(t, e, now))
			break;
		entry_free(t, e);
	}
}

/* Whole seconds, rounded up for an end so it is never early. */
static json_int_t
json_time(double v, bool up)
{
	json_int_t s = (json_int_t)v;

	return up && (double)s < v ? s + 1 : s;
}

static json_t *
entry_json(const struct ban_entry *e)
{
	char text[BAN_SUBJECT_STRLEN];

	ban_subject_format(&e->subject, text);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "subject", text,
	    "kind", ban_kind_str((enum ban_kind)e->subject.kind), "origin",
	    ban_origin_str((enum ban_origin)e->origin), "reason",
	    e->reason != NULL ? e->reason : "", "since",
	    json_time(e->since, false), "until", json_time(e->until, true),
	    "bans", (json_int_t)e->bans);
}

/* The bans in force as a JSON array; chain ones only when `chain`. */
static json_t *
bans_json(struct ban_table *t, double now, bool chain)
{
	json_t *a = json_array(), *o;
	struct ban_link *l;

	if (a == NULL)
		return NULL;
	for (l = t->banned.next; l != &t->banned; l = l->next) {
		const struct ban_entry *e = (const struct ban_entry *)l;

		if (!entry_in_force(e, now) ||
		    (!chain && e->origin == BAN_ORIGIN_CHAIN))
			continue;
		/* Bans with invalid UTF-8 reasons cannot be JSON strings. */
		if ((o = entry_json(e)) == NULL)
			continue;
		if (json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *
ban_list_json(struct ban_table *t, double now)
{
	json_t *a = bans_json(t, now, true);
	char *s;

	if (a == NULL)
		return NULL;
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

void
ban_get_stats(const struct ban_table *t, struct ban_stats *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->active, t->active, sizeof(out->active));
	out->tracked = t->count;
	out->started = t->started;
}

/* ---- The bans file ------------------------------------------------------------ */

bool
ban_dirty(const struct ban_table *t)
{
	return t->dirty;
}

static enum ban_file_status
write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return BAN_FILE_IO;
		s += n;
		len -= (size_t)n;
	}
	return BAN_FILE_OK;
}

enum ban_file_status
ban_save(
    struct ban_table *t, double now, const char *path, char *err, size_t errlen)
{
	char tmp[4096];
	json_t *root, *a;
	char *text;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "bans file %s: path too long", path);
		return BAN_FILE_IO;
	}
	a = bans_json(t, now, false);
	root = a != NULL
	    ? json_pack("{s:i, s:o}", "version", BAN_FILE_VERSION, "bans", a)
	    : NULL;
	text = root != NULL ? json_dumps(root, JSON_INDENT(1)) : NULL;
	json_decref(root);
	if (text == NULL) {
		snprintf(err, errlen, "bans file %s: out of memory", path);
		return BAN_FILE_IO;
	}
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "bans file %s: cannot create %s: %s",
		    path, tmp, strerror(errno));
		free(text);
		return BAN_FILE_IO;
	}
	if (fchmod(fd, 0600) != 0 ||
	    write_all(fd, text, strlen(text)) != BAN_FILE_OK ||
	    write_all(fd, "\n", 1) != BAN_FILE_OK || fsync(fd) != 0) {
		snprintf(err, errlen, "bans file %s: cannot write %s: %s", path,
		    tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		free(text);
		return BAN_FILE_IO;
	}
	free(text);
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "bans file %s: cannot replace it: %s",
		    path, strerror(errno));
		unlink(tmp);
		return BAN_FILE_IO;
	}
	t->dirty = false;
	return BAN_FILE_OK;
}

/* One saved ban; false with err set when it is malformed. */
static bool
load_entry(struct ban_table *t, double now, json_t *o, size_t *loaded,
    bool *dropped, char *err, size_t errlen)
{
	const char *subject, *origin, *reason;
	json_int_t since, until, bans;
	struct ban_subject s;
	struct ban_entry *e;
	enum ban_origin orig;
	char why[160];
	json_error_t jerr;

	if (json_unpack_ex(o, &jerr, 0, "{s:s, s:s, s:s, s:I, s:I, s:I}",
		"subject", &subject, "origin", &origin, "reason", &reason,
		"since", &since, "until", &until, "bans", &bans) != 0) {
		snprintf(err, errlen, "%s", jerr.text);
		return false;
	}
	if (!ban_subject_parse(
		subject, strlen(subject), &s, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return false;
	}
	if (strcmp(origin, "auto") == 0)
		orig = BAN_ORIGIN_AUTO;
	else if (strcmp(origin, "manual") == 0)
		orig = BAN_ORIGIN_MANUAL;
	else {
		snprintf(err, errlen, "origin '%.32s' is not auto or manual",
		    origin);
		return false;
	}
	if (until < 0 || since < 0 || bans < 1 || bans > UINT32_MAX) {
		snprintf(err, errlen, "since, until or bans out of range");
		return false;
	}
	if (until != 0 && (double)until <= now) {
		*dropped = true;
		return true;
	}
	if ((e = entry_get(t, &s, true)) == NULL ||
	    !ban_begin(t, e, now, orig, (double)until, reason_dup(reason),
		BAN_EVENT_START, NULL, NULL)) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	e->since = (double)since;
	e->bans = (uint32_t)bans;
	(*loaded)++;
	return true;
}

enum ban_file_status
ban_load(struct ban_table *t, double now, const char *path, size_t *loaded,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *a, *o;
	json_int_t version;
	struct stat st;
	size_t i, count = 0;
	bool dropped = false, ok = true;
	char what[256];

	if (loaded != NULL)
		*loaded = 0;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return BAN_FILE_OK;
		snprintf(
		    err, errlen, "bans file %s: %s", path, strerror(errno));
		return BAN_FILE_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "bans file %s: not a regular file", path);
		return BAN_FILE_IO;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen,
		    "bans file %s: not valid JSON (line %d, column %d: %s)",
		    path, jerr.line, jerr.column, jerr.text);
		return BAN_FILE_FORMAT;
	}
	if (json_unpack_ex(root, &jerr, 0, "{s:I, s:o}", "version", &version,
		"bans", &a) != 0 ||
	    !json_is_array(a)) {
		snprintf(err, errlen,
		    "bans file %s: not a bans file (an object with version "
		    "and a bans array)",
		    path);
		json_decref(root);
		return BAN_FILE_FORMAT;
	}
	if (version != BAN_FILE_VERSION) {
		snprintf(err, errlen,
		    "bans file %s: version %lld, this authd reads version %d",
		    path, (long long)version, BAN_FILE_VERSION);
		json_decref(root);
		return BAN_FILE_FORMAT;
	}
	t->quiet = true;
	json_array_foreach(a, i, o)
	{
		if (!load_entry(
			t, now, o, &count, &dropped, what, sizeof(what))) {
			snprintf(err, errlen, "bans file %s: ban %zu: %s", path,
			    i + 1, what);
			ok = false;
			break;
		}
	}
	t->quiet = false;
	json_decref(root);
	if (loaded != NULL)
		*loaded = count;
	/* Rewrite it without what has ended, at the next save. */
	t->dirty = dropped;
	return ok ? BAN_FILE_OK : BAN_FILE_FORMAT;
}
