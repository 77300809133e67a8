/*
 * reportd's admin socket (IPC_REPORT_QUERY on reportd-admin.sock, mode
 * 0600), for flytrapctl: the spool's status, the records (by address,
 * topic, period; paged), the proof that a record is in its period's
 * summary, and the erasure of an address's records. Kinds and answers:
 * docs/AUDIT.md and docs/IPC.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_proof.h"
#include "hex.h"
#include "ipc.h"
#include "log.h"
#include "reportd.h"

#define ADMIN_LIMIT_DEFAULT 100
#define ADMIN_LIMIT_MAX 1000

/* An answer: the JSON to send, or an error text (then ok = false). */
struct admin_answer {
	json_t *json;
	char error[256];
};

static void admin_error(struct admin_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
admin_error(struct admin_answer *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->error, sizeof(a->error), fmt, ap);
	va_end(ap);
}

static void
admin_db_error(struct reportd *rd, struct admin_answer *a)
{
	admin_error(a, "database error: %s", spool_error(rd->spool));
	log_err("admin: %s", a->error);
}

/*
 * Reads an optional non-negative integer parameter (a JSON integer or a
 * decimal string, as the HTTP API passes them). 1 found, 0 absent, -1 bad
 * (reported in a).
 */
static int
admin_param_u64(
    const json_t *params, const char *key, uint64_t *v, struct admin_answer *a)
{
	const json_t *j = json_object_get(params, key);
	const char *s;
	char *end;

	if (j == NULL || json_is_null(j))
		return 0;
	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*v = (uint64_t)json_integer_value(j);
		return 1;
	}
	if (json_is_string(j)) {
		s = json_string_value(j);
		if (*s >= '0' && *s <= '9') {
			*v = strtoull(s, &end, 10);
			if (*end == '\0')
				return 1;
		}
	}
	admin_error(a, "'%s' must be a non-negative integer", key);
	return -1;
}

/* An address parameter, lowercased into out (43 bytes). */
static int
admin_param_address(
    const json_t *params, const char *key, char *out, struct admin_answer *a)
{
	const json_t *j = json_object_get(params, key);
	const char *s;
	size_t i;

	if (j == NULL || json_is_null(j))
		return 0;
	s = json_is_string(j) ? json_string_value(j) : "";
	if (strlen(s) != ACCESS_ADDRESS_LEN || s[0] != '0' ||
	    (s[1] != 'x' && s[1] != 'X'))
		goto bad;
	out[0] = '0';
	out[1] = 'x';
	for (i = 2; i < ACCESS_ADDRESS_LEN; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
		out[i] = c;
	}
	out[ACCESS_ADDRESS_LEN] = '\0';
	return 1;
bad:
	admin_error(a, "'%s' must be an address (0x and 40 hex digits)", key);
	return -1;
}

/* ---- status ------------------------------------------------------------- */

static void
admin_status(struct reportd *rd, const json_t *params, struct admin_answer *a)
{
	struct spool_figures f;
	json_t *o;

	(void)params;
	if (spool_figures(rd->spool, &f) != SPOOL_OK) {
		admin_db_error(rd, a);
		return;
	}
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I, s:I, s:b}",
	    "database", rd->cfg->reportd.database, "period_s",
	    (json_int_t)rd->period_s, "grace_s", (json_int_t)rd->grace_s,
	    "records", (json_int_t)f.records, "accesses",
	    (json_int_t)f.accesses, "late_records", (json_int_t)f.late,
	    "erased_records", (json_int_t)f.erased, "batches_remembered",
	    (json_int_t)f.batches, "periods_done", (json_int_t)f.periods_done,
	    "periods_pending", (json_int_t)f.periods_pending, "summaries",
	    (json_int_t)f.summaries, "summaries_pending",
	    (json_int_t)f.summaries_pending, "last_done_period",
	    (json_int_t)f.last_done, "store_failing", rd->store_failing);
	if (o == NULL)
		fatalx("out of memory");
	json_object_set_new(o, "since_start",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"batches_stored", (json_int_t)rd->batches_stored,
		"batches_duplicate", (json_int_t)rd->batches_duplicate,
		"batches_failed", (json_int_t)rd->batches_failed,
		"records_stored", (json_int_t)rd->records_stored,
		"accesses_stored", (json_int_t)rd->accesses_stored,
		"late_records", (json_int_t)rd->late_records,
		"periods_summarised", (json_int_t)rd->periods_summarised,
		"summaries_accepted", (json_int_t)rd->summaries_accepted,
		"periods_done", (json_int_t)rd->periods_done));
	summary_status(rd, o);
	a->json = o;
}

/* ---- records ------------------------------------------------------------ */

static json_t *
admin_row_json(const struct spool_row *row)
{
	json_t *o = json_pack("{s:I, s:s, s:s%, s:i, s:s, s:I, s:I, s:I, s:I, "
			      "s:I, s:b}",
	    "id", (json_int_t)row->id, "address", row->rec.address, "topic",
	    row->rec.topic, row->rec.topic_len, "action", (int)row->rec.action,
	    "action_name", access_action_name(row->rec.action), "first_ms",
	    (json_int_t)row->rec.first_ms, "last_ms",
	    (json_int_t)row->rec.last_ms, "count", (json_int_t)row->rec.count,
	    "bytes", (json_int_t)row->rec.bytes, "period",
	    (json_int_t)row->period, "late", row->late);

	if (o == NULL)
		fatalx("out of memory");
	return o;
}

struct admin_list {
	json_t *items;
	uint64_t last_id;
	unsigned n;
};

static void
admin_list_row(void *arg, const struct spool_row *row)
{
	struct admin_list *l = arg;

	json_array_append_new(l->items, admin_row_json(row));
	l->last_id = row->id;
	l->n++;
}

static void
admin_records(struct reportd *rd, const json_t *params, struct admin_answer *a)
{
	struct spool_filter f;
	struct admin_list l;
	char address[ACCESS_ADDRESS_LEN + 1];
	const json_t *topic;
	uint64_t limit = ADMIN_LIMIT_DEFAULT, period;
	int got;

	memset(&f, 0, sizeof(f));
	if ((got = admin_param_address(params, "address", address, a)) < 0)
		return;
	if (got > 0)
		f.address = address;
	topic = json_object_get(params, "topic");
	if (topic != NULL && !json_is_null(topic)) {
		if (!json_is_string(topic)) {
			admin_error(a, "'topic' must be a string");
			return;
		}
		f.topic = json_string_value(topic);
		f.topic_len = json_string_length(topic);
	}
	if ((got = admin_param_u64(params, "period", &period, a)) < 0)
		return;
	/* Any time within a period names that period. */
	f.has_period = got > 0;
	f.period = period / rd->period_s * rd->period_s;
	if (admin_param_u64(params, "after", &f.after, a) < 0 ||
	    admin_param_u64(params, "limit", &limit, a) < 0)
		return;
	if (limit < 1 || limit > ADMIN_LIMIT_MAX) {
		admin_error(a, "'limit' must be 1 to %d", ADMIN_LIMIT_MAX);
		return;
	}
	f.limit = (unsigned)limit;
	l.items = json_array();
	l.last_id = 0;
	l.n = 0;
	if (l.items == NULL)
		fatalx("out of memory");
	if (spool_records(rd->spool, &f, admin_list_row, &l) != SPOOL_OK) {
		json_decref(l.items);
		admin_db_error(rd, a);
		return;
	}
	a->json = json_pack("{s:o, s:o}", "records", l.items, "next",
	    l.n == f.limit ? json_integer((json_int_t)l.last_id) : json_null());
	if (a->json == NULL)
		fatalx("out of memory");
}

/* ---- proof -------------------------------------------------------------- */

static void
admin_proof(struct reportd *rd, const json_t *params, struct admin_answer *a)
{
	uint8_t(*leaves)[AUDIT_HASH_LEN] = NULL;
	struct spool_summary sum;
	struct audit_proof p;
	struct spool_row row;
	size_t n = 0, index;
	uint64_t id;
	int got;

	memset(&sum, 0, sizeof(sum));
	if ((got = admin_param_u64(params, "id", &id, a)) <= 0) {
		if (got == 0)
			admin_error(a, "'id' (a record id) is required");
		return;
	}
	switch (spool_record_get(rd->spool, id, &row)) {
	case SPOOL_OK:
		break;
	case SPOOL_MISSING:
		admin_error(a, "no record %" PRIu64, id);
		return;
	case SPOOL_ERROR:
		admin_db_error(rd, a);
		return;
	}
	if (row.erased) {
		admin_error(a, "record %" PRIu64 " was erased", id);
		return;
	}
	if (row.late) {
		admin_error(a,
		    "record %" PRIu64 " arrived after its period (%" PRIu64
		    ") was summarised: it is in no summary",
		    id, row.period);
		return;
	}
	switch (spool_summary_get(
	    rd->spool, row.period, row.rec.topic, row.rec.topic_len, &sum)) {
	case SPOOL_OK:
		break;
	case SPOOL_MISSING:
		admin_error(a,
		    "record %" PRIu64 ": its period %" PRIu64
		    " has not been summarised yet",
		    id, row.period);
		return;
	case SPOOL_ERROR:
		admin_db_error(rd, a);
		return;
	}
	if (spool_topic_leaves(rd->spool, row.period, row.rec.topic,
		row.rec.topic_len, &leaves, &n) != SPOOL_OK) {
		admin_db_error(rd, a);
		goto out;
	}
	for (index = 0; index < n; index++)
		if (memcmp(leaves[index], row.leaf, AUDIT_HASH_LEN) == 0)
			break;
	memset(&p, 0, sizeof(p));
	if (index < n)
		p.path_len =
		    audit_merkle_proof(leaves, n, index, p.path, p.root);
	if (index == n || memcmp(p.root, sum.root, AUDIT_HASH_LEN) != 0) {
		admin_error(a,
		    "record %" PRIu64 " does not lead to its "
		    "summary's root: the spool is damaged",
		    id);
		log_err("admin: %s", a->error);
		goto out;
	}
	p.id = row.id;
	memcpy(p.address, row.rec.address, ACCESS_ADDRESS_LEN + 1);
	p.topic = (char *)row.rec.topic;
	p.topic_len = row.rec.topic_len;
	p.action = row.rec.action;
	p.first_ms = row.rec.first_ms;
	p.last_ms = row.rec.last_ms;
	p.count = row.rec.count;
	p.bytes = row.rec.bytes;
	p.period_start = sum.period;
	p.period_end = sum.period_end;
	p.leaves = n;
	memcpy(p.leaf, row.leaf, AUDIT_HASH_LEN);
	p.tx = sum.tx;
	if ((a->json = audit_proof_to_json(&p)) == NULL)
		fatalx("out of memory");
out:
	free(leaves);
	spool_summary_free(&sum);
}

/* ---- erase -------------------------------------------------------------- */

static void
admin_erase(struct reportd *rd, const json_t *params, struct admin_answer *a)
{
	char address[ACCESS_ADDRESS_LEN + 1];
	uint64_t n;
	int got;

	if ((got = admin_param_address(params, "address", address, a)) <= 0) {
		if (got == 0)
			admin_error(a, "'address' is required");
		return;
	}
	if (spool_erase(rd->spool, address, &n) != SPOOL_OK) {
		admin_db_error(rd, a);
		return;
	}
	log_info("admin: erased %" PRIu64 " records of %s", n, address);
	a->json = json_pack(
	    "{s:s, s:I}", "address", address, "erased", (json_int_t)n);
	if (a->json == NULL)
		fatalx("out of memory");
}

/* ---- The socket --------------------------------------------------------- */

static const struct {
	const char *kind;
	void (*fn)(
	    struct reportd *rd, const json_t *params, struct admin_answer *a);
} admin_kinds[] = {
    {"status", admin_status},
    {"records", admin_records},
    {"proof", admin_proof},
    {"erase", admin_erase},
};

/*
 * IPC_REPORT_QUERY: str kind, str params (a JSON object; "" for none).
 * Reply IPC_REPORT_QUERY_REPLY: bool ok, str JSON (the answer, or
 * {"error": text} when not ok).
 */
static bool
admin_on_query(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct reportd *rd = arg;
	struct admin_answer a;
	const char *kind, *text;
	size_t kind_len, text_len, i;
	json_t *params = NULL;
	json_error_t jerr;
	struct ipc_writer w;
	char *out;

	if (ipc_get_str(msg, &kind, &kind_len) != IPC_OK ||
	    ipc_get_str(msg, &text, &text_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	memset(&a, 0, sizeof(a));
	if (text_len == 0)
		params = json_object();
	else
		params = json_loadb(text, text_len, 0, &jerr);
	if (!json_is_object(params)) {
		admin_error(&a, "the parameters are not a JSON object");
	} else {
		for (i = 0; i < sizeof(admin_kinds) / sizeof(admin_kinds[0]);
		     i++)
			if (strlen(admin_kinds[i].kind) == kind_len &&
			    memcmp(admin_kinds[i].kind, kind, kind_len) == 0)
				break;
		if (i == sizeof(admin_kinds) / sizeof(admin_kinds[0]))
			admin_error(&a,
			    "unknown kind '%.*s' (status, records, proof, "
			    "erase)",
			    (int)(kind_len > 64 ? 64 : kind_len), kind);
		else
			admin_kinds[i].fn(rd, params, &a);
	}
	json_decref(params);
	if (a.json == NULL &&
	    (a.json = json_pack("{s:s}", "error", a.error)) == NULL)
		fatalx("out of memory");
	if ((out = json_dumps(a.json, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	ipc_msg_begin(&w, IPC_REPORT_QUERY_REPLY, msg->id);
	ipc_put_bool(&w, a.error[0] == '\0');
	ipc_put_str(&w, out, strlen(out));
	ipc_conn_reply(conn, &w);
	free(out);
	json_decref(a.json);
	return true;
}

static const struct ipc_handler admin_handlers[] = {
    {IPC_REPORT_QUERY, admin_on_query},
    {0, NULL},
};

void
admin_open(struct reportd *rd, const char *path)
{
	rd->admin = ipc_server_listen(rd->loop, path, 0600, admin_handlers, rd);
	if (rd->admin == NULL)
		fatal("listen on %s", path);
}

void
admin_close(struct reportd *rd)
{
	ipc_server_close(rd->admin);
	rd->admin = NULL;
}
