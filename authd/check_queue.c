/*
 * The credential checks that need a signature recovery (IPC_AUTH_TOKEN,
 * IPC_AUTH_RESPONSE): answered at once for a banned IP, else queued fair
 * between client IPs (workq.c) and answered a bounded batch per loop
 * iteration, so that cheap requests never wait behind a flood of them.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "ban.h"
#include "expset.h"
#include "ipc.h"
#include "log.h"
#include "workq.h"

/* The most signature checks waiting; beyond, AUTH_OVERLOADED at once. */
#define AUTHD_QUEUE_MAX 65536
/* ... and the most bytes of requests they may hold. */
#define AUTHD_QUEUE_MAX_BYTES (64u * 1024 * 1024)
/* Checks answered per loop iteration: this many at most, or this long. */
#define AUTHD_BATCH_JOBS 32
#define AUTHD_BATCH_SECONDS 0.001

/* ---- Verdicts ------------------------------------------------------------ */

void
authd_log_verdict(struct authd *ad, const char *peer, size_t peer_len,
    const char *client_id, size_t client_id_len, enum auth_result r,
    const char *why, const uint8_t addr[ETH_ADDRESS_LEN])
{
	char hex[ETH_ADDRESS_HEX_SIZE];
	int cid = client_id_len > 128 ? 128 : (int)client_id_len;

	if (r == AUTH_OK) {
		ad->verified++;
		eth_address_hex(addr, hex);
		log_info("peer %.*s client '%.*s': %s by %s", (int)peer_len,
		    peer, cid, client_id, why, hex);
		return;
	}
	ad->refused[r]++;
	log_info("peer %.*s client '%.*s': refused (%s): %s", (int)peer_len,
	    peer, cid, client_id, auth_result_str(r), why);
}

static void
authd_reply_verdict(struct ipc_conn *conn, enum ipc_type type, uint32_t id,
    enum auth_result r, const uint8_t addr[ETH_ADDRESS_LEN])
{
	struct ipc_writer w;
	char hex[ETH_ADDRESS_HEX_SIZE] = "";

	if (r == AUTH_OK)
		eth_address_hex(addr, hex);
	ipc_msg_begin(&w, type, id);
	ipc_put_u64(&w, r);
	ipc_put_str(&w, hex, strlen(hex));
	ipc_conn_reply(conn, &w);
}

/*
 * After a verification: a refusal counts toward the IP's ban (not
 * AUTH_OVERLOADED: authd's limit, not the client's fault); success starts
 * the IP's count over, and then a banned signer is refused.
 */
static enum auth_result
authd_settle_verdict(struct authd *ad, const struct netaddr *ip,
    enum auth_result r, const uint8_t addr[ETH_ADDRESS_LEN], const char **why)
{
	double now = ev_now(ad->loop), until;

	if (r == AUTH_OK) {
		ban_record_ip_success(ad->bans, now, ip);
		if (ban_check_address(ad->bans, now, addr, &until, why))
			return AUTH_BANNED;
		return AUTH_OK;
	}
	if (r != AUTH_OVERLOADED && r != AUTH_BANNED)
		(void)ban_record_ip_failure(
		    ad->bans, now, ip, NULL, (enum ban_cause)r);
	return r;
}

/* The verdict on a token, and the reply. */
static void
authd_token_answer(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c)
{
	const struct auth_token_request *req = &c->u.token;
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *why;
	enum auth_result r;
	double until;

	/* A banned client costs no signature recovery. */
	if (ban_check_ip(ad->bans, ev_now(ad->loop), &c->ip, &until, &why))
		r = AUTH_BANNED;
	else {
		r = authd_verify_token(ad, req, ev_now(ad->loop), addr, &why);
		r = authd_settle_verdict(ad, &c->ip, r, addr, &why);
	}
	authd_log_verdict(ad, c->peer, c->peer_len, req->client_id,
	    req->client_id_len, r, why, addr);
	authd_reply_verdict(conn, IPC_AUTH_TOKEN_REPLY, id, r, addr);
}

/* The verdict on a challenge answer, and the reply. */
static void
authd_response_answer(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c)
{
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *why;
	enum auth_result r;
	double now = ev_now(ad->loop), until;

	if (ban_check_ip(ad->bans, now, &c->ip, &until, &why)) {
		/* The nonce is single-use whatever the outcome. */
		(void)expset_take(ad->challenges, c->u.response.nonce, now);
		r = AUTH_BANNED;
	} else {
		r = authd_verify_challenge(ad, c->u.response.client_id,
		    c->u.response.client_id_len,
		    c->u.response.has_username ? c->u.response.username : NULL,
		    c->u.response.username_len, c->u.response.nonce,
		    c->u.response.sig, c->u.response.sig_len, now, addr, &why);
		r = authd_settle_verdict(ad, &c->ip, r, addr, &why);
	}
	authd_log_verdict(ad, c->peer, c->peer_len, c->u.response.client_id,
	    c->u.response.client_id_len, r, why, addr);
	authd_reply_verdict(conn, IPC_AUTH_RESPONSE_REPLY, id, r, addr);
}

static void
authd_check_answer(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c)
{
	if (c->kind == AUTHD_CHECK_TOKEN)
		authd_token_answer(ad, conn, id, c);
	else
		authd_response_answer(ad, conn, id, c);
}

/* Too many checks waiting: AUTH_OVERLOADED now, which starts no ban. */
static void
authd_check_overloaded(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c)
{
	const char *why = "too many signature checks waiting";

	if (c->kind == AUTHD_CHECK_TOKEN) {
		authd_log_verdict(ad, c->peer, c->peer_len,
		    c->u.token.client_id, c->u.token.client_id_len,
		    AUTH_OVERLOADED, why, NULL);
		authd_reply_verdict(
		    conn, IPC_AUTH_TOKEN_REPLY, id, AUTH_OVERLOADED, NULL);
		return;
	}
	(void)expset_take(
	    ad->challenges, c->u.response.nonce, ev_now(ad->loop));
	authd_log_verdict(ad, c->peer, c->peer_len, c->u.response.client_id,
	    c->u.response.client_id_len, AUTH_OVERLOADED, why, NULL);
	authd_reply_verdict(
	    conn, IPC_AUTH_RESPONSE_REPLY, id, AUTH_OVERLOADED, NULL);
}

/* ---- Jobs ---------------------------------------------------------------- */

/* The checks waiting on one connection, dropped if it closes. */
struct authd_peer {
	struct authd *ad;
	struct authd_job *jobs;
};

/* A queued check: the request copied out of its frame, and whom to answer. */
struct authd_job {
	struct workq_item item; /* first: the queue hands back this */
	struct authd_peer *owner;
	struct authd_job *prev, *next; /* in owner->jobs */
	struct ipc_conn *conn;
	uint32_t id;
	double queued; /* monotonic seconds */
	size_t size; /* bytes allocated, for AUTHD_QUEUE_MAX_BYTES */
	struct authd_check check;
	char data[]; /* what check points to */
};

/* Seconds on the monotonic clock, for waits. */
static double
authd_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies len bytes to *at and moves it on; returns where they went. */
static const void *
authd_copy_field(char **at, const void *src, size_t len)
{
	char *dst = *at;

	if (len > 0)
		memcpy(dst, src, len);
	*at += len;
	return dst;
}

/* The bytes of a check's fields, and a copy of them into data. */
static size_t
authd_check_size(const struct authd_check *c)
{
	const struct auth_token_request *t = &c->u.token;

	if (c->kind == AUTHD_CHECK_TOKEN)
		return c->peer_len + t->client_id_len + t->username_len +
		    t->password_len + t->prop_sig_len + t->prop_time_len +
		    t->prop_address_len;
	return c->peer_len + c->u.response.client_id_len +
	    c->u.response.username_len + 32 + c->u.response.sig_len;
}

static void
authd_check_copy(
    struct authd_check *dst, const struct authd_check *src, char *data)
{
	struct auth_token_request *t = &dst->u.token;

	*dst = *src;
	dst->peer = authd_copy_field(&data, src->peer, src->peer_len);
	if (src->kind == AUTHD_CHECK_TOKEN) {
		t->client_id =
		    authd_copy_field(&data, t->client_id, t->client_id_len);
		t->username =
		    authd_copy_field(&data, t->username, t->username_len);
		t->password =
		    authd_copy_field(&data, t->password, t->password_len);
		t->prop_sig =
		    authd_copy_field(&data, t->prop_sig, t->prop_sig_len);
		t->prop_time =
		    authd_copy_field(&data, t->prop_time, t->prop_time_len);
		t->prop_address = authd_copy_field(
		    &data, t->prop_address, t->prop_address_len);
		return;
	}
	dst->u.response.client_id = authd_copy_field(
	    &data, src->u.response.client_id, src->u.response.client_id_len);
	dst->u.response.username = authd_copy_field(
	    &data, src->u.response.username, src->u.response.username_len);
	dst->u.response.nonce =
	    authd_copy_field(&data, src->u.response.nonce, 32);
	dst->u.response.sig = authd_copy_field(
	    &data, src->u.response.sig, src->u.response.sig_len);
}

/* Takes a job out of the queue and its connection's list, and frees it. */
static void
authd_job_free(struct authd *ad, struct authd_job *job)
{
	workq_remove(ad->queue, &job->item);
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		job->owner->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	ad->queue_bytes -= job->size;
	free(job);
}

/* proxyd went away: its checks are dropped unanswered. */
static void
authd_peer_closed(struct ipc_conn *conn, void *data)
{
	struct authd_peer *peer = data;
	struct authd *ad = peer->ad;
	struct authd_job *job;

	(void)conn;
	while ((job = peer->jobs) != NULL) {
		/* A nonce is single-use even when its answer is never read. */
		if (job->check.kind == AUTHD_CHECK_RESPONSE)
			(void)expset_take(ad->challenges,
			    job->check.u.response.nonce, ev_now(ad->loop));
		authd_job_free(ad, job);
	}
	free(peer);
}

/* ---- The queue ----------------------------------------------------------- */

/*
 * Queues a copy of c behind the checks of other IPs; false when the
 * queue is full (by jobs or by bytes).
 */
static bool
authd_check_queue(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c)
{
	struct authd_peer *peer;
	struct authd_job *job;
	size_t size = sizeof(*job) + authd_check_size(c);

	if (ad->queue_bytes + size > AUTHD_QUEUE_MAX_BYTES)
		return false;
	if ((job = malloc(size)) == NULL)
		fatal("signature check queue");
	memset(job, 0, sizeof(*job));
	authd_check_copy(&job->check, c, job->data);
	switch (workq_push(ad->queue, &c->ip, &job->item)) {
	case WORKQ_QUEUED:
		break;
	case WORKQ_FULL:
		free(job);
		return false;
	case WORKQ_NO_MEMORY:
		fatalx("out of memory for the signature check queue");
	}
	if ((peer = ipc_conn_data(conn)) == NULL) {
		if ((peer = calloc(1, sizeof(*peer))) == NULL)
			fatal("signature check queue");
		peer->ad = ad;
		ipc_conn_set_data(conn, peer, authd_peer_closed);
	}
	job->owner = peer;
	job->next = peer->jobs;
	if (peer->jobs != NULL)
		peer->jobs->prev = job;
	peer->jobs = job;
	job->conn = conn;
	job->id = id;
	job->queued = authd_mono_now();
	job->size = size;
	ad->queue_bytes += size;
	if (workq_length(ad->queue) > ad->queue_peak)
		ad->queue_peak = workq_length(ad->queue);
	ev_check_start(ad->loop, &ad->queue_check);
	ev_idle_start(ad->loop, &ad->queue_idle);
	return true;
}

void
authd_check_submit(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c)
{
	const char *why;
	double until;

	if (ban_check_ip(ad->bans, ev_now(ad->loop), &c->ip, &until, &why))
		authd_check_answer(ad, conn, id, c);
	else if (!authd_check_queue(ad, conn, id, c))
		authd_check_overloaded(ad, conn, id, c);
}

/*
 * Each loop iteration, after polling: answers queued checks in turn until
 * AUTHD_BATCH_JOBS or AUTHD_BATCH_SECONDS, then lets the loop read its
 * sockets again, so cheap requests never wait behind more than a batch.
 */
static void
authd_on_queue(struct ev_loop *loop, ev_check *w, int revents)
{
	struct authd *ad = w->data;
	struct authd_job *job;
	double start = authd_mono_now(), now = start;

	(void)revents;
	for (int n = 0;
	     n < AUTHD_BATCH_JOBS && now - start < AUTHD_BATCH_SECONDS; n++) {
		/* The item is the job's first member. */
		if ((job = (struct authd_job *)workq_pop(ad->queue)) == NULL)
			break;
		if (now - job->queued > ad->queue_longest_wait)
			ad->queue_longest_wait = now - job->queued;
		authd_check_answer(ad, job->conn, job->id, &job->check);
		authd_job_free(ad, job);
		now = authd_mono_now();
	}
	if (workq_length(ad->queue) == 0) {
		ev_check_stop(loop, w);
		ev_idle_stop(loop, &ad->queue_idle);
	}
}

/* Only keeps the loop from sleeping while checks wait. */
static void
authd_on_queue_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

void
authd_checks_init(struct authd *ad)
{
	if ((ad->queue = workq_new(AUTHD_QUEUE_MAX)) == NULL)
		fatalx("out of memory for the signature check queue");
	ev_check_init(&ad->queue_check, authd_on_queue);
	ad->queue_check.data = ad;
	ev_idle_init(&ad->queue_idle, authd_on_queue_idle);
}

void
authd_checks_close(struct authd *ad)
{
	ev_check_stop(ad->loop, &ad->queue_check);
	ev_idle_stop(ad->loop, &ad->queue_idle);
	workq_free(ad->queue);
	ad->queue = NULL;
}
