/*
 * RLP encoder and canonical-only decoder. Lists are encoded with a one-byte
 * header placeholder that is widened when the list closes, so nesting needs
 * no second pass.
 */
#include <stdlib.h>
#include <string.h>

#include "rlp.h"

/* First header bytes of each form (the Yellow Paper, appendix B). */
#define RLP_STRING_SHORT 0x80
#define RLP_STRING_LONG 0xb7 /* + length of the length */
#define RLP_LIST_SHORT 0xc0
#define RLP_LIST_LONG 0xf7 /* + length of the length */
/* Longest payload with a one-byte header. */
#define RLP_SHORT_MAX 55

const char *
rlp_status_str(enum rlp_status st)
{
	switch (st) {
	case RLP_OK:
		return "ok";
	case RLP_ERR_NOMEM:
		return "out of memory";
	case RLP_ERR_SPACE:
		return "encoding does not fit the buffer";
	case RLP_ERR_DEPTH:
		return "lists nested too deep";
	case RLP_ERR_UNBALANCED:
		return "list ends do not match list begins";
	case RLP_ERR_TRUNCATED:
		return "item runs past the end of the data";
	case RLP_ERR_NONCANONICAL:
		return "non-canonical encoding";
	case RLP_ERR_TYPE:
		return "list and string confused";
	case RLP_ERR_TRAILING:
		return "unexpected data after the item";
	case RLP_ERR_RANGE:
		return "integer out of range";
	case RLP_ERR_END:
		return "no item left";
	}
	return "unknown error";
}

/* ---- Encoder ------------------------------------------------------------ */

void
rlp_enc_init(struct rlp_enc *e)
{
	memset(e, 0, sizeof(*e));
	e->owned = true;
}

void
rlp_enc_init_buffer(struct rlp_enc *e, uint8_t *buf, size_t cap)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = cap;
}

void
rlp_enc_free(struct rlp_enc *e)
{
	if (e->owned)
		free(e->buf);
	e->buf = NULL;
	e->len = e->cap = 0;
}

/* Makes room for n more bytes; false (with err set) if there is none. */
static bool
rlp_reserve(struct rlp_enc *e, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (e->err != RLP_OK)
		return false;
	if (n <= e->cap - e->len)
		return true;
	if (!e->owned || n > RLP_ENC_MAX - e->len) {
		e->err = RLP_ERR_SPACE;
		return false;
	}
	want = e->len + n;
	cap = e->cap < 64 ? 64 : e->cap;
	while (cap < want)
		cap = cap > RLP_ENC_MAX / 2 ? RLP_ENC_MAX : 2 * cap;
	if ((p = realloc(e->buf, cap)) == NULL) {
		e->err = RLP_ERR_NOMEM;
		return false;
	}
	e->buf = p;
	e->cap = cap;
	return true;
}

/* Number of bytes in v's minimal big-endian form (0 for 0). */
static size_t
rlp_be_len(uint64_t v)
{
	size_t n = 0;

	for (; v != 0; v >>= 8)
		n++;
	return n;
}

static void
rlp_put_be(uint8_t *out, uint64_t v, size_t n)
{
	for (size_t i = n; i > 0; i--, v >>= 8)
		out[i - 1] = (uint8_t)v;
}

void
rlp_enc_bytes(struct rlp_enc *e, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t hdr = len <= RLP_SHORT_MAX ? 1 : 1 + rlp_be_len(len);

	if (len == 1 && p[0] < RLP_STRING_SHORT) {
		if (rlp_reserve(e, 1))
			e->buf[e->len++] = p[0];
		return;
	}
	if (len > SIZE_MAX - hdr || !rlp_reserve(e, hdr + len)) {
		if (e->err == RLP_OK)
			e->err = RLP_ERR_SPACE;
		return;
	}
	if (hdr == 1) {
		e->buf[e->len] = (uint8_t)(RLP_STRING_SHORT + len);
	} else {
		e->buf[e->len] = (uint8_t)(RLP_STRING_LONG + hdr - 1);
		rlp_put_be(e->buf + e->len + 1, len, hdr - 1);
	}
	e->len += hdr;
	if (len > 0)
		memcpy(e->buf + e->len, p, len);
	e->len += len;
}

void
rlp_enc_uint64(struct rlp_enc *e, uint64_t v)
{
	uint8_t be[8];
	size_t n = rlp_be_len(v);

	rlp_put_be(be, v, n);
	rlp_enc_bytes(e, be, n);
}

void
rlp_enc_uint256(struct rlp_enc *e, const uint8_t v[32])
{
	size_t skip = 0;

	while (skip < 32 && v[skip] == 0)
		skip++;
	rlp_enc_bytes(e, v + skip, 32 - skip);
}

void
rlp_enc_list_begin(struct rlp_enc *e)
{
	if (e->err != RLP_OK)
		return;
	if (e->depth == RLP_MAX_DEPTH) {
		e->err = RLP_ERR_DEPTH;
		return;
	}
	if (!rlp_reserve(e, 1))
		return;
	e->open[e->depth++] = e->len;
	e->len++;
}

void
rlp_enc_list_end(struct rlp_enc *e)
{
	size_t start, payload, extra;

	if (e->err != RLP_OK)
		return;
	if (e->depth == 0) {
		e->err = RLP_ERR_UNBALANCED;
		return;
	}
	start = e->open[--e->depth];
	payload = e->len - start - 1;
	if (payload <= RLP_SHORT_MAX) {
		e->buf[start] = (uint8_t)(RLP_LIST_SHORT + payload);
		return;
	}
	/* Widen the placeholder into a long-form header. */
	extra = rlp_be_len(payload);
	if (!rlp_reserve(e, extra))
		return;
	memmove(e->buf + start + 1 + extra, e->buf + start + 1, payload);
	e->buf[start] = (uint8_t)(RLP_LIST_LONG + extra);
	rlp_put_be(e->buf + start + 1, payload, extra);
	e->len += extra;
}

enum rlp_status
rlp_enc_finish(struct rlp_enc *e, const uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (e->err == RLP_OK && e->depth != 0)
		e->err = RLP_ERR_UNBALANCED;
	if (e->err != RLP_OK)
		return e->err;
	*out = e->buf;
	*len = e->len;
	return RLP_OK;
}

/* ---- Decoder ------------------------------------------------------------ */

/*
 * Reads a long-form length of n (1..8) bytes at p, with avail bytes
 * following the header. Canonical: no leading zero, and above 55.
 */
static enum rlp_status
rlp_long_length(const uint8_t *p, size_t n, size_t avail, size_t *out)
{
	uint64_t v = 0;

	if (p[0] == 0)
		return RLP_ERR_NONCANONICAL;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (v <= RLP_SHORT_MAX)
		return RLP_ERR_NONCANONICAL;
	if (v > (uint64_t)avail)
		return RLP_ERR_TRUNCATED;
	*out = (size_t)v;
	return RLP_OK;
}

enum rlp_status
rlp_decode_item(const uint8_t *buf, size_t len, struct rlp_item *item)
{
	size_t hdr, payload = 0;
	enum rlp_status st;
	uint8_t b;

	memset(item, 0, sizeof(*item));
	if (len == 0)
		return RLP_ERR_TRUNCATED;
	b = buf[0];
	if (b < RLP_STRING_SHORT) {
		hdr = 0;
		payload = 1;
	} else if (b <= RLP_STRING_LONG ||
	    (b >= RLP_LIST_SHORT && b <= RLP_LIST_LONG)) {
		hdr = 1;
		payload = b -
		    (b <= RLP_STRING_LONG ? RLP_STRING_SHORT : RLP_LIST_SHORT);
		if (payload > len - 1)
			return RLP_ERR_TRUNCATED;
		/* A lone byte below 0x80 is its own encoding. */
		if (b == RLP_STRING_SHORT + 1 && buf[1] < RLP_STRING_SHORT)
			return RLP_ERR_NONCANONICAL;
	} else {
		size_t n =
		    b - (b < RLP_LIST_SHORT ? RLP_STRING_LONG : RLP_LIST_LONG);
		if (n > len - 1)
			return RLP_ERR_TRUNCATED;
		hdr = 1 + n;
		st = rlp_long_length(buf + 1, n, len - hdr, &payload);
		if (st != RLP_OK)
			return st;
	}
	item->is_list = b >= RLP_LIST_SHORT;
	item->payload = buf + hdr;
	item->payload_len = payload;
	item->encoded_len = hdr + payload;
	return RLP_OK;
}

/* Checks every item inside list, which is `depth` lists deep. */
static enum rlp_status
rlp_check_list(const struct rlp_item *list, unsigned depth)
{
	const uint8_t *p = list->payload;
	size_t left = list->payload_len;
	struct rlp_item item;
	enum rlp_status st;

	if (depth > RLP_MAX_DEPTH)
		return RLP_ERR_DEPTH;
	while (left > 0) {
		if ((st = rlp_decode_item(p, left, &item)) != RLP_OK)
			return st;
		if (item.is_list &&
		    (st = rlp_check_list(&item, depth + 1)) != RLP_OK)
			return st;
		p += item.encoded_len;
		left -= item.encoded_len;
	}
	return RLP_OK;
}

enum rlp_status
rlp_decode(const uint8_t *buf, size_t len, struct rlp_item *item)
{
	enum rlp_status st;

	if ((st = rlp_decode_item(buf, len, item)) != RLP_OK)
		return st;
	if (item->encoded_len != len)
		st = RLP_ERR_TRAILING;
	else if (item->is_list)
		st = rlp_check_list(item, 1);
	if (st != RLP_OK)
		memset(item, 0, sizeof(*item));
	return st;
}

/* The big-endian bytes of a canonical integer of at most max bytes. */
static enum rlp_status
rlp_integer_bytes(const struct rlp_item *item, size_t max)
{
	if (item->is_list)
		return RLP_ERR_TYPE;
	if (item->payload_len > 0 && item->payload[0] == 0)
		return RLP_ERR_NONCANONICAL;
	if (item->payload_len > max)
		return RLP_ERR_RANGE;
	return RLP_OK;
}

enum rlp_status
rlp_item_uint64(const struct rlp_item *item, uint64_t *v)
{
	enum rlp_status st = rlp_integer_bytes(item, 8);

	*v = 0;
	if (st != RLP_OK)
		return st;
	for (size_t i = 0; i < item->payload_len; i++)
		*v = *v << 8 | item->payload[i];
	return RLP_OK;
}

enum rlp_status
rlp_item_uint256(const struct rlp_item *item, uint8_t out[32])
{
	enum rlp_status st = rlp_integer_bytes(item, 32);

	memset(out, 0, 32);
	if (st != RLP_OK)
		return st;
	if (item->payload_len > 0)
		memcpy(out + 32 - item->payload_len, item->payload,
		    item->payload_len);
	return RLP_OK;
}

/* ---- Iterator ----------------------------------------------------------- */

enum rlp_status
rlp_iter_init(struct rlp_iter *it, const struct rlp_item *list)
{
	it->pos = NULL;
	it->left = 0;
	if (!list->is_list)
		return RLP_ERR_TYPE;
	it->pos = list->payload;
	it->left = list->payload_len;
	return RLP_OK;
}

enum rlp_status
rlp_iter_next(struct rlp_iter *it, struct rlp_item *item)
{
	enum rlp_status st;

	if (it->left == 0) {
		memset(item, 0, sizeof(*item));
		return RLP_ERR_END;
	}
	if ((st = rlp_decode_item(it->pos, it->left, item)) != RLP_OK)
		return st;
	it->pos += item->encoded_len;
	it->left -= item->encoded_len;
	return RLP_OK;
}

enum rlp_status
rlp_iter_bytes(struct rlp_iter *it, const uint8_t **data, size_t *len)
{
	struct rlp_item item;
	enum rlp_status st = rlp_iter_next(it, &item);

	*data = NULL;
	*len = 0;
	if (st != RLP_OK)
		return st;
	if (item.is_list)
		return RLP_ERR_TYPE;
	*data = item.payload;
	*len = item.payload_len;
	return RLP_OK;
}

enum rlp_status
rlp_iter_uint64(struct rlp_iter *it, uint64_t *v)
{
	struct rlp_item item;
	enum rlp_status st = rlp_iter_next(it, &item);

	*v = 0;
	if (st != RLP_OK)
		return st;
	return rlp_item_uint64(&item, v);
}

enum rlp_status
rlp_iter_uint256(struct rlp_iter *it, uint8_t out[32])
{
	struct rlp_item item;
	enum rlp_status st = rlp_iter_next(it, &item);

	memset(out, 0, 32);
	if (st != RLP_OK)
		return st;
	return rlp_item_uint256(&item, out);
}

enum rlp_status
rlp_iter_list(struct rlp_iter *it, struct rlp_iter *sub)
{
	struct rlp_item item;
	enum rlp_status st = rlp_iter_next(it, &item);

	sub->pos = NULL;
	sub->left = 0;
	if (st != RLP_OK)
		return st;
	return rlp_iter_init(sub, &item);
}

enum rlp_status
rlp_iter_end(const struct rlp_iter *it)
{
	return it->left == 0 ? RLP_OK : RLP_ERR_TRAILING;
}
