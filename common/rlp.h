/*
 * RLP (Ethereum's Recursive Length Prefix encoding): an encoder into a
 * growable or caller-provided buffer, and a bounds-checked, canonical-only
 * decoder and list iterator for data from untrusted peers.
 */
#ifndef FLYTRAP_RLP_H
#define FLYTRAP_RLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RLP_WUR __attribute__((warn_unused_result))

/* Deepest list nesting the encoder builds and the decoder accepts. */
#define RLP_MAX_DEPTH 16
/* Largest encoding a growable encoder makes (16 MiB). */
#define RLP_ENC_MAX ((size_t)1 << 24)

enum rlp_status {
	RLP_OK = 0,
	RLP_ERR_NOMEM, /* encoder: growing the buffer failed */
	RLP_ERR_SPACE, /* encoder: caller's buffer, or RLP_ENC_MAX, too small */
	RLP_ERR_DEPTH, /* more than RLP_MAX_DEPTH nested lists */
	RLP_ERR_UNBALANCED, /* encoder: list_end without begin, or open lists */
	RLP_ERR_TRUNCATED, /* decoder: a header or payload runs past the end */
	RLP_ERR_NONCANONICAL, /* decoder: a value with a shorter encoding */
	RLP_ERR_TYPE, /* decoder: a list where a string belongs, or the reverse */
	RLP_ERR_TRAILING, /* decoder: bytes or items left over */
	RLP_ERR_RANGE, /* decoder: integer wider than the requested type */
	RLP_ERR_END, /* iterator: no item left in the list */
};

const char *rlp_status_str(enum rlp_status st);

/* ---- Encoder ------------------------------------------------------------ */

/*
 * Calls that add items return nothing: the first failure is kept in err,
 * later calls do nothing, and rlp_enc_finish reports it.
 */
struct rlp_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool owned; /* buf is ours to grow and free */
	enum rlp_status err;
	unsigned depth;
	size_t open[RLP_MAX_DEPTH]; /* offsets of the open lists' headers */
};

/* An encoder whose buffer grows on the heap (release with rlp_enc_free). */
void rlp_enc_init(struct rlp_enc *e);
/* An encoder writing into buf[cap] only; RLP_ERR_SPACE if it overflows. */
void rlp_enc_init_buffer(struct rlp_enc *e, uint8_t *buf, size_t cap);
/* A byte string (a lone byte below 0x80 is its own encoding). */
void rlp_enc_bytes(struct rlp_enc *e, const void *data, size_t len);
/* An integer as its minimal big-endian bytes (0 is the empty string). */
void rlp_enc_uint64(struct rlp_enc *e, uint64_t v);
/* A 256-bit integer given as 32 big-endian bytes, minimal as above. */
void rlp_enc_uint256(struct rlp_enc *e, const uint8_t v[32]);
/* Opens a list: the items up to the matching rlp_enc_list_end are its. */
void rlp_enc_list_begin(struct rlp_enc *e);
void rlp_enc_list_end(struct rlp_enc *e);
/*
 * Ends encoding. RLP_OK with (*out, *len) the encoding (in the encoder's
 * buffer: valid until rlp_enc_free or, for init_buffer, as long as buf);
 * else the first error, or RLP_ERR_UNBALANCED if a list is still open.
 */
enum rlp_status rlp_enc_finish(
    struct rlp_enc *e, const uint8_t **out, size_t *len) RLP_WUR;
/* Frees a growable encoder's buffer; harmless for init_buffer ones. */
void rlp_enc_free(struct rlp_enc *e);

/* ---- Decoder ------------------------------------------------------------ */

/*
 * Only canonical encodings are accepted, so every value has exactly one:
 * a byte below 0x80 must stand alone, not as a one-byte string; short forms
 * must be used up to 55 bytes; long-form lengths have no leading zero byte.
 */
struct rlp_item {
	bool is_list;
	const uint8_t *payload; /* a string's bytes, or a list's items */
	size_t payload_len;
	size_t encoded_len; /* header + payload */
};

/*
 * Reads the item at the start of (buf, len), which may continue after it;
 * a list's payload is bounds-checked but its items are not decoded.
 * Returns RLP_OK, RLP_ERR_TRUNCATED (len 0, or past the end) or
 * RLP_ERR_NONCANONICAL.
 */
enum rlp_status rlp_decode_item(
    const uint8_t *buf, size_t len, struct rlp_item *item) RLP_WUR;

/*
 * Decodes (buf, len) as exactly one item and checks every nested item as
 * rlp_decode_item does, to at most RLP_MAX_DEPTH lists deep. Returns the
 * first error found, RLP_ERR_DEPTH, or RLP_ERR_TRAILING if bytes follow it.
 */
enum rlp_status rlp_decode(
    const uint8_t *buf, size_t len, struct rlp_item *item) RLP_WUR;

/* A canonical unsigned integer from a string item: RLP_ERR_TYPE for a list,
 * RLP_ERR_NONCANONICAL for a leading zero byte, RLP_ERR_RANGE if wider. */
enum rlp_status rlp_item_uint64(
    const struct rlp_item *item, uint64_t *v) RLP_WUR;
enum rlp_status rlp_item_uint256(
    const struct rlp_item *item, uint8_t out[32]) RLP_WUR;

/* Walks the items of one list. Every reader checks the item it returns. */
struct rlp_iter {
	const uint8_t *pos;
	size_t left;
};

/* RLP_ERR_TYPE if item is not a list. */
enum rlp_status rlp_iter_init(
    struct rlp_iter *it, const struct rlp_item *list) RLP_WUR;
/* The next item: RLP_OK, RLP_ERR_END after the last, or a decode error. */
enum rlp_status rlp_iter_next(
    struct rlp_iter *it, struct rlp_item *item) RLP_WUR;
/* Typed readers of the next item; RLP_ERR_TYPE if it is the other kind. */
enum rlp_status rlp_iter_bytes(
    struct rlp_iter *it, const uint8_t **data, size_t *len) RLP_WUR;
enum rlp_status rlp_iter_uint64(struct rlp_iter *it, uint64_t *v) RLP_WUR;
enum rlp_status rlp_iter_uint256(struct rlp_iter *it, uint8_t out[32]) RLP_WUR;
enum rlp_status rlp_iter_list(
    struct rlp_iter *it, struct rlp_iter *sub) RLP_WUR;
/* RLP_OK if every item was read, else RLP_ERR_TRAILING. */
enum rlp_status rlp_iter_end(const struct rlp_iter *it) RLP_WUR;

#endif
