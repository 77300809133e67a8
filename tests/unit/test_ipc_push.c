/*
 * IPC pushes (ipc_net.c): a server broadcasting id-0 messages to every
 * client, clients dispatching them by type, dropping the connection on
 * unexpected or malformed ones, and running on_connect on every new
 * connection; over real Unix sockets on a real libev loop, under a hard
 * timeout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_loop.h"

#include "ipc.h"
#include "log.h"

#define TEST_TIMEOUT 30.0

/* ---- Fixture: a temporary directory, a loop, a hard timeout ------------- */

struct fixture {
	struct ev_loop *loop;
	char dir[64];
	char path[128];
	ev_timer hard_timeout;
};

static struct fixture F;

static void server_reset(void);

static void
hard_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	fail_msg("test did not finish within %.0f s", TEST_TIMEOUT);
}

static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	snprintf(F.dir, sizeof(F.dir), "/tmp/test_ipc_push.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	snprintf(F.path, sizeof(F.path), "%s/push.sock", F.dir);
	if ((F.loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		return -1;
	ev_timer_init(&F.hard_timeout, hard_timeout_cb, TEST_TIMEOUT, 0.);
	ev_timer_start(F.loop, &F.hard_timeout);
	server_reset();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ev_timer_stop(F.loop, &F.hard_timeout);
	ev_loop_destroy(F.loop);
	unlink(F.path);
	rmdir(F.dir);
	return 0;
}

#define RUN_UNTIL(cond) TEST_RUN_UNTIL(F.loop, cond)

static void
run_for(double seconds)
{
	test_run_for(F.loop, seconds);
}

/* Every event the test sees, numbered, to check their order. */
static int sequence;

/* ---- Server: echoes IPC_AUTH_TOKEN, or holds it ------------------------- */

#define HELD_MAX 8

struct test_server {
	struct ipc_server *srv;
	bool hold;
	int requests;
	int closes;
	struct ipc_conn *held_conn[HELD_MAX];
	uint32_t held_id[HELD_MAX];
	uint64_t held_v[HELD_MAX];
	int nheld;
};

static struct test_server S;

static void
server_reset(void)
{
	memset(&S, 0, sizeof(S));
}

static void
server_on_close(struct ipc_conn *conn, void *data)
{
	struct test_server *s = data;
	int i, j;

	s->closes++;
	for (i = j = 0; i < s->nheld; i++) {
		if (s->held_conn[i] == conn)
			continue;
		s->held_conn[j] = s->held_conn[i];
		s->held_id[j] = s->held_id[i];
		s->held_v[j] = s->held_v[i];
		j++;
	}
	s->nheld = j;
}

static void
reply_value(struct ipc_conn *conn, uint32_t id, uint64_t v)
{
	struct ipc_writer w;

	ipc_msg_begin(&w, IPC_AUTH_TOKEN_REPLY, id);
	ipc_put_u64(&w, v);
	ipc_conn_reply(conn, &w);
}

static bool
handle_token(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct test_server *s = arg;
	uint64_t v;

	if (ipc_get_u64(msg, &v) != IPC_OK || ipc_get_end(msg) != IPC_OK)
		return false;
	s->requests++;
	if (ipc_conn_data(conn) == NULL)
		ipc_conn_set_data(conn, s, server_on_close);
	if (s->hold) {
		assert_true(s->nheld < HELD_MAX);
		s->held_conn[s->nheld] = conn;
		s->held_id[s->nheld] = msg->id;
		s->held_v[s->nheld] = v;
		s->nheld++;
		return true;
	}
	reply_value(conn, msg->id, v);
	return true;
}

static const struct ipc_handler server_handlers[] = {
    {IPC_AUTH_TOKEN, handle_token},
    {.fn = NULL},
};

/* Starts (or restarts) the server; S.closes counts over the test. */
static void
server_start(void)
{
	int closes = S.closes;

	memset(&S, 0, sizeof(S));
	S.closes = closes;
	S.srv = ipc_server_listen(F.loop, F.path, 0600, server_handlers, &S);
	assert_non_null(S.srv);
}

/* Broadcasts IPC_ACL_INVALIDATE with one str field. */
static void
push_str(const char *s, size_t len)
{
	struct ipc_writer w;

	ipc_msg_begin(&w, IPC_ACL_INVALIDATE, 0);
	ipc_put_str(&w, s, len);
	ipc_server_broadcast(S.srv, &w);
}

/* ---- Clients ------------------------------------------------------------ */

struct req {
	int calls;
	enum ipc_status st;
	uint64_t v;
	int seq;
};

struct peer {
	struct ipc_client *c;
	int pushes;
	int push_seq; /* sequence number of the last push */
	size_t last_len;
	char last[64];
	int connects;
	bool free_in_push;
	bool free_in_connect;
};

static bool
handle_invalidate(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct peer *p = arg;
	const char *s;
	size_t len;

	/* Pushes come without a server connection, and with id 0. */
	assert_null(conn);
	assert_int_equal(msg->id, 0);
	assert_int_equal(msg->type, IPC_ACL_INVALIDATE);
	if (ipc_get_str(msg, &s, &len) != IPC_OK || ipc_get_end(msg) != IPC_OK)
		return false;
	p->pushes++;
	p->push_seq = sequence++;
	p->last_len = len;
	snprintf(p->last, sizeof(p->last), "%.*s",
	    (int)(len < sizeof(p->last) ? len : sizeof(p->last) - 1), s);
	if (p->free_in_push) {
		ipc_client_free(p->c);
		p->c = NULL;
	}
	return true;
}

static const struct ipc_handler push_handlers[] = {
    {IPC_ACL_INVALIDATE, handle_invalidate},
    {.fn = NULL},
};

static void
on_connect(void *arg)
{
	struct peer *p = arg;

	p->connects++;
	if (p->free_in_connect) {
		ipc_client_free(p->c);
		p->c = NULL;
	}
}

static void
peer_new(struct peer *p, const char *name, bool with_pushes)
{
	memset(p, 0, sizeof(*p));
	p->c = ipc_client_new(F.loop, F.path, name);
	assert_non_null(p->c);
	if (with_pushes)
		ipc_client_on_push(p->c, push_handlers, p);
	ipc_client_on_connect(p->c, on_connect, p);
}

static void send_req(struct ipc_client *c, struct req *r, uint64_t v);

/*
 * A client that is connected and known to the server: one request round
 * trip proves the server accepted it (a broadcast reaches only accepted
 * connections) and gives its conn an on_close callback.
 */
static void
peer_connected(struct peer *p, const char *name, bool with_pushes)
{
	struct req r;

	peer_new(p, name, with_pushes);
	RUN_UNTIL(ipc_client_connected(p->c));
	send_req(p->c, &r, 0);
	RUN_UNTIL(r.calls == 1);
	assert_int_equal(r.st, IPC_OK);
}

static void
req_cb(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct req *r = arg;

	r->calls++;
	r->st = st;
	r->seq = sequence++;
	if (st == IPC_OK) {
		assert_int_equal(ipc_get_u64(msg, &r->v), IPC_OK);
		assert_int_equal(ipc_get_end(msg), IPC_OK);
	}
}

static void
send_req(struct ipc_client *c, struct req *r, uint64_t v)
{
	struct ipc_writer w;
	uint32_t id;

	memset(r, 0, sizeof(*r));
	id = ipc_client_begin(c, &w, IPC_AUTH_TOKEN);
	ipc_put_u64(&w, v);
	assert_int_equal(ipc_client_send(c, &w, id, 10., req_cb, r), IPC_OK);
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_broadcast_reaches_every_client(void **state)
{
	struct peer p[3];
	int i;

	(void)state;
	server_start();
	for (i = 0; i < 3; i++)
		peer_connected(&p[i], "peer", true);
	push_str("0xabc", 5);
	RUN_UNTIL(p[0].pushes == 1 && p[1].pushes == 1 && p[2].pushes == 1);
	for (i = 0; i < 3; i++)
		assert_string_equal(p[i].last, "0xabc");
	push_str("", 0);
	RUN_UNTIL(p[0].pushes == 2 && p[1].pushes == 2 && p[2].pushes == 2);
	for (i = 0; i < 3; i++) {
		assert_int_equal(p[i].last_len, 0);
		/* Nothing dropped: the connection is the first one. */
		assert_true(ipc_client_connected(p[i].c));
		assert_int_equal(p[i].connects, 0);
	}
	run_for(0.05);
	for (i = 0; i < 3; i++) {
		assert_int_equal(p[i].pushes, 2);
		ipc_client_free(p[i].c);
	}
	ipc_server_close(S.srv);
}

static void
test_broadcast_without_connections(void **state)
{
	(void)state;
	server_start();
	push_str("nobody", 6); /* freed, sent nowhere */
	run_for(0.01);
	ipc_server_close(S.srv);
}

static void
test_push_keeps_stream_order_with_replies(void **state)
{
	struct peer p;
	struct req a, b;

	(void)state;
	server_start();
	peer_connected(&p, "ordered", true);
	S.hold = true;
	send_req(p.c, &a, 1);
	send_req(p.c, &b, 2);
	RUN_UNTIL(S.nheld == 2);
	/* reply a, push, reply b: one stream, delivered in that order. */
	reply_value(S.held_conn[0], S.held_id[0], S.held_v[0]);
	push_str("between", 7);
	reply_value(S.held_conn[1], S.held_id[1], S.held_v[1]);
	S.nheld = 0;
	RUN_UNTIL(a.calls == 1 && b.calls == 1 && p.pushes == 1);
	assert_int_equal(a.st, IPC_OK);
	assert_int_equal(b.st, IPC_OK);
	assert_true(a.v == 1 && b.v == 2);
	assert_true(a.seq < p.push_seq);
	assert_true(p.push_seq < b.seq);
	/* A push is not a reply: nothing pending was consumed by it. */
	assert_true(ipc_client_connected(p.c));
	ipc_client_free(p.c);
	ipc_server_close(S.srv);
}

/* The client drops the connection, fails what is pending, reconnects. */
static void
expect_reconnect(struct peer *p, int closes_before)
{
	struct req r;

	RUN_UNTIL(S.closes == closes_before + 1);
	RUN_UNTIL(p->connects == 1 && ipc_client_connected(p->c));
	send_req(p->c, &r, 42);
	RUN_UNTIL(r.calls == 1);
	assert_int_equal(r.st, IPC_OK);
	assert_true(r.v == 42);
}

static void
test_unexpected_push_type_reconnects(void **state)
{
	struct peer p;
	struct req held;
	struct ipc_writer w;

	(void)state;
	server_start();
	peer_connected(&p, "picky", true);
	/* A request in flight, so the server has a conn with on_close. */
	S.hold = true;
	send_req(p.c, &held, 7);
	RUN_UNTIL(S.nheld == 1);
	S.hold = false;
	/* id 0 with a type the client has no push handler for. */
	ipc_msg_begin(&w, IPC_AUTH_TOKEN_REPLY, 0);
	ipc_put_u64(&w, 1);
	ipc_server_broadcast(S.srv, &w);
	RUN_UNTIL(held.calls == 1);
	assert_int_equal(held.st, IPC_ERR_DISCONNECTED);
	assert_int_equal(p.pushes, 0);
	expect_reconnect(&p, 0);
	ipc_client_free(p.c);
	ipc_server_close(S.srv);
}

static void
test_push_without_handlers_reconnects(void **state)
{
	struct peer p;
	struct req first;

	(void)state;
	server_start();
	peer_connected(&p, "no-pushes", false);
	send_req(p.c, &first, 1); /* registers the server's on_close */
	RUN_UNTIL(first.calls == 1);
	push_str("x", 1);
	expect_reconnect(&p, 0);
	assert_int_equal(p.pushes, 0);
	ipc_client_free(p.c);
	ipc_server_close(S.srv);
}

static void
test_malformed_push_reconnects(void **state)
{
	struct peer p;
	struct req first;
	struct ipc_writer w;

	(void)state;
	server_start();
	peer_connected(&p, "strict", true);
	send_req(p.c, &first, 1);
	RUN_UNTIL(first.calls == 1);
	/* The handler wants one str: a u64 is malformed. */
	ipc_msg_begin(&w, IPC_ACL_INVALIDATE, 0);
	ipc_put_u64(&w, 5);
	ipc_server_broadcast(S.srv, &w);
	expect_reconnect(&p, 0);
	assert_int_equal(p.pushes, 0);
	/* Leftover fields are malformed too. */
	send_req(p.c, &first, 1);
	RUN_UNTIL(first.calls == 1);
	p.connects = 0;
	ipc_msg_begin(&w, IPC_ACL_INVALIDATE, 0);
	ipc_put_str(&w, "a", 1);
	ipc_put_str(&w, "b", 1);
	ipc_server_broadcast(S.srv, &w);
	expect_reconnect(&p, 1);
	assert_int_equal(p.pushes, 0);
	/* And a good push afterwards is handled. */
	push_str("fine", 4);
	RUN_UNTIL(p.pushes == 1);
	assert_string_equal(p.last, "fine");
	ipc_client_free(p.c);
	ipc_server_close(S.srv);
}

static void
test_on_connect_runs_on_every_connection(void **state)
{
	struct peer p;

	(void)state;
	/* Registered before any connection: the first one counts. */
	peer_new(&p, "late", true);
	run_for(0.1);
	assert_false(ipc_client_connected(p.c));
	assert_int_equal(p.connects, 0);
	server_start();
	RUN_UNTIL(p.connects == 1);
	assert_true(ipc_client_connected(p.c));
	/* The server restarts: on_connect runs again. */
	ipc_server_close(S.srv);
	RUN_UNTIL(!ipc_client_connected(p.c));
	assert_int_equal(p.connects, 1);
	server_start();
	RUN_UNTIL(p.connects == 2);
	assert_true(ipc_client_connected(p.c));
	run_for(0.1);
	assert_int_equal(p.connects, 2);
	/* Unset: no more calls. */
	ipc_client_on_connect(p.c, NULL, NULL);
	ipc_server_close(S.srv);
	RUN_UNTIL(!ipc_client_connected(p.c));
	server_start();
	RUN_UNTIL(ipc_client_connected(p.c));
	assert_int_equal(p.connects, 2);
	ipc_client_free(p.c);
	ipc_server_close(S.srv);
}

static void
test_on_connect_not_for_connection_already_up(void **state)
{
	struct peer p;

	(void)state;
	server_start();
	p.c = NULL;
	peer_connected(&p, "up", true);
	run_for(0.05);
	assert_int_equal(p.connects, 0);
	ipc_client_free(p.c);
	ipc_server_close(S.srv);
}

static void
test_handlers_may_free_the_client(void **state)
{
	struct peer p, q;

	(void)state;
	server_start();
	peer_connected(&p, "freed-in-push", true);
	peer_connected(&q, "bystander", true);
	p.free_in_push = true;
	push_str("bye", 3);
	push_str("again", 5); /* p is gone: only q gets it */
	RUN_UNTIL(p.pushes == 1 && q.pushes == 2);
	assert_null(p.c);
	run_for(0.05);
	assert_int_equal(p.pushes, 1);

	/* on_connect freeing the client. */
	ipc_server_close(S.srv);
	RUN_UNTIL(!ipc_client_connected(q.c));
	q.free_in_connect = true;
	server_start();
	RUN_UNTIL(q.connects == 1);
	assert_null(q.c);
	run_for(0.1);
	assert_int_equal(q.connects, 1);
	ipc_server_close(S.srv);
}

/* A plain socket that connects and never reads. */
static int
raw_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, F.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Reads and discards until EOF; false if the peer keeps it open. */
static bool
drain_until_eof(int fd, double timeout)
{
	static char sink[65536];
	struct timeval tv = {(time_t)timeout, 0};
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		n = recv(fd, sink, sizeof(sink), 0);
		if (n == 0)
			return true;
		if (n < 0)
			return errno == ECONNRESET;
	}
}

static void
test_broadcast_drops_a_connection_over_its_bound(void **state)
{
	static char big[1000 * 1000];
	struct peer good;
	int fd, i, pushes;

	(void)state;
	memset(big, 'x', sizeof(big));
	server_start();
	peer_connected(&good, "reader", true);
	fd = raw_connect();
	run_for(0.05); /* accepted */
	/*
	 * Each push is ~1 MB; the reader takes each before the next, the
	 * raw peer takes none: past IPC_MAX_QUEUED (8 MiB) it is dropped.
	 */
	pushes = (IPC_MAX_QUEUED / (int)sizeof(big)) + 4;
	for (i = 0; i < pushes; i++) {
		push_str(big, sizeof(big));
		RUN_UNTIL(good.pushes == i + 1);
		assert_int_equal(good.last_len, sizeof(big));
	}
	run_for(0.05); /* the deferred close runs */
	assert_true(drain_until_eof(fd, 5));
	close(fd);
	/* The reader was never disturbed. */
	assert_true(ipc_client_connected(good.c));
	assert_int_equal(good.connects, 0);
	push_str("after", 5);
	RUN_UNTIL(good.pushes == pushes + 1);
	assert_string_equal(good.last, "after");
	ipc_client_free(good.c);
	ipc_server_close(S.srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_broadcast_reaches_every_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_broadcast_without_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_push_keeps_stream_order_with_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_unexpected_push_type_reconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_push_without_handlers_reconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_malformed_push_reconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_on_connect_runs_on_every_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_on_connect_not_for_connection_already_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_handlers_may_free_the_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_broadcast_drops_a_connection_over_its_bound, setup,
		teardown),
	};

	log_init("test_ipc_push",
	    getenv("TEST_IPC_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
