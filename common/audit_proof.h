/*
 * The proof that an access record is in a period's summary, as a JSON
 * document: reportd writes it (`flytrapctl audit prove`), flytrapctl
 * reads it back (`flytrapctl audit verify`). Format: docs/AUDIT.md.
 */
#ifndef FLYTRAP_AUDIT_PROOF_H
#define FLYTRAP_AUDIT_PROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit.h"

/* The "format" member of every proof document. */
#define AUDIT_PROOF_FORMAT "flytrap-access-proof-1"

struct audit_proof {
	uint64_t id; /* reportd's record id */
	char address[ACCESS_ADDRESS_LEN + 1];
	char *topic; /* malloc'd, NUL-terminated; also the summary's name */
	size_t topic_len;
	unsigned action;
	uint64_t first_ms, last_ms, count, bytes;
	uint64_t period_start, period_end; /* Unix seconds, [start, end) */
	uint64_t leaves; /* records the summary's tree holds */
	uint8_t leaf[AUDIT_HASH_LEN];
	uint8_t path[AUDIT_PATH_MAX][AUDIT_HASH_LEN];
	size_t path_len;
	uint8_t root[AUDIT_HASH_LEN];
	uint64_t tx; /* chaind's transaction id; 0 not submitted yet */
};

/* The record the proof is about (pointing into p). */
void audit_proof_record(const struct audit_proof *p, struct access_record *r);

/* The document (a new reference), or NULL when out of memory. */
json_t *audit_proof_to_json(const struct audit_proof *p);

/*
 * Reads a document into p (free it with audit_proof_free either way).
 * Checks shapes only (every member present, of its type and range, the
 * record valid); whether the proof holds is for the caller to compute.
 * Returns false with a message in err.
 */
bool audit_proof_from_json(const json_t *doc, struct audit_proof *p, char *err,
    size_t errlen) __attribute__((warn_unused_result));

void audit_proof_free(struct audit_proof *p);

#endif
