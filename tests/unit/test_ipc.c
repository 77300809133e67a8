/*
 * IPC (ipc.c, ipc_net.c): the message codec, then servers and clients over
 * real Unix sockets in a temporary directory on a real libev loop. Every
 * test runs under a hard timeout that fails it.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_loop.h"

#include "ipc.h"
#include "log.h"

#define TEST_TIMEOUT 20.0

/* ---- Fixture: a temporary directory, a loop, a hard timeout ------------- */

struct fixture {
	struct ev_loop *loop;
	char dir[64];
	char path[128];
	ev_timer hard_timeout;
};

static struct fixture F;

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
	snprintf(F.dir, sizeof(F.dir), "/tmp/test_ipc.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	snprintf(F.path, sizeof(F.path), "%s/test.sock", F.dir);
	if ((F.loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		return -1;
	ev_timer_init(&F.hard_timeout, hard_timeout_cb, TEST_TIMEOUT, 0.);
	ev_timer_start(F.loop, &F.hard_timeout);
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

/* A writer's bytes as a frame on the wire (prefix filled in). */
static const char *
frame_of(struct ipc_writer *w, size_t *len)
{
	size_t body = w->buf.size - 4;
	unsigned char *p = (unsigned char *)w->buf.data;

	p[0] = (unsigned char)(body >> 24);
	p[1] = (unsigned char)(body >> 16);
	p[2] = (unsigned char)(body >> 8);
	p[3] = (unsigned char)body;
	*len = w->buf.size;
	return w->buf.data;
}

/* ---- Test server: echo, hold, reorder ----------------------------------- */

#define HELD_MAX 64

struct held {
	struct ipc_conn *conn;
	uint32_t id;
	uint64_t v;
};

struct test_server {
	struct ipc_server *srv;
	bool hold; /* keep every request unanswered */
	uint64_t reorder_every; /* hold these, answer 4 at once, reversed */
	int requests;
	int deferred;
	int closes; /* on_close calls */
	struct held held[HELD_MAX];
	int nheld;
};

static struct test_server S;

static void
reply_value(struct ipc_conn *conn, uint32_t id, uint64_t v)
{
	struct ipc_writer w;

	ipc_msg_begin(&w, IPC_AUTH_TOKEN_REPLY, id);
	ipc_put_u64(&w, v);
	ipc_conn_reply(conn, &w);
}

static void
server_on_close(struct ipc_conn *conn, void *data)
{
	struct test_server *s = data;
	int i, j;

	s->closes++;
	for (i = j = 0; i < s->nheld; i++)
		if (s->held[i].conn != conn)
			s->held[j++] = s->held[i];
	s->nheld = j;
}

static void
flush_held_reversed(struct test_server *s)
{
	struct held h;

	while (s->nheld > 0) {
		h = s->held[--s->nheld];
		reply_value(h.conn, h.id, h.v);
	}
}

/* IPC_AUTH_TOKEN in tests: u64 value; answered with the same value. */
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
	if (s->hold || (s->reorder_every != 0 && v % s->reorder_every == 0)) {
		assert_true(s->nheld < HELD_MAX);
		s->held[s->nheld++] = (struct held){conn, msg->id, v};
		if (!s->hold && s->nheld == 4) {
			s->deferred += 4;
			flush_held_reversed(s);
		}
		return true;
	}
	reply_value(conn, msg->id, v);
	return true;
}

/* IPC_AUTH_CHALLENGE in tests: bin blob; answered with its length. */
static bool
handle_blob(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct ipc_writer w;
	const void *data;
	size_t len;

	(void)arg;
	if (ipc_get_bin(msg, &data, &len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	ipc_msg_begin(&w, IPC_AUTH_CHALLENGE_REPLY, msg->id);
	ipc_put_u64(&w, len);
	ipc_conn_reply(conn, &w);
	return true;
}

/* IPC_AUTH_RESPONSE in tests: always judged malformed. */
static bool
handle_malformed(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	(void)conn;
	(void)msg;
	(void)arg;
	return false;
}

static const struct ipc_handler test_handlers[] = {
    {IPC_AUTH_TOKEN, handle_token},
    {IPC_AUTH_CHALLENGE, handle_blob},
    {IPC_AUTH_RESPONSE, handle_malformed},
    {.fn = NULL},
};

static void
server_start(void)
{
	memset(&S, 0, sizeof(S));
	S.srv = ipc_server_listen(F.loop, F.path, 0600, test_handlers, &S);
	assert_non_null(S.srv);
}

/* ---- Client requests ---------------------------------------------------- */

struct req {
	uint32_t id;
	uint64_t v;
	int calls;
	enum ipc_status st;
	int order; /* completion order */
	bool free_client; /* the callback frees this client */
	struct ipc_client *client;
};

static int completions;

static void
req_cb(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct req *r = arg;
	uint64_t v;

	r->calls++;
	r->st = st;
	r->order = completions++;
	if (st == IPC_OK) {
		assert_non_null(msg);
		assert_int_equal(msg->type, IPC_AUTH_TOKEN_REPLY);
		assert_int_equal(msg->id, r->id);
		assert_int_equal(ipc_get_u64(msg, &v), IPC_OK);
		assert_int_equal(ipc_get_end(msg), IPC_OK);
		assert_true(v == r->v);
	} else {
		assert_null(msg);
	}
	if (r->free_client)
		ipc_client_free(r->client);
}

static enum ipc_status
send_typed(struct ipc_client *c, enum ipc_type type, struct req *r, uint64_t v,
    double timeout)
{
	struct ipc_writer w;

	memset(r, 0, sizeof(*r));
	r->v = v;
	r->id = ipc_client_begin(c, &w, type);
	ipc_put_u64(&w, v);
	return ipc_client_send(c, &w, r->id, timeout, req_cb, r);
}

static enum ipc_status
send_req(struct ipc_client *c, struct req *r, uint64_t v, double timeout)
{
	return send_typed(c, IPC_AUTH_TOKEN, r, v, timeout);
}

static struct ipc_client *
client_connected(const char *name)
{
	struct ipc_client *c = ipc_client_new(F.loop, F.path, name);

	assert_non_null(c);
	RUN_UNTIL(ipc_client_connected(c));
	return c;
}

/* ---- Raw peers: hand-made frames on plain sockets ----------------------- */

struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void
mp_init(struct mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mp_header(struct mp *m, uint64_t version, uint64_t type, uint64_t id)
{
	mp_init(m);
	msgpack_pack_uint64(&m->pk, version);
	msgpack_pack_uint64(&m->pk, type);
	msgpack_pack_uint64(&m->pk, id);
}

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

static void
raw_write(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

static void
raw_frame(int fd, const void *body, size_t len)
{
	unsigned char prefix[4] = {(unsigned char)(len >> 24),
	    (unsigned char)(len >> 16), (unsigned char)(len >> 8),
	    (unsigned char)len};

	raw_write(fd, prefix, 4);
	if (len > 0)
		raw_write(fd, body, len);
}

struct raw_watch {
	ev_io io;
	bool eof;
	char buf[4096];
	size_t len;
};

static void
raw_watch_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct raw_watch *rw = (struct raw_watch *)w;
	ssize_t n;

	(void)revents;
	n = recv(
	    w->fd, rw->buf + rw->len, sizeof(rw->buf) - rw->len, MSG_DONTWAIT);
	if (n > 0) {
		rw->len += (size_t)n;
		assert_true(rw->len < sizeof(rw->buf));
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	rw->eof = true;
	ev_io_stop(loop, w);
}

static void
raw_watch_start(struct raw_watch *rw, int fd)
{
	memset(rw, 0, sizeof(*rw));
	ev_io_init(&rw->io, raw_watch_cb, fd, EV_READ);
	ev_io_start(F.loop, &rw->io);
}

/* Sends one hand-made body on a fresh connection; the server must hang up. */
static void
expect_disconnect(const void *body, size_t len)
{
	struct raw_watch rw;
	int fd = raw_connect();

	raw_watch_start(&rw, fd);
	raw_frame(fd, body, len);
	RUN_UNTIL(rw.eof);
	assert_int_equal(rw.len, 0);
	close(fd);
}

/* ---- Fake server: misbehaving peers for the client ---------------------- */

enum fake_action {
	FAKE_SILENT,
	FAKE_GARBAGE,
	FAKE_OVERSIZE,
	FAKE_VERSION,
	FAKE_UNKNOWN_ID,
};

struct fake {
	int lfd;
	int fd;
	bool read; /* false: never reads, so the client's queue fills */
	enum fake_action action;
	ev_io accept_io;
	ev_io io;
	int accepts;
	int frames;
	char buf[64 * 1024];
	size_t len;
};

static struct fake FK;

static void
fake_send(const void *data, size_t len)
{
	assert_int_equal(send(FK.fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
fake_respond(const char *body, size_t len)
{
	static const unsigned char garbage[] = {0, 0, 0, 2, 0xc1, 0xc1};
	static const unsigned char oversize[] = {0x7f, 0xff, 0xff, 0xff};
	struct ipc_reader r;
	struct ipc_writer w;
	struct mp m;
	const char *frame;
	size_t flen;

	assert_int_equal(ipc_reader_init(&r, body, len), IPC_OK);
	ipc_reader_done(&r);
	switch (FK.action) {
	case FAKE_SILENT:
		break;
	case FAKE_GARBAGE:
		fake_send(garbage, sizeof(garbage));
		break;
	case FAKE_OVERSIZE:
		fake_send(oversize, sizeof(oversize));
		break;
	case FAKE_VERSION:
		mp_header(&m, IPC_VERSION + 1, IPC_AUTH_TOKEN_REPLY, r.id);
		msgpack_pack_uint64(&m.pk, 0);
		{
			unsigned char p[4] = {
			    0, 0, 0, (unsigned char)m.sb.size};

			fake_send(p, 4);
		}
		fake_send(m.sb.data, m.sb.size);
		msgpack_sbuffer_destroy(&m.sb);
		break;
	case FAKE_UNKNOWN_ID:
		ipc_msg_begin(&w, IPC_AUTH_TOKEN_REPLY, r.id + 100000);
		ipc_put_u64(&w, 0);
		frame = frame_of(&w, &flen);
		fake_send(frame, flen);
		ipc_msg_discard(&w);
		break;
	}
}

static void
fake_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	ssize_t n;
	size_t flen;

	(void)revents;
	n = recv(FK.fd, FK.buf + FK.len, sizeof(FK.buf) - FK.len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ev_io_stop(loop, w);
		close(FK.fd);
		FK.fd = -1;
		return;
	}
	FK.len += (size_t)n;
	while (FK.len >= 4) {
		flen = (size_t)(unsigned char)FK.buf[0] << 24 |
		    (size_t)(unsigned char)FK.buf[1] << 16 |
		    (size_t)(unsigned char)FK.buf[2] << 8 |
		    (size_t)(unsigned char)FK.buf[3];
		assert_true(flen + 4 <= sizeof(FK.buf));
		if (FK.len < flen + 4)
			break;
		FK.frames++;
		fake_respond(FK.buf + 4, flen);
		memmove(FK.buf, FK.buf + 4 + flen, FK.len - 4 - flen);
		FK.len -= 4 + flen;
	}
}

static void
fake_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int fd;

	(void)w;
	(void)revents;
	fd = accept4(FK.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (FK.fd != -1) {
		ev_io_stop(loop, &FK.io);
		close(FK.fd);
	}
	FK.fd = fd;
	FK.len = 0;
	FK.accepts++;
	if (FK.read) {
		ev_io_set(&FK.io, fd, EV_READ);
		ev_io_start(loop, &FK.io);
	}
}

static void
fake_start(enum fake_action action, bool read)
{
	struct sockaddr_un sun;

	memset(&FK, 0, sizeof(FK));
	FK.fd = -1;
	FK.action = action;
	FK.read = read;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, F.path);
	FK.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(FK.lfd >= 0);
	assert_int_equal(bind(FK.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(FK.lfd, 16), 0);
	ev_io_init(&FK.accept_io, fake_accept_cb, FK.lfd, EV_READ);
	ev_io_start(F.loop, &FK.accept_io);
	ev_init(&FK.io, fake_read_cb);
}

static void
fake_stop(void)
{
	ev_io_stop(F.loop, &FK.accept_io);
	ev_io_stop(F.loop, &FK.io);
	close(FK.lfd);
	if (FK.fd != -1)
		close(FK.fd);
	unlink(F.path);
}

/* ---- Codec -------------------------------------------------------------- */

/* The frame body of a writer, as the receiving side sees it. */
static void
reader_of(struct ipc_writer *w, struct ipc_reader *r, enum ipc_status want)
{
	assert_int_equal(
	    ipc_reader_init(r, w->buf.data + 4, w->buf.size - 4), want);
}

static void
test_codec_round_trip(void **state)
{
	static const unsigned char blob[] = {0, 1, 2, 0x7f, 0x80, 0xff};
	struct ipc_writer w;
	struct ipc_reader r;
	uint64_t u;
	int64_t i;
	bool b;
	const char *s;
	const void *d;
	size_t len;

	(void)state;
	ipc_msg_begin(&w, IPC_AUTH_RESPONSE_REPLY, 0xdeadbeef);
	ipc_put_u64(&w, 0);
	ipc_put_u64(&w, 1);
	ipc_put_u64(&w, UINT64_MAX);
	ipc_put_i64(&w, INT64_MIN);
	ipc_put_i64(&w, -1);
	ipc_put_i64(&w, 0);
	ipc_put_i64(&w, INT64_MAX);
	ipc_put_u64(&w, 42); /* a positive int is a valid i64 too */
	ipc_put_bool(&w, true);
	ipc_put_bool(&w, false);
	ipc_put_str(&w, "hello", 5);
	ipc_put_str(&w, "", 0);
	ipc_put_str(&w, "a\0b", 3);
	ipc_put_bin(&w, blob, sizeof(blob));
	ipc_put_bin(&w, NULL, 0);

	reader_of(&w, &r, IPC_OK);
	assert_int_equal(r.type, IPC_AUTH_RESPONSE_REPLY);
	assert_int_equal(r.id, 0xdeadbeef);
	assert_int_equal(ipc_get_u64(&r, &u), IPC_OK);
	assert_true(u == 0);
	assert_int_equal(ipc_get_u64(&r, &u), IPC_OK);
	assert_true(u == 1);
	assert_int_equal(ipc_get_u64(&r, &u), IPC_OK);
	assert_true(u == UINT64_MAX);
	assert_int_equal(ipc_get_i64(&r, &i), IPC_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(ipc_get_i64(&r, &i), IPC_OK);
	assert_true(i == -1);
	assert_int_equal(ipc_get_i64(&r, &i), IPC_OK);
	assert_true(i == 0);
	assert_int_equal(ipc_get_i64(&r, &i), IPC_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(ipc_get_i64(&r, &i), IPC_OK);
	assert_true(i == 42);
	assert_int_equal(ipc_get_bool(&r, &b), IPC_OK);
	assert_true(b);
	assert_int_equal(ipc_get_bool(&r, &b), IPC_OK);
	assert_false(b);
	assert_int_equal(ipc_get_str(&r, &s, &len), IPC_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(s, "hello", 5);
	/* Zero-copy: the string lies inside the frame. */
	assert_true(s > w.buf.data && s + len <= w.buf.data + w.buf.size);
	assert_int_equal(ipc_get_str(&r, &s, &len), IPC_OK);
	assert_int_equal(len, 0);
	assert_int_equal(ipc_get_str(&r, &s, &len), IPC_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 3);
	assert_int_equal(ipc_get_bin(&r, &d, &len), IPC_OK);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(d, blob, sizeof(blob));
	assert_int_equal(ipc_get_bin(&r, &d, &len), IPC_OK);
	assert_int_equal(len, 0);
	assert_int_equal(ipc_get_end(&r), IPC_OK);
	/* Nothing more to read. */
	assert_int_equal(ipc_get_u64(&r, &u), IPC_ERR_DECODE);
	ipc_reader_done(&r);
	ipc_msg_discard(&w);
	ipc_msg_discard(&w); /* twice is harmless */
}

static void
test_codec_leftover_fields(void **state)
{
	struct ipc_writer w;
	struct ipc_reader r;
	uint64_t u;

	(void)state;
	ipc_msg_begin(&w, IPC_AUTH_TOKEN, 7);
	ipc_put_u64(&w, 1);
	ipc_put_u64(&w, 2);
	reader_of(&w, &r, IPC_OK);
	assert_int_equal(ipc_get_u64(&r, &u), IPC_OK);
	assert_int_equal(ipc_get_end(&r), IPC_ERR_DECODE);
	assert_int_equal(ipc_get_u64(&r, &u), IPC_OK);
	assert_int_equal(ipc_get_end(&r), IPC_OK);
	ipc_reader_done(&r);
	ipc_msg_discard(&w);

	/* A message without fields: get_end at once. */
	ipc_msg_begin(&w, IPC_AUTH_TOKEN, 8);
	reader_of(&w, &r, IPC_OK);
	assert_int_equal(ipc_get_end(&r), IPC_OK);
	ipc_reader_done(&r);
	ipc_msg_discard(&w);
}

/* Builds a one-field message and checks that `get` refuses it. */
enum getter { GET_U64, GET_I64, GET_BOOL, GET_STR, GET_BIN };

static enum ipc_status
get_one(struct ipc_reader *r, enum getter g)
{
	uint64_t u;
	int64_t i;
	bool b;
	const char *s;
	const void *d;
	size_t len;

	switch (g) {
	case GET_U64:
		return ipc_get_u64(r, &u);
	case GET_I64:
		return ipc_get_i64(r, &i);
	case GET_BOOL:
		return ipc_get_bool(r, &b);
	case GET_STR:
		return ipc_get_str(r, &s, &len);
	case GET_BIN:
		return ipc_get_bin(r, &d, &len);
	}
	return IPC_OK;
}

static void
expect_get(struct ipc_writer *w, enum getter g, enum ipc_status want)
{
	struct ipc_reader r;

	reader_of(w, &r, IPC_OK);
	assert_int_equal(get_one(&r, g), want);
	ipc_reader_done(&r);
	ipc_msg_discard(w);
}

static void
test_codec_wrong_field_type(void **state)
{
	struct ipc_writer w;
	enum getter g;

	(void)state;
#define ONE(put, getter, want)                                                 \
	do {                                                                   \
		ipc_msg_begin(&w, IPC_AUTH_TOKEN, 1);                          \
		put;                                                           \
		expect_get(&w, getter, want);                                  \
	} while (0)
	ONE(ipc_put_i64(&w, -1), GET_U64, IPC_ERR_DECODE);
	ONE(ipc_put_str(&w, "1", 1), GET_U64, IPC_ERR_DECODE);
	ONE(ipc_put_bool(&w, true), GET_U64, IPC_ERR_DECODE);
	ONE(ipc_put_u64(&w, (uint64_t)INT64_MAX + 1), GET_I64, IPC_ERR_DECODE);
	ONE(ipc_put_u64(&w, (uint64_t)INT64_MAX), GET_I64, IPC_OK);
	ONE(ipc_put_bool(&w, false), GET_I64, IPC_ERR_DECODE);
	ONE(ipc_put_u64(&w, 1), GET_BOOL, IPC_ERR_DECODE);
	ONE(ipc_put_bin(&w, "x", 1), GET_STR, IPC_ERR_DECODE);
	ONE(ipc_put_u64(&w, 1), GET_STR, IPC_ERR_DECODE);
	ONE(ipc_put_str(&w, "x", 1), GET_BIN, IPC_ERR_DECODE);
	ONE(ipc_put_bool(&w, true), GET_BIN, IPC_ERR_DECODE);
#undef ONE
	/* A getter past the last field. */
	for (g = GET_U64; g <= GET_BIN; g++) {
		ipc_msg_begin(&w, IPC_AUTH_TOKEN, 1);
		expect_get(&w, g, IPC_ERR_DECODE);
	}
}

/* Fields no getter accepts, refused by their first byte. */
static void
test_codec_non_scalar_fields(void **state)
{
	/* array32 of 2^32-1 elements: must not make msgpack-c allocate. */
	static const unsigned char huge_array[] = {
	    0xdd, 0xff, 0xff, 0xff, 0xff};
	static const unsigned char huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
	static const unsigned char fixarray[] = {0x91, 0x01};
	static const unsigned char nil[] = {0xc0};
	static const unsigned char never_used[] = {0xc1};
	static const unsigned char float64[] = {
	    0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
	static const unsigned char fixext1[] = {0xd4, 0x01, 0x00};
	static const struct {
		const unsigned char *p;
		size_t n;
	} fields[] = {
	    {huge_array, sizeof(huge_array)},
	    {huge_map, sizeof(huge_map)},
	    {fixarray, sizeof(fixarray)},
	    {nil, sizeof(nil)},
	    {never_used, sizeof(never_used)},
	    {float64, sizeof(float64)},
	    {fixext1, sizeof(fixext1)},
	};
	struct ipc_reader r;
	struct mp m;
	enum getter g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		for (g = GET_U64; g <= GET_BIN; g++) {
			mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, 1);
			msgpack_sbuffer_write(
			    &m.sb, (const char *)fields[i].p, fields[i].n);
			assert_int_equal(
			    ipc_reader_init(&r, m.sb.data, m.sb.size), IPC_OK);
			assert_int_equal(get_one(&r, g), IPC_ERR_DECODE);
			assert_int_equal(ipc_get_end(&r), IPC_ERR_DECODE);
			ipc_reader_done(&r);
			msgpack_sbuffer_destroy(&m.sb);
		}
	}
}

static void
expect_header(struct mp *m, enum ipc_status want)
{
	struct ipc_reader r;

	assert_int_equal(ipc_reader_init(&r, m->sb.data, m->sb.size), want);
	ipc_reader_done(&r);
	msgpack_sbuffer_destroy(&m->sb);
}

static void
test_codec_header_errors(void **state)
{
	struct ipc_reader r;
	struct mp m;

	(void)state;
	mp_header(&m, IPC_VERSION + 1, IPC_AUTH_TOKEN, 1);
	expect_header(&m, IPC_ERR_VERSION);
	mp_header(&m, 0, IPC_AUTH_TOKEN, 1);
	expect_header(&m, IPC_ERR_VERSION);
	mp_init(&m); /* a version that is not a number */
	msgpack_pack_str_with_body(&m.pk, "1", 1);
	msgpack_pack_uint64(&m.pk, IPC_AUTH_TOKEN);
	msgpack_pack_uint64(&m.pk, 1);
	expect_header(&m, IPC_ERR_DECODE);
	mp_header(&m, IPC_VERSION, 0, 1);
	expect_header(&m, IPC_ERR_DECODE);
	mp_header(&m, IPC_VERSION, IPC_TYPE_MAX, 1);
	expect_header(&m, IPC_ERR_DECODE);
	mp_header(&m, IPC_VERSION, 1000, 1);
	expect_header(&m, IPC_ERR_DECODE);
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, (uint64_t)UINT32_MAX + 1);
	expect_header(&m, IPC_ERR_DECODE);
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, UINT32_MAX);
	expect_header(&m, IPC_OK);
	mp_init(&m); /* a negative id */
	msgpack_pack_uint64(&m.pk, IPC_VERSION);
	msgpack_pack_uint64(&m.pk, IPC_AUTH_TOKEN);
	msgpack_pack_int64(&m.pk, -1);
	expect_header(&m, IPC_ERR_DECODE);
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, 1);
	m.sb.size = 2; /* version and type only */
	expect_header(&m, IPC_ERR_DECODE);
	assert_int_equal(ipc_reader_init(&r, "", 0), IPC_ERR_DECODE);
	ipc_reader_done(&r);
}

/* Every proper prefix of a valid message fails somewhere, never crashes. */
static void
test_codec_truncated(void **state)
{
	struct ipc_writer w;
	struct ipc_reader r;
	const char *s;
	const void *d;
	char *copy;
	size_t body, cut, len;
	uint64_t u;
	int64_t i;
	bool b, ok;

	(void)state;
	ipc_msg_begin(&w, IPC_AUTH_TOKEN, 70000);
	ipc_put_u64(&w, UINT64_MAX);
	ipc_put_i64(&w, -300);
	ipc_put_bool(&w, true);
	ipc_put_str(&w, "a string of forty characters, give or ta", 40);
	ipc_put_bin(&w, "\x00\x01\x02", 3);
	body = w.buf.size - 4;
	for (cut = 0; cut <= body; cut++) {
		/* A copy exactly as long, so a read past it is caught by ASan. */
		copy = malloc(cut > 0 ? cut : 1);
		assert_non_null(copy);
		memcpy(copy, w.buf.data + 4, cut);
		ok = ipc_reader_init(&r, copy, cut) == IPC_OK &&
		    ipc_get_u64(&r, &u) == IPC_OK &&
		    ipc_get_i64(&r, &i) == IPC_OK &&
		    ipc_get_bool(&r, &b) == IPC_OK &&
		    ipc_get_str(&r, &s, &len) == IPC_OK &&
		    ipc_get_bin(&r, &d, &len) == IPC_OK &&
		    ipc_get_end(&r) == IPC_OK;
		assert_int_equal(ok, cut == body);
		ipc_reader_done(&r);
		free(copy);
	}
	ipc_msg_discard(&w);
}

static void
test_names(void **state)
{
	enum ipc_status s;
	int t;

	(void)state;
	for (s = IPC_OK; s <= IPC_ERR_BUSY; s++)
		assert_string_not_equal(ipc_status_str(s), "unknown status");
	assert_string_equal(
	    ipc_status_str((enum ipc_status)99), "unknown status");
	for (t = 1; t < IPC_TYPE_MAX; t++)
		assert_string_not_equal(
		    ipc_type_str((enum ipc_type)t), "UNKNOWN");
	assert_string_equal(ipc_type_str(IPC_AUTH_TOKEN), "AUTH_TOKEN");
	assert_string_equal(ipc_type_str((enum ipc_type)0), "UNKNOWN");
	assert_string_equal(ipc_type_str(IPC_TYPE_MAX), "UNKNOWN");
}

/* ---- Server and client -------------------------------------------------- */

#define PIPELINED 10000

static void
test_pipelined_out_of_order(void **state)
{
	struct ipc_client *c;
	struct req *reqs;
	int i, inversions = 0;

	(void)state;
	server_start();
	S.reorder_every = 7;
	c = client_connected("echo");
	reqs = calloc(PIPELINED, sizeof(*reqs));
	assert_non_null(reqs);
	completions = 0;
	/* All sent before the loop runs: most wait in the client's queue. */
	for (i = 0; i < PIPELINED; i++)
		assert_int_equal(
		    send_req(c, &reqs[i], (uint64_t)i * 3 + 1, 15.), IPC_OK);
	RUN_UNTIL(S.requests == PIPELINED);
	flush_held_reversed(&S);
	RUN_UNTIL(completions == PIPELINED);
	for (i = 0; i < PIPELINED; i++) {
		assert_int_equal(reqs[i].calls, 1);
		assert_int_equal(reqs[i].st, IPC_OK);
		if (i > 0 && reqs[i].order < reqs[i - 1].order)
			inversions++;
	}
	assert_true(S.deferred > 0);
	assert_true(inversions > 0);
	/* Nothing else arrives. */
	run_for(0.05);
	assert_int_equal(completions, PIPELINED);
	ipc_client_free(c);
	free(reqs);
	ipc_server_close(S.srv);
}

static void
test_timeout_then_late_reply(void **state)
{
	struct ipc_client *c;
	struct req a, b, d;
	double t0;

	(void)state;
	server_start();
	S.hold = true;
	c = client_connected("silent");
	completions = 0;
	t0 = test_now_mono();
	/* The later deadline first: the list is kept in deadline order. */
	assert_int_equal(send_req(c, &a, 1, 0.3), IPC_OK);
	assert_int_equal(send_req(c, &b, 2, 0.1), IPC_OK);
	RUN_UNTIL(b.calls == 1);
	assert_int_equal(b.st, IPC_ERR_TIMEOUT);
	assert_true(test_now_mono() - t0 >= 0.1);
	assert_int_equal(a.calls, 0);
	RUN_UNTIL(a.calls == 1);
	assert_int_equal(a.st, IPC_ERR_TIMEOUT);
	assert_true(test_now_mono() - t0 >= 0.3);
	assert_true(test_now_mono() - t0 < 2.0);
	/* Replies after the deadline are ignored, the connection stays. */
	assert_int_equal(S.nheld, 2);
	flush_held_reversed(&S);
	run_for(0.1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_true(ipc_client_connected(c));
	S.hold = false;
	assert_int_equal(send_req(c, &d, 3, 5.), IPC_OK);
	RUN_UNTIL(d.calls == 1);
	assert_int_equal(d.st, IPC_OK);
	ipc_client_free(c);
	ipc_server_close(S.srv);
}

static void
test_server_not_running(void **state)
{
	struct ipc_client *c;
	struct req a;

	(void)state;
	c = ipc_client_new(F.loop, F.path, "absent");
	assert_non_null(c);
	assert_false(ipc_client_connected(c));
	assert_int_equal(send_req(c, &a, 1, 1.), IPC_ERR_DISCONNECTED);
	run_for(0.2);
	assert_int_equal(a.calls, 0);
	assert_false(ipc_client_connected(c));
	ipc_client_free(c);
}

static void
test_server_started_later(void **state)
{
	struct ipc_client *c;
	struct req a;
	double t0;

	(void)state;
	c = ipc_client_new(F.loop, F.path, "late");
	run_for(0.3); /* a few attempts fail meanwhile */
	assert_false(ipc_client_connected(c));
	server_start();
	t0 = test_now_mono();
	RUN_UNTIL(ipc_client_connected(c));
	/* Back-off was at most 400 ms by then. */
	assert_true(test_now_mono() - t0 < 1.0);
	assert_int_equal(send_req(c, &a, 5, 5.), IPC_OK);
	RUN_UNTIL(a.calls == 1);
	assert_int_equal(a.st, IPC_OK);
	ipc_client_free(c);
	ipc_server_close(S.srv);
}

static void
test_server_closed_with_pending(void **state)
{
	struct ipc_client *c;
	struct req r[3], late, after;
	int i;

	(void)state;
	server_start();
	S.hold = true;
	c = client_connected("dying");
	for (i = 0; i < 3; i++)
		assert_int_equal(send_req(c, &r[i], (uint64_t)i, 5.), IPC_OK);
	RUN_UNTIL(S.requests == 3);
	assert_int_equal(S.nheld, 3);
	ipc_server_close(S.srv);
	/* on_close ran for the conn and dropped its held requests. */
	assert_int_equal(S.closes, 1);
	assert_int_equal(S.nheld, 0);

	/*
	 * The client has not noticed yet: its send fails on the dead socket,
	 * and the pending requests are not called back from inside it.
	 */
	assert_int_equal(send_req(c, &late, 9, 5.), IPC_ERR_DISCONNECTED);
	for (i = 0; i < 3; i++)
		assert_int_equal(r[i].calls, 0);
	for (i = 0; i < 3; i++) {
		RUN_UNTIL(r[i].calls == 1);
		assert_int_equal(r[i].st, IPC_ERR_DISCONNECTED);
	}
	assert_false(ipc_client_connected(c));
	assert_int_equal(send_req(c, &late, 9, 5.), IPC_ERR_DISCONNECTED);

	/* A new server on the same path: the client comes back by itself. */
	server_start();
	RUN_UNTIL(ipc_client_connected(c));
	assert_int_equal(send_req(c, &after, 10, 5.), IPC_OK);
	RUN_UNTIL(after.calls == 1);
	assert_int_equal(after.st, IPC_OK);
	assert_int_equal(late.calls, 0);
	ipc_client_free(c);
	ipc_server_close(S.srv);
}

static void
test_bad_peer_disconnected_others_unaffected(void **state)
{
	struct ipc_client *bad, *good;
	struct req rb, rg, rg2, rb2, rm;

	(void)state;
	server_start();
	bad = client_connected("bad");
	good = client_connected("good");
	/* No handler for this type in the server's table. */
	assert_int_equal(send_typed(bad, IPC_ERROR_REPLY, &rb, 1, 5.), IPC_OK);
	assert_int_equal(send_req(good, &rg, 2, 5.), IPC_OK);
	RUN_UNTIL(rb.calls == 1 && rg.calls == 1);
	assert_int_equal(rb.st, IPC_ERR_DISCONNECTED);
	assert_int_equal(rg.st, IPC_OK);
	assert_true(ipc_client_connected(good));
	assert_int_equal(send_req(good, &rg2, 3, 5.), IPC_OK);
	RUN_UNTIL(rg2.calls == 1);
	assert_int_equal(rg2.st, IPC_OK);

	/* The dropped client reconnects and is served again. */
	RUN_UNTIL(ipc_client_connected(bad));
	assert_int_equal(send_req(bad, &rb2, 4, 5.), IPC_OK);
	RUN_UNTIL(rb2.calls == 1);
	assert_int_equal(rb2.st, IPC_OK);

	/* A handler that returns false disconnects too. */
	assert_int_equal(
	    send_typed(bad, IPC_AUTH_RESPONSE, &rm, 1, 5.), IPC_OK);
	RUN_UNTIL(rm.calls == 1);
	assert_int_equal(rm.st, IPC_ERR_DISCONNECTED);
	assert_true(ipc_client_connected(good));

	ipc_client_free(bad);
	ipc_client_free(good);
	ipc_server_close(S.srv);
}

/* Hand-made frames: the wire format, and each kind of bad frame. */
static void
test_raw_frames(void **state)
{
	static const unsigned char over[] = {0x00, 0x10, 0x00, 0x01};
	static const unsigned char at_limit[] = {0x00, 0x10, 0x00, 0x00};
	struct ipc_client *c;
	struct ipc_reader r;
	struct raw_watch rw;
	struct mp m;
	struct req a;
	uint64_t v;
	size_t blen;
	int fd;

	(void)state;
	assert_int_equal(IPC_MAX_FRAME, 0x100000);
	server_start();

	/* A well-formed request gets a well-formed reply. */
	fd = raw_connect();
	raw_watch_start(&rw, fd);
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, 77);
	msgpack_pack_uint64(&m.pk, 1234);
	raw_frame(fd, m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);
	RUN_UNTIL(rw.len >= 4 &&
	    rw.len ==
		4 +
		    ((size_t)(unsigned char)rw.buf[2] << 8 |
			(unsigned char)rw.buf[3]));
	assert_int_equal(rw.buf[0], 0);
	assert_int_equal(rw.buf[1], 0);
	blen = rw.len - 4;
	assert_int_equal(ipc_reader_init(&r, rw.buf + 4, blen), IPC_OK);
	assert_int_equal(r.type, IPC_AUTH_TOKEN_REPLY);
	assert_int_equal(r.id, 77);
	assert_int_equal(ipc_get_u64(&r, &v), IPC_OK);
	assert_true(v == 1234);
	assert_int_equal(ipc_get_end(&r), IPC_OK);
	ipc_reader_done(&r);

	/* A length of exactly IPC_MAX_FRAME is allowed (body still due). */
	raw_write(fd, at_limit, sizeof(at_limit));
	run_for(0.1);
	assert_false(rw.eof);
	ev_io_stop(F.loop, &rw.io);
	close(fd);

	/* One byte more is not, and nothing was read into memory. */
	fd = raw_connect();
	raw_watch_start(&rw, fd);
	raw_write(fd, over, sizeof(over));
	RUN_UNTIL(rw.eof);
	close(fd);

	expect_disconnect(NULL, 0); /* empty body */
	expect_disconnect("\xc1", 1); /* not msgpack */
	mp_header(&m, IPC_VERSION + 1, IPC_AUTH_TOKEN, 1);
	msgpack_pack_uint64(&m.pk, 1);
	expect_disconnect(m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);
	mp_header(&m, IPC_VERSION, 99, 1);
	msgpack_pack_uint64(&m.pk, 1);
	expect_disconnect(m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);
	mp_header(&m, IPC_VERSION, 0, 1);
	expect_disconnect(m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);
	/* A truncated field (uint16 with one byte) inside a whole frame. */
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, 1);
	msgpack_sbuffer_write(&m.sb, "\xcd\x01", 2);
	expect_disconnect(m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);
	/* A leftover field the handler does not expect. */
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, 1);
	msgpack_pack_uint64(&m.pk, 1);
	msgpack_pack_uint64(&m.pk, 2);
	expect_disconnect(m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);
	/* A field of the wrong type. */
	mp_header(&m, IPC_VERSION, IPC_AUTH_TOKEN, 1);
	msgpack_pack_int64(&m.pk, -5);
	expect_disconnect(m.sb.data, m.sb.size);
	msgpack_sbuffer_destroy(&m.sb);

	/* Through all that, a proper client is served. */
	c = client_connected("proper");
	assert_int_equal(send_req(c, &a, 8, 5.), IPC_OK);
	RUN_UNTIL(a.calls == 1);
	assert_int_equal(a.st, IPC_OK);
	ipc_client_free(c);
	ipc_server_close(S.srv);
}

static void
test_cancel(void **state)
{
	struct ipc_client *c;
	struct req a, b, d;

	(void)state;
	server_start();
	S.hold = true;
	c = client_connected("cancel");
	assert_int_equal(send_req(c, &a, 1, 0.1), IPC_OK);
	assert_int_equal(send_req(c, &b, 2, 5.), IPC_OK);
	ipc_client_cancel(c, a.id);
	ipc_client_cancel(c, a.id); /* twice is harmless */
	ipc_client_cancel(c, 123456); /* unknown id too */
	RUN_UNTIL(S.requests == 2);
	run_for(0.25); /* past a's deadline: no timeout callback */
	assert_int_equal(a.calls, 0);
	flush_held_reversed(&S); /* a reply to a cancelled request: ignored */
	RUN_UNTIL(b.calls == 1);
	assert_int_equal(b.st, IPC_OK);
	run_for(0.05);
	assert_int_equal(a.calls, 0);

	/* Cancelled, then the connection drops: no callback either. */
	assert_int_equal(send_req(c, &d, 3, 5.), IPC_OK);
	ipc_client_cancel(c, d.id);
	RUN_UNTIL(S.requests == 3);
	ipc_server_close(S.srv);
	RUN_UNTIL(!ipc_client_connected(c));
	run_for(0.05);
	assert_int_equal(d.calls, 0);
	ipc_client_free(c);
}

/* The server side of an asynchronous answer: on_close drops the work. */
static void
test_conn_on_close_and_failed_reply(void **state)
{
	struct ipc_client *c;
	struct req a, b;
	struct held h;

	(void)state;
	server_start();
	S.hold = true;
	c = client_connected("leaving");
	assert_int_equal(send_req(c, &a, 1, 5.), IPC_OK);
	assert_int_equal(send_req(c, &b, 2, 5.), IPC_OK);
	RUN_UNTIL(S.requests == 2);
	assert_int_equal(S.nheld, 2);
	h = S.held[--S.nheld];

	/* The client goes away; its pending requests are not called back. */
	ipc_client_free(c);
	assert_int_equal(a.calls + b.calls, 0);

	/*
	 * The server replies before its loop has seen the hang-up: the write
	 * fails, but on_close must not run inside ipc_conn_reply, and more
	 * replies to the closing conn are dropped safely.
	 */
	reply_value(h.conn, h.id, h.v);
	assert_int_equal(S.closes, 0);
	assert_int_equal(S.nheld, 1);
	reply_value(h.conn, h.id, h.v);
	RUN_UNTIL(S.closes == 1);
	assert_int_equal(S.nheld, 0); /* on_close dropped the other one */
	ipc_server_close(S.srv);
	assert_int_equal(S.closes, 1);
}

static void
test_client_free_in_callback(void **state)
{
	struct ipc_client *c;
	struct req r[3];
	int i;

	(void)state;
	/* Freed from a reply callback: the other replies are dropped. */
	server_start();
	c = client_connected("freed");
	for (i = 0; i < 3; i++)
		assert_int_equal(send_req(c, &r[i], (uint64_t)i, 5.), IPC_OK);
	r[0].free_client = true;
	r[0].client = c;
	RUN_UNTIL(r[0].calls == 1);
	run_for(0.1);
	assert_int_equal(r[1].calls + r[2].calls, 0);

	/* Freed from a disconnect callback. */
	S.hold = true;
	c = client_connected("freed2");
	for (i = 0; i < 3; i++)
		assert_int_equal(send_req(c, &r[i], (uint64_t)i, 5.), IPC_OK);
	r[0].free_client = true;
	r[0].client = c;
	RUN_UNTIL(S.requests == 3 + 3);
	ipc_server_close(S.srv);
	RUN_UNTIL(r[0].calls == 1);
	run_for(0.1);
	assert_int_equal(r[0].st, IPC_ERR_DISCONNECTED);
	assert_int_equal(r[1].calls + r[2].calls, 0);
}

static void
test_client_rejects_bad_replies(void **state)
{
	static const enum fake_action fatal_actions[] = {
	    FAKE_GARBAGE, FAKE_OVERSIZE, FAKE_VERSION};
	struct ipc_client *c;
	struct req a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fatal_actions) / sizeof(fatal_actions[0]); i++) {
		fake_start(fatal_actions[i], true);
		c = client_connected("liar");
		RUN_UNTIL(FK.accepts == 1);
		assert_int_equal(send_req(c, &a, 1, 5.), IPC_OK);
		RUN_UNTIL(a.calls == 1);
		assert_int_equal(a.st, IPC_ERR_DISCONNECTED);
		/* And it reconnects. */
		RUN_UNTIL(FK.accepts == 2 && ipc_client_connected(c));
		ipc_client_free(c);
		fake_stop();
	}

	/* A reply with an unknown id is ignored: no disconnect. */
	fake_start(FAKE_UNKNOWN_ID, true);
	c = client_connected("confused");
	assert_int_equal(send_req(c, &a, 1, 0.2), IPC_OK);
	RUN_UNTIL(FK.frames == 1);
	RUN_UNTIL(a.calls == 1);
	assert_int_equal(a.st, IPC_ERR_TIMEOUT);
	assert_true(ipc_client_connected(c));
	assert_int_equal(FK.accepts, 1);
	ipc_client_free(c);
	fake_stop();
}

static char big[IPC_MAX_FRAME + 1];

static size_t
header_size(void)
{
	struct ipc_writer w;
	size_t n;

	ipc_msg_begin(&w, IPC_AUTH_CHALLENGE, 1);
	n = w.buf.size - 4;
	ipc_msg_discard(&w);
	return n;
}

struct blob_req {
	int calls;
	enum ipc_status st;
	uint64_t len;
};

static void
blob_cb(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct blob_req *b = arg;

	b->calls++;
	b->st = st;
	if (st == IPC_OK) {
		assert_int_equal(msg->type, IPC_AUTH_CHALLENGE_REPLY);
		assert_int_equal(ipc_get_u64(msg, &b->len), IPC_OK);
		assert_int_equal(ipc_get_end(msg), IPC_OK);
	}
}

static enum ipc_status
send_blob(struct ipc_client *c, size_t len, struct blob_req *b, double t)
{
	struct ipc_writer w;
	uint32_t id;

	memset(b, 0, sizeof(*b));
	id = ipc_client_begin(c, &w, IPC_AUTH_CHALLENGE);
	ipc_put_bin(&w, big, len);
	return ipc_client_send(c, &w, id, t, blob_cb, b);
}

static void
test_frame_size_limit(void **state)
{
	struct ipc_client *c;
	struct blob_req b;
	/* header + bin32 prefix + data == IPC_MAX_FRAME */
	size_t max_data = IPC_MAX_FRAME - header_size() - 5;

	(void)state;
	server_start();
	c = client_connected("big");
	assert_int_equal(send_blob(c, max_data + 1, &b, 5.), IPC_ERR_TOO_LARGE);
	assert_true(ipc_client_connected(c));
	assert_int_equal(send_blob(c, max_data, &b, 5.), IPC_OK);
	RUN_UNTIL(b.calls == 1);
	assert_int_equal(b.st, IPC_OK);
	assert_true(b.len == max_data);
	ipc_client_free(c);
	ipc_server_close(S.srv);
}

/* A server that does not read: the client's queue is bounded. */
static void
test_client_queue_bound(void **state)
{
	struct ipc_client *c;
	struct blob_req b[16];
	enum ipc_status st = IPC_OK;
	int i, sent = 0;

	(void)state;
	fake_start(FAKE_SILENT, false);
	c = client_connected("stuck");
	for (i = 0; i < 16; i++) {
		st = send_blob(c, 1000000, &b[i], 0.2);
		if (st != IPC_OK)
			break;
		sent++;
	}
	assert_int_equal(st, IPC_ERR_BUSY);
	assert_true(sent >= IPC_MAX_QUEUED / 1000000 - 1);
	assert_true(sent <= IPC_MAX_QUEUED / 1000000 + 4);
	assert_true(ipc_client_connected(c));
	for (i = 0; i < sent; i++)
		assert_int_equal(b[i].calls, 0);
	/* The accepted ones fail at their deadline. */
	RUN_UNTIL(b[sent - 1].calls == 1);
	for (i = 0; i < sent; i++) {
		assert_int_equal(b[i].calls, 1);
		assert_int_equal(b[i].st, IPC_ERR_TIMEOUT);
	}
	assert_int_equal(b[sent].calls, 0);
	ipc_client_free(c);
	fake_stop();
}

/* 65536 requests in flight fill the table; one more is refused. */
static void
test_client_pending_full(void **state)
{
	struct ipc_client *c;
	struct req *reqs, extra;
	int i;

	(void)state;
	fake_start(FAKE_SILENT, true);
	c = client_connected("flood");
	reqs = calloc(65536, sizeof(*reqs));
	assert_non_null(reqs);
	for (i = 0; i < 65536; i++)
		assert_int_equal(
		    send_req(c, &reqs[i], (uint64_t)i, 10.), IPC_OK);
	assert_int_equal(send_req(c, &extra, 0, 10.), IPC_ERR_BUSY);
	RUN_UNTIL(FK.frames == 65536);
	/* One cancelled frees one slot. */
	ipc_client_cancel(c, reqs[100].id);
	assert_int_equal(send_req(c, &extra, 0, 10.), IPC_OK);
	assert_true((extra.id & 0xffff) == (reqs[100].id & 0xffff));
	assert_true(extra.id != 0);
	ipc_client_free(c); /* drops them all, without callbacks */
	for (i = 0; i < 65536; i++)
		assert_int_equal(reqs[i].calls, 0);
	assert_int_equal(extra.calls, 0);
	free(reqs);
	fake_stop();
}

static void
test_listen_errors(void **state)
{
	struct ipc_server *srv;
	char longpath[200];
	FILE *fp;

	(void)state;
	/* A regular file at the path is not replaced. */
	fp = fopen(F.path, "w");
	assert_non_null(fp);
	fclose(fp);
	srv = ipc_server_listen(F.loop, F.path, 0600, test_handlers, &S);
	assert_null(srv);
	assert_int_equal(errno, EEXIST);
	unlink(F.path);

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	srv = ipc_server_listen(F.loop, longpath, 0600, test_handlers, &S);
	assert_null(srv);
	assert_int_equal(errno, ENAMETOOLONG);

	/* An old socket file is replaced; the mode is applied. */
	server_start();
	ipc_server_close(S.srv);
	fake_start(FAKE_SILENT, false); /* leaves a stale socket behind */
	close(FK.lfd);
	ev_io_stop(F.loop, &FK.accept_io);
	server_start();
	{
		struct stat st;

		assert_int_equal(stat(F.path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	ipc_server_close(S.srv);
	/* Closing removes the socket file. */
	assert_int_equal(access(F.path, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codec_round_trip),
	    cmocka_unit_test(test_codec_leftover_fields),
	    cmocka_unit_test(test_codec_wrong_field_type),
	    cmocka_unit_test(test_codec_non_scalar_fields),
	    cmocka_unit_test(test_codec_header_errors),
	    cmocka_unit_test(test_codec_truncated),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(
		test_pipelined_out_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_timeout_then_late_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_not_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_started_later, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_closed_with_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_peer_disconnected_others_unaffected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_raw_frames, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_conn_on_close_and_failed_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_free_in_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_rejects_bad_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_frame_size_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_queue_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_pending_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_listen_errors, setup, teardown),
	};

	log_init("test_ipc",
	    getenv("TEST_IPC_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
