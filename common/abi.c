/*
 * Solidity ABI encoding and strict decoding (the "Contract ABI
 * Specification" of the Solidity docs), for call data, return data, logs
 * and revert data.
 */
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "keccak.h"

/* Selectors of Error(string) and Panic(uint256). */
static const uint8_t abi_error_selector[ABI_SELECTOR_LEN] = {
    0x08, 0xc3, 0x79, 0xa0};
static const uint8_t abi_panic_selector[ABI_SELECTOR_LEN] = {
    0x4e, 0x48, 0x7b, 0x71};

const char *
abi_status_str(enum abi_status st)
{
	switch (st) {
	case ABI_OK:
		return "ok";
	case ABI_ERR_NOMEM:
		return "out of memory";
	case ABI_ERR_TOO_MANY_ARGS:
		return "too many arguments";
	case ABI_ERR_TOO_LARGE:
		return "encoding too large";
	case ABI_ERR_RANGE:
		return "value out of range for its type";
	case ABI_ERR_TRUNCATED:
		return "value runs past the end of the data";
	case ABI_ERR_OFFSET:
		return "offset does not match the layout";
	case ABI_ERR_PADDING:
		return "non-zero padding";
	case ABI_ERR_TOO_LONG:
		return "array longer than expected";
	case ABI_ERR_TRAILING:
		return "unexpected data after the values";
	case ABI_ERR_SELECTOR:
		return "truncated selector";
	}
	return "unknown error";
}

void
abi_selector(const char *signature, uint8_t out[ABI_SELECTOR_LEN])
{
	uint8_t hash[32];

	keccak256(signature, strlen(signature), hash);
	memcpy(out, hash, ABI_SELECTOR_LEN);
}

void
abi_event_topic(const char *signature, uint8_t out[32])
{
	keccak256(signature, strlen(signature), out);
}

/* Writes v big-endian into the last 8 bytes of a zeroed word. */
static void
abi_word_u64(uint8_t word[ABI_WORD], uint64_t v)
{
	memset(word, 0, ABI_WORD);
	for (size_t i = ABI_WORD; i > ABI_WORD - 8; i--, v >>= 8)
		word[i - 1] = (uint8_t)v;
}

static bool
abi_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* The value of a word holding at most 64 bits, else false. */
static bool
abi_word_to_u64(const uint8_t word[ABI_WORD], uint64_t *v)
{
	*v = 0;
	if (!abi_all_zero(word, ABI_WORD - 8))
		return false;
	for (size_t i = ABI_WORD - 8; i < ABI_WORD; i++)
		*v = *v << 8 | word[i];
	return true;
}

static bool
abi_bits_valid(unsigned bits)
{
	return bits >= 8 && bits <= 256 && bits % 8 == 0;
}

/* ---- Encoder ------------------------------------------------------------ */

void
abi_enc_begin(struct abi_enc *e, const uint8_t *selector)
{
	memset(e, 0, sizeof(*e));
	if (selector != NULL) {
		memcpy(e->selector, selector, ABI_SELECTOR_LEN);
		e->has_selector = true;
	}
}

/* The next head word (zeroed), or NULL with err set. */
static uint8_t *
abi_enc_head(struct abi_enc *e)
{
	uint8_t *word;

	if (e->err != ABI_OK)
		return NULL;
	if (e->nargs == ABI_MAX_ARGS) {
		e->err = ABI_ERR_TOO_MANY_ARGS;
		return NULL;
	}
	word = e->head + e->nargs++ * ABI_WORD;
	memset(word, 0, ABI_WORD);
	return word;
}

/* Room for n more tail bytes, zeroed; NULL with err set if none. */
static uint8_t *
abi_enc_tail(struct abi_enc *e, size_t n)
{
	/* The selector and a full head always fit beside the tail. */
	const size_t max = ABI_ENC_MAX - ABI_SELECTOR_LEN - sizeof(e->head);
	uint8_t *p;
	size_t cap;

	if (e->err != ABI_OK)
		return NULL;
	if (n > max - e->tail_len) {
		e->err = ABI_ERR_TOO_LARGE;
		return NULL;
	}
	if (n > e->tail_cap - e->tail_len) {
		cap = e->tail_cap < 256 ? 256 : e->tail_cap;
		while (cap < e->tail_len + n)
			cap *= 2;
		if ((p = realloc(e->tail, cap)) == NULL) {
			e->err = ABI_ERR_NOMEM;
			return NULL;
		}
		e->tail = p;
		e->tail_cap = cap;
	}
	p = e->tail + e->tail_len;
	memset(p, 0, n);
	e->tail_len += n;
	return p;
}

/*
 * Starts a dynamic value whose tail is a length word and `words` more
 * words: the head gets its offset (relative to the tail until finish).
 * Returns the words after the length word, or NULL with err set.
 */
static uint8_t *
abi_enc_dynamic(struct abi_enc *e, uint64_t length, size_t words)
{
	size_t start = e->tail_len;
	uint8_t *head, *tail;

	if (e->err == ABI_OK && words > ABI_ENC_MAX / ABI_WORD) {
		e->err = ABI_ERR_TOO_LARGE;
		return NULL;
	}
	if ((head = abi_enc_head(e)) == NULL)
		return NULL;
	if ((tail = abi_enc_tail(e, (1 + words) * ABI_WORD)) == NULL)
		return NULL;
	abi_word_u64(head, start);
	e->dynamic |= (uint32_t)1 << (e->nargs - 1);
	abi_word_u64(tail, length);
	return tail + ABI_WORD;
}

void
abi_enc_uint(struct abi_enc *e, uint64_t v)
{
	uint8_t *word = abi_enc_head(e);

	if (word != NULL)
		abi_word_u64(word, v);
}

void
abi_enc_uint_n(struct abi_enc *e, unsigned bits, const uint8_t v[32])
{
	uint8_t *word;

	if (e->err == ABI_OK &&
	    (!abi_bits_valid(bits) || !abi_all_zero(v, (256 - bits) / 8))) {
		e->err = ABI_ERR_RANGE;
		return;
	}
	if ((word = abi_enc_head(e)) != NULL)
		memcpy(word, v, ABI_WORD);
}

void
abi_enc_uint256(struct abi_enc *e, const uint8_t v[32])
{
	abi_enc_uint_n(e, 256, v);
}

void
abi_enc_address(struct abi_enc *e, const uint8_t addr[20])
{
	uint8_t *word = abi_enc_head(e);

	if (word != NULL)
		memcpy(word + ABI_WORD - 20, addr, 20);
}

void
abi_enc_bool(struct abi_enc *e, bool v)
{
	abi_enc_uint(e, v ? 1 : 0);
}

void
abi_enc_bytes_n(struct abi_enc *e, const uint8_t *data, size_t n)
{
	uint8_t *word;

	if (e->err == ABI_OK && (n == 0 || n > ABI_WORD)) {
		e->err = ABI_ERR_RANGE;
		return;
	}
	if ((word = abi_enc_head(e)) != NULL)
		memcpy(word, data, n);
}

void
abi_enc_bytes32(struct abi_enc *e, const uint8_t v[32])
{
	abi_enc_bytes_n(e, v, ABI_WORD);
}

void
abi_enc_bytes(struct abi_enc *e, const uint8_t *data, size_t len)
{
	uint8_t *body;

	if (e->err == ABI_OK && len > ABI_ENC_MAX) {
		e->err = ABI_ERR_TOO_LARGE;
		return;
	}
	body = abi_enc_dynamic(e, len, (len + ABI_WORD - 1) / ABI_WORD);
	if (body != NULL && len > 0)
		memcpy(body, data, len);
}

void
abi_enc_string(struct abi_enc *e, const char *s, size_t len)
{
	abi_enc_bytes(e, (const uint8_t *)s, len);
}

void
abi_enc_bytes2_array(struct abi_enc *e, const uint8_t *codes, size_t count)
{
	uint8_t *body = abi_enc_dynamic(e, count, count);

	if (body != NULL)
		for (size_t i = 0; i < count; i++)
			memcpy(body + i * ABI_WORD, codes + 2 * i, 2);
}

void
abi_enc_address_array(struct abi_enc *e, const uint8_t *addrs, size_t count)
{
	uint8_t *body = abi_enc_dynamic(e, count, count);

	if (body != NULL)
		for (size_t i = 0; i < count; i++)
			memcpy(body + i * ABI_WORD + ABI_WORD - 20,
			    addrs + 20 * i, 20);
}

enum abi_status
abi_enc_finish(struct abi_enc *e, uint8_t **out, size_t *len)
{
	size_t head_len = e->nargs * ABI_WORD;
	size_t sel_len = e->has_selector ? ABI_SELECTOR_LEN : 0;
	enum abi_status st = e->err;
	uint8_t *p = NULL;

	*out = NULL;
	*len = 0;
	/* Tail offsets count from the start of the head. */
	for (size_t i = 0; st == ABI_OK && i < e->nargs; i++) {
		uint64_t off;
		if (!(e->dynamic & (uint32_t)1 << i))
			continue;
		(void)abi_word_to_u64(e->head + i * ABI_WORD, &off);
		abi_word_u64(e->head + i * ABI_WORD, off + head_len);
	}
	if (st == ABI_OK &&
	    (p = malloc(sel_len + head_len + e->tail_len + 1)) == NULL)
		st = ABI_ERR_NOMEM;
	if (st == ABI_OK) {
		memcpy(p, e->selector, sel_len);
		memcpy(p + sel_len, e->head, head_len);
		if (e->tail_len > 0)
			memcpy(p + sel_len + head_len, e->tail, e->tail_len);
		*out = p;
		*len = sel_len + head_len + e->tail_len;
	}
	free(e->tail);
	e->tail = NULL;
	e->tail_len = e->tail_cap = 0;
	return st;
}

/* ---- Decoder ------------------------------------------------------------ */

void
abi_dec_init(struct abi_dec *d, const uint8_t *data, size_t len)
{
	d->data = data;
	d->len = len;
	d->head = 0;
	d->tail_start = SIZE_MAX;
	d->tail_end = 0;
	d->err = ABI_OK;
}

static enum abi_status
abi_dec_fail(struct abi_dec *d, enum abi_status st)
{
	if (d->err == ABI_OK)
		d->err = st;
	return d->err;
}

/* The next head word, or NULL with err set. */
static const uint8_t *
abi_dec_word(struct abi_dec *d)
{
	const uint8_t *word;

	if (d->err != ABI_OK)
		return NULL;
	if (d->len - d->head < ABI_WORD) {
		(void)abi_dec_fail(d, ABI_ERR_TRUNCATED);
		return NULL;
	}
	/* The head may not run into the first dynamic value. */
	if (d->head + ABI_WORD > d->tail_start) {
		(void)abi_dec_fail(d, ABI_ERR_OFFSET);
		return NULL;
	}
	word = d->data + d->head;
	d->head += ABI_WORD;
	return word;
}

/*
 * Follows a dynamic value's head offset to its length word. Sets *count to
 * the length and *body to the offset of what follows it; the caller checks
 * that the body fits and then sets tail_end. False with err set on failure.
 */
static bool
abi_dec_dynamic(struct abi_dec *d, uint64_t *count, size_t *body)
{
	const uint8_t *word = abi_dec_word(d);
	uint64_t off;

	if (word == NULL)
		return false;
	/* An offset or length of 2^64 or more is past any data. */
	if (!abi_word_to_u64(word, &off) || off > d->len ||
	    d->len - off < ABI_WORD) {
		(void)abi_dec_fail(d, ABI_ERR_TRUNCATED);
		return false;
	}
	if (d->tail_start == SIZE_MAX) {
		/* The first value follows the head; abi_dec_end checks that
		 * no head word is missing in between. */
		if (off < d->head) {
			(void)abi_dec_fail(d, ABI_ERR_OFFSET);
			return false;
		}
		d->tail_start = (size_t)off;
	} else if (off != d->tail_end) {
		(void)abi_dec_fail(d, ABI_ERR_OFFSET);
		return false;
	}
	if (!abi_word_to_u64(d->data + off, count)) {
		(void)abi_dec_fail(d, ABI_ERR_TRUNCATED);
		return false;
	}
	*body = (size_t)off + ABI_WORD;
	return true;
}

enum abi_status
abi_dec_uint64(struct abi_dec *d, uint64_t *v)
{
	const uint8_t *word = abi_dec_word(d);

	*v = 0;
	if (word == NULL)
		return d->err;
	if (!abi_word_to_u64(word, v)) {
		*v = 0;
		return abi_dec_fail(d, ABI_ERR_RANGE);
	}
	return ABI_OK;
}

enum abi_status
abi_dec_uint_n(struct abi_dec *d, unsigned bits, uint8_t out[32])
{
	const uint8_t *word;

	memset(out, 0, ABI_WORD);
	if (!abi_bits_valid(bits))
		return abi_dec_fail(d, ABI_ERR_RANGE);
	if ((word = abi_dec_word(d)) == NULL)
		return d->err;
	if (!abi_all_zero(word, (256 - bits) / 8))
		return abi_dec_fail(d, ABI_ERR_RANGE);
	memcpy(out, word, ABI_WORD);
	return ABI_OK;
}

enum abi_status
abi_dec_uint256(struct abi_dec *d, uint8_t out[32])
{
	return abi_dec_uint_n(d, 256, out);
}

enum abi_status
abi_dec_address(struct abi_dec *d, uint8_t out[20])
{
	const uint8_t *word = abi_dec_word(d);

	memset(out, 0, 20);
	if (word == NULL)
		return d->err;
	if (!abi_all_zero(word, ABI_WORD - 20))
		return abi_dec_fail(d, ABI_ERR_PADDING);
	memcpy(out, word + ABI_WORD - 20, 20);
	return ABI_OK;
}

enum abi_status
abi_dec_bool(struct abi_dec *d, bool *v)
{
	const uint8_t *word = abi_dec_word(d);

	*v = false;
	if (word == NULL)
		return d->err;
	if (!abi_all_zero(word, ABI_WORD - 1) || word[ABI_WORD - 1] > 1)
		return abi_dec_fail(d, ABI_ERR_PADDING);
	*v = word[ABI_WORD - 1] == 1;
	return ABI_OK;
}

enum abi_status
abi_dec_bytes_n(struct abi_dec *d, uint8_t *out, size_t n)
{
	const uint8_t *word;

	if (n == 0 || n > ABI_WORD)
		return abi_dec_fail(d, ABI_ERR_RANGE);
	memset(out, 0, n);
	if ((word = abi_dec_word(d)) == NULL)
		return d->err;
	if (!abi_all_zero(word + n, ABI_WORD - n))
		return abi_dec_fail(d, ABI_ERR_PADDING);
	memcpy(out, word, n);
	return ABI_OK;
}

enum abi_status
abi_dec_bytes32(struct abi_dec *d, uint8_t out[32])
{
	return abi_dec_bytes_n(d, out, ABI_WORD);
}

enum abi_status
abi_dec_bytes(struct abi_dec *d, const uint8_t **data, size_t *len)
{
	uint64_t count;
	size_t body, padded;

	*data = NULL;
	*len = 0;
	if (!abi_dec_dynamic(d, &count, &body))
		return d->err;
	if (count > d->len - body)
		return abi_dec_fail(d, ABI_ERR_TRUNCATED);
	padded = ((size_t)count + ABI_WORD - 1) / ABI_WORD * ABI_WORD;
	if (padded > d->len - body)
		return abi_dec_fail(d, ABI_ERR_TRUNCATED);
	if (!abi_all_zero(d->data + body + count, padded - count))
		return abi_dec_fail(d, ABI_ERR_PADDING);
	d->tail_end = body + padded;
	*data = d->data + body;
	*len = (size_t)count;
	return ABI_OK;
}

enum abi_status
abi_dec_string(struct abi_dec *d, const char **s, size_t *len)
{
	const uint8_t *p;
	enum abi_status st = abi_dec_bytes(d, &p, len);

	*s = (const char *)p;
	return st;
}

/*
 * An array of count words after a length word, each checked by
 * item(word, out + i * size); at most cap items.
 */
static enum abi_status
abi_dec_array(struct abi_dec *d, uint8_t *out, size_t cap, size_t *count,
    size_t size, bool (*item)(const uint8_t *word, uint8_t *out))
{
	uint64_t n;
	size_t body;

	*count = 0;
	if (!abi_dec_dynamic(d, &n, &body))
		return d->err;
	if (n > (d->len - body) / ABI_WORD)
		return abi_dec_fail(d, ABI_ERR_TRUNCATED);
	if (n > cap)
		return abi_dec_fail(d, ABI_ERR_TOO_LONG);
	for (size_t i = 0; i < n; i++) {
		if (!item(d->data + body + i * ABI_WORD, out + i * size)) {
			memset(out, 0, i * size);
			return abi_dec_fail(d, ABI_ERR_PADDING);
		}
	}
	d->tail_end = body + (size_t)n * ABI_WORD;
	*count = (size_t)n;
	return ABI_OK;
}

static bool
abi_item_bytes2(const uint8_t *word, uint8_t *out)
{
	if (!abi_all_zero(word + 2, ABI_WORD - 2))
		return false;
	memcpy(out, word, 2);
	return true;
}

static bool
abi_item_address(const uint8_t *word, uint8_t *out)
{
	if (!abi_all_zero(word, ABI_WORD - 20))
		return false;
	memcpy(out, word + ABI_WORD - 20, 20);
	return true;
}

enum abi_status
abi_dec_bytes2_array(struct abi_dec *d, uint8_t *out, size_t cap, size_t *count)
{
	return abi_dec_array(d, out, cap, count, 2, abi_item_bytes2);
}

enum abi_status
abi_dec_address_array(
    struct abi_dec *d, uint8_t *out, size_t cap, size_t *count)
{
	return abi_dec_array(d, out, cap, count, 20, abi_item_address);
}

enum abi_status
abi_dec_end(const struct abi_dec *d)
{
	if (d->err != ABI_OK)
		return d->err;
	if (d->tail_start == SIZE_MAX)
		return d->head == d->len ? ABI_OK : ABI_ERR_TRAILING;
	if (d->tail_start != d->head)
		return ABI_ERR_OFFSET;
	return d->tail_end == d->len ? ABI_OK : ABI_ERR_TRAILING;
}

/* ---- Revert data -------------------------------------------------------- */

enum abi_status
abi_decode_revert(const uint8_t *data, size_t len, struct abi_revert *out)
{
	struct abi_dec d;
	enum abi_status st;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		out->kind = ABI_REVERT_EMPTY;
		return ABI_OK;
	}
	if (len < ABI_SELECTOR_LEN)
		return ABI_ERR_SELECTOR;
	memcpy(out->selector, data, ABI_SELECTOR_LEN);
	abi_dec_init(&d, data + ABI_SELECTOR_LEN, len - ABI_SELECTOR_LEN);
	if (memcmp(data, abi_error_selector, ABI_SELECTOR_LEN) == 0) {
		st = abi_dec_string(&d, &out->message, &out->message_len);
		if (st == ABI_OK)
			st = abi_dec_end(&d);
		out->kind = ABI_REVERT_ERROR;
	} else if (memcmp(data, abi_panic_selector, ABI_SELECTOR_LEN) == 0) {
		st = abi_dec_uint64(&d, &out->panic_code);
		if (st == ABI_OK)
			st = abi_dec_end(&d);
		out->kind = ABI_REVERT_PANIC;
	} else {
		out->kind = ABI_REVERT_CUSTOM;
		out->args = data + ABI_SELECTOR_LEN;
		out->args_len = len - ABI_SELECTOR_LEN;
		st = ABI_OK;
	}
	if (st != ABI_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

bool
abi_revert_is(const struct abi_revert *r, const char *signature)
{
	uint8_t sel[ABI_SELECTOR_LEN];

	if (r->kind != ABI_REVERT_CUSTOM)
		return false;
	abi_selector(signature, sel);
	return memcmp(sel, r->selector, ABI_SELECTOR_LEN) == 0;
}
