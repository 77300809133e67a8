/*
 * MQTT topic matching for authorisation (see topic.h): level-by-level walks
 * over topic names and filters, shared-subscription prefixes, and the
 * `${address}` placeholder of ACL entries.
 */
#include <string.h>

#include "topic.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN (sizeof(SHARE_PREFIX) - 1)

/* Walks the '/'-separated levels of a topic or filter. */
struct level_cursor {
	const char *pos;
	const char *end;
	bool done; /* the last level has been handed out */
};

struct level {
	const char *s;
	size_t len;
};

static void
cursor_init(struct level_cursor *c, const char *s, size_t len)
{
	c->pos = s;
	c->end = s + len;
	c->done = false;
}

/* The next level (possibly empty); false once every level was seen. */
static bool
cursor_next(struct level_cursor *c, struct level *lv)
{
	const char *slash;

	if (c->done)
		return false;
	slash = memchr(c->pos, '/', (size_t)(c->end - c->pos));
	lv->s = c->pos;
	if (slash == NULL) {
		lv->len = (size_t)(c->end - c->pos);
		c->done = true;
	} else {
		lv->len = (size_t)(slash - c->pos);
		c->pos = slash + 1;
	}
	return true;
}

static bool
level_is(const struct level *lv, char wildcard)
{
	return lv->len == 1 && lv->s[0] == wildcard;
}

static bool
level_equal(const struct level *a, const struct level *b)
{
	return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* '+' and '#' only as whole levels, '#' only as the last one. */
static bool
level_valid(const struct level *lv, bool last)
{
	if (level_is(lv, '#'))
		return last;
	if (level_is(lv, '+'))
		return true;
	return memchr(lv->s, '+', lv->len) == NULL &&
	    memchr(lv->s, '#', lv->len) == NULL;
}

static bool
filter_valid(const char *s, size_t len)
{
	struct level_cursor c;
	struct level lv;

	if (len == 0)
		return false;
	cursor_init(&c, s, len);
	while (cursor_next(&c, &lv))
		if (!level_valid(&lv, c.done))
			return false;
	return true;
}

static bool
level_is_literal(const struct level *lv)
{
	return !level_is(lv, '+') && !level_is(lv, '#');
}

bool
topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen)
{
	struct level_cursor f, t;
	struct level fl, tl;
	bool first = true;

	if (flen == 0 || tlen == 0 || memchr(topic, '+', tlen) != NULL ||
	    memchr(topic, '#', tlen) != NULL)
		return false;
	/* [MQTT-4.7.2-1]: no first-level wildcard matches a '$' topic. */
	cursor_init(&f, filter, flen);
	cursor_init(&t, topic, tlen);
	while (cursor_next(&f, &fl)) {
		if (!level_valid(&fl, f.done))
			return false;
		if (level_is(&fl, '#'))
			return !(first && topic[0] == '$');
		if (!cursor_next(&t, &tl))
			return false; /* the topic is shorter */
		if (level_is(&fl, '+')) {
			if (first && topic[0] == '$')
				return false;
		} else if (!level_equal(&fl, &tl)) {
			return false;
		}
		first = false;
	}
	return t.done; /* a longer topic is not matched */
}

bool
topic_covers(const char *entry, size_t elen, const char *filter, size_t flen)
{
	struct level_cursor e, f;
	struct level el, fl;
	bool first = true, have_f, no_parent;
	size_t depth = 0;

	if (!filter_valid(entry, elen) || !filter_valid(filter, flen))
		return false;
	cursor_init(&e, entry, elen);
	cursor_init(&f, filter, flen);
	for (;;) {
		if (!cursor_next(&e, &el))
			return !cursor_next(&f, &fl);
		have_f = cursor_next(&f, &fl);
		if (level_is(&el, '#')) {
			/*
			 * Covers the rest, parent level included; only a '$'
			 * first level escapes a first-level '#'.
			 */
			return !(first && have_f && level_is_literal(&fl) &&
			    fl.len > 0 && fl.s[0] == '$');
		}
		if (!have_f)
			return false; /* the entry needs more levels */
		if (level_is(&fl, '#')) {
			/*
			 * The filter also matches this level's parent, which
			 * the entry (it has a level here) cannot match. There
			 * is no parent when it would be the empty string, an
			 * invalid topic: at the first level, or after an empty
			 * first one. Then "+/#" matches what "#" does ("/+/#"
			 * what "/#" does).
			 */
			no_parent =
			    depth == 0 || (depth == 1 && filter[0] == '/');
			return no_parent && level_is(&el, '+') && !e.done &&
			    e.end - e.pos == 1 && e.pos[0] == '#';
		}
		if (level_is(&fl, '+')) {
			if (!level_is(&el, '+'))
				return false;
		} else if (level_is(&el, '+')) {
			if (first && fl.len > 0 && fl.s[0] == '$')
				return false;
		} else if (!level_equal(&el, &fl)) {
			return false;
		}
		first = false;
		depth++;
	}
}

bool
topic_strip_share(const char **filter, size_t *flen)
{
	const char *name, *slash;
	size_t rest;

	if (*flen < SHARE_PREFIX_LEN ||
	    memcmp(*filter, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return false;
	name = *filter + SHARE_PREFIX_LEN;
	rest = *flen - SHARE_PREFIX_LEN;
	slash = memchr(name, '/', rest);
	if (slash == NULL || slash == name || slash + 1 == name + rest)
		return false;
	*flen = (size_t)(name + rest - (slash + 1));
	*filter = slash + 1;
	return true;
}

size_t
topic_expand_address(const char *entry, size_t elen, const char *address_hex,
    char *out, size_t cap)
{
	static const char ph[] = TOPIC_ADDRESS_PLACEHOLDER;
	const size_t ph_len = sizeof(ph) - 1;
	size_t alen = strlen(address_hex), i = 0, n = 0, k;
	const char *piece;
	size_t piece_len;

	while (i < elen) {
		if (elen - i >= ph_len && memcmp(entry + i, ph, ph_len) == 0) {
			piece = address_hex;
			piece_len = alen;
			i += ph_len;
		} else {
			piece = entry + i;
			piece_len = 1;
			i++;
		}
		for (k = 0; k < piece_len; k++, n++)
			if (n + 1 < cap)
				out[n] = piece[k];
	}
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}
