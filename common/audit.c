/*
 * Access records and the Merkle tree over a period's records of one topic
 * (docs/AUDIT.md, "The Merkle root"): canonical text, leaves, nodes, roots
 * and sibling paths, the same for reportd, which builds them, and
 * flytrapctl, which checks them.
 */
#include "audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keccak.h"
#include "mqtt.h"

/* Domain tags: a leaf can never be taken for a node. */
#define AUDIT_LEAF_TAG 0x00
#define AUDIT_NODE_TAG 0x01

const char *
access_action_name(unsigned action)
{
	switch (action) {
	case ACCESS_PUBLISH:
		return "publish";
	case ACCESS_SUBSCRIBE:
		return "subscribe";
	case ACCESS_DELIVERY:
		return "delivery";
	}
	return "?";
}

static bool
access_address_valid(const char *a)
{
	size_t i;

	if (a == NULL || a[0] != '0' || a[1] != 'x')
		return false;
	for (i = 2; i < ACCESS_ADDRESS_LEN; i++)
		if (!((a[i] >= '0' && a[i] <= '9') ||
			(a[i] >= 'a' && a[i] <= 'f')))
			return false;
	return true;
}

bool
access_record_valid(const struct access_record *r, const char **why)
{
	const char *bad = NULL;

	if (!access_address_valid(r->address))
		bad = "address";
	else if (r->topic_len == 0 || r->topic_len > ACCESS_TOPIC_MAX ||
	    !mqtt_utf8_valid((const uint8_t *)r->topic, r->topic_len))
		bad = "topic";
	else if (r->action < ACCESS_PUBLISH || r->action > ACCESS_DELIVERY)
		bad = "action";
	else if (r->first_ms > r->last_ms)
		bad = "first_ms after last_ms";
	else if (r->count == 0)
		bad = "count";
	else if (r->action == ACCESS_SUBSCRIBE && r->bytes != 0)
		bad = "bytes of a SUBSCRIBE";
	if (why != NULL)
		*why = bad;
	return bad == NULL;
}

/* "|action|first_ms|last_ms|count|bytes", the text after the topic. */
static size_t
audit_record_tail(const struct access_record *r, char *out, size_t cap)
{
	int n = snprintf(out, cap,
	    "|%u|%" PRIu64 "|%" PRIu64 "|%" PRIu64 "|%" PRIu64, r->action,
	    r->first_ms, r->last_ms, r->count, r->bytes);

	return n < 0 ? 0 : (size_t)n;
}

size_t
audit_record_text(const struct access_record *r, char *out, size_t cap)
{
	char tail[128];
	size_t tail_len = audit_record_tail(r, tail, sizeof(tail));
	size_t len = ACCESS_ADDRESS_LEN + 1 + r->topic_len + tail_len;

	if (cap > len) {
		memcpy(out, r->address, ACCESS_ADDRESS_LEN);
		out[ACCESS_ADDRESS_LEN] = '|';
		memcpy(out + ACCESS_ADDRESS_LEN + 1, r->topic, r->topic_len);
		memcpy(out + ACCESS_ADDRESS_LEN + 1 + r->topic_len, tail,
		    tail_len + 1);
	} else if (cap > 0) {
		out[0] = '\0';
	}
	return len;
}

void
audit_leaf(const struct access_record *r, uint8_t out[AUDIT_HASH_LEN])
{
	struct keccak256_ctx ctx;
	const uint8_t tag = AUDIT_LEAF_TAG;
	char tail[128];
	size_t tail_len = audit_record_tail(r, tail, sizeof(tail));

	keccak256_init(&ctx);
	keccak256_update(&ctx, &tag, 1);
	keccak256_update(&ctx, r->address, ACCESS_ADDRESS_LEN);
	keccak256_update(&ctx, "|", 1);
	keccak256_update(&ctx, r->topic, r->topic_len);
	keccak256_update(&ctx, tail, tail_len);
	keccak256_final(&ctx, out);
}

void
audit_node(const uint8_t a[AUDIT_HASH_LEN], const uint8_t b[AUDIT_HASH_LEN],
    uint8_t out[AUDIT_HASH_LEN])
{
	uint8_t buf[1 + 2 * AUDIT_HASH_LEN];
	bool a_first = memcmp(a, b, AUDIT_HASH_LEN) <= 0;

	buf[0] = AUDIT_NODE_TAG;
	memcpy(buf + 1, a_first ? a : b, AUDIT_HASH_LEN);
	memcpy(buf + 1 + AUDIT_HASH_LEN, a_first ? b : a, AUDIT_HASH_LEN);
	keccak256(buf, sizeof(buf), out);
}

static int
audit_hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, AUDIT_HASH_LEN);
}

void
audit_merkle_sort(uint8_t (*leaves)[AUDIT_HASH_LEN], size_t n)
{
	if (n > 1)
		qsort(leaves, n, AUDIT_HASH_LEN, audit_hash_cmp);
}

/*
 * Replaces the n nodes of a level by the level above and returns its
 * size. Node j of the new level depends on nodes 2j and 2j + 1 only, so
 * the new level can be written over the old one from the left.
 */
static size_t
audit_level_up(uint8_t (*level)[AUDIT_HASH_LEN], size_t n)
{
	size_t j;

	for (j = 0; j < n / 2; j++)
		audit_node(level[2 * j], level[2 * j + 1], level[j]);
	if (n % 2 != 0)
		memmove(level[n / 2], level[n - 1], AUDIT_HASH_LEN);
	return (n + 1) / 2;
}

void
audit_merkle_root(
    uint8_t (*level)[AUDIT_HASH_LEN], size_t n, uint8_t root[AUDIT_HASH_LEN])
{
	while (n > 1)
		n = audit_level_up(level, n);
	memcpy(root, level[0], AUDIT_HASH_LEN);
}

size_t
audit_merkle_proof(uint8_t (*level)[AUDIT_HASH_LEN], size_t n, size_t index,
    uint8_t (*path)[AUDIT_HASH_LEN], uint8_t root[AUDIT_HASH_LEN])
{
	size_t len = 0, sibling;

	while (n > 1) {
		sibling = index ^ 1;
		if (sibling < n)
			memcpy(path[len++], level[sibling], AUDIT_HASH_LEN);
		n = audit_level_up(level, n);
		index /= 2;
	}
	memcpy(root, level[0], AUDIT_HASH_LEN);
	return len;
}

void
audit_merkle_fold(const uint8_t leaf[AUDIT_HASH_LEN],
    const uint8_t (*path)[AUDIT_HASH_LEN], size_t n,
    uint8_t root[AUDIT_HASH_LEN])
{
	uint8_t h[AUDIT_HASH_LEN];
	size_t i;

	memcpy(h, leaf, AUDIT_HASH_LEN);
	for (i = 0; i < n; i++)
		audit_node(h, path[i], h);
	memcpy(root, h, AUDIT_HASH_LEN);
}
