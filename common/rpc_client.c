/*
 * The asynchronous JSON-RPC client: libcurl's multi-socket interface driven
 * by a libev loop (an ev_io per socket curl asks for, one ev_timer for
 * curl's timeouts), a FIFO of calls waiting for a transfer slot, and a
 * deadline timer per call.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "rpc.h"
#include "rpc_internal.h"

enum rpc_call_state {
	RPC_CALL_QUEUED, /* in c->queue, no transfer yet */
	RPC_CALL_RUNNING, /* its easy handle is in c->multi */
	RPC_CALL_FAILING, /* could not start; failure delivered by its timer */
};

struct rpc_call {
	struct rpc_client *client;
	uint64_t id;
	enum rpc_call_state state;
	rpc_done_fn *cb;
	void *arg;
	char *request;
	CURL *easy;
	struct rpc_body body;
	char errbuf[CURL_ERROR_SIZE];
	/* The call's deadline; also delivers a failure to start (at 0 s). */
	ev_timer deadline;
	ev_tstamp deadline_at;
	enum rpc_status start_failure;
	TAILQ_ENTRY(rpc_call) queue_entry;
	struct rpc_call *hash_next;
};

/* One socket curl wants watched. */
struct rpc_sock {
	ev_io io;
	struct rpc_client *client;
	curl_socket_t fd;
	LIST_ENTRY(rpc_sock) entry;
};

struct rpc_client {
	struct ev_loop *loop;
	CURLM *multi;
	struct rpc_settings set;
	ev_timer curl_timer;
	uint64_t next_id;
	TAILQ_HEAD(, rpc_call) queue;
	LIST_HEAD(, rpc_sock) socks;
	/* Pending calls by id: a chained table, grown to keep chains short. */
	struct rpc_call **buckets;
	size_t nbuckets;
	size_t ncalls;
	struct rpc_client_stats stats;
	/* Inside one of our loop callbacks: rpc_client_free is deferred. */
	unsigned busy;
	bool free_requested;
};

static void rpc_client_destroy(struct rpc_client *c);
static void rpc_call_deadline_cb(struct ev_loop *loop, ev_timer *w, int ev);

/* ---- Calls by id -------------------------------------------------------- */

/* Ids are sequential, so their low bits spread them evenly. */
static struct rpc_call **
rpc_bucket(struct rpc_client *c, uint64_t id)
{
	return &c->buckets[id & (c->nbuckets - 1)];
}

static bool
rpc_hash_grow(struct rpc_client *c)
{
	size_t n = c->nbuckets * 2;
	struct rpc_call **b = calloc(n, sizeof(*b));
	struct rpc_call *call, *next;

	if (b == NULL)
		return false;
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (call = c->buckets[i]; call != NULL; call = next) {
			next = call->hash_next;
			call->hash_next = b[call->id & (n - 1)];
			b[call->id & (n - 1)] = call;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
	return true;
}

static bool
rpc_hash_insert(struct rpc_client *c, struct rpc_call *call)
{
	struct rpc_call **b;

	if (c->ncalls >= c->nbuckets && !rpc_hash_grow(c))
		return false;
	b = rpc_bucket(c, call->id);
	call->hash_next = *b;
	*b = call;
	c->ncalls++;
	return true;
}

static struct rpc_call *
rpc_hash_find(struct rpc_client *c, uint64_t id)
{
	struct rpc_call *call;

	for (call = *rpc_bucket(c, id); call != NULL; call = call->hash_next)
		if (call->id == id)
			return call;
	return NULL;
}

static void
rpc_hash_remove(struct rpc_client *c, struct rpc_call *call)
{
	struct rpc_call **p;

	for (p = rpc_bucket(c, call->id); *p != NULL; p = &(*p)->hash_next) {
		if (*p == call) {
			*p = call->hash_next;
			c->ncalls--;
			return;
		}
	}
}

/* ---- Call lifetime ------------------------------------------------------ */

/*
 * Takes a call out of whatever it is in (queue, curl, table, timer) and
 * frees it. No callback.
 */
static void
rpc_call_drop(struct rpc_client *c, struct rpc_call *call)
{
	switch (call->state) {
	case RPC_CALL_QUEUED:
		TAILQ_REMOVE(&c->queue, call, queue_entry);
		c->stats.queued--;
		break;
	case RPC_CALL_RUNNING:
		curl_multi_remove_handle(c->multi, call->easy);
		c->stats.in_flight--;
		break;
	case RPC_CALL_FAILING:
		break;
	}
	if (call->easy != NULL)
		curl_easy_cleanup(call->easy);
	ev_timer_stop(c->loop, &call->deadline);
	rpc_hash_remove(c, call);
	free(call->body.data);
	free(call->request);
	free(call);
}

/* Runs the call's callback (once), then frees the call. */
static void
rpc_call_complete(struct rpc_client *c, struct rpc_call *call,
    enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	rpc_done_fn *cb = call->cb;
	void *arg = call->arg;

	rpc_call_drop(c, call);
	if (st == RPC_OK)
		c->stats.calls_ok++;
	else
		c->stats.calls_failed++;
	cb(arg, st, st == RPC_OK ? result : NULL, st == RPC_OK ? NULL : err);
}

/*
 * Hands a call to curl. Returns RPC_ERR_NOMEM if libcurl would not take it;
 * the call is then unchanged (still not running).
 */
static enum rpc_status
rpc_call_start(struct rpc_client *c, struct rpc_call *call)
{
	double left = call->deadline_at - ev_now(c->loop);
	long timeout_ms = left > 0 ? (long)(left * 1000.0) + 1 : 1;

	call->easy = rpc_easy_new(
	    &c->set, call->request, &call->body, call->errbuf, timeout_ms);
	if (call->easy == NULL)
		return RPC_ERR_NOMEM;
	if (curl_easy_setopt(call->easy, CURLOPT_PRIVATE, call) != CURLE_OK ||
	    curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
		curl_easy_cleanup(call->easy);
		call->easy = NULL;
		return RPC_ERR_NOMEM;
	}
	call->state = RPC_CALL_RUNNING;
	c->stats.in_flight++;
	return RPC_OK;
}

/*
 * Starts waiting calls while transfer slots are free. A call whose deadline
 * has passed stays queued: its timer fails it in this loop iteration. A
 * call that cannot start fails from its timer at the next iteration, so no
 * callback runs from here (this is reached from rpc_cancel).
 */
static void
rpc_queue_drain(struct rpc_client *c)
{
	struct rpc_call *call, *next;
	enum rpc_status st;

	for (call = TAILQ_FIRST(&c->queue);
	     call != NULL && c->stats.in_flight < c->set.max_in_flight;
	     call = next) {
		next = TAILQ_NEXT(call, queue_entry);
		if (call->deadline_at <= ev_now(c->loop))
			continue;
		TAILQ_REMOVE(&c->queue, call, queue_entry);
		c->stats.queued--;
		if ((st = rpc_call_start(c, call)) != RPC_OK) {
			call->state = RPC_CALL_FAILING;
			call->start_failure = st;
			ev_timer_stop(c->loop, &call->deadline);
			ev_timer_set(&call->deadline, 0., 0.);
			ev_timer_start(c->loop, &call->deadline);
		}
	}
}

/* Leaves one of our loop callbacks: a deferred rpc_client_free runs now. */
static void
rpc_client_leave(struct rpc_client *c)
{
	if (--c->busy == 0 && c->free_requested)
		rpc_client_destroy(c);
}

static void
rpc_call_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_call *call = w->data;
	struct rpc_client *c = call->client;
	struct rpc_error err;
	enum rpc_status st;

	(void)loop;
	(void)revents;
	memset(&err, 0, sizeof(err));
	if (call->state == RPC_CALL_FAILING) {
		st = call->start_failure;
		rpc_error_setf(&err, "could not start the transfer: %s",
		    rpc_status_str(st));
	} else {
		st = RPC_ERR_TIMEOUT;
		rpc_error_setf(&err, "no answer within %ld ms%s",
		    c->set.timeout_ms,
		    call->state == RPC_CALL_QUEUED ? " (still queued)" : "");
	}
	c->busy++;
	rpc_call_complete(c, call, st, NULL, &err);
	if (!c->free_requested)
		rpc_queue_drain(c);
	rpc_client_leave(c);
}

/* ---- libcurl <-> libev -------------------------------------------------- */

/* Delivers every finished transfer, then refills the transfer slots. */
static void
rpc_process_done(struct rpc_client *c)
{
	struct rpc_call *call;
	struct rpc_error err;
	enum rpc_status st;
	json_t *result;
	CURLMsg *msg;
	CURLcode res;
	char *priv;
	long conns;
	int left;

	while (!c->free_requested &&
	    (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		res = msg->data.result;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			&priv) != CURLE_OK ||
		    priv == NULL)
			fatalx("rpc: finished transfer without its call");
		call = (struct rpc_call *)(void *)priv;
		if (curl_easy_getinfo(call->easy, CURLINFO_NUM_CONNECTS,
			&conns) == CURLE_OK &&
		    conns > 0)
			c->stats.connections_opened += (uint64_t)conns;
		st = rpc_easy_outcome(call->easy, res, &call->body,
		    call->errbuf, call->id, c->set.max_depth, &result, &err);
		rpc_call_complete(c, call, st, result, &err);
		json_decref(result);
		rpc_error_clear(&err);
	}
	if (!c->free_requested)
		rpc_queue_drain(c);
}

static void
rpc_sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_sock *s = w->data;
	struct rpc_client *c = s->client;
	int action = 0, running;

	(void)loop;
	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	if (revents & EV_ERROR)
		action |= CURL_CSELECT_ERR;
	c->busy++;
	/* s may be freed by rpc_sock_cb from inside this. */
	curl_multi_socket_action(c->multi, s->fd, action, &running);
	rpc_process_done(c);
	rpc_client_leave(c);
}

static void
rpc_curl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_client *c = w->data;
	int running;

	(void)loop;
	(void)revents;
	c->busy++;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	rpc_process_done(c);
	rpc_client_leave(c);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl asks, or stop. */
static int
rpc_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct rpc_client *c = userp;
	struct rpc_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			ev_io_stop(c->loop, &s->io);
			LIST_REMOVE(s, entry);
			free(s);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			fatal("rpc: calloc");
		s->client = c;
		s->fd = fd;
		ev_init(&s->io, rpc_sock_io_cb);
		s->io.data = s;
		LIST_INSERT_HEAD(&c->socks, s, entry);
		if (curl_multi_assign(c->multi, fd, s) != CURLM_OK)
			fatalx("rpc: curl_multi_assign failed");
	} else {
		ev_io_stop(c->loop, &s->io);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	ev_io_set(&s->io, fd, events);
	ev_io_start(c->loop, &s->io);
	return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: (re)arm our single timer. 0 ms fires at the next
 * loop iteration: curl must not be called back from inside its callback.
 */
static int
rpc_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct rpc_client *c = userp;

	(void)multi;
	ev_timer_stop(c->loop, &c->curl_timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&c->curl_timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->curl_timer);
	}
	return 0;
}

/* ---- Public API --------------------------------------------------------- */

struct rpc_client *
rpc_client_new(
    struct ev_loop *loop, const char *url, const struct rpc_options *opts)
{
	struct rpc_client *c;
	long conns;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (rpc_settings_init(&c->set, url, opts) != RPC_OK) {
		free(c);
		return NULL;
	}
	c->loop = loop;
	c->next_id = 1;
	TAILQ_INIT(&c->queue);
	LIST_INIT(&c->socks);
	c->nbuckets = 64;
	ev_init(&c->curl_timer, rpc_curl_timer_cb);
	c->curl_timer.data = c;
	conns = (long)c->set.max_in_flight;
	if ((c->buckets = calloc(c->nbuckets, sizeof(*c->buckets))) == NULL ||
	    (c->multi = curl_multi_init()) == NULL ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, rpc_sock_cb) !=
		CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, rpc_timer_cb) !=
		CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
	    /* Our queue keeps to max_in_flight; curl's caps are a backstop,
	       and its cache keeps that many idle connections for reuse. */
	    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns) !=
		CURLM_OK ||
	    curl_multi_setopt(
		c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, conns) !=
		CURLM_OK) {
		log_err("rpc: cannot set up libcurl");
		if (c->multi != NULL)
			curl_multi_cleanup(c->multi);
		free(c->buckets);
		rpc_settings_free(&c->set);
		free(c);
		return NULL;
	}
	return c;
}

static void
rpc_client_destroy(struct rpc_client *c)
{
	struct rpc_call *call;
	struct rpc_sock *s;

	for (size_t i = 0; i < c->nbuckets; i++)
		while ((call = c->buckets[i]) != NULL)
			rpc_call_drop(c, call);
	/* No callbacks into a client being torn down. */
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, NULL);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
	curl_multi_cleanup(c->multi);
	while ((s = LIST_FIRST(&c->socks)) != NULL) {
		ev_io_stop(c->loop, &s->io);
		LIST_REMOVE(s, entry);
		free(s);
	}
	ev_timer_stop(c->loop, &c->curl_timer);
	free(c->buckets);
	rpc_settings_free(&c->set);
	free(c);
}

void
rpc_client_free(struct rpc_client *c)
{
	if (c == NULL)
		return;
	if (c->busy > 0) {
		c->free_requested = true;
		return;
	}
	rpc_client_destroy(c);
}

enum rpc_status
rpc_call(struct rpc_client *c, const char *method, json_t *params,
    rpc_done_fn *cb, void *arg, uint64_t *call_id)
{
	struct rpc_call *call;
	enum rpc_status st;
	bool start_now;

	if (cb == NULL || !rpc_request_ok(method, params) ||
	    c->free_requested) {
		json_decref(params);
		return RPC_ERR_INVALID;
	}
	start_now =
	    c->stats.in_flight < c->set.max_in_flight && TAILQ_EMPTY(&c->queue);
	if (!start_now && c->stats.queued >= c->set.max_queued) {
		json_decref(params);
		return RPC_ERR_BUSY;
	}
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		json_decref(params);
		return RPC_ERR_NOMEM;
	}
	call->client = c;
	call->id = c->next_id;
	call->cb = cb;
	call->arg = arg;
	call->request = rpc_request_encode(call->id, method, params);
	json_decref(params);
	if (call->request == NULL || !rpc_hash_insert(c, call)) {
		free(call->request);
		free(call);
		return RPC_ERR_NOMEM;
	}
	/* The deadline counts from now, not from the last loop iteration. */
	ev_now_update(c->loop);
	call->deadline_at =
	    ev_now(c->loop) + (double)c->set.timeout_ms / 1000.0;
	ev_timer_init(&call->deadline, rpc_call_deadline_cb,
	    (double)c->set.timeout_ms / 1000.0, 0.);
	call->deadline.data = call;
	if (start_now) {
		if ((st = rpc_call_start(c, call)) != RPC_OK) {
			call->state = RPC_CALL_FAILING; /* not queued */
			rpc_call_drop(c, call);
			return st;
		}
	} else {
		call->state = RPC_CALL_QUEUED;
		TAILQ_INSERT_TAIL(&c->queue, call, queue_entry);
		c->stats.queued++;
	}
	ev_timer_start(c->loop, &call->deadline);
	c->next_id++;
	c->stats.calls++;
	if (call_id != NULL)
		*call_id = call->id;
	return RPC_OK;
}

bool
rpc_cancel(struct rpc_client *c, uint64_t call_id)
{
	struct rpc_call *call = rpc_hash_find(c, call_id);
	bool was_running;

	if (call == NULL)
		return false;
	was_running = call->state == RPC_CALL_RUNNING;
	rpc_call_drop(c, call);
	if (was_running && !c->free_requested)
		rpc_queue_drain(c);
	return true;
}

void
rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out)
{
	*out = c->stats;
}
