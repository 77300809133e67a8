/*
 * Access records of sensitive topics and the Merkle tree over them, as
 * proxyd, reportd and flytrapctl share them (docs/AUDIT.md).
 */
#ifndef FLYTRAP_AUDIT_H
#define FLYTRAP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum access_action {
	ACCESS_PUBLISH = 1, /* a PUBLISH the client sent, allowed */
	ACCESS_SUBSCRIBE = 2, /* a SUBSCRIBE filter, allowed */
	ACCESS_DELIVERY = 3, /* a PUBLISH delivered to the client */
};

/* The most records one IPC_ACCESS_BATCH carries. */
#define ACCESS_BATCH_MAX 1000
/* The longest topic a record names (an MQTT string). */
#define ACCESS_TOPIC_MAX 65535
/* "0x" + 40 lowercase hex digits, without the NUL. */
#define ACCESS_ADDRESS_LEN 42

/* Hashes of the tree: leaves, nodes and the root. */
#define AUDIT_HASH_LEN 32
/* The deepest a tree of 2^64 leaves gets: the longest sibling path. */
#define AUDIT_PATH_MAX 64

/* One record as docs/AUDIT.md defines it; strings are not NUL-terminated. */
struct access_record {
	const char *address; /* ACCESS_ADDRESS_LEN bytes */
	const char *topic;
	size_t topic_len;
	unsigned action; /* enum access_action */
	uint64_t first_ms; /* Unix milliseconds */
	uint64_t last_ms;
	uint64_t count; /* accesses covered, >= 1 */
	uint64_t bytes; /* payload bytes covered, 0 for SUBSCRIBE */
};

/* "publish", "subscribe", "delivery", or "?" for anything else. */
const char *access_action_name(unsigned action);

/*
 * Whether r is a record reportd may keep: a lowercase 0x address, a topic
 * of 1 to ACCESS_TOPIC_MAX bytes of UTF-8 without U+0000, a known action,
 * first_ms <= last_ms, count >= 1, and no bytes for a SUBSCRIBE. When not,
 * *why (if given) names the first field at fault.
 */
bool access_record_valid(const struct access_record *r, const char **why);

/*
 * The canonical text "address|topic|action|first_ms|last_ms|count|bytes"
 * (decimal numbers, no spaces). Writes at most cap bytes, NUL included,
 * and returns the text's length, as snprintf does: the text is whole only
 * when the return is below cap.
 */
size_t audit_record_text(const struct access_record *r, char *out, size_t cap);

/* leaf = keccak256(0x00 || canonical text). */
void audit_leaf(const struct access_record *r, uint8_t out[AUDIT_HASH_LEN]);

/* node = keccak256(0x01 || min(a, b) || max(a, b)), bytewise order. */
void audit_node(const uint8_t a[AUDIT_HASH_LEN],
    const uint8_t b[AUDIT_HASH_LEN], uint8_t out[AUDIT_HASH_LEN]);

/* Puts leaves in the tree's order: ascending, bytewise. */
void audit_merkle_sort(uint8_t (*leaves)[AUDIT_HASH_LEN], size_t n);

/*
 * The root of n >= 1 sorted leaves. Each level pairs neighbours; an odd
 * node at the end of a level goes up unchanged; one leaf is its own root.
 * `level` is overwritten (it is the working space).
 */
void audit_merkle_root(
    uint8_t (*level)[AUDIT_HASH_LEN], size_t n, uint8_t root[AUDIT_HASH_LEN]);

/*
 * The siblings of leaf `index` from the bottom up, into path (room for
 * AUDIT_PATH_MAX), and the root. Returns how many siblings there are
 * (levels where the node went up alone have none). `level` (n >= 1
 * sorted leaves, index < n) is overwritten.
 */
size_t audit_merkle_proof(uint8_t (*level)[AUDIT_HASH_LEN], size_t n,
    size_t index, uint8_t (*path)[AUDIT_HASH_LEN],
    uint8_t root[AUDIT_HASH_LEN]);

/* The root a leaf and its sibling path lead to. */
void audit_merkle_fold(const uint8_t leaf[AUDIT_HASH_LEN],
    const uint8_t (*path)[AUDIT_HASH_LEN], size_t n,
    uint8_t root[AUDIT_HASH_LEN]);

#endif
