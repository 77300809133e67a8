/*
 * MQTT topic matching for authorisation: does an ACL entry (a topic name or
 * filter) match a concrete topic, does it cover a whole subscription
 * filter, and the `${address}` placeholder entries may contain.
 */
#ifndef FLYTRAP_TOPIC_H
#define FLYTRAP_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* The placeholder topic_expand_address() replaces. */
#define TOPIC_ADDRESS_PLACEHOLDER "${address}"

/*
 * True when `filter` matches the concrete topic `topic` (MQTT 4.7): '+'
 * matches exactly one level, '#' (last level only) any number of remaining
 * levels including none, so "a/#" matches "a" too; a wildcard in the first
 * level never matches a topic that starts with '$' [MQTT-4.7.2-1]. Levels
 * are compared byte for byte. An empty filter or topic, a filter that
 * breaks the wildcard rules ("a+", "#/a"), or a topic containing '+' or
 * '#' matches nothing.
 */
bool topic_matches(
    const char *filter, size_t flen, const char *topic, size_t tlen);

/*
 * True when the entry covers the subscription filter: every topic that
 * `filter` matches is also matched by `entry`. Examples: "sensors/+/temp"
 * covers "sensors/a/temp" and "sensors/+/temp" but not "sensors/#"; "a/#"
 * covers "a/+/b" and "a"; "#" covers every filter that cannot match a
 * '$' topic. For a filter without wildcards this is topic_matches(). An
 * invalid entry or filter covers / is covered by nothing. Pass shared
 * subscriptions through topic_strip_share() first.
 */
bool topic_covers(
    const char *entry, size_t elen, const char *filter, size_t flen);

/*
 * A shared subscription "$share/{name}/{filter}" is judged by its inner
 * filter: when (*filter, *flen) has that form with a non-empty name and
 * a non-empty inner filter, moves the view to the inner filter and returns
 * true; otherwise leaves it alone and returns false.
 */
bool topic_strip_share(const char **filter, size_t *flen);

/*
 * Writes `entry` into (out, cap) with every literal "${address}" replaced
 * by `address_hex` (the 0x-prefixed lowercase address, NUL-terminated),
 * and NUL-terminates it when cap > 0. Returns the length of the whole
 * expansion without the NUL, like snprintf: the output is complete only
 * when the result is below cap.
 */
size_t topic_expand_address(const char *entry, size_t elen,
    const char *address_hex, char *out, size_t cap);

#endif
