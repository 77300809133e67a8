/*
 * Access records and their Merkle tree (common/audit.c): canonical text,
 * leaves, roots and sibling paths against ethers' keccak256 and a tree
 * written independently in tests/tools/merkle-vectors.js, against a
 * naive tree here for every size up to a few hundred leaves, and proof
 * documents (common/audit_proof.c) read back as written.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "audit_proof.h"
#include "hex.h"
#include "keccak.h"
#include "test_vectors.h"

typedef uint8_t hash_t[AUDIT_HASH_LEN];

/* ---- Vectors from ethers ----------------------------------------------- */

#define MAX_RECORDS 64

struct record_vector {
	char address[ACCESS_ADDRESS_LEN + 1];
	uint8_t *topic;
	size_t topic_len;
	struct access_record rec;
	uint8_t *text;
	size_t text_len;
	hash_t leaf;
};

static struct test_vectors lines;
static struct record_vector records[MAX_RECORDS];
static size_t nrecords;

static uint64_t
parse_u64(const char *s)
{
	unsigned long long v;

	assert_int_equal(sscanf(s, "%llu", &v), 1);
	return (uint64_t)v;
}

static int
load_vectors(void **state)
{
	(void)state;
	if (test_vectors_load(&lines, "tests/tools/merkle-vectors.js", NULL,
		"record", 8) != 0)
		return -1;
	for (size_t i = 0; i < lines.count; i++) {
		const struct test_vector *v = &lines.items[i];
		struct record_vector *r;

		if (strcmp(v->fields[0], "record") != 0)
			continue;
		if (v->nfields != 10 || nrecords == MAX_RECORDS)
			return -1;
		r = &records[nrecords++];
		snprintf(r->address, sizeof(r->address), "%s", v->fields[1]);
		r->topic = test_decode_hex(v->fields[2], &r->topic_len);
		r->rec.address = r->address;
		r->rec.topic = (const char *)r->topic;
		r->rec.topic_len = r->topic_len;
		r->rec.action = (unsigned)parse_u64(v->fields[3]);
		r->rec.first_ms = parse_u64(v->fields[4]);
		r->rec.last_ms = parse_u64(v->fields[5]);
		r->rec.count = parse_u64(v->fields[6]);
		r->rec.bytes = parse_u64(v->fields[7]);
		r->text = test_decode_hex(v->fields[8], &r->text_len);
		test_decode_fixed(v->fields[9], r->leaf, AUDIT_HASH_LEN);
	}
	return 0;
}

static int
free_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < nrecords; i++) {
		free(records[i].topic);
		free(records[i].text);
	}
	test_vectors_free(&lines);
	return 0;
}

/* The sorted leaves of the first n records, in a fresh array. */
static hash_t *
sorted_leaves(size_t n)
{
	hash_t *leaves = malloc(n * sizeof(hash_t));

	assert_non_null(leaves);
	for (size_t i = 0; i < n; i++)
		memcpy(leaves[i], records[i].leaf, AUDIT_HASH_LEN);
	audit_merkle_sort(leaves, n);
	return leaves;
}

static void
test_record_text_and_leaf(void **state)
{
	char text[1024];
	hash_t leaf;

	(void)state;
	assert_true(nrecords >= 8);
	for (size_t i = 0; i < nrecords; i++) {
		const struct record_vector *r = &records[i];
		size_t len;

		assert_true(access_record_valid(&r->rec, NULL));
		len = audit_record_text(&r->rec, text, sizeof(text));
		assert_int_equal(len, r->text_len);
		assert_memory_equal(text, r->text, len);
		assert_int_equal(text[len], '\0');
		audit_leaf(&r->rec, leaf);
		assert_memory_equal(leaf, r->leaf, AUDIT_HASH_LEN);
	}
	/* Too small a buffer: the length all the same, an empty string. */
	assert_int_equal(
	    audit_record_text(&records[0].rec, text, 5), records[0].text_len);
	assert_int_equal(text[0], '\0');
}

static void
test_roots(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < lines.count; i++) {
		const struct test_vector *v = &lines.items[i];
		hash_t want, got, *leaves;
		size_t n;

		if (strcmp(v->fields[0], "root") != 0)
			continue;
		n = (size_t)parse_u64(v->fields[1]);
		assert_true(n >= 1 && n <= nrecords);
		test_decode_fixed(v->fields[2], want, AUDIT_HASH_LEN);
		leaves = sorted_leaves(n);
		audit_merkle_root(leaves, n, got);
		assert_memory_equal(got, want, AUDIT_HASH_LEN);
		free(leaves);
		checked++;
	}
	assert_int_equal(checked, nrecords);
}

static void
test_proofs(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < lines.count; i++) {
		const struct test_vector *v = &lines.items[i];
		hash_t want_root, root, folded, *leaves, *work;
		hash_t path[AUDIT_PATH_MAX], sib;
		size_t n, index, len;

		if (strcmp(v->fields[0], "proof") != 0)
			continue;
		n = (size_t)parse_u64(v->fields[1]);
		index = (size_t)parse_u64(v->fields[2]);
		test_decode_fixed(v->fields[3], want_root, AUDIT_HASH_LEN);
		leaves = sorted_leaves(n);
		work = sorted_leaves(n);
		len = audit_merkle_proof(work, n, index, path, root);
		assert_memory_equal(root, want_root, AUDIT_HASH_LEN);
		assert_int_equal(len, (size_t)(v->nfields - 4));
		for (size_t j = 0; j < len; j++) {
			test_decode_fixed(
			    v->fields[4 + j], sib, AUDIT_HASH_LEN);
			assert_memory_equal(path[j], sib, AUDIT_HASH_LEN);
		}
		audit_merkle_fold(
		    leaves[index], (const hash_t *)path, len, folded);
		assert_memory_equal(folded, want_root, AUDIT_HASH_LEN);
		free(leaves);
		free(work);
		checked++;
	}
	assert_true(checked >= 50);
}

/* ---- A naive tree, level by level in fresh arrays ------------------------ */

static void
naive_node(const uint8_t *a, const uint8_t *b, uint8_t *out)
{
	uint8_t buf[65];

	buf[0] = 1;
	if (memcmp(a, b, 32) > 0) {
		const uint8_t *t = a;
		a = b;
		b = t;
	}
	memcpy(buf + 1, a, 32);
	memcpy(buf + 33, b, 32);
	keccak256(buf, sizeof(buf), out);
}

/* Root of n sorted leaves, and the path of leaf `want` into path/plen. */
static void
naive_tree(const hash_t *leaves, size_t n, size_t want, hash_t root,
    hash_t *path, size_t *plen)
{
	hash_t *cur = malloc(n * sizeof(hash_t)), *next;
	size_t m = n, idx = want;

	assert_non_null(cur);
	memcpy(cur, leaves, n * sizeof(hash_t));
	*plen = 0;
	while (m > 1) {
		size_t k = 0;

		next = malloc(((m + 1) / 2) * sizeof(hash_t));
		assert_non_null(next);
		if ((idx ^ 1) < m)
			memcpy(path[(*plen)++], cur[idx ^ 1], 32);
		for (size_t i = 0; i < m; i += 2, k++) {
			if (i + 1 < m)
				naive_node(cur[i], cur[i + 1], next[k]);
			else
				memcpy(next[k], cur[i], 32);
		}
		free(cur);
		cur = next;
		m = k;
		idx /= 2;
	}
	memcpy(root, cur[0], 32);
	free(cur);
}

static void
test_against_naive_tree(void **state)
{
	hash_t *leaves, *work, root, naive_root, folded;
	hash_t path[AUDIT_PATH_MAX], npath[AUDIT_PATH_MAX];
	size_t n, i, len, nlen;
	uint8_t seed[8];

	(void)state;
	for (n = 1; n <= 300; n++) {
		leaves = malloc(n * sizeof(hash_t));
		work = malloc(n * sizeof(hash_t));
		assert_non_null(leaves);
		assert_non_null(work);
		for (i = 0; i < n; i++) {
			memcpy(seed, &i, sizeof(seed));
			seed[7] = (uint8_t)n;
			keccak256(seed, sizeof(seed), leaves[i]);
		}
		/* Duplicates are leaves like any other. */
		if (n > 3)
			memcpy(leaves[n - 1], leaves[0], 32);
		audit_merkle_sort(leaves, n);
		for (i = 0; i < n; i += (n > 40 ? 7 : 1)) {
			memcpy(work, leaves, n * sizeof(hash_t));
			len = audit_merkle_proof(work, n, i, path, root);
			naive_tree(leaves, n, i, naive_root, npath, &nlen);
			assert_memory_equal(root, naive_root, 32);
			assert_int_equal(len, nlen);
			assert_memory_equal(path, npath, len * 32);
			audit_merkle_fold(
			    leaves[i], (const hash_t *)path, len, folded);
			assert_memory_equal(folded, root, 32);
		}
		memcpy(work, leaves, n * sizeof(hash_t));
		audit_merkle_root(work, n, folded);
		assert_memory_equal(folded, root, 32);
		free(leaves);
		free(work);
	}
}

/* An altered record, or a leaf of another tree, does not reach the root. */
static void
test_tampering_fails(void **state)
{
	hash_t *leaves = sorted_leaves(13), *work = sorted_leaves(13);
	hash_t path[AUDIT_PATH_MAX], root, folded, leaf;
	struct access_record r = records[3].rec;
	size_t index, len;

	(void)state;
	audit_leaf(&r, leaf);
	for (index = 0; index < 13; index++)
		if (memcmp(leaves[index], leaf, 32) == 0)
			break;
	assert_true(index < 13);
	len = audit_merkle_proof(work, 13, index, path, root);
	audit_merkle_fold(leaf, (const hash_t *)path, len, folded);
	assert_memory_equal(folded, root, 32);
	r.count++;
	audit_leaf(&r, leaf);
	audit_merkle_fold(leaf, (const hash_t *)path, len, folded);
	assert_memory_not_equal(folded, root, 32);
	/* A record of the period not in this tree. */
	audit_merkle_fold(records[20].leaf, (const hash_t *)path, len, folded);
	assert_memory_not_equal(folded, root, 32);
	/* A node can never pass for a leaf: the tags differ. */
	audit_node(leaves[0], leaves[1], leaf);
	assert_memory_not_equal(leaf, leaves[0], 32);
	free(leaves);
	free(work);
}

static void
test_record_validity(void **state)
{
	struct access_record r = records[0].rec;
	const char *why;

	(void)state;
	assert_true(access_record_valid(&r, &why));
	assert_null(why);
	r.address = "0x55CD75bcc4e543e8a112f5a9eeee088d60385b2d";
	assert_false(access_record_valid(&r, &why));
	assert_string_equal(why, "address");
	r = records[0].rec;
	r.topic_len = 0;
	assert_false(access_record_valid(&r, &why));
	assert_string_equal(why, "topic");
	r = records[0].rec;
	r.topic = "a\0b";
	r.topic_len = 3;
	assert_false(access_record_valid(&r, &why));
	r.topic = "\xff\xfe";
	r.topic_len = 2;
	assert_false(access_record_valid(&r, &why));
	r = records[0].rec;
	r.action = 4;
	assert_false(access_record_valid(&r, &why));
	r.action = 0;
	assert_false(access_record_valid(&r, &why));
	r = records[0].rec;
	r.first_ms = r.last_ms + 1;
	assert_false(access_record_valid(&r, &why));
	r = records[0].rec;
	r.count = 0;
	assert_false(access_record_valid(&r, &why));
	r = records[0].rec;
	r.action = ACCESS_SUBSCRIBE;
	r.bytes = 1;
	assert_false(access_record_valid(&r, &why));
	r.bytes = 0;
	assert_true(access_record_valid(&r, &why));
}

/* ---- Proof documents ----------------------------------------------------- */

static void
make_proof(struct audit_proof *p)
{
	hash_t *work = sorted_leaves(13);
	const struct record_vector *v = &records[4];
	size_t index;

	memset(p, 0, sizeof(*p));
	for (index = 0; memcmp(work[index], v->leaf, 32) != 0; index++)
		;
	p->path_len = audit_merkle_proof(work, 13, index, p->path, p->root);
	free(work);
	p->id = 42;
	memcpy(p->address, v->address, sizeof(p->address));
	p->topic = malloc(v->topic_len + 1);
	assert_non_null(p->topic);
	memcpy(p->topic, v->topic, v->topic_len + 1);
	p->topic_len = v->topic_len;
	p->action = v->rec.action;
	p->first_ms = v->rec.first_ms;
	p->last_ms = v->rec.last_ms;
	p->count = v->rec.count;
	p->bytes = v->rec.bytes;
	p->period_start = v->rec.first_ms / 1000 / 1800 * 1800;
	p->period_end = p->period_start + 1800;
	p->leaves = 13;
	memcpy(p->leaf, v->leaf, 32);
	p->tx = 7;
}

static void
test_proof_document_roundtrip(void **state)
{
	struct audit_proof p, q;
	char err[256], *text;
	json_t *doc, *again;

	(void)state;
	make_proof(&p);
	doc = audit_proof_to_json(&p);
	assert_non_null(doc);
	/* Through text, as a file would carry it. */
	text = json_dumps(doc, 0);
	assert_non_null(text);
	again = json_loads(text, 0, NULL);
	assert_non_null(again);
	assert_true(audit_proof_from_json(again, &q, err, sizeof(err)));
	assert_int_equal(q.id, 42);
	assert_string_equal(q.address, p.address);
	assert_int_equal(q.topic_len, p.topic_len);
	assert_memory_equal(q.topic, p.topic, p.topic_len);
	assert_int_equal(q.action, p.action);
	assert_true(q.first_ms == p.first_ms && q.last_ms == p.last_ms);
	assert_true(q.count == p.count && q.bytes == p.bytes);
	assert_true(q.period_start == p.period_start);
	assert_true(q.period_end == p.period_end);
	assert_int_equal(q.path_len, p.path_len);
	assert_memory_equal(q.path, p.path, p.path_len * 32);
	assert_memory_equal(q.root, p.root, 32);
	assert_memory_equal(q.leaf, p.leaf, 32);
	assert_int_equal(q.tx, 7);
	/* The canonical text is in the document for people to read. */
	assert_int_equal(json_string_length(json_object_get(doc, "text")),
	    records[4].text_len);
	audit_proof_free(&q);

	/* Shapes that are not a proof. */
	json_object_set_new(again, "format", json_string("something-else"));
	assert_false(audit_proof_from_json(again, &q, err, sizeof(err)));
	audit_proof_free(&q);
	json_object_set_new(again, "format", json_string(AUDIT_PROOF_FORMAT));
	json_array_append_new(
	    json_object_get(again, "path"), json_string("0x12"));
	assert_false(audit_proof_from_json(again, &q, err, sizeof(err)));
	assert_non_null(strstr(err, "path"));
	audit_proof_free(&q);
	json_object_set_new(again, "path", json_array());
	json_object_set_new(
	    json_object_get(again, "record"), "action", json_integer(9));
	assert_false(audit_proof_from_json(again, &q, err, sizeof(err)));
	audit_proof_free(&q);
	json_object_set_new(
	    json_object_get(again, "record"), "action", json_integer(-1));
	assert_false(audit_proof_from_json(again, &q, err, sizeof(err)));
	audit_proof_free(&q);

	json_decref(again);
	json_decref(doc);
	free(text);
	audit_proof_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_text_and_leaf),
	    cmocka_unit_test(test_roots),
	    cmocka_unit_test(test_proofs),
	    cmocka_unit_test(test_against_naive_tree),
	    cmocka_unit_test(test_tampering_fails),
	    cmocka_unit_test(test_record_validity),
	    cmocka_unit_test(test_proof_document_roundtrip),
	};

	return cmocka_run_group_tests_name(
	    "merkle", tests, load_vectors, free_vectors);
}
