/*
 * Proof documents (see audit_proof.h): one writer for reportd, one strict
 * reader for flytrapctl, so the two cannot drift apart.
 */
#include "audit_proof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

void
audit_proof_record(const struct audit_proof *p, struct access_record *r)
{
	r->address = p->address;
	r->topic = p->topic;
	r->topic_len = p->topic_len;
	r->action = p->action;
	r->first_ms = p->first_ms;
	r->last_ms = p->last_ms;
	r->count = p->count;
	r->bytes = p->bytes;
}

static json_t *
hash_json(const uint8_t h[AUDIT_HASH_LEN])
{
	char text[2 + 2 * AUDIT_HASH_LEN + 1];

	text[0] = '0';
	text[1] = 'x';
	hex_encode(h, AUDIT_HASH_LEN, text + 2);
	return json_string(text);
}

json_t *
audit_proof_to_json(const struct audit_proof *p)
{
	struct access_record r;
	json_t *doc, *path;
	size_t len, i;
	char *text;

	audit_proof_record(p, &r);
	len = audit_record_text(&r, NULL, 0);
	if ((text = malloc(len + 1)) == NULL)
		return NULL;
	audit_record_text(&r, text, len + 1);
	path = json_array();
	for (i = 0; path != NULL && i < p->path_len; i++)
		if (json_array_append_new(path, hash_json(p->path[i])) != 0) {
			json_decref(path);
			path = NULL;
		}
	doc = json_pack("{s:s, s:{s:I, s:s, s:s%, s:i, s:s, s:I, s:I, s:I, "
			"s:I}, s:s%, s:o, s:o?, s:o, s:I, s:I, s:I, s:I}",
	    "format", AUDIT_PROOF_FORMAT, "record", "id", (json_int_t)p->id,
	    "address", p->address, "topic", p->topic, p->topic_len, "action",
	    (int)p->action, "action_name", access_action_name(p->action),
	    "first_ms", (json_int_t)p->first_ms, "last_ms",
	    (json_int_t)p->last_ms, "count", (json_int_t)p->count, "bytes",
	    (json_int_t)p->bytes, "text", text, len, "leaf", hash_json(p->leaf),
	    "path", path, "root", hash_json(p->root), "period_start",
	    (json_int_t)p->period_start, "period_end",
	    (json_int_t)p->period_end, "leaves", (json_int_t)p->leaves, "tx",
	    (json_int_t)p->tx);
	free(text);
	return doc;
}

/* ---- Reading ------------------------------------------------------------ */

static bool
get_u64(const json_t *o, const char *key, uint64_t *v, char *err, size_t errlen)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		snprintf(
		    err, errlen, "'%s' is not a non-negative integer", key);
		return false;
	}
	*v = (uint64_t)json_integer_value(j);
	return true;
}

static bool
get_hash(const json_t *o, const char *key, uint8_t out[AUDIT_HASH_LEN],
    char *err, size_t errlen)
{
	const json_t *j = json_object_get(o, key);

	if (json_is_string(j) &&
	    json_string_length(j) == 2 + 2 * AUDIT_HASH_LEN &&
	    hex_decode_exact(json_string_value(j), json_string_length(j), out,
		AUDIT_HASH_LEN))
		return true;
	snprintf(err, errlen, "'%s' is not a 32-byte 0x-hex hash", key);
	return false;
}

bool
audit_proof_from_json(
    const json_t *doc, struct audit_proof *p, char *err, size_t errlen)
{
	const json_t *rec, *j, *path;
	struct access_record r;
	const char *why;
	uint64_t action;
	size_t i;

	memset(p, 0, sizeof(*p));
	j = json_object_get(doc, "format");
	if (!json_is_string(j) ||
	    strcmp(json_string_value(j), AUDIT_PROOF_FORMAT) != 0) {
		snprintf(err, errlen,
		    "not a FlyTrap access proof ('format' "
		    "is not \"" AUDIT_PROOF_FORMAT "\")");
		return false;
	}
	rec = json_object_get(doc, "record");
	if (!json_is_object(rec)) {
		snprintf(err, errlen, "'record' is not an object");
		return false;
	}
	if (!get_u64(rec, "id", &p->id, err, errlen) ||
	    !get_u64(rec, "action", &action, err, errlen) ||
	    !get_u64(rec, "first_ms", &p->first_ms, err, errlen) ||
	    !get_u64(rec, "last_ms", &p->last_ms, err, errlen) ||
	    !get_u64(rec, "count", &p->count, err, errlen) ||
	    !get_u64(rec, "bytes", &p->bytes, err, errlen))
		return false;
	p->action = action > 255 ? 0 : (unsigned)action;
	j = json_object_get(rec, "address");
	if (!json_is_string(j) || json_string_length(j) != ACCESS_ADDRESS_LEN) {
		snprintf(err, errlen, "'address' is not a 0x address");
		return false;
	}
	memcpy(p->address, json_string_value(j), ACCESS_ADDRESS_LEN + 1);
	j = json_object_get(rec, "topic");
	if (!json_is_string(j)) {
		snprintf(err, errlen, "'topic' is not a string");
		return false;
	}
	p->topic_len = json_string_length(j);
	if ((p->topic = malloc(p->topic_len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	memcpy(p->topic, json_string_value(j), p->topic_len + 1);
	audit_proof_record(p, &r);
	if (!access_record_valid(&r, &why)) {
		snprintf(err, errlen, "the record's %s is not valid", why);
		return false;
	}
	if (!get_hash(doc, "leaf", p->leaf, err, errlen) ||
	    !get_hash(doc, "root", p->root, err, errlen) ||
	    !get_u64(doc, "period_start", &p->period_start, err, errlen) ||
	    !get_u64(doc, "period_end", &p->period_end, err, errlen) ||
	    !get_u64(doc, "leaves", &p->leaves, err, errlen) ||
	    !get_u64(doc, "tx", &p->tx, err, errlen))
		return false;
	path = json_object_get(doc, "path");
	if (!json_is_array(path) || json_array_size(path) > AUDIT_PATH_MAX) {
		snprintf(err, errlen,
		    "'path' is not an array of at most %d hashes",
		    AUDIT_PATH_MAX);
		return false;
	}
	for (i = 0; i < json_array_size(path); i++) {
		const json_t *h = json_array_get(path, i);

		if (!json_is_string(h) ||
		    json_string_length(h) != 2 + 2 * AUDIT_HASH_LEN ||
		    !hex_decode_exact(json_string_value(h),
			json_string_length(h), p->path[i], AUDIT_HASH_LEN)) {
			snprintf(err, errlen,
			    "'path' item %zu is not a 32-byte 0x-hex hash", i);
			return false;
		}
	}
	p->path_len = i;
	return true;
}

void
audit_proof_free(struct audit_proof *p)
{
	free(p->topic);
	p->topic = NULL;
}
