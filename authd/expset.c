/*
 * Expiring set (see expset.h). Keys sit in a ring in insertion order, so
 * with one lifetime they also expire in ring order; an open-addressing
 * index with linear probing and backward-shift deletion finds them. Every
 * operation is O(1) amortised and nothing is allocated after creation.
 */
#include "expset.h"

#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY UINT32_MAX

struct expset_entry {
	uint8_t key[EXPSET_KEY_LEN];
	double expires;
	bool live; /* false once taken before it expired */
};

struct expset {
	struct expset_entry *ring;
	size_t capacity;
	size_t head; /* oldest entry */
	size_t count; /* entries in the ring, live or taken */
	uint32_t *index; /* ring positions, SLOT_EMPTY when free */
	size_t index_mask;
	double lifetime;
};

static size_t
expset_hash(const struct expset *set, const uint8_t *key)
{
	uint64_t h;

	/* Keys are digests or random nonces: their bytes are uniform. */
	memcpy(&h, key, sizeof(h));
	return (size_t)h & set->index_mask;
}

/* Index slot holding key, or of the empty slot where the probe ends. */
static size_t
expset_find(const struct expset *set, const uint8_t *key)
{
	size_t i;

	for (i = expset_hash(set, key);; i = (i + 1) & set->index_mask) {
		uint32_t pos = set->index[i];

		if (pos == SLOT_EMPTY ||
		    memcmp(set->ring[pos].key, key, EXPSET_KEY_LEN) == 0)
			return i;
	}
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void
expset_index_remove(struct expset *set, size_t hole)
{
	size_t i = hole;

	set->index[hole] = SLOT_EMPTY;
	for (;;) {
		size_t home;
		uint32_t pos;

		i = (i + 1) & set->index_mask;
		pos = set->index[i];
		if (pos == SLOT_EMPTY)
			return;
		home = expset_hash(set, set->ring[pos].key);
		/* Move the entry if the hole lies on its probe path. */
		if (((i - home) & set->index_mask) >=
		    ((i - hole) & set->index_mask)) {
			set->index[hole] = pos;
			set->index[i] = SLOT_EMPTY;
			hole = i;
		}
	}
}

static void
expset_expire(struct expset *set, double now)
{
	while (set->count > 0) {
		struct expset_entry *e = &set->ring[set->head];

		if (e->live && e->expires > now)
			return;
		if (e->live)
			expset_index_remove(set, expset_find(set, e->key));
		e->live = false;
		set->head = (set->head + 1) % set->capacity;
		set->count--;
	}
}

struct expset *
expset_new(size_t capacity, double lifetime)
{
	struct expset *set;
	size_t slots = 2;

	if (capacity == 0 || capacity >= SLOT_EMPTY / 2)
		return NULL;
	while (slots < capacity * 2)
		slots *= 2;
	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->ring = calloc(capacity, sizeof(*set->ring));
	set->index = malloc(slots * sizeof(*set->index));
	if (set->ring == NULL || set->index == NULL) {
		expset_free(set);
		return NULL;
	}
	memset(set->index, 0xff, slots * sizeof(*set->index));
	set->capacity = capacity;
	set->index_mask = slots - 1;
	set->lifetime = lifetime;
	return set;
}

void
expset_free(struct expset *set)
{
	if (set == NULL)
		return;
	free(set->ring);
	free(set->index);
	free(set);
}

enum expset_status
expset_add(struct expset *set, const uint8_t *key, double now)
{
	struct expset_entry *e;
	size_t slot, pos;

	expset_expire(set, now);
	slot = expset_find(set, key);
	if (set->index[slot] != SLOT_EMPTY)
		return EXPSET_PRESENT;
	/* Taken entries still occupy the ring until they reach the head. */
	if (set->count == set->capacity)
		return EXPSET_FULL;
	pos = (set->head + set->count) % set->capacity;
	e = &set->ring[pos];
	memcpy(e->key, key, EXPSET_KEY_LEN);
	e->expires = now + set->lifetime;
	e->live = true;
	set->index[slot] = (uint32_t)pos;
	set->count++;
	return EXPSET_ADDED;
}

bool
expset_contains(struct expset *set, const uint8_t *key, double now)
{
	expset_expire(set, now);
	return set->index[expset_find(set, key)] != SLOT_EMPTY;
}

bool
expset_take(struct expset *set, const uint8_t *key, double now)
{
	size_t slot;

	expset_expire(set, now);
	slot = expset_find(set, key);
	if (set->index[slot] == SLOT_EMPTY)
		return false;
	set->ring[set->index[slot]].live = false;
	expset_index_remove(set, slot);
	return true;
}

size_t
expset_count(struct expset *set, double now)
{
	size_t i, live = 0;

	expset_expire(set, now);
	for (i = 0; i < set->count; i++)
		if (set->ring[(set->head + i) % set->capacity].live)
			live++;
	return live;
}
