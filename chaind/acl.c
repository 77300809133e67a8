/*
 * chaind's answers to proxyd's permission questions (IPC_ACL_CHECK): which
 * topic entries cover the topic, what the contract says about the address
 * on each (from the sqlite cache, or eth_call when not cached), and the
 * combined verdict. Also the list of entries and the invalidation pushes.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "chaind.h"
#include "ipc.h"
#include "log.h"
#include "topic.h"

/* Entries fetched at once for one question; more wait for a second pass. */
#define ACL_MAX_CALLS 32
/* Passes over a question whose answers keep being invalidated. */
#define ACL_MAX_PASSES 4
/* Longest entry once ${address} is expanded. */
#define ACL_TOPIC_MAX (65535 + 64)

struct acl_job;

struct acl_call {
	struct acl_job *job;
	uint64_t call_id;
	uint64_t epoch; /* invalidations seen when the call was made */
	const char *name;
};

struct acl_peer {
	struct acl_job *jobs;
};

struct acl_job {
	struct chaind *cd;
	struct ipc_conn *conn;
	struct acl_peer *peer;
	struct acl_job *prev, *next;
	uint32_t id;
	unsigned action;
	char address[ETH_ADDRESS_HEX_SIZE];
	char *topic;
	size_t topic_len;
	unsigned pending;
	unsigned passes;
	bool failed;
	struct acl_call calls[ACL_MAX_CALLS];
	unsigned ncalls;
};

struct acl_decision {
	enum acl_verdict verdict;
	uint64_t valid_until;
	bool sensitive;
	bool restricted; /* some covering entry restricts countries */
	char countries[512]; /* intersection of the restrictions */
};

/* ---- Entries ----------------------------------------------------------- */

bool
chaind_entry_add(struct chaind *cd, const char *name, size_t len)
{
	struct chaind_entry *e;
	size_t i;

	for (i = 0; i < cd->n_entries; i++)
		if (cd->entries[i].len == len &&
		    memcmp(cd->entries[i].name, name, len) == 0)
			return true;
	if (cd->n_entries == cd->cap_entries) {
		size_t cap = cd->cap_entries ? cd->cap_entries * 2 : 64;

		e = reallocarray(cd->entries, cap, sizeof(*e));
		if (e == NULL)
			return false;
		cd->entries = e;
		cd->cap_entries = cap;
	}
	e = &cd->entries[cd->n_entries];
	if ((e->name = malloc(len + 1)) == NULL)
		return false;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->len = len;
	cd->n_entries++;
	return true;
}

void
chaind_entries_free(struct chaind *cd)
{
	size_t i;

	for (i = 0; i < cd->n_entries; i++)
		free(cd->entries[i].name);
	free(cd->entries);
	cd->entries = NULL;
	cd->n_entries = cd->cap_entries = 0;
}

/* ---- Deciding ---------------------------------------------------------- */

/* Keeps in `set` only the codes also in `other` (both alpha-2 runs). */
static void
countries_intersect(char *set, const char *other)
{
	size_t i, j, out = 0, n = strlen(set), m = strlen(other);

	for (i = 0; i + 1 < n; i += 2) {
		for (j = 0; j + 1 < m; j += 2) {
			if (set[i] == other[j] && set[i + 1] == other[j + 1]) {
				set[out++] = set[i];
				set[out++] = set[i + 1];
				break;
			}
		}
	}
	set[out] = '\0';
}

static void
decision_add(struct acl_decision *d, unsigned action,
    const struct store_access *a, uint64_t now)
{
	uint64_t expiry;

	if (!a->exists)
		return;
	d->sensitive |= a->sensitive;
	if (a->countries[0] != '\0') {
		if (!d->restricted)
			snprintf(d->countries, sizeof(d->countries), "%s",
			    a->countries);
		else
			countries_intersect(d->countries, a->countries);
		d->restricted = true;
	}
	expiry = action == ACL_PUBLISH ? a->pub_expiry : a->sub_expiry;
	if (expiry <= now)
		return;
	if (d->verdict != ACL_ALLOW) {
		d->verdict = ACL_ALLOW;
		d->valid_until = expiry;
	} else if (expiry > d->valid_until) {
		d->valid_until = expiry;
	}
}

enum acl_pass {
	ACL_PASS_DONE, /* every covering entry answered from the cache */
	ACL_PASS_FETCH, /* some entries must be read from the chain first */
	ACL_PASS_ERROR,
};

static void acl_on_access(void *arg, bool ok, const struct store_access *a);

/*
 * One pass over the entries: decide from cached answers, and start an
 * eth_call for each covering entry that has none.
 */
static enum acl_pass
acl_pass(struct acl_job *job, struct acl_decision *d)
{
	static char expanded[ACL_TOPIC_MAX];
	struct chaind *cd = job->cd;
	struct store_access a;
	uint64_t now = (uint64_t)time(NULL);
	size_t i, len;

	memset(d, 0, sizeof(*d));
	d->verdict = ACL_DENY;
	job->ncalls = 0;
	for (i = 0; i < cd->n_entries; i++) {
		const struct chaind_entry *e = &cd->entries[i];

		len = topic_expand_address(
		    e->name, e->len, job->address, expanded, sizeof(expanded));
		if (len == 0 ||
		    !topic_covers(expanded, len, job->topic, job->topic_len))
			continue;
		switch (
		    store_access_get(cd->store, e->name, job->address, &a)) {
		case STORE_OK:
			cd->cache_hits++;
			decision_add(d, job->action, &a, now);
			continue;
		case STORE_MISSING:
			cd->cache_misses++;
			break;
		case STORE_ERROR:
			return ACL_PASS_ERROR;
		}
		if (job->ncalls == ACL_MAX_CALLS)
			continue; /* the next pass fetches the rest */
		job->calls[job->ncalls].job = job;
		job->calls[job->ncalls].name = e->name;
		job->calls[job->ncalls].epoch = cd->epoch;
		job->ncalls++;
	}
	if (job->ncalls == 0) {
		/* Restrictions that no country satisfies deny outright. */
		if (d->restricted && d->countries[0] == '\0')
			d->verdict = ACL_DENY;
		if (d->verdict == ACL_DENY)
			d->valid_until = 0;
		else if (d->valid_until == STORE_FOREVER)
			d->valid_until = 0;
		return ACL_PASS_DONE;
	}
	for (i = 0; i < job->ncalls; i++) {
		struct acl_call *c = &job->calls[i];

		c->call_id = contract_call_access(
		    cd, c->name, job->address, acl_on_access, c);
		if (c->call_id == 0) {
			job->ncalls = (unsigned)i;
			job->failed = true;
			break;
		}
		job->pending++;
	}
	return job->pending > 0 ? ACL_PASS_FETCH : ACL_PASS_ERROR;
}

static void
acl_reply(struct acl_job *job, const struct acl_decision *d)
{
	struct ipc_writer w;

	ipc_msg_begin(&w, IPC_ACL_CHECK_REPLY, job->id);
	ipc_put_u64(&w, d->verdict);
	ipc_put_u64(&w, d->valid_until);
	ipc_put_bool(&w, d->sensitive);
	ipc_put_str(&w, d->countries, strlen(d->countries));
	ipc_conn_reply(job->conn, &w);
	if (d->verdict != ACL_ALLOW)
		log_info("deny %s %s on '%.*s'%s", job->address,
		    job->action == ACL_PUBLISH ? "publish" : "subscribe",
		    job->topic_len > 200 ? 200 : (int)job->topic_len,
		    job->topic,
		    d->verdict == ACL_UNAVAILABLE ? " (chain unavailable)"
						  : "");
}

static void
acl_job_free(struct acl_job *job)
{
	unsigned i;

	for (i = 0; i < job->ncalls; i++)
		if (job->calls[i].call_id != 0)
			contract_cancel(job->cd, job->calls[i].call_id);
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		job->peer->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	free(job->topic);
	free(job);
}

/* Runs passes until the question is answered or must wait for the node. */
static void
acl_run(struct acl_job *job)
{
	struct acl_decision d;

	for (;;) {
		if (job->passes++ == ACL_MAX_PASSES || job->failed) {
			memset(&d, 0, sizeof(d));
			d.verdict = ACL_UNAVAILABLE;
			acl_reply(job, &d);
			acl_job_free(job);
			return;
		}
		switch (acl_pass(job, &d)) {
		case ACL_PASS_DONE:
			acl_reply(job, &d);
			acl_job_free(job);
			return;
		case ACL_PASS_FETCH:
			return;
		case ACL_PASS_ERROR:
			job->failed = true;
			break;
		}
	}
}

static void
acl_on_access(void *arg, bool ok, const struct store_access *a)
{
	struct acl_call *c = arg;
	struct acl_job *job = c->job;
	struct chaind *cd = job->cd;

	c->call_id = 0;
	job->pending--;
	if (!ok) {
		job->failed = true;
	} else if (c->epoch == cd->epoch && a->block >= cd->synced) {
		/*
		 * Cache only an answer no event has overtaken: one read at or
		 * after the last block whose events we applied, with no
		 * invalidation since the call left.
		 */
		if (store_access_put(cd->store, c->name, job->address, a) !=
		    STORE_OK)
			job->failed = true;
	}
	if (job->pending == 0)
		acl_run(job);
}

/* ---- IPC --------------------------------------------------------------- */

static void
acl_peer_closed(struct ipc_conn *conn, void *data)
{
	struct acl_peer *peer = data;

	(void)conn;
	while (peer->jobs != NULL)
		acl_job_free(peer->jobs);
	free(peer);
}

/*
 * IPC_ACL_CHECK: str address, u64 action, str topic.
 * Reply: u64 verdict, u64 valid_until, bool sensitive, str countries.
 */
static bool
acl_on_check(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	struct acl_peer *peer = ipc_conn_data(conn);
	struct acl_job *job;
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *address, *topic;
	size_t address_len, topic_len;
	uint64_t action;

	if (ipc_get_str(msg, &address, &address_len) != IPC_OK ||
	    ipc_get_u64(msg, &action) != IPC_OK ||
	    ipc_get_str(msg, &topic, &topic_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK ||
	    (action != ACL_PUBLISH && action != ACL_SUBSCRIBE) ||
	    !eth_address_parse(address, address_len, addr) || topic_len == 0 ||
	    topic_len > 65535)
		return false;
	if (peer == NULL) {
		if ((peer = calloc(1, sizeof(*peer))) == NULL)
			fatalx("out of memory");
		ipc_conn_set_data(conn, peer, acl_peer_closed);
	}
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->topic = malloc(topic_len)) == NULL)
		fatalx("out of memory");
	cd->acl_checks++;
	job->cd = cd;
	job->conn = conn;
	job->peer = peer;
	job->id = msg->id;
	job->action = (unsigned)action;
	eth_address_hex(addr, job->address);
	memcpy(job->topic, topic, topic_len);
	job->topic_len = topic_len;
	job->next = peer->jobs;
	if (peer->jobs != NULL)
		peer->jobs->prev = job;
	peer->jobs = job;
	acl_run(job);
	return true;
}

static const struct ipc_handler acl_handlers[] = {
    {IPC_ACL_CHECK, acl_on_check},
    {IPC_ALERT, alert_on_alert}, /* alert.c */
    {IPC_BAN_SYNC, alert_on_ban_sync},
    {IPC_METRICS, metrics_on_report}, /* metrics.c */
    {0, NULL},
};

void
acl_push_invalidate(struct chaind *cd, const char *address)
{
	struct ipc_writer w;

	cd->epoch++;
	ipc_msg_begin(&w, IPC_ACL_INVALIDATE, 0);
	ipc_put_str(&w, address, strlen(address));
	ipc_server_broadcast(cd->acl_server, &w);
}

void
acl_open(struct chaind *cd, const char *path)
{
	cd->acl_server =
	    ipc_server_listen(cd->loop, path, 0660, acl_handlers, cd);
	if (cd->acl_server == NULL)
		fatal("listen on %s", path);
}

void
acl_close(struct chaind *cd)
{
	ipc_server_close(cd->acl_server);
	cd->acl_server = NULL;
}
