/*
 * Test vectors printed by the repository's node scripts (tests/tools/
 * tx-vectors.js, eth-vectors.js), and the 0x-hex decoding the tests use on
 * their fields.
 *
 * A script prints one vector per line, fields separated by one space
 * (fields[0] is the tag), then "end <number of lines before this one>".
 */
#ifndef FLYTRAP_TEST_VECTORS_H
#define FLYTRAP_TEST_VECTORS_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"
#include "test_root.h"

#define TEST_VECTOR_MAX_FIELDS 16

struct test_vector {
	char *fields[TEST_VECTOR_MAX_FIELDS]; /* fields[0] is the tag */
	int nfields;
};

struct test_vectors {
	struct test_vector *items;
	size_t count;
};

/*
 * Runs `node <root>/<script> [mode]` (script relative to the checkout, mode
 * NULL for none) and appends its vectors to tv. Fails (-1, with a message)
 * unless the script exits 0 after its "end" line, the count matches, and at
 * least min_count vectors carry the tag `tag` (any tag when NULL): missing
 * node or ethers fails the test rather than skipping it.
 */
static inline int
test_vectors_load(struct test_vectors *tv, const char *script, const char *mode,
    const char *tag, size_t min_count)
{
	char root[PATH_MAX], cmd[2 * PATH_MAX + 64];
	char *line = NULL, *save, *tok;
	size_t cap = 0, alloc = tv->count, end_count = 0, tagged = 0;
	bool ended = false;
	FILE *f;
	int status;

	test_find_repo_root(script, root, sizeof(root));
	if (strchr(root, '\'') != NULL || strchr(script, '\'') != NULL) {
		fprintf(stderr, "repository path has a quote: %s/%s\n", root,
		    script);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "node '%s/%s'%s%s", root, script,
	    mode != NULL ? " " : "", mode != NULL ? mode : "");
	if ((f = popen(cmd, "r")) == NULL) {
		perror("popen");
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		struct test_vector *v;
		if (sscanf(line, "end %zu", &end_count) == 1) {
			ended = true;
			break;
		}
		if (tv->count == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			tv->items =
			    realloc(tv->items, alloc * sizeof(*tv->items));
			if (tv->items == NULL)
				abort();
		}
		v = &tv->items[tv->count++];
		memset(v, 0, sizeof(*v));
		for (tok = strtok_r(line, " \n", &save);
		     tok != NULL && v->nfields < TEST_VECTOR_MAX_FIELDS;
		     tok = strtok_r(NULL, " \n", &save))
			v->fields[v->nfields++] = strdup(tok);
		if (tag == NULL ||
		    (v->nfields > 0 && strcmp(v->fields[0], tag) == 0))
			tagged++;
	}
	free(line);
	status = pclose(f);
	if (status != 0 || !ended || end_count != tv->count ||
	    tagged < min_count) {
		fprintf(stderr,
		    "%s failed (status %d, %zu %s%svectors); node and ethers "
		    "(npm ci) are needed\n",
		    cmd, status, tagged, tag != NULL ? tag : "",
		    tag != NULL ? " " : "");
		return -1;
	}
	return 0;
}

static inline void
test_vectors_free(struct test_vectors *tv)
{
	for (size_t i = 0; i < tv->count; i++)
		for (int j = 0; j < tv->items[i].nfields; j++)
			free(tv->items[i].fields[j]);
	free(tv->items);
	tv->items = NULL;
	tv->count = 0;
}

/*
 * Decodes 0x-hex of n characters into a fresh buffer with one spare byte,
 * set to NUL (so text fields can be used as strings); sets *len.
 */
static inline uint8_t *
test_decode_hex_n(const char *hex, size_t n, size_t *len)
{
	uint8_t *out;

	assert_true(n >= 2 && n % 2 == 0);
	out = malloc((n - 2) / 2 + 1);
	assert_non_null(out);
	assert_true(hex_decode_exact(hex, n, out, (n - 2) / 2));
	*len = (n - 2) / 2;
	out[*len] = '\0';
	return out;
}

static inline uint8_t *
test_decode_hex(const char *hex, size_t *len)
{
	return test_decode_hex_n(hex, strlen(hex), len);
}

/* Decodes hex (0x optional) of exactly len bytes into out. */
static inline void
test_decode_fixed(const char *hex, uint8_t *out, size_t len)
{
	assert_true(hex_decode_exact(hex, strlen(hex), out, len));
}

#endif
