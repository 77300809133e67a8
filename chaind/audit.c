/*
 * The audit queries (docs/AUDIT.md, "The audit trail (chaind)"): one
 * entry point, audit_query(), answers every kind from chaind's event
 * store for the status socket and the HTTP API alike; audit_erase()
 * forgets what chaind keeps locally about a person. Every list is read
 * along an index in chain order, so an answer costs what it returns.
 */
#include "audit.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaind.h"
#include "hex.h"
#include "log.h"
#include "mqtt.h"
#include "netaddr.h"
#include "topic.h"

/* Page sizes: `limit` is 1 to AUDIT_MAX_LIMIT, AUDIT_DEFAULT_LIMIT if not
 * given. */
#define AUDIT_DEFAULT_LIMIT 100
#define AUDIT_MAX_LIMIT 1000
/*
 * A page also ends once its events carry this many bytes of names and
 * reasons, so that an answer fits one IPC frame; `next` then continues.
 */
#define AUDIT_PAGE_BYTES (192 * 1024)
/* Events `why` lists at most (the most recent; the rest are counted). */
#define AUDIT_WHY_MAX_EVENTS 1000
/* On-chain references an erasure lists at most (the rest are counted). */
#define AUDIT_ERASE_MAX_ITEMS 1000
/* Longest topic or entry name the contract accepts. */
#define AUDIT_NAME_MAX 65535

/* The contract's Action numbers (docs/CONTRACT.md). */
enum audit_action {
	AUDIT_ADD_TOPIC = 0,
	AUDIT_ADD_PUB = 1,
	AUDIT_ADD_SUB = 2,
	AUDIT_REVOKE_PUB = 3,
	AUDIT_REVOKE_SUB = 4,
	AUDIT_WRONG_COUNTRY = 5,
	AUDIT_BANNED = 6,
	AUDIT_SUMMARY = 7,
	AUDIT_TOPIC_CHANGED = 8,
	AUDIT_N_ACTIONS = 14,
};

static const char *const audit_action_names[AUDIT_N_ACTIONS] = {
    "AddTopic",
    "AddPub",
    "AddSub",
    "RevokePub",
    "RevokeSub",
    "WrongCountry",
    "Banned",
    "Summary",
    "TopicChanged",
    "Withdraw",
    "AddReporter",
    "RemoveReporter",
    "FeeChanged",
    "OwnerChanged",
};

#define BIT(a) (1u << (a))
#define AUDIT_RIGHTS                                                           \
	(BIT(AUDIT_ADD_PUB) | BIT(AUDIT_ADD_SUB) | BIT(AUDIT_REVOKE_PUB) |     \
	    BIT(AUDIT_REVOKE_SUB))
#define AUDIT_OWNERSHIP (BIT(AUDIT_ADD_TOPIC) | BIT(AUDIT_TOPIC_CHANGED))
#define AUDIT_ALERTS (BIT(AUDIT_WRONG_COUNTRY) | BIT(AUDIT_BANNED))

/* One query being answered. */
struct audit {
	struct chaind *cd;
	const char *kind;
	const json_t *params;
	char *err;
	size_t errlen;
	uint64_t now;
};

static void audit_fail(struct audit *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
audit_fail(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, a->errlen, fmt, ap);
	va_end(ap);
}

static json_t *
audit_db_error(struct audit *a)
{
	audit_fail(a, "database error (see chaind's log)");
	return NULL;
}

static json_t *
audit_oom(void)
{
	fatalx("out of memory");
}

/* ---- JSON out --------------------------------------------------------- */

/* A JSON integer of a value the chain gives as uint64. */
static json_t *
json_u64(uint64_t v)
{
	return json_integer(
	    v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* An expiry: the Unix time, "forever", or null when unknown. */
static json_t *
json_expiry(bool known, uint64_t expiry)
{
	if (!known)
		return json_null();
	if (expiry == STORE_FOREVER)
		return json_string("forever");
	return json_u64(expiry);
}

/*
 * Sets obj[key] to text from the chain. Text that is not UTF-8 (or holds
 * NUL) goes as ASCII with '?' for every other byte, and obj[key_hex] has
 * the bytes as 0x-hex.
 */
static void
json_set_text(json_t *obj, const char *key, const char *s, size_t len)
{
	char *copy, *hexkey;
	size_t i;

	if (mqtt_utf8_valid((const uint8_t *)s, len)) {
		json_object_set_new(obj, key, json_stringn(s, len));
		return;
	}
	if ((copy = malloc(len > 0 ? 2 * len + 3 : 3)) == NULL)
		audit_oom();
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		copy[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	json_object_set_new(obj, key, json_stringn(copy, len));
	memcpy(copy, "0x", 2);
	hex_encode(s, len, copy + 2);
	if (asprintf(&hexkey, "%s_hex", key) < 0)
		audit_oom();
	json_object_set_new(obj, hexkey, json_stringn(copy, 2 + 2 * len));
	free(hexkey);
	free(copy);
}

static json_t *
json_action(unsigned action)
{
	char buf[16];

	if (action < AUDIT_N_ACTIONS)
		return json_string(audit_action_names[action]);
	snprintf(buf, sizeof(buf), "%u", action);
	return json_string(buf);
}

/* The fields every event carries. */
static json_t *
audit_event_json(uint64_t id, const struct store_event *ev)
{
	json_t *o = json_object();

	if (o == NULL)
		audit_oom();
	json_object_set_new(o, "id", json_u64(id));
	json_object_set_new(o, "action", json_action(ev->action));
	json_object_set_new(o, "source", json_string(ev->source));
	json_object_set_new(o, "target", json_string(ev->target));
	json_set_text(o, "topic", ev->name, ev->name_len);
	json_set_text(o, "reason", ev->reason, ev->reason_len);
	json_object_set_new(o, "time", json_u64(ev->time));
	json_object_set_new(o, "block", json_u64(ev->block));
	json_object_set_new(o, "log_index", json_u64(ev->log_index));
	json_object_set_new(o, "tx", json_string(ev->tx_hash));
	return o;
}

/* ---- Parameters -------------------------------------------------------- */

/*
 * Refuses any parameter the kind does not take, naming those it does.
 */
static bool
audit_check_names(struct audit *a, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)a->params, key, v)
	{
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		if (allowed[0] == NULL) {
			audit_fail(a, "%s takes no parameters (got '%.64s')",
			    a->kind, key);
		} else {
			char list[256] = "";

			for (i = 0; allowed[i] != NULL; i++)
				snprintf(list + strlen(list),
				    sizeof(list) - strlen(list), "%s%s",
				    i ? ", " : "", allowed[i]);
			audit_fail(a,
			    "unknown parameter '%.64s' for %s (it takes: %s)",
			    key, a->kind, list);
		}
		return false;
	}
	(void)v;
	return true;
}

/*
 * A text parameter: 1 with *s and *len when given, 0 when absent, -1
 * (reported) when it is not a string. Integers are taken as their
 * decimal text.
 */
static int
param_text(struct audit *a, const char *key, const char **s, size_t *len)
{
	const json_t *v = json_object_get(a->params, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v)) {
		audit_fail(a, "%s: must be a string", key);
		return -1;
	}
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 1;
}

/*
 * An integer from min to max, given as a JSON integer or in decimal text:
 * 1 with *out when given, 0 when absent, -1 (reported) otherwise.
 */
static int
param_range_u64(
    struct audit *a, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(a->params, key);
	const char *s;
	char *end;
	unsigned long long n;

	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) < min ||
		    (uint64_t)json_integer_value(v) > max) {
			audit_fail(a,
			    "%s: must be an integer from %" PRIu64
			    " to %" PRIu64 " (got %" JSON_INTEGER_FORMAT ")",
			    key, min, max, json_integer_value(v));
			return -1;
		}
		*out = (uint64_t)json_integer_value(v);
		return 1;
	}
	if (!json_is_string(v)) {
		audit_fail(a,
		    "%s: must be an integer from %" PRIu64 " to %" PRIu64
		    " (a number or its decimal text)",
		    key, min, max);
		return -1;
	}
	s = json_string_value(v);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0 ||
	    n < min || n > max) {
		audit_fail(a,
		    "%s: must be an integer from %" PRIu64 " to %" PRIu64
		    " (got '%.64s')",
		    key, min, max, s);
		return -1;
	}
	*out = n;
	return 1;
}

static int
param_u64(struct audit *a, const char *key, uint64_t max, uint64_t *out)
{
	return param_range_u64(a, key, 0, max, out);
}

/* A time (Unix seconds); def when absent. */
static bool
param_time(struct audit *a, const char *key, uint64_t def, uint64_t *out)
{
	int r = param_u64(a, key, (uint64_t)INT64_MAX, out);

	if (r == 0)
		*out = def;
	return r >= 0;
}

/*
 * at: the time a question is about. Not given, it is now, and every
 * stored event counts (the chain's clock may run ahead of ours); *to is
 * the last event time to replay.
 */
static bool
param_at(struct audit *a, uint64_t *at, uint64_t *to)
{
	int r = param_u64(a, "at", (uint64_t)INT64_MAX, at);

	if (r < 0)
		return false;
	if (r == 0) {
		*at = a->now;
		*to = (uint64_t)INT64_MAX;
	} else {
		*to = *at;
	}
	return true;
}

/* from and to (both inclusive; default: all time). */
static bool
param_range(struct audit *a, uint64_t *from, uint64_t *to)
{
	if (!param_time(a, "from", 0, from) ||
	    !param_time(a, "to", (uint64_t)INT64_MAX, to))
		return false;
	if (*from > *to) {
		audit_fail(a,
		    "from (%" PRIu64 ") is after to (%" PRIu64 "): "
		    "nothing can match",
		    *from, *to);
		return false;
	}
	return true;
}

/* limit (1 to AUDIT_MAX_LIMIT) and after (an event id, the cursor). */
static bool
param_page(struct audit *a, size_t *limit, uint64_t *after)
{
	uint64_t n = AUDIT_DEFAULT_LIMIT;

	if (param_range_u64(a, "limit", 1, AUDIT_MAX_LIMIT, &n) < 0)
		return false;
	*limit = (size_t)n;
	*after = 0;
	return param_u64(a, "after", (uint64_t)INT64_MAX, after) >= 0;
}

/* An address: 0x and 40 hex digits, any case; out is lowercase. */
static int
param_address(struct audit *a, const char *key, char out[43])
{
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *s;
	size_t len;
	int r;

	if ((r = param_text(a, key, &s, &len)) <= 0)
		return r;
	if (!eth_address_parse(s, len, addr)) {
		audit_fail(a,
		    "%s: '%.64s' is not an address (0x and 40 hex digits)", key,
		    s);
		return -1;
	}
	eth_address_hex(addr, out);
	return 1;
}

/* A topic or entry name: 1 to 65535 bytes, no NUL. */
static int
param_name(struct audit *a, const char *key, const char **s, size_t *len)
{
	int r;

	if ((r = param_text(a, key, s, len)) <= 0)
		return r;
	if (*len == 0 || *len > AUDIT_NAME_MAX || strlen(*s) != *len) {
		audit_fail(a, "%s: must be 1 to %d bytes without NUL", key,
		    AUDIT_NAME_MAX);
		return -1;
	}
	return 1;
}

static int
param_required_name(struct audit *a, const char *key, const char **s)
{
	size_t len;
	int r = param_name(a, key, s, &len);

	if (r == 0)
		audit_fail(a, "%s: required", key);
	return r > 0 ? 1 : -1;
}

/*
 * Actions: names (AddPub, any case) or numbers, comma-separated, into a
 * mask; only those in `allowed`.
 */
static bool
param_actions(struct audit *a, uint32_t allowed, uint32_t *mask)
{
	const char *s, *p, *comma;
	size_t len, n;
	unsigned i;
	int r;

	*mask = 0;
	if ((r = param_text(a, "action", &s, &len)) <= 0) {
		if (r == 0)
			return true;
		/* A number given as a JSON integer. */
		const json_t *v = json_object_get(a->params, "action");

		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= AUDIT_N_ACTIONS ||
		    !(allowed & BIT(json_integer_value(v))))
			goto bad;
		*mask = BIT(json_integer_value(v));
		return true;
	}
	for (p = s; *p != '\0'; p = *comma ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		n = (size_t)(comma - p);
		for (i = 0; i < AUDIT_N_ACTIONS; i++) {
			char num[4];

			snprintf(num, sizeof(num), "%u", i);
			if ((strlen(audit_action_names[i]) == n &&
				strncasecmp(p, audit_action_names[i], n) ==
				    0) ||
			    (strlen(num) == n && strncmp(p, num, n) == 0))
				break;
		}
		if (i == AUDIT_N_ACTIONS || !(allowed & BIT(i)))
			goto bad;
		*mask |= BIT(i);
		if (*comma == '\0')
			break;
	}
	if (*mask != 0)
		return true;
bad:;
	char list[300] = "";

	for (i = 0; i < AUDIT_N_ACTIONS; i++)
		if (allowed & BIT(i))
			snprintf(list + strlen(list),
			    sizeof(list) - strlen(list), "%s%s",
			    list[0] ? ", " : "", audit_action_names[i]);
	audit_fail(a,
	    "action: must be one or more of %s (names or numbers, "
	    "comma-separated)",
	    list);
	return false;
}

/* ---- Pages ------------------------------------------------------------- */

/* A page of a list being filled by a store callback. */
struct audit_page {
	struct audit *a;
	json_t *items;
	size_t limit;
	size_t bytes;
	uint64_t last; /* id of the last item taken */
	bool more; /* the list goes on after it */
	/* Makes the item of one event; NULL skips it. */
	json_t *(*item)(
	    struct audit_page *p, uint64_t id, const struct store_event *ev);
	bool failed; /* a database error inside item() */
	const char *topic; /* kind-specific context */
};

/*
 * Takes one event into the page; the store is asked for limit + 1
 * events, so that seeing one more tells the list goes on.
 */
static bool
audit_page_take(void *arg, uint64_t id, const struct store_event *ev)
{
	struct audit_page *p = arg;
	json_t *item;

	if (json_array_size(p->items) == p->limit ||
	    p->bytes >= AUDIT_PAGE_BYTES) {
		p->more = true;
		return false;
	}
	if ((item = p->item(p, id, ev)) == NULL)
		return !p->failed;
	json_array_append_new(p->items, item);
	p->bytes += ev->name_len + ev->reason_len + 256;
	p->last = id;
	return true;
}

/* The answer {key: items, next: cursor or null}; takes the page's items. */
static json_t *
audit_page_answer(struct audit_page *p, const char *key)
{
	json_t *o = json_object();

	if (o == NULL)
		audit_oom();
	json_object_set_new(o, key, p->items);
	json_object_set_new(
	    o, "next", p->more ? json_u64(p->last) : json_null());
	return o;
}

static void
audit_page_init(struct audit_page *p, struct audit *a, size_t limit,
    json_t *(*item)(struct audit_page *, uint64_t, const struct store_event *))
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->limit = limit;
	p->item = item;
	if ((p->items = json_array()) == NULL)
		audit_oom();
}

/* ---- Grants: who granted, paid or not, until when ----------------------- */

/* Who owned an entry from which event on (AddTopic, TopicChanged owner). */
struct audit_owner {
	uint64_t id;
	char owner[43];
};

struct audit_owners {
	struct audit_owner *v;
	size_t n, cap;
};

/* Records an ownership event; other TopicChanged settings are skipped. */
static void
audit_owners_take(
    struct audit_owners *o, uint64_t id, const struct store_event *ev)
{
	const char *who;

	if (ev->action == AUDIT_ADD_TOPIC)
		who = ev->source;
	else if (ev->action == AUDIT_TOPIC_CHANGED && ev->reason_len == 5 &&
	    memcmp(ev->reason, "owner", 5) == 0)
		who = ev->target;
	else
		return;
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 4;
		if ((o->v = reallocarray(o->v, o->cap, sizeof(*o->v))) == NULL)
			audit_oom();
	}
	o->v[o->n].id = id;
	snprintf(o->v[o->n].owner, sizeof(o->v[o->n].owner), "%s", who);
	o->n++;
}

/* The entry's owner just before event id (the last change before it). */
static const char *
audit_owner_at(const struct audit_owners *o, uint64_t id)
{
	const char *who = "";
	size_t i;

	for (i = 0; i < o->n && o->v[i].id < id; i++)
		who = o->v[i].owner;
	return who;
}

static bool
audit_owners_collect(void *arg, uint64_t id, const struct store_event *ev)
{
	audit_owners_take(arg, id, ev);
	return true;
}

/* Reads an entry's owners up to time `to`: its creator, its transfers. */
static bool
audit_owners_read(
    struct chaind *cd, const char *name, uint64_t to, struct audit_owners *o)
{
	struct store_event_query q;

	memset(&q, 0, sizeof(q));
	q.names = &name;
	q.n_names = 1;
	q.actions = BIT(AUDIT_ADD_TOPIC);
	q.to = to;
	return store_events_find(cd->store, &q, audit_owners_collect, o) ==
	    STORE_OK &&
	    store_topic_transfers(
		cd->store, name, to, audit_owners_collect, o) == STORE_OK;
}

/*
 * Adds how a grant came about. A grant's source is the topic's owner;
 * buy() logs the payer, who is someone else, with the reason "paid:<wei>"
 * or "free" — and only buy() can log an AddPub/AddSub whose source is not
 * the owner, so a reason "paid:..." that the owner wrote in a grant does
 * not count as a payment. The expiry is the one the grant left.
 */
static bool
audit_grant_fields(struct chaind *cd, json_t *o, uint64_t id,
    const struct store_event *ev, const char *owner)
{
	bool paid = false, known = false;
	const char *via = "grant";
	uint64_t expiry = 0;
	size_t i;

	if (strcmp(ev->source, owner) != 0) {
		via = "purchase";
		if (ev->reason_len > 5 && memcmp(ev->reason, "paid:", 5) == 0) {
			for (i = 5; i < ev->reason_len; i++)
				if (!isdigit((unsigned char)ev->reason[i]))
					break;
			paid = i == ev->reason_len;
		} else if (ev->reason_len == 4 &&
		    memcmp(ev->reason, "free", 4) == 0) {
			via = "join";
		}
	}
	json_object_set_new(o, "via", json_string(via));
	json_object_set_new(o, "paid", json_boolean(paid));
	if (paid)
		json_object_set_new(o, "price_wei",
		    json_stringn(ev->reason + 5, ev->reason_len - 5));
	if (ev->action == AUDIT_ADD_PUB || ev->action == AUDIT_ADD_SUB) {
		switch (
		    store_grant_expiry_get(cd->store, id, &known, &expiry)) {
		case STORE_OK:
			break;
		case STORE_MISSING:
			known = false; /* not read from the node yet */
			break;
		case STORE_ERROR:
			return false;
		}
		json_object_set_new(o, "until", json_expiry(known, expiry));
	}
	return true;
}

/* Whether a grant object's right still holds at time `at`. */
static bool
audit_grant_holds(const json_t *grant, uint64_t at)
{
	const json_t *until = json_object_get(grant, "until");

	/* Unknown and forever both hold: only a known end stops a right. */
	return !json_is_integer(until) ||
	    (uint64_t)json_integer_value(until) > at;
}

/* ---- status, topics ---------------------------------------------------- */

static json_t *
audit_status(struct audit *a)
{
	static const char *const allowed[] = {NULL};
	struct chaind *cd = a->cd;
	uint64_t synced_time = 0;
	json_t *o;

	if (!audit_check_names(a, allowed))
		return NULL;
	if (store_meta_get(cd->store, "synced_time", &synced_time) ==
	    STORE_ERROR)
		return audit_db_error(a);
	o = json_object();
	if (o == NULL)
		audit_oom();
	json_object_set_new(o, "node", json_string(cd->cfg->chaind.rpc_url));
	json_object_set_new(o, "node_reachable", json_boolean(cd->node_ok));
	json_object_set_new(o, "contract", json_string(cd->contract));
	json_object_set_new(o, "chain_id", json_u64(cd->chain_id));
	json_object_set_new(o, "head_block", json_u64(cd->head));
	json_object_set_new(o, "synced_block", json_u64(cd->synced));
	json_object_set_new(o, "synced_block_time",
	    synced_time ? json_u64(synced_time) : json_null());
	json_object_set_new(o, "lag_blocks",
	    json_u64(cd->head > cd->synced ? cd->head - cd->synced : 0));
	/* How old the newest synced block is, while chaind is behind. */
	json_object_set_new(o, "lag_seconds",
	    json_u64(cd->head > cd->synced && synced_time != 0 &&
			a->now > synced_time
		    ? a->now - synced_time
		    : 0));
	json_object_set_new(o, "seconds_since_new_block",
	    cd->head_seen > 0
		? json_u64((uint64_t)(ev_now(cd->loop) - cd->head_seen))
		: json_null());
	json_object_set_new(
	    o, "events", json_u64(store_event_count(cd->store)));
	json_object_set_new(
	    o, "summaries", json_u64(store_summary_count(cd->store)));
	json_object_set_new(o, "topics", json_u64(cd->n_entries));
	return o;
}

/* "DEFR" as ["DE", "FR"]. */
static json_t *
json_countries(const char *codes)
{
	json_t *arr = json_array();
	size_t i, n = strlen(codes);

	if (arr == NULL)
		audit_oom();
	for (i = 0; i + 1 < n; i += 2)
		json_array_append_new(arr, json_stringn(codes + i, 2));
	return arr;
}

/* An entry's settings as last read from the contract, or null. */
static json_t *
audit_settings(struct audit_page *p, const char *name)
{
	struct store_topic_details d;
	bool stale = false;

	switch (store_topic_details_get(p->a->cd->store, name, &d, &stale)) {
	case STORE_OK:
		break;
	case STORE_MISSING:
		return json_null();
	case STORE_ERROR:
		p->failed = true;
		return NULL;
	}
	return json_pack("{s:b, s:b, s:o, s:s, s:s, s:o, s:o, s:b}",
	    "sensitive", d.sensitive, "self_service", d.self_service,
	    "countries", json_countries(d.countries), "pub_price_wei",
	    d.pub_price, "sub_price_wei", d.sub_price, "period",
	    json_u64(d.period), "as_of_block", json_u64(d.block), "pending",
	    stale);
}

static json_t *
audit_topic_item(
    struct audit_page *p, uint64_t id, const struct store_event *ev)
{
	char owner[43], *name;
	json_t *o, *settings = NULL;
	enum store_status r;

	if ((name = strndup(ev->name, ev->name_len)) == NULL)
		audit_oom();
	if ((r = store_topic_owner(p->a->cd->store, name, owner)) ==
	    STORE_MISSING)
		snprintf(owner, sizeof(owner), "%s", ev->source);
	if (r == STORE_ERROR || (settings = audit_settings(p, name)) == NULL) {
		p->failed = true;
		free(name);
		return NULL;
	}
	free(name);
	o = json_object();
	if (o == NULL)
		audit_oom();
	json_set_text(o, "name", ev->name, ev->name_len);
	json_object_set_new(o, "owner", json_string(owner));
	json_object_set_new(o, "creator", json_string(ev->source));
	json_object_set_new(o, "created",
	    json_pack("{s:o, s:o, s:o, s:s}", "id", json_u64(id), "time",
		json_u64(ev->time), "block", json_u64(ev->block), "tx",
		ev->tx_hash));
	/* Read from the contract after each change; null until read. */
	json_object_set_new(o, "settings", settings);
	return o;
}

static json_t *
audit_topics(struct audit *a)
{
	static const char *const allowed[] = {"limit", "after", NULL};
	struct store_event_query q;
	struct audit_page p;
	json_t *o;

	memset(&q, 0, sizeof(q));
	q.to = (uint64_t)INT64_MAX;
	q.actions = BIT(AUDIT_ADD_TOPIC);
	if (!audit_check_names(a, allowed) ||
	    !param_page(a, &q.limit, &q.after))
		return NULL;
	audit_page_init(&p, a, q.limit, audit_topic_item);
	q.limit++;
	if (store_events_find(a->cd->store, &q, audit_page_take, &p) !=
		STORE_OK ||
	    p.failed) {
		json_decref(p.items);
		return audit_db_error(a);
	}
	o = audit_page_answer(&p, "topics");
	json_object_set_new(o, "count", json_u64(a->cd->n_entries));
	return o;
}

/* ---- holders ----------------------------------------------------------- */

/* Replays the rights of one entry: address -> its grant, per right. */
struct audit_replay {
	struct chaind *cd;
	struct audit_owners owners;
	json_t *pub, *sub; /* objects: address -> grant */
	const char *grant_by_key; /* "granted_by" or "by" */
	bool failed;
	/*
	 * light: pub and sub map an address to an index in grants, and the
	 * JSON is made only for the grants left at the end (holders replays
	 * whole histories; why shows every step).
	 */
	bool light;
	struct audit_grant *grants;
	size_t n_grants, cap_grants;
};

/* A grant event kept by a light replay. */
struct audit_grant {
	uint64_t id;
	struct store_event ev; /* name unset; reason malloc'd */
};

/* A grant object of an AddPub/AddSub event. */
static json_t *
audit_grant_json(
    struct audit_replay *r, uint64_t id, const struct store_event *ev)
{
	json_t *g = json_object();

	if (g == NULL)
		audit_oom();
	json_object_set_new(g, "address", json_string(ev->target));
	json_object_set_new(g, r->grant_by_key, json_string(ev->source));
	json_set_text(g, "reason", ev->reason, ev->reason_len);
	json_object_set_new(g, "time", json_u64(ev->time));
	json_object_set_new(g, "block", json_u64(ev->block));
	json_object_set_new(g, "tx", json_string(ev->tx_hash));
	json_object_set_new(g, "event", json_u64(id));
	if (!audit_grant_fields(
		r->cd, g, id, ev, audit_owner_at(&r->owners, id))) {
		json_decref(g);
		r->failed = true;
		return NULL;
	}
	return g;
}

/* Keeps a copy of a grant event; returns its index as a JSON integer. */
static json_t *
audit_replay_keep(
    struct audit_replay *r, uint64_t id, const struct store_event *ev)
{
	struct audit_grant *g;
	char *reason;

	if (r->n_grants == r->cap_grants) {
		r->cap_grants = r->cap_grants ? 2 * r->cap_grants : 64;
		if ((r->grants = reallocarray(
			 r->grants, r->cap_grants, sizeof(*r->grants))) == NULL)
			audit_oom();
	}
	if ((reason = malloc(ev->reason_len + 1)) == NULL)
		audit_oom();
	memcpy(reason, ev->reason, ev->reason_len);
	reason[ev->reason_len] = '\0';
	g = &r->grants[r->n_grants];
	g->id = id;
	g->ev = *ev;
	g->ev.name = NULL;
	g->ev.name_len = 0;
	g->ev.reason = reason;
	return json_integer((json_int_t)r->n_grants++);
}

/*
 * Turns a light replay's map (address -> index) into grant objects;
 * false on a database error.
 */
static bool
audit_replay_finish(struct audit_replay *r, json_t *map)
{
	const char *key;
	json_t *v, *g;
	void *tmp;

	json_object_foreach_safe(map, tmp, key, v)
	{
		struct audit_grant *k = &r->grants[json_integer_value(v)];

		if ((g = audit_grant_json(r, k->id, &k->ev)) == NULL)
			return false;
		json_object_set_new(map, key, g);
	}
	return true;
}

static void
audit_replay_free(struct audit_replay *r)
{
	size_t i;

	for (i = 0; i < r->n_grants; i++)
		free((char *)r->grants[i].ev.reason);
	free(r->grants);
	free(r->owners.v);
	json_decref(r->pub);
	json_decref(r->sub);
}

static bool
audit_replay_take(void *arg, uint64_t id, const struct store_event *ev)
{
	struct audit_replay *r = arg;
	json_t *g;

	switch (ev->action) {
	case AUDIT_ADD_TOPIC:
	case AUDIT_TOPIC_CHANGED:
		audit_owners_take(&r->owners, id, ev);
		return true;
	case AUDIT_ADD_PUB:
	case AUDIT_ADD_SUB:
		if (r->light)
			g = audit_replay_keep(r, id, ev);
		else if ((g = audit_grant_json(r, id, ev)) == NULL)
			return false;
		/* A renewal replaces the earlier grant; it goes last. */
		json_object_del(
		    ev->action == AUDIT_ADD_PUB ? r->pub : r->sub, ev->target);
		json_object_set_new(
		    ev->action == AUDIT_ADD_PUB ? r->pub : r->sub, ev->target,
		    g);
		return true;
	case AUDIT_REVOKE_PUB:
		json_object_del(r->pub, ev->target);
		return true;
	case AUDIT_REVOKE_SUB:
		json_object_del(r->sub, ev->target);
		return true;
	default:
		return true;
	}
}

static int
audit_by_event(const void *x, const void *y)
{
	json_int_t a =
	    json_integer_value(json_object_get(*(json_t *const *)x, "event"));
	json_int_t b =
	    json_integer_value(json_object_get(*(json_t *const *)y, "event"));

	return a < b ? -1 : a > b;
}

/* The grants of a right that still hold at `at`, in the order given. */
static json_t *
audit_holding(json_t *rights, uint64_t at)
{
	json_t **v, *arr, *g;
	const char *key;
	size_t n = 0, i;

	if ((v = calloc(json_object_size(rights) + 1, sizeof(*v))) == NULL ||
	    (arr = json_array()) == NULL)
		audit_oom();
	json_object_foreach(rights, key, g)
	{
		if (audit_grant_holds(g, at))
			v[n++] = g;
	}
	(void)key;
	qsort(v, n, sizeof(*v), audit_by_event);
	for (i = 0; i < n; i++)
		json_array_append(arr, v[i]);
	free(v);
	return arr;
}

static bool
audit_known_entry(struct chaind *cd, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < cd->n_entries; i++)
		if (cd->entries[i].len == len &&
		    memcmp(cd->entries[i].name, name, len) == 0)
			return true;
	return false;
}

static json_t *
audit_holders(struct audit *a)
{
	static const char *const allowed[] = {"topic", "at", NULL};
	struct audit_replay r;
	struct store_event_query q;
	const char *topic;
	uint64_t at, to;
	json_t *o;

	if (!audit_check_names(a, allowed) ||
	    param_required_name(a, "topic", &topic) < 0 ||
	    !param_at(a, &at, &to))
		return NULL;
	if (!audit_known_entry(a->cd, topic)) {
		audit_fail(a,
		    "topic: no entry is named '%.200s' (holders takes an "
		    "entry's exact name, as `topics` lists them; `why` takes "
		    "a topic)",
		    topic);
		return NULL;
	}
	memset(&r, 0, sizeof(r));
	r.cd = a->cd;
	r.grant_by_key = "granted_by";
	r.light = true;
	if ((r.pub = json_object()) == NULL || (r.sub = json_object()) == NULL)
		audit_oom();
	memset(&q, 0, sizeof(q));
	q.names = &topic;
	q.n_names = 1;
	q.actions = AUDIT_RIGHTS;
	q.to = to;
	/* Owners first: they tell grants from purchases. */
	if (!audit_owners_read(a->cd, topic, to, &r.owners) ||
	    store_events_find(a->cd->store, &q, audit_replay_take, &r) !=
		STORE_OK ||
	    r.failed || !audit_replay_finish(&r, r.pub) ||
	    !audit_replay_finish(&r, r.sub)) {
		audit_replay_free(&r);
		return audit_db_error(a);
	}
	o = json_pack("{s:s, s:o, s:o, s:o}", "topic", topic, "at",
	    json_u64(at), "publishers", audit_holding(r.pub, at), "subscribers",
	    audit_holding(r.sub, at));
	audit_replay_free(&r);
	return o;
}

/* ---- why --------------------------------------------------------------- */

/* The entries covering a topic, each with its rights replayed. */
struct audit_why {
	struct audit *a;
	const char **names;
	struct audit_replay *replay; /* per entry */
	size_t n;
	json_t *events;
	uint64_t omitted;
	bool failed;
};

static bool
audit_why_take(void *arg, uint64_t id, const struct store_event *ev)
{
	struct audit_why *w = arg;
	struct audit_replay *r = NULL;
	json_t *e, *g;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strlen(w->names[i]) == ev->name_len &&
		    memcmp(w->names[i], ev->name, ev->name_len) == 0)
			r = &w->replay[i];
	if (r == NULL)
		return true;
	if (!audit_replay_take(r, id, ev)) {
		w->failed = true;
		return false;
	}
	e = json_object();
	if (e == NULL)
		audit_oom();
	json_object_set_new(e, "id", json_u64(id));
	json_set_text(e, "entry", ev->name, ev->name_len);
	json_object_set_new(e, "action", json_action(ev->action));
	json_object_set_new(e, "by", json_string(ev->source));
	json_set_text(e, "reason", ev->reason, ev->reason_len);
	json_object_set_new(e, "time", json_u64(ev->time));
	json_object_set_new(e, "block", json_u64(ev->block));
	json_object_set_new(e, "tx", json_string(ev->tx_hash));
	if (ev->action == AUDIT_ADD_PUB || ev->action == AUDIT_ADD_SUB) {
		g = json_object_get(
		    ev->action == AUDIT_ADD_PUB ? r->pub : r->sub, ev->target);
		json_object_set(e, "paid", json_object_get(g, "paid"));
		json_object_set(e, "via", json_object_get(g, "via"));
		if (json_object_get(g, "price_wei") != NULL)
			json_object_set(
			    e, "price_wei", json_object_get(g, "price_wei"));
		json_object_set(e, "until", json_object_get(g, "until"));
	} else {
		json_object_set_new(e, "paid", json_false());
	}
	/* The most recent ones tell why access holds now: keep those. */
	if (json_array_size(w->events) == AUDIT_WHY_MAX_EVENTS) {
		json_array_remove(w->events, 0);
		w->omitted++;
	}
	json_array_append_new(w->events, e);
	return true;
}

/* What an entry's replay says about the address at `at`. */
static json_t *
audit_why_entry(const char *name, const char *expanded, struct audit_replay *r,
    const char *address, uint64_t at, bool *pub, bool *sub)
{
	json_t *g, *o = json_object();

	if (o == NULL)
		audit_oom();
	json_object_set_new(o, "entry", json_string(name));
	if (strcmp(name, expanded) != 0)
		json_object_set_new(o, "expanded", json_string(expanded));
	g = json_object_get(r->pub, address);
	if (g != NULL && audit_grant_holds(g, at)) {
		json_object_set(o, "publish", g);
		*pub = true;
	} else {
		json_object_set_new(o, "publish", json_null());
	}
	g = json_object_get(r->sub, address);
	if (g != NULL && audit_grant_holds(g, at)) {
		json_object_set(o, "subscribe", g);
		*sub = true;
	} else {
		json_object_set_new(o, "subscribe", json_null());
	}
	return o;
}

static json_t *
audit_why(struct audit *a)
{
	static const char *const allowed[] = {"address", "topic", "at", NULL};
	struct chaind *cd = a->cd;
	struct store_event_query q;
	struct audit_why w;
	char address[43], **expanded = NULL;
	const char *topic, *filter;
	size_t tlen, flen, i, len;
	bool pub = false, sub = false;
	json_t *o = NULL, *entries;
	uint64_t at, to;
	int r;

	if (!audit_check_names(a, allowed) ||
	    (r = param_address(a, "address", address)) < 0)
		return NULL;
	if (r == 0) {
		audit_fail(a, "address: required");
		return NULL;
	}
	if (param_required_name(a, "topic", &topic) < 0 ||
	    !param_at(a, &at, &to))
		return NULL;
	tlen = strlen(topic);
	filter = topic;
	flen = tlen;
	(void)topic_strip_share(&filter, &flen);
	if (!mqtt_topic_filter_valid((const uint8_t *)filter, flen)) {
		audit_fail(a,
		    "topic: '%.200s' is not an MQTT topic name or filter",
		    topic);
		return NULL;
	}
	memset(&w, 0, sizeof(w));
	w.a = a;
	if ((w.names = calloc(cd->n_entries + 1, sizeof(*w.names))) == NULL ||
	    (expanded = calloc(cd->n_entries + 1, sizeof(*expanded))) == NULL ||
	    (w.replay = calloc(cd->n_entries + 1, sizeof(*w.replay))) == NULL ||
	    (w.events = json_array()) == NULL)
		audit_oom();
	/* Entries with ${address} are expanded with the address asked about. */
	for (i = 0; i < cd->n_entries; i++) {
		const struct chaind_entry *e = &cd->entries[i];
		char *x;

		len = topic_expand_address(e->name, e->len, address, NULL, 0);
		if ((x = malloc(len + 1)) == NULL)
			audit_oom();
		topic_expand_address(e->name, e->len, address, x, len + 1);
		if (!topic_covers(x, len, filter, flen)) {
			free(x);
			continue;
		}
		expanded[w.n] = x;
		w.names[w.n] = e->name;
		w.replay[w.n].cd = cd;
		w.replay[w.n].grant_by_key = "by";
		if ((w.replay[w.n].pub = json_object()) == NULL ||
		    (w.replay[w.n].sub = json_object()) == NULL)
			audit_oom();
		w.n++;
	}
	/* Each entry's owners first: they tell grants from purchases. */
	for (i = 0; i < w.n; i++)
		if (!audit_owners_read(cd, w.names[i], to, &w.replay[i].owners))
			goto db_error;
	if (w.n > 0) {
		memset(&q, 0, sizeof(q));
		q.names = w.names;
		q.n_names = w.n;
		q.address = address;
		q.roles = STORE_ROLE_TARGET;
		q.actions = AUDIT_RIGHTS;
		q.to = to;
		if (store_events_find(cd->store, &q, audit_why_take, &w) !=
			STORE_OK ||
		    w.failed)
			goto db_error;
	}
	if ((entries = json_array()) == NULL)
		audit_oom();
	for (i = 0; i < w.n; i++)
		json_array_append_new(entries,
		    audit_why_entry(w.names[i], expanded[i], &w.replay[i],
			address, at, &pub, &sub));
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:b}", "address", address,
	    "topic", topic, "at", json_u64(at), "entries", entries, "events",
	    w.events, "may_publish", pub, "may_subscribe", sub);
	w.events = NULL;
	if (w.omitted > 0)
		json_object_set_new(o, "events_omitted", json_u64(w.omitted));
	goto done;
db_error:
	audit_db_error(a);
done:
	for (i = 0; i < w.n; i++) {
		json_decref(w.replay[i].pub);
		json_decref(w.replay[i].sub);
		free(w.replay[i].owners.v);
		free(expanded[i]);
	}
	json_decref(w.events);
	free(w.replay);
	free(w.names);
	free(expanded);
	return o;
}

/* ---- events, alerts ---------------------------------------------------- */

static json_t *
audit_event_item(
    struct audit_page *p, uint64_t id, const struct store_event *ev)
{
	(void)p;
	return audit_event_json(id, ev);
}

static json_t *
audit_events(struct audit *a)
{
	static const char *const allowed[] = {
	    "topic", "address", "action", "from", "to", "limit", "after", NULL};
	struct store_event_query q;
	struct audit_page p;
	char address[43];
	const char *topic;
	size_t len;
	int rt, ra;

	memset(&q, 0, sizeof(q));
	if (!audit_check_names(a, allowed) ||
	    (rt = param_name(a, "topic", &topic, &len)) < 0 ||
	    (ra = param_address(a, "address", address)) < 0 ||
	    !param_actions(a, UINT32_MAX, &q.actions) ||
	    !param_range(a, &q.from, &q.to) ||
	    !param_page(a, &q.limit, &q.after))
		return NULL;
	if (rt > 0) {
		q.names = &topic;
		q.n_names = 1;
	}
	if (ra > 0) {
		q.address = address;
		q.roles = STORE_ROLE_SOURCE | STORE_ROLE_TARGET;
	}
	audit_page_init(&p, a, q.limit, audit_event_item);
	q.limit++;
	if (store_events_find(a->cd->store, &q, audit_page_take, &p) !=
	    STORE_OK) {
		json_decref(p.items);
		return audit_db_error(a);
	}
	return audit_page_answer(&p, "events");
}

/* Copies the word of text after `prefix` up to a space, or NULL. */
static json_t *
audit_word_after(const char *s, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix), i, j;

	for (i = 0; i + plen <= len; i++) {
		if ((i == 0 || s[i - 1] == ' ') &&
		    memcmp(s + i, prefix, plen) == 0) {
			for (j = i + plen; j < len && s[j] != ' '; j++)
				;
			if (!mqtt_utf8_valid(
				(const uint8_t *)s + i + plen, j - i - plen))
				return NULL;
			return json_stringn(s + i + plen, j - i - plen);
		}
	}
	return NULL;
}

/*
 * An alert event with what its text says (docs/IPC.md, logAlert): for
 * Banned the subject and the end of the ban, for WrongCountry the country,
 * the IP's hash (or the IP) and what was attempted.
 */
static json_t *
audit_alert_item(
    struct audit_page *p, uint64_t id, const struct store_event *ev)
{
	json_t *o = audit_event_json(id, ev), *v;
	const char *r = ev->reason, *sp;
	size_t len = ev->reason_len;
	uint64_t until = 0;
	size_t i;

	(void)p;
	if (ev->action == AUDIT_BANNED) {
		json_set_text(o, "subject", ev->name, ev->name_len);
		if (len > 6 && memcmp(r, "until=", 6) == 0) {
			for (i = 6; i < len && isdigit((unsigned char)r[i]) &&
			     until <= (UINT64_MAX - 9) / 10;
			     i++)
				until = until * 10 + (uint64_t)(r[i] - '0');
			if (i > 6 && (i == len || r[i] == ' ')) {
				json_object_set_new(o, "until",
				    until == 0 ? json_string("lifted by hand")
					       : json_u64(until));
				if (i < len)
					json_set_text(
					    o, "why", r + i + 1, len - i - 1);
			}
		}
	} else if (ev->action == AUDIT_WRONG_COUNTRY) {
		if ((v = audit_word_after(r, len, "country=")) != NULL)
			json_object_set_new(o, "country", v);
		if ((v = audit_word_after(r, len, "ip-hmac:")) != NULL) {
			char *h;

			if (asprintf(&h, "ip-hmac:%s", json_string_value(v)) <
			    0)
				audit_oom();
			json_object_set_new(o, "ip_hash", json_string(h));
			free(h);
			json_decref(v);
		}
		if ((v = audit_word_after(r, len, "ip:")) != NULL)
			json_object_set_new(o, "ip", v);
		sp = memrchr(r, ' ', len);
		if (sp != NULL && sp + 1 < r + len)
			json_set_text(
			    o, "attempt", sp + 1, (size_t)(r + len - sp - 1));
	}
	return o;
}

static json_t *
audit_alerts(struct audit *a)
{
	static const char *const allowed[] = {
	    "action", "address", "from", "to", "limit", "after", NULL};
	struct store_event_query q;
	struct audit_page p;
	char address[43];
	int ra;

	memset(&q, 0, sizeof(q));
	if (!audit_check_names(a, allowed) ||
	    !param_actions(a, AUDIT_ALERTS, &q.actions) ||
	    (ra = param_address(a, "address", address)) < 0 ||
	    !param_range(a, &q.from, &q.to) ||
	    !param_page(a, &q.limit, &q.after))
		return NULL;
	if (q.actions == 0)
		q.actions = AUDIT_ALERTS;
	if (ra > 0) {
		q.address = address;
		q.roles = STORE_ROLE_TARGET;
	}
	audit_page_init(&p, a, q.limit, audit_alert_item);
	q.limit++;
	if (store_events_find(a->cd->store, &q, audit_page_take, &p) !=
	    STORE_OK) {
		json_decref(p.items);
		return audit_db_error(a);
	}
	return audit_page_answer(&p, "alerts");
}

/* ---- summaries, who ---------------------------------------------------- */

/*
 * Reads one role's list of a summary's reason ("pub=a,b,+3"): the
 * addresses into arr, the "+k" of those left out into *more. False when
 * the text is not of that form.
 */
static bool
audit_summary_list(const char *s, size_t len, json_t *arr, uint64_t *more)
{
	size_t i = 0, j;

	*more = 0;
	while (i < len) {
		for (j = i; j < len && s[j] != ','; j++)
			;
		if (s[i] == '+') {
			size_t k;

			if (j - i < 2 || j != len)
				return false;
			for (k = i + 1; k < j; k++) {
				if (!isdigit((unsigned char)s[k]) ||
				    *more > (UINT64_MAX - 9) / 10)
					return false;
				*more = *more * 10 + (uint64_t)(s[k] - '0');
			}
		} else {
			uint8_t addr[ETH_ADDRESS_LEN];
			char hex[ETH_ADDRESS_HEX_SIZE];

			if (!eth_address_parse(s + i, j - i, addr))
				return false;
			eth_address_hex(addr, hex);
			json_array_append_new(arr, json_string(hex));
		}
		i = j + 1;
	}
	return true;
}

/*
 * Fills the publishers, subscribers and records a summary's reason lists
 * ("pub=<a>,… sub=<a>,… records=<n>", docs/AUDIT.md); leaves them out
 * when the text is of another form.
 */
static void
audit_summary_parse(json_t *o, const char *r, size_t len)
{
	json_t *pub = json_array(), *sub = json_array();
	uint64_t more_pub = 0, more_sub = 0, records = 0;
	const char *end = r + len, *p = r, *sp;
	bool ok = true, seen_records = false;

	if (pub == NULL || sub == NULL)
		audit_oom();
	while (ok && p < end) {
		sp = memchr(p, ' ', (size_t)(end - p));
		if (sp == NULL)
			sp = end;
		if (sp - p >= 4 && memcmp(p, "pub=", 4) == 0)
			ok = audit_summary_list(
			    p + 4, (size_t)(sp - p - 4), pub, &more_pub);
		else if (sp - p >= 4 && memcmp(p, "sub=", 4) == 0)
			ok = audit_summary_list(
			    p + 4, (size_t)(sp - p - 4), sub, &more_sub);
		else if (sp - p > 8 && memcmp(p, "records=", 8) == 0) {
			const char *d;

			for (d = p + 8; ok && d < sp; d++) {
				ok = isdigit((unsigned char)*d) &&
				    records <= (UINT64_MAX - 9) / 10;
				records = records * 10 + (uint64_t)(*d - '0');
			}
			seen_records = true;
		} else
			ok = false;
		p = sp + 1;
	}
	if (!ok || !seen_records) {
		json_decref(pub);
		json_decref(sub);
		return;
	}
	json_object_set_new(o, "publishers", pub);
	json_object_set_new(o, "subscribers", sub);
	json_object_set_new(o, "more_publishers", json_u64(more_pub));
	json_object_set_new(o, "more_subscribers", json_u64(more_sub));
	json_object_set_new(o, "records", json_u64(records));
}

/* A Summary event with its root and what its text lists. */
static json_t *
audit_summary_json(uint64_t id, const struct store_event *ev, const char *root,
    uint64_t start, uint64_t end)
{
	json_t *o = json_object();

	if (o == NULL)
		audit_oom();
	json_object_set_new(o, "id", json_u64(id));
	json_set_text(o, "topic", ev->name, ev->name_len);
	json_object_set_new(o, "reporter", json_string(ev->source));
	json_object_set_new(
	    o, "period_start", root ? json_u64(start) : json_null());
	json_object_set_new(
	    o, "period_end", root ? json_u64(end) : json_null());
	json_object_set_new(o, "root", root ? json_string(root) : json_null());
	json_set_text(o, "reason", ev->reason, ev->reason_len);
	audit_summary_parse(o, ev->reason, ev->reason_len);
	json_object_set_new(o, "time", json_u64(ev->time));
	json_object_set_new(o, "block", json_u64(ev->block));
	json_object_set_new(o, "tx", json_string(ev->tx_hash));
	return o;
}

static json_t *
audit_summary_item(
    struct audit_page *p, uint64_t id, const struct store_event *ev)
{
	uint64_t start = 0, end = 0;
	char root[67];

	switch (
	    store_summary_root_get(p->a->cd->store, id, root, &start, &end)) {
	case STORE_OK:
		return audit_summary_json(id, ev, root, start, end);
	case STORE_MISSING:
		return audit_summary_json(id, ev, NULL, 0, 0);
	case STORE_ERROR:
	default:
		p->failed = true;
		return NULL;
	}
}

static json_t *
audit_summaries(struct audit *a)
{
	static const char *const allowed[] = {
	    "topic", "from", "to", "limit", "after", NULL};
	struct store_event_query q;
	struct audit_page p;
	const char *topic;
	size_t len;
	int rt;

	memset(&q, 0, sizeof(q));
	q.actions = BIT(AUDIT_SUMMARY);
	if (!audit_check_names(a, allowed) ||
	    (rt = param_name(a, "topic", &topic, &len)) < 0 ||
	    !param_range(a, &q.from, &q.to) ||
	    !param_page(a, &q.limit, &q.after))
		return NULL;
	if (rt > 0) {
		q.names = &topic;
		q.n_names = 1;
	}
	audit_page_init(&p, a, q.limit, audit_summary_item);
	q.limit++;
	if (store_events_find(a->cd->store, &q, audit_page_take, &p) !=
		STORE_OK ||
	    p.failed) {
		json_decref(p.items);
		return audit_db_error(a);
	}
	return audit_page_answer(&p, "summaries");
}

/* who: summaries whose period overlaps the range, and who they list. */
struct audit_who {
	struct audit_page page;
	json_t *pub, *sub; /* objects used as sets */
	uint64_t more_pub, more_sub, records;
};

static void
audit_who_union(json_t *set, const json_t *list)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v) json_object_set_new(
	    (json_t *)set, json_string_value(v), json_true());
}

static bool
audit_who_take(void *arg, uint64_t id, const struct store_event *ev,
    const char *root, uint64_t start, uint64_t end)
{
	struct audit_who *w = arg;
	struct audit_page *p = &w->page;
	json_t *o;

	if (json_array_size(p->items) == p->limit ||
	    p->bytes >= AUDIT_PAGE_BYTES) {
		p->more = true;
		return false;
	}
	o = audit_summary_json(id, ev, root, start, end);
	audit_who_union(w->pub, json_object_get(o, "publishers"));
	audit_who_union(w->sub, json_object_get(o, "subscribers"));
	w->more_pub +=
	    (uint64_t)json_integer_value(json_object_get(o, "more_publishers"));
	w->more_sub += (uint64_t)json_integer_value(
	    json_object_get(o, "more_subscribers"));
	w->records +=
	    (uint64_t)json_integer_value(json_object_get(o, "records"));
	json_array_append_new(p->items, o);
	p->bytes += ev->name_len + ev->reason_len + 256;
	p->last = id;
	return true;
}

static int
audit_strcmp_ptr(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The keys of a set, sorted. */
static json_t *
audit_set_sorted(json_t *set)
{
	json_t *arr = json_array();
	const char **keys;
	const char *key;
	json_t *v;
	size_t n = 0, i;

	if (arr == NULL ||
	    (keys = calloc(json_object_size(set) + 1, sizeof(*keys))) == NULL)
		audit_oom();
	json_object_foreach(set, key, v) keys[n++] = key;
	(void)v;
	qsort(keys, n, sizeof(*keys), audit_strcmp_ptr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(keys[i]));
	free(keys);
	return arr;
}

static json_t *
audit_who(struct audit *a)
{
	static const char *const allowed[] = {
	    "topic", "from", "to", "limit", "after", NULL};
	struct audit_who w;
	const char *topic;
	uint64_t from, to, after;
	size_t limit;
	enum store_status st;
	json_t *o;

	if (!audit_check_names(a, allowed) ||
	    param_required_name(a, "topic", &topic) < 0 ||
	    !param_range(a, &from, &to) || !param_page(a, &limit, &after))
		return NULL;
	memset(&w, 0, sizeof(w));
	audit_page_init(&w.page, a, limit, NULL);
	if ((w.pub = json_object()) == NULL || (w.sub = json_object()) == NULL)
		audit_oom();
	st = store_summaries_overlapping(a->cd->store, topic, from, to, after,
	    limit + 1, audit_who_take, &w);
	if (st != STORE_OK) {
		json_decref(w.page.items);
		json_decref(w.pub);
		json_decref(w.sub);
		if (st == STORE_MISSING) {
			audit_fail(a,
			    "after: %" PRIu64 " is not a summary of the chain "
			    "(undone by a reorganisation?): ask again without "
			    "it",
			    after);
			return NULL;
		}
		return audit_db_error(a);
	}
	o = audit_page_answer(&w.page, "summaries");
	json_object_set_new(o, "topic", json_string(topic));
	json_object_set_new(o, "from", json_u64(from));
	json_object_set_new(
	    o, "to", to == (uint64_t)INT64_MAX ? json_null() : json_u64(to));
	/* Who the summaries of this page list, together. */
	json_object_set_new(o, "publishers", audit_set_sorted(w.pub));
	json_object_set_new(o, "subscribers", audit_set_sorted(w.sub));
	json_object_set_new(o, "more_publishers", json_u64(w.more_pub));
	json_object_set_new(o, "more_subscribers", json_u64(w.more_sub));
	json_object_set_new(o, "records", json_u64(w.records));
	json_decref(w.pub);
	json_decref(w.sub);
	return o;
}

/* ---- The entry point ---------------------------------------------------- */

static const struct audit_kind {
	const char *name;
	json_t *(*run)(struct audit *a);
} audit_kinds[] = {
    {"status", audit_status},
    {"topics", audit_topics},
    {"holders", audit_holders},
    {"who", audit_who},
    {"why", audit_why},
    {"events", audit_events},
    {"summaries", audit_summaries},
    {"alerts", audit_alerts},
    {NULL, NULL},
};

json_t *
audit_query(struct chaind *cd, const char *kind, const json_t *params,
    char *err, size_t errlen)
{
	const struct audit_kind *k;
	struct audit a;
	json_t *empty = NULL, *o;

	memset(&a, 0, sizeof(a));
	a.cd = cd;
	a.kind = kind;
	a.err = err;
	a.errlen = errlen;
	a.now = (uint64_t)time(NULL);
	if (errlen > 0)
		err[0] = '\0';
	if (params == NULL)
		params = empty = json_object();
	if (!json_is_object(params)) {
		audit_fail(&a, "parameters must be a JSON object");
		return NULL;
	}
	a.params = params;
	for (k = audit_kinds; k->name != NULL; k++)
		if (strcmp(k->name, kind) == 0)
			break;
	if (k->name == NULL) {
		audit_fail(&a,
		    "unknown kind '%.64s' (status, topics, holders, who, why, "
		    "events, summaries, alerts)",
		    kind);
		json_decref(empty);
		return NULL;
	}
	o = k->run(&a);
	json_decref(empty);
	if (o == NULL && errlen > 0 && err[0] == '\0')
		audit_fail(&a, "%s failed", kind);
	return o;
}

/* ---- Erasure ----------------------------------------------------------- */

/* What stays on the public chain about a subject, with ids seen once. */
struct audit_erase {
	json_t *items;
	json_t *seen; /* id -> true */
	uint64_t total;
	size_t bytes; /* of the names listed, to fit one IPC frame */
	const char *why; /* why the current events concern the subject */
};

static bool
audit_erase_take(void *arg, uint64_t id, const struct store_event *ev)
{
	struct audit_erase *e = arg;
	char key[24];
	json_t *o;

	snprintf(key, sizeof(key), "%" PRIu64, id);
	if (json_object_get(e->seen, key) != NULL)
		return true;
	json_object_set_new(e->seen, key, json_true());
	e->total++;
	if (json_array_size(e->items) >= AUDIT_ERASE_MAX_ITEMS ||
	    e->bytes >= AUDIT_PAGE_BYTES)
		return true;
	e->bytes += ev->name_len + 256;
	o = json_pack("{s:o, s:o, s:o, s:o, s:s, s:s}", "id", json_u64(id),
	    "action", json_action(ev->action), "time", json_u64(ev->time),
	    "block", json_u64(ev->block), "tx", ev->tx_hash, "why", e->why);
	if (o == NULL)
		audit_oom();
	json_set_text(o, "topic", ev->name, ev->name_len);
	json_array_append_new(e->items, o);
	return true;
}

/* Events named `name` whose action is in the mask. */
static bool
audit_erase_named(struct chaind *cd, struct audit_erase *e, const char *name,
    uint32_t actions)
{
	struct store_event_query q;

	memset(&q, 0, sizeof(q));
	q.names = &name;
	q.n_names = 1;
	q.actions = actions;
	q.to = (uint64_t)INT64_MAX;
	return store_events_find(cd->store, &q, audit_erase_take, e) ==
	    STORE_OK;
}

static bool
audit_erase_hash(void *arg, const char *hash)
{
	json_array_append_new(arg, json_string(hash));
	return true;
}

json_t *
audit_erase(struct chaind *cd, const char *subject, size_t len, char *err,
    size_t errlen)
{
	struct store_event_query q;
	struct audit_erase e;
	uint8_t addr[ETH_ADDRESS_LEN];
	char address[ETH_ADDRESS_HEX_SIZE], ipt[NETADDR_STRLEN], *needle = NULL;
	struct netaddr ip;
	uint64_t removed = 0;
	json_t *hashes = NULL, *h, *o;
	bool is_address, ok = true;
	size_t i;

	is_address = eth_address_parse(subject, len, addr);
	if (!is_address && !netaddr_parse(subject, len, &ip)) {
		snprintf(err, errlen,
		    "'%.*s' is neither an address (0x and 40 hex digits) nor "
		    "an IP address",
		    len > 64 ? 64 : (int)len, subject);
		return NULL;
	}
	memset(&e, 0, sizeof(e));
	if ((e.items = json_array()) == NULL ||
	    (e.seen = json_object()) == NULL)
		audit_oom();
	if (is_address) {
		eth_address_hex(addr, address);
		if (store_alerts_erase_address(cd->store, address, &removed) !=
		    STORE_OK)
			goto db_error;
		/* Events naming the address, as source or target. */
		memset(&q, 0, sizeof(q));
		q.address = address;
		q.to = (uint64_t)INT64_MAX;
		q.roles = STORE_ROLE_SOURCE | STORE_ROLE_TARGET;
		e.why = "names the address";
		if (store_events_find(cd->store, &q, audit_erase_take, &e) !=
		    STORE_OK)
			goto db_error;
		e.why = "a summary lists the address";
		if (store_events_reason_contains(cd->store, BIT(AUDIT_SUMMARY),
			address, 0, 0, audit_erase_take, &e) != STORE_OK)
			goto db_error;
		o = json_pack(
		    "{s:s, s:s}", "subject", address, "kind", "address");
	} else {
		netaddr_format(&ip, ipt);
		if ((hashes = json_array()) == NULL)
			audit_oom();
		/* The keyed hash is authd's: only our own rows tell it. */
		if (store_alert_ip_hashes(
			cd->store, ipt, audit_erase_hash, hashes) != STORE_OK ||
		    store_alerts_erase_ip(cd->store, ipt, &removed) != STORE_OK)
			goto db_error;
		json_array_foreach(hashes, i, h)
		{
			e.why = "an alert names the IP's keyed hash";
			if (!audit_erase_named(
				cd, &e, json_string_value(h), AUDIT_ALERTS) ||
			    store_events_reason_contains(cd->store,
				BIT(AUDIT_WRONG_COUNTRY), json_string_value(h),
				0, 0, audit_erase_take, &e) != STORE_OK)
				goto db_error;
		}
		/* With alert_ip = clear the IP itself went on-chain. */
		e.why = "an alert names the IP in clear";
		if (asprintf(&needle, "ip:%s", ipt) < 0)
			audit_oom();
		ok = audit_erase_named(cd, &e, needle, AUDIT_ALERTS);
		free(needle);
		if (asprintf(&needle, "ip:%s ", ipt) < 0)
			audit_oom();
		if (!ok ||
		    store_events_reason_contains(cd->store,
			BIT(AUDIT_WRONG_COUNTRY), needle, 0, 0,
			audit_erase_take, &e) != STORE_OK) {
			free(needle);
			goto db_error;
		}
		free(needle);
		o = json_pack("{s:s, s:s, s:o}", "subject", ipt, "kind", "ip",
		    "ip_hashes", hashes);
		hashes = NULL;
		if (removed == 0)
			json_object_set_new(o, "note",
			    json_string(
				"no local alert row named this IP, so "
				"its keyed hash is unknown here: alerts "
				"naming the hash cannot be listed"));
	}
	if (store_erase_flush(cd->store) != STORE_OK)
		goto db_error;
	if (o == NULL)
		audit_oom();
	json_object_set_new(
	    o, "removed", json_pack("{s:o}", "alert_rows", json_u64(removed)));
	json_object_set_new(o, "remains_on_chain", e.items);
	json_object_set_new(o, "remains_total", json_u64(e.total));
	json_object_set_new(o, "remains_truncated",
	    json_boolean(e.total > json_array_size(e.items)));
	json_decref(e.seen);
	return o;
db_error:
	snprintf(err, errlen, "database error (see chaind's log)");
	json_decref(hashes);
	json_decref(e.items);
	json_decref(e.seen);
	return NULL;
}
