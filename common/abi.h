/*
 * The Solidity contract ABI: function selectors and event topics, a call-data
 * builder, a strict reader of return data, log data and revert reasons.
 */
#ifndef FLYTRAP_ABI_H
#define FLYTRAP_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ABI_WUR __attribute__((warn_unused_result))

#define ABI_WORD 32
#define ABI_SELECTOR_LEN 4
/* Most arguments one encoder takes (its head lives in the struct). */
#define ABI_MAX_ARGS 32
/* Largest encoding the builder makes (1 MiB). */
#define ABI_ENC_MAX ((size_t)1 << 20)

enum abi_status {
	ABI_OK = 0,
	ABI_ERR_NOMEM, /* encoder: out of memory */
	ABI_ERR_TOO_MANY_ARGS, /* encoder: more than ABI_MAX_ARGS */
	ABI_ERR_TOO_LARGE, /* encoder: output beyond ABI_ENC_MAX */
	ABI_ERR_RANGE, /* a value wider than its type or the C type */
	ABI_ERR_TRUNCATED, /* a word, length or offset reaches past the data */
	ABI_ERR_OFFSET, /* an offset other than where the encoding puts it */
	ABI_ERR_PADDING, /* non-zero padding, or a bool neither 0 nor 1 */
	ABI_ERR_TOO_LONG, /* an array longer than the caller's room */
	ABI_ERR_TRAILING, /* bytes after the encoded values */
	ABI_ERR_SELECTOR, /* revert data of 1 to 3 bytes */
};

const char *abi_status_str(enum abi_status st);

/* The first 4 bytes of keccak256 of a canonical signature text such as
 * "transfer(address,uint256)" (no spaces, no parameter names). */
void abi_selector(const char *signature, uint8_t out[ABI_SELECTOR_LEN]);
/* An event's topic 0: keccak256 of its signature text. */
void abi_event_topic(const char *signature, uint8_t out[32]);

/* ---- Encoder ------------------------------------------------------------ */

/*
 * Arguments are added in order; each static one fills a head word, each
 * dynamic one (string, bytes, arrays) a head offset and its tail. The adding
 * calls return nothing: the first failure is kept and reported by
 * abi_enc_finish, which must be called once for every abi_enc_begin.
 */
struct abi_enc {
	uint8_t selector[ABI_SELECTOR_LEN];
	bool has_selector;
	size_t nargs;
	uint8_t head[ABI_MAX_ARGS * ABI_WORD];
	uint32_t dynamic; /* bit i: head word i holds a tail offset */
	uint8_t *tail;
	size_t tail_len;
	size_t tail_cap;
	enum abi_status err;
};

/* Starts call data for selector, or a bare tuple (abi.encode) for NULL. */
void abi_enc_begin(struct abi_enc *e, const uint8_t *selector);
/* Any uintN from a 64-bit value. */
void abi_enc_uint(struct abi_enc *e, uint64_t v);
/* uint<bits> (8..256) from 32 big-endian bytes; ABI_ERR_RANGE if wider. */
void abi_enc_uint_n(struct abi_enc *e, unsigned bits, const uint8_t v[32]);
void abi_enc_uint256(struct abi_enc *e, const uint8_t v[32]);
void abi_enc_address(struct abi_enc *e, const uint8_t addr[20]);
void abi_enc_bool(struct abi_enc *e, bool v);
/* bytes<n> (n 1..32, ABI_ERR_RANGE otherwise), e.g. n = 2 for a country. */
void abi_enc_bytes_n(struct abi_enc *e, const uint8_t *data, size_t n);
void abi_enc_bytes32(struct abi_enc *e, const uint8_t v[32]);
/* Dynamic: the bytes as given (no UTF-8 check for strings). */
void abi_enc_string(struct abi_enc *e, const char *s, size_t len);
void abi_enc_bytes(struct abi_enc *e, const uint8_t *data, size_t len);
/* bytes2[] from count packed 2-byte items (codes[2 * count]). */
void abi_enc_bytes2_array(
    struct abi_enc *e, const uint8_t *codes, size_t count);
/* address[] from count packed 20-byte addresses. */
void abi_enc_address_array(
    struct abi_enc *e, const uint8_t *addrs, size_t count);
/*
 * Lays out selector, head and tail. ABI_OK with *out (malloc'd, the caller
 * frees it) and *len; otherwise the first error and *out = NULL. Either
 * way the encoder's memory is released.
 */
enum abi_status abi_enc_finish(
    struct abi_enc *e, uint8_t **out, size_t *len) ABI_WUR;

/* ---- Decoder ------------------------------------------------------------ */

/*
 * Reads a tuple (return data, log data, error arguments) value by value, in
 * the order of the types. Only the canonical layout Solidity and ethers
 * produce is accepted: every dynamic value's offset must point just past
 * the head (the first) or the previous dynamic value (the others), words
 * are fully checked (padding zero, values in range), and abi_dec_end
 * requires the data to end with the last value. Strings and bytes are
 * returned as pointers into the data; nothing is allocated.
 *
 * After the first failure every reader returns that error again and zeroes
 * its outputs. An indexed event argument is one word: read a topic with
 * abi_dec_init(topic, 32), the reader for its type, and abi_dec_end.
 */
struct abi_dec {
	const uint8_t *data;
	size_t len;
	size_t head; /* offset of the next head word */
	size_t tail_start; /* the first dynamic value's offset, or SIZE_MAX */
	size_t tail_end; /* the end of the last dynamic value read */
	enum abi_status err;
};

void abi_dec_init(struct abi_dec *d, const uint8_t *data, size_t len);
/* uint256 or narrower into a u64: ABI_ERR_RANGE if the value is wider. */
enum abi_status abi_dec_uint64(struct abi_dec *d, uint64_t *v) ABI_WUR;
/* uint<bits> (8..256) as 32 big-endian bytes; ABI_ERR_RANGE if wider. */
enum abi_status abi_dec_uint_n(
    struct abi_dec *d, unsigned bits, uint8_t out[32]) ABI_WUR;
enum abi_status abi_dec_uint256(struct abi_dec *d, uint8_t out[32]) ABI_WUR;
enum abi_status abi_dec_address(struct abi_dec *d, uint8_t out[20]) ABI_WUR;
enum abi_status abi_dec_bool(struct abi_dec *d, bool *v) ABI_WUR;
/* bytes<n> (n 1..32) into out[n]; the word's other bytes must be zero. */
enum abi_status abi_dec_bytes_n(
    struct abi_dec *d, uint8_t *out, size_t n) ABI_WUR;
enum abi_status abi_dec_bytes32(struct abi_dec *d, uint8_t out[32]) ABI_WUR;
/* A string or bytes value, pointing into the data (not NUL-terminated,
 * not checked to be UTF-8). */
enum abi_status abi_dec_string(
    struct abi_dec *d, const char **s, size_t *len) ABI_WUR;
enum abi_status abi_dec_bytes(
    struct abi_dec *d, const uint8_t **data, size_t *len) ABI_WUR;
/* bytes2[] into out[2 * cap] (packed); ABI_ERR_TOO_LONG above cap items. */
enum abi_status abi_dec_bytes2_array(
    struct abi_dec *d, uint8_t *out, size_t cap, size_t *count) ABI_WUR;
/* address[] into out[20 * cap] (packed); ABI_ERR_TOO_LONG above cap. */
enum abi_status abi_dec_address_array(
    struct abi_dec *d, uint8_t *out, size_t cap, size_t *count) ABI_WUR;
/* ABI_OK if the values read make up the whole data; else the first error,
 * ABI_ERR_OFFSET (a gap after the head) or ABI_ERR_TRAILING. */
enum abi_status abi_dec_end(const struct abi_dec *d) ABI_WUR;

/* ---- Revert data -------------------------------------------------------- */

/* Error(string), as require(cond, "reason") and revert("reason") raise. */
#define ABI_ERROR_SIGNATURE "Error(string)"
/* Panic(uint256), for asserts, overflows, division by zero... */
#define ABI_PANIC_SIGNATURE "Panic(uint256)"

enum abi_revert_kind {
	ABI_REVERT_EMPTY, /* no data: revert() or require without a reason */
	ABI_REVERT_ERROR, /* Error(string): message */
	ABI_REVERT_PANIC, /* Panic(uint256): panic_code */
	ABI_REVERT_CUSTOM, /* a custom error: selector and args */
};

struct abi_revert {
	enum abi_revert_kind kind;
	uint8_t selector[ABI_SELECTOR_LEN];
	const char *message; /* into the data; arbitrary bytes */
	size_t message_len;
	uint64_t panic_code;
	const uint8_t *args; /* the arguments after the selector */
	size_t args_len;
};

/*
 * Classifies revert data (the "data" of a JSON-RPC execution error).
 * Error(string) and Panic(uint256) are decoded strictly, as abi_dec does;
 * a custom error's arguments are left for abi_dec_init(args, args_len).
 * Returns ABI_OK, ABI_ERR_SELECTOR for 1 to 3 bytes, or a decode error.
 */
enum abi_status abi_decode_revert(
    const uint8_t *data, size_t len, struct abi_revert *out) ABI_WUR;
/* Whether r is the custom error with this signature, e.g. "NotOwner()". */
bool abi_revert_is(const struct abi_revert *r, const char *signature);

#endif
