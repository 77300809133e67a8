/*
 * An expiring set: 32-byte keys remembered for a fixed lifetime, with a hard
 * bound on how many can be live at once. authd keeps used signatures (the
 * replay cache) and outstanding challenge nonces in it.
 */
#ifndef FLYTRAP_EXPSET_H
#define FLYTRAP_EXPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXPSET_KEY_LEN 32

struct expset;

enum expset_status {
	EXPSET_ADDED = 0,
	EXPSET_PRESENT, /* the key is already live */
	EXPSET_FULL, /* capacity live keys: refuse rather than forget */
};

/* A set for at most `capacity` live keys; NULL if out of memory. */
struct expset *expset_new(size_t capacity, double lifetime);
void expset_free(struct expset *set);

/* Adds key at time `now` unless it is live already or the set is full. */
enum expset_status expset_add(struct expset *set, const uint8_t *key,
    double now) __attribute__((warn_unused_result));
/* Whether key is live. */
bool expset_contains(struct expset *set, const uint8_t *key, double now);
/* Removes a live key; returns whether it was live. */
bool expset_take(struct expset *set, const uint8_t *key, double now);
/* Live keys after expiring the old ones. */
size_t expset_count(struct expset *set, double now);

#endif
