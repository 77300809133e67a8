/*
 * IPC over Unix stream sockets, driven by libev: framed streams with
 * bounded buffers, the server (accept, dispatch by type, replies) and the
 * client (pipelined requests with deadlines, reconnection with back-off).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

#define IPC_IN_INITIAL (16 * 1024)
/* A buffer grown past this is released once it is empty again. */
#define IPC_BUF_KEEP (64 * 1024)
/* Reads per readiness event, so one busy peer cannot starve the others. */
#define IPC_READS_PER_EVENT 16
#define IPC_ACCEPTS_PER_EVENT 64
#define IPC_LISTEN_BACKLOG 512
/* How long accepting pauses when out of file descriptors. */
#define IPC_ACCEPT_PAUSE 1.0
#define IPC_BACKOFF_MIN 0.05
#define IPC_BACKOFF_MAX 5.0
/* Requests one client can have in flight; a power of two. */
#define IPC_PENDING_SLOTS 65536u
#define IPC_PENDING_MASK (IPC_PENDING_SLOTS - 1)

static void *
ipc_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL)
		fatal("ipc: realloc %zu bytes", n);
	return q;
}

/*
 * Deadlines are on the monotonic clock, like libev's timers, so that a
 * change of the wall clock neither fires nor delays them.
 */
static ev_tstamp
ipc_mono_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("ipc: clock_gettime");
	return (ev_tstamp)ts.tv_sec + (ev_tstamp)ts.tv_nsec * 1e-9;
}

static uint32_t
ipc_be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

/*
 * Fills in the length prefix of a message built with ipc_msg_begin().
 * Returns IPC_ERR_TOO_LARGE when the body is over IPC_MAX_FRAME.
 */
static enum ipc_status
ipc_frame_finish(struct ipc_writer *w)
{
	size_t body;
	unsigned char *p;

	if (w->buf.data == NULL || w->buf.size < 4)
		fatalx("ipc: sending a message that was never begun");
	body = w->buf.size - 4;
	if (body > IPC_MAX_FRAME)
		return IPC_ERR_TOO_LARGE;
	p = (unsigned char *)w->buf.data;
	p[0] = (unsigned char)(body >> 24);
	p[1] = (unsigned char)(body >> 16);
	p[2] = (unsigned char)(body >> 8);
	p[3] = (unsigned char)body;
	return IPC_OK;
}

/* ---- Framed streams ----------------------------------------------------- */

/*
 * One nonblocking socket with its input buffer (at most one frame and its
 * prefix beyond what has been handled) and its output queue (bytes the
 * kernel has not taken yet, at most IPC_MAX_QUEUED). While `corked`, as
 * during the dispatch of what one read brought, output is only queued and
 * is flushed once at the end.
 */
struct ipc_stream {
	struct ev_loop *loop;
	int fd;
	ev_io rio;
	ev_io wio;
	ev_timer defer; /* runs the owner's teardown from the loop */
	char *in;
	size_t in_len;
	size_t in_cap;
	char *out;
	size_t out_off; /* first byte not yet sent */
	size_t out_len; /* end of the queued bytes */
	size_t out_cap;
	bool corked;
};

typedef void ipc_io_cb(struct ev_loop *loop, ev_io *w, int revents);
typedef void ipc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void
stream_init(struct ipc_stream *s, struct ev_loop *loop, ipc_io_cb *rcb,
    ipc_io_cb *wcb, ipc_timer_cb *dcb, void *owner)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->fd = -1;
	ev_init(&s->rio, rcb);
	ev_init(&s->wio, wcb);
	ev_timer_init(&s->defer, dcb, 0., 0.);
	s->rio.data = owner;
	s->wio.data = owner;
	s->defer.data = owner;
}

static void
stream_attach(struct ipc_stream *s, int fd)
{
	s->fd = fd;
	ev_io_set(&s->rio, fd, EV_READ);
	ev_io_set(&s->wio, fd, EV_WRITE);
	s->in_cap = IPC_IN_INITIAL;
	s->in = ipc_realloc(NULL, s->in_cap);
	s->in_len = 0;
}

/* Stops the watchers, closes the socket, frees the buffers. */
static void
stream_close(struct ipc_stream *s)
{
	ev_io_stop(s->loop, &s->rio);
	ev_io_stop(s->loop, &s->wio);
	ev_timer_stop(s->loop, &s->defer);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	free(s->in);
	free(s->out);
	s->in = s->out = NULL;
	s->in_len = s->in_cap = 0;
	s->out_off = s->out_len = s->out_cap = 0;
	s->corked = false;
}

/*
 * The stream failed inside a call the daemon made: stop using it, and let
 * the owner's teardown run from the loop at its next iteration (a zero
 * timer, which also wakes a loop that would otherwise block).
 */
static void
stream_defer_close(struct ipc_stream *s)
{
	ev_io_stop(s->loop, &s->rio);
	ev_io_stop(s->loop, &s->wio);
	ev_timer_stop(s->loop, &s->defer);
	ev_timer_set(&s->defer, 0., 0.);
	ev_timer_start(s->loop, &s->defer);
}

static size_t
stream_queued(const struct ipc_stream *s)
{
	return s->out_len - s->out_off;
}

/*
 * Sends as much of data as the socket takes now. Returns the number of
 * bytes sent, or -1 with errno set when the connection has failed.
 */
static ssize_t
stream_send_some(struct ipc_stream *s, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(s->fd, data + done, len - done,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
	}
	return (ssize_t)done;
}

/*
 * Writes out the queue; the write watcher runs while bytes remain. Returns
 * false with errno set when the connection has failed.
 */
static bool
stream_flush(struct ipc_stream *s)
{
	ssize_t n;

	n = stream_send_some(s, s->out + s->out_off, stream_queued(s));
	if (n < 0)
		return false;
	s->out_off += (size_t)n;
	if (stream_queued(s) > 0) {
		ev_io_start(s->loop, &s->wio);
		return true;
	}
	ev_io_stop(s->loop, &s->wio);
	s->out_off = s->out_len = 0;
	if (s->out_cap > IPC_BUF_KEEP) {
		free(s->out);
		s->out = NULL;
		s->out_cap = 0;
	}
	return true;
}

static void
stream_append(struct ipc_stream *s, const char *data, size_t len)
{
	size_t cap;

	if (s->out_len + len > s->out_cap && s->out_off > 0) {
		memmove(s->out, s->out + s->out_off, stream_queued(s));
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	if (s->out_len + len > s->out_cap) {
		cap = s->out_cap > 0 ? s->out_cap : 4096;
		while (cap < s->out_len + len)
			cap *= 2;
		s->out = ipc_realloc(s->out, cap);
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
}

/*
 * Queues one whole frame, writing at once what the socket takes when
 * nothing is queued before it. Returns IPC_OK, IPC_ERR_BUSY (nothing
 * queued: the queue would exceed IPC_MAX_QUEUED), or IPC_ERR_DISCONNECTED
 * with errno set when the connection has failed.
 */
static enum ipc_status
stream_queue(struct ipc_stream *s, const char *data, size_t len)
{
	ssize_t n;

	if (stream_queued(s) + len > IPC_MAX_QUEUED)
		return IPC_ERR_BUSY;
	if (s->corked) {
		stream_append(s, data, len);
		/* Corked output must not pile up towards the limit. */
		if (stream_queued(s) >= IPC_BUF_KEEP && !stream_flush(s))
			return IPC_ERR_DISCONNECTED;
		return IPC_OK;
	}
	if (stream_queued(s) == 0) {
		n = stream_send_some(s, data, len);
		if (n < 0)
			return IPC_ERR_DISCONNECTED;
		data += n;
		len -= (size_t)n;
		if (len == 0)
			return IPC_OK;
	}
	stream_append(s, data, len);
	ev_io_start(s->loop, &s->wio);
	return IPC_OK;
}

/*
 * Drops the `used` bytes of handled frames and makes room for the whole of
 * the next frame once its length is known (checked against IPC_MAX_FRAME
 * before this), so the buffer never fills up without a frame to hand out.
 */
static void
stream_consume(struct ipc_stream *s, size_t used)
{
	size_t need, cap;

	if (used > 0) {
		memmove(s->in, s->in + used, s->in_len - used);
		s->in_len -= used;
	}
	if (s->in_len >= 4) {
		need = 4 + (size_t)ipc_be32(s->in);
		if (need > s->in_cap) {
			cap = s->in_cap * 2;
			if (cap > IPC_MAX_FRAME + 4)
				cap = IPC_MAX_FRAME + 4;
			if (cap < need)
				cap = need;
			s->in = ipc_realloc(s->in, cap);
			s->in_cap = cap;
		}
	} else if (s->in_len == 0 && s->in_cap > IPC_BUF_KEEP) {
		s->in = ipc_realloc(s->in, IPC_IN_INITIAL);
		s->in_cap = IPC_IN_INITIAL;
	}
}

enum stream_result {
	STREAM_AGAIN, /* read all there was; wait for more */
	STREAM_STOPPED, /* the frame callback closed or failed the stream */
	STREAM_EOF, /* the peer closed the connection */
	STREAM_ERROR, /* read or write failed; errno is set */
	STREAM_TOO_LARGE, /* the peer announced a frame over IPC_MAX_FRAME */
};

/*
 * Handles one frame body; returns false when the stream has been closed,
 * freed or failed meanwhile, and must not be touched again.
 */
typedef bool ipc_frame_cb(void *owner, const char *body, size_t len);

/*
 * Reads what the socket has, hands each complete frame to `frame` in
 * order, then flushes the replies queued meanwhile. After STREAM_STOPPED
 * the caller must not touch the stream; after the other failures it
 * closes it.
 */
static enum stream_result
stream_pump(struct ipc_stream *s, ipc_frame_cb *frame, void *owner)
{
	size_t space, pos, flen;
	ssize_t n;
	int i;

	s->corked = true;
	for (i = 0; i < IPC_READS_PER_EVENT; i++) {
		space = s->in_cap - s->in_len;
		n = recv(s->fd, s->in + s->in_len, space, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return STREAM_ERROR;
		if (n == 0)
			return STREAM_EOF;
		s->in_len += (size_t)n;
		for (pos = 0; s->in_len - pos >= 4; pos += 4 + flen) {
			flen = ipc_be32(s->in + pos);
			if (flen > IPC_MAX_FRAME)
				return STREAM_TOO_LARGE;
			if (s->in_len - pos - 4 < flen)
				break;
			if (!frame(owner, s->in + pos + 4, flen))
				return STREAM_STOPPED;
		}
		stream_consume(s, pos);
		if ((size_t)n < space)
			break;
	}
	s->corked = false;
	if (stream_queued(s) > 0 && !stream_flush(s))
		return STREAM_ERROR;
	return STREAM_AGAIN;
}

/* ---- Server ------------------------------------------------------------- */

struct ipc_conn {
	struct ipc_server *srv;
	struct ipc_conn *prev;
	struct ipc_conn *next;
	struct ipc_stream s;
	pid_t pid; /* the peer's, for logs */
	void *data;
	void (*on_close)(struct ipc_conn *conn, void *data);
	/* Failed while the daemon was on the stack: closed from the loop. */
	bool failed;
};

struct ipc_server {
	struct ev_loop *loop;
	char *path;
	int fd;
	dev_t dev; /* the socket file, to unlink only our own */
	ino_t ino;
	ev_io accept_io;
	ev_timer accept_pause;
	ipc_handler_fn *handlers[IPC_TYPE_MAX];
	void *arg;
	struct ipc_conn *conns;
	int in_handler;
	bool closing;
};

/*
 * Closes a connection from the loop (never from inside a call the daemon
 * made, except ipc_server_close): runs on_close, then frees the conn.
 */
static void
conn_close(struct ipc_conn *conn)
{
	void (*on_close)(struct ipc_conn *, void *) = conn->on_close;

	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		conn->srv->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->failed = true;
	stream_close(&conn->s);
	conn->on_close = NULL;
	if (on_close != NULL)
		on_close(conn, conn->data);
	free(conn);
}

/*
 * Marks a connection failed from inside a daemon's call (a reply): the
 * close, and on_close, run from the loop right after, so the daemon never
 * sees its own state change under its feet.
 */
static void
conn_fail(struct ipc_conn *conn)
{
	if (conn->failed)
		return;
	conn->failed = true;
	stream_defer_close(&conn->s);
}

static void
conn_defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_close(w->data);
}

static bool
conn_frame(void *owner, const char *body, size_t len)
{
	struct ipc_conn *conn = owner;
	struct ipc_server *srv = conn->srv;
	struct ipc_reader r;
	enum ipc_status st;
	ipc_handler_fn *fn;
	bool ok;

	st = ipc_reader_init(&r, body, len);
	if (st != IPC_OK) {
		log_warn("ipc %s: %s from pid %ld; disconnecting", srv->path,
		    ipc_status_str(st), (long)conn->pid);
		conn_close(conn);
		return false;
	}
	fn = srv->handlers[r.type];
	if (fn == NULL) {
		log_warn("ipc %s: unexpected %s from pid %ld; disconnecting",
		    srv->path, ipc_type_str(r.type), (long)conn->pid);
		ipc_reader_done(&r);
		conn_close(conn);
		return false;
	}
	srv->in_handler++;
	ok = fn(conn, &r, srv->arg);
	srv->in_handler--;
	ipc_reader_done(&r);
	if (!ok) {
		log_warn("ipc %s: malformed %s from pid %ld; disconnecting",
		    srv->path, ipc_type_str(r.type), (long)conn->pid);
		conn_close(conn);
		return false;
	}
	return !conn->failed;
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_conn *conn = w->data;

	(void)loop;
	(void)revents;
	switch (stream_pump(&conn->s, conn_frame, conn)) {
	case STREAM_AGAIN:
	case STREAM_STOPPED:
		return;
	case STREAM_EOF:
		log_debug("ipc %s: pid %ld disconnected", conn->srv->path,
		    (long)conn->pid);
		break;
	case STREAM_ERROR:
		log_warn("ipc %s: pid %ld: %s", conn->srv->path,
		    (long)conn->pid, strerror(errno));
		break;
	case STREAM_TOO_LARGE:
		log_warn("ipc %s: frame over %d bytes from pid %ld; "
			 "disconnecting",
		    conn->srv->path, IPC_MAX_FRAME, (long)conn->pid);
		break;
	}
	conn_close(conn);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_conn *conn = w->data;

	(void)loop;
	(void)revents;
	if (!stream_flush(&conn->s)) {
		log_warn("ipc %s: pid %ld: %s", conn->srv->path,
		    (long)conn->pid, strerror(errno));
		conn_close(conn);
	}
}

static void
conn_new(struct ipc_server *srv, int fd)
{
	struct ipc_conn *conn;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);

	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		fatal("ipc: calloc");
	conn->srv = srv;
	conn->pid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0)
		conn->pid = cred.pid;
	stream_init(&conn->s, srv->loop, conn_read_cb, conn_write_cb,
	    conn_defer_cb, conn);
	stream_attach(&conn->s, fd);
	ev_io_start(srv->loop, &conn->s.rio);
	conn->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = conn;
	srv->conns = conn;
	log_debug("ipc %s: pid %ld connected", srv->path, (long)conn->pid);
}

static void
server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_server *srv = w->data;
	int fd, i;

	(void)revents;
	for (i = 0; i < IPC_ACCEPTS_PER_EVENT; i++) {
		fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			conn_new(srv, fd);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Level-triggered: retrying now would spin. */
			log_warn("ipc %s: accept: %s; pausing", srv->path,
			    strerror(errno));
			ev_io_stop(loop, &srv->accept_io);
			ev_timer_set(&srv->accept_pause, IPC_ACCEPT_PAUSE, 0.);
			ev_timer_start(loop, &srv->accept_pause);
			return;
		default:
			log_warn(
			    "ipc %s: accept: %s", srv->path, strerror(errno));
			return;
		}
	}
}

static void
server_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc_server *srv = w->data;

	(void)revents;
	ev_io_start(loop, &srv->accept_io);
}

/*
 * Binds a fresh socket at `path` with mode `mode`; an old socket file there
 * is replaced, anything else is left alone (EEXIST). Returns the listening
 * fd, or -1 with errno set.
 */
static int
server_bind(const char *path, unsigned mode, struct stat *st)
{
	struct sockaddr_un sun;
	mode_t old_umask;
	int fd, rc, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, st) == 0) {
		if (!S_ISSOCK(st->st_mode)) {
			errno = EEXIST;
			return -1;
		}
		if (unlink(path) == -1)
			return -1;
	} else if (errno != ENOENT) {
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* Created with the final mode: never more open, even briefly. */
	old_umask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (rc == -1)
		goto fail;
	if (chmod(path, (mode_t)mode) == -1 || lstat(path, st) == -1 ||
	    listen(fd, IPC_LISTEN_BACKLOG) == -1) {
		saved = errno;
		unlink(path);
		errno = saved;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

struct ipc_server *
ipc_server_listen(struct ev_loop *loop, const char *path, unsigned mode,
    const struct ipc_handler *handlers, void *arg)
{
	struct ipc_server *srv;
	const struct ipc_handler *h;
	struct stat st;
	int saved;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	for (h = handlers; h->fn != NULL; h++) {
		if ((int)h->type <= 0 || h->type >= IPC_TYPE_MAX ||
		    srv->handlers[h->type] != NULL)
			fatalx("ipc_server_listen: bad handler table entry "
			       "for type %d",
			    (int)h->type);
		srv->handlers[h->type] = h->fn;
	}
	srv->loop = loop;
	srv->arg = arg;
	if ((srv->path = strdup(path)) == NULL)
		goto fail;
	if ((srv->fd = server_bind(path, mode, &st)) == -1)
		goto fail;
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	ev_io_init(&srv->accept_io, server_accept_cb, srv->fd, EV_READ);
	srv->accept_io.data = srv;
	ev_timer_init(
	    &srv->accept_pause, server_resume_cb, IPC_ACCEPT_PAUSE, 0.);
	srv->accept_pause.data = srv;
	ev_io_start(loop, &srv->accept_io);
	log_debug("ipc: listening on %s", path);
	return srv;
fail:
	saved = errno;
	free(srv->path);
	free(srv);
	errno = saved;
	return NULL;
}

/*
 * Closes every connection (running their on_close callbacks) and the
 * listening socket, and removes the socket file if it is still ours.
 * Must not be called from inside a handler.
 */
void
ipc_server_close(struct ipc_server *srv)
{
	struct stat st;

	if (srv == NULL || srv->closing)
		return;
	if (srv->in_handler > 0)
		fatalx("ipc_server_close called from a handler");
	srv->closing = true;
	ev_io_stop(srv->loop, &srv->accept_io);
	ev_timer_stop(srv->loop, &srv->accept_pause);
	close(srv->fd);
	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev &&
	    st.st_ino == srv->ino)
		unlink(srv->path);
	while (srv->conns != NULL)
		conn_close(srv->conns);
	free(srv->path);
	free(srv);
}

/*
 * Queues one finished frame on a connection; a connection that does not
 * keep up, or whose write fails, is failed (closed from the loop).
 */
static void
conn_queue_frame(struct ipc_conn *conn, const char *frame, size_t len)
{
	enum ipc_status st;

	if (conn->failed) {
		log_debug("ipc %s: message to pid %ld dropped: connection "
			  "closing",
		    conn->srv->path, (long)conn->pid);
		return;
	}
	st = stream_queue(&conn->s, frame, len);
	if (st == IPC_ERR_BUSY) {
		log_warn("ipc %s: pid %ld does not read its messages; "
			 "disconnecting",
		    conn->srv->path, (long)conn->pid);
		conn_fail(conn);
	} else if (st != IPC_OK) {
		log_warn("ipc %s: pid %ld: %s", conn->srv->path,
		    (long)conn->pid, strerror(errno));
		conn_fail(conn);
	}
}

void
ipc_conn_reply(struct ipc_conn *conn, struct ipc_writer *w)
{
	if (ipc_frame_finish(w) != IPC_OK) {
		log_err("ipc %s: reply of %zu bytes over IPC_MAX_FRAME dropped",
		    conn->srv->path, w->buf.size - 4);
		ipc_msg_discard(w);
		return;
	}
	conn_queue_frame(conn, w->buf.data, w->buf.size);
	ipc_msg_discard(w);
}

void
ipc_server_broadcast(struct ipc_server *srv, struct ipc_writer *w)
{
	struct ipc_conn *conn;

	if (ipc_frame_finish(w) != IPC_OK) {
		log_err("ipc %s: push of %zu bytes over IPC_MAX_FRAME dropped",
		    srv->path, w->buf.size - 4);
		ipc_msg_discard(w);
		return;
	}
	/* conn_fail only defers the close: the list stays as it is. */
	for (conn = srv->conns; conn != NULL; conn = conn->next)
		conn_queue_frame(conn, w->buf.data, w->buf.size);
	ipc_msg_discard(w);
}

void
ipc_conn_set_data(struct ipc_conn *conn, void *data,
    void (*on_close)(struct ipc_conn *conn, void *data))
{
	conn->data = data;
	conn->on_close = on_close;
}

void *
ipc_conn_data(struct ipc_conn *conn)
{
	return conn->data;
}

/* ---- Client ------------------------------------------------------------- */

enum client_state {
	CLIENT_DOWN, /* waiting for the back-off timer */
	CLIENT_CONNECTING, /* nonblocking connect in progress */
	CLIENT_UP,
};

/* A request in flight: slot id & IPC_PENDING_MASK; free when cb is NULL. */
struct ipc_pending {
	ipc_reply_fn *cb;
	void *arg;
	ev_tstamp deadline;
	struct ipc_pending *prev; /* in deadline order */
	struct ipc_pending *next;
	uint32_t id;
};

struct ipc_client {
	struct ev_loop *loop;
	char *path;
	char *name;
	enum client_state state;
	struct ipc_stream s;
	ev_timer retry;
	ev_tstamp backoff; /* the delay before the next attempt */
	bool outage_logged; /* log once per outage, not per attempt */
	/* Failed inside ipc_client_send: torn down from the loop. */
	bool failed;
	int fail_errno;
	int in_callback;
	bool freed; /* ipc_client_free from a callback: freed on return */
	/*
	 * Deadlines: pending requests in deadline order (appended at the
	 * tail, so O(1) when a client uses one timeout) and one timer set
	 * for the head, or earlier.
	 */
	ev_timer timer;
	ev_tstamp timer_at;
	struct ipc_pending *head;
	struct ipc_pending *tail;
	struct ipc_pending *slots; /* IPC_PENDING_SLOTS */
	uint32_t next_id;
	/* Pushes (id 0) by type, and what runs on each new connection. */
	ipc_handler_fn *push[IPC_TYPE_MAX];
	void *push_arg;
	void (*on_connect)(void *arg);
	void *on_connect_arg;
};

static void client_connect(struct ipc_client *c);

static struct ipc_pending *
pending_find(struct ipc_client *c, uint32_t id)
{
	struct ipc_pending *p = &c->slots[id & IPC_PENDING_MASK];

	return p->cb != NULL && p->id == id ? p : NULL;
}

static void
pending_insert(struct ipc_client *c, struct ipc_pending *p)
{
	struct ipc_pending *q = c->tail;

	while (q != NULL && q->deadline > p->deadline)
		q = q->prev;
	p->prev = q;
	p->next = q != NULL ? q->next : c->head;
	if (p->next != NULL)
		p->next->prev = p;
	else
		c->tail = p;
	if (q != NULL)
		q->next = p;
	else
		c->head = p;
}

static void
pending_remove(struct ipc_client *c, struct ipc_pending *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		c->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		c->tail = p->prev;
	p->prev = p->next = NULL;
	p->cb = NULL;
	p->arg = NULL;
}

/* Sets the timer for the earliest deadline unless it already fires first. */
static void
client_arm_timer(struct ipc_client *c)
{
	ev_tstamp after;

	if (c->head == NULL)
		return;
	if (ev_is_active(&c->timer) && c->timer_at <= c->head->deadline)
		return;
	ev_timer_stop(c->loop, &c->timer);
	after = c->head->deadline - ipc_mono_now();
	ev_timer_set(&c->timer, after > 0. ? after : 0., 0.);
	ev_timer_start(c->loop, &c->timer);
	c->timer_at = c->head->deadline;
}

static void
client_destroy(struct ipc_client *c)
{
	stream_close(&c->s);
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_stop(c->loop, &c->timer);
	free(c->slots);
	free(c->path);
	free(c->name);
	free(c);
}

/*
 * Runs a request's callback. Returns false when the callback freed the
 * client, which is then gone: the caller must return at once.
 */
static bool
client_call(struct ipc_client *c, ipc_reply_fn *cb, void *arg,
    struct ipc_reader *msg, enum ipc_status st)
{
	c->in_callback++;
	cb(arg, msg, st);
	c->in_callback--;
	if (c->freed) {
		if (c->in_callback == 0)
			client_destroy(c);
		return false;
	}
	return true;
}

static void
client_schedule_retry(struct ipc_client *c)
{
	c->state = CLIENT_DOWN;
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_set(&c->retry, c->backoff, 0.);
	ev_timer_start(c->loop, &c->retry);
	c->backoff *= 2;
	if (c->backoff > IPC_BACKOFF_MAX)
		c->backoff = IPC_BACKOFF_MAX;
}

/* A connection attempt failed with `err`. */
static void
client_retry(struct ipc_client *c, int err)
{
	if (!c->outage_logged) {
		log_warn("ipc: cannot connect to %s at %s: %s; will retry",
		    c->name, c->path, strerror(err));
		c->outage_logged = true;
	} else {
		log_debug("ipc: connecting to %s: %s; retry in %.2f s", c->name,
		    strerror(err), c->backoff);
	}
	client_schedule_retry(c);
}

/*
 * The connection is established. Runs the on_connect callback, after which
 * the client may have been freed: callers return at once.
 */
static void
client_up(struct ipc_client *c)
{
	log_info("ipc: connected to %s at %s", c->name, c->path);
	c->state = CLIENT_UP;
	c->outage_logged = false;
	c->backoff = IPC_BACKOFF_MIN;
	ev_io_stop(c->loop, &c->s.wio);
	ev_io_start(c->loop, &c->s.rio);
	if (c->on_connect == NULL)
		return;
	c->in_callback++;
	c->on_connect(c->on_connect_arg);
	c->in_callback--;
	if (c->freed && c->in_callback == 0)
		client_destroy(c);
}

/*
 * The established connection is gone: close it, schedule a reconnection,
 * fail every pending request. Returns false when a callback freed the
 * client.
 */
static bool
client_down(struct ipc_client *c, const char *why)
{
	struct ipc_pending *p;
	ipc_reply_fn *cb;
	void *arg;

	log_warn("ipc: lost connection to %s: %s", c->name, why);
	c->outage_logged = true;
	c->failed = false;
	stream_close(&c->s);
	client_schedule_retry(c);
	while ((p = c->head) != NULL) {
		cb = p->cb;
		arg = p->arg;
		pending_remove(c, p);
		if (!client_call(c, cb, arg, NULL, IPC_ERR_DISCONNECTED))
			return false;
	}
	return true;
}

/* Like conn_fail: a send failed, the teardown runs from the loop. */
static void
client_fail(struct ipc_client *c, int err)
{
	if (c->failed)
		return;
	c->failed = true;
	c->fail_errno = err;
	stream_defer_close(&c->s);
}

static void
client_defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc_client *c = w->data;
	char why[128];

	(void)loop;
	(void)revents;
	snprintf(why, sizeof(why), "%s", strerror(c->fail_errno));
	client_down(c, why);
}

/*
 * Hands a push (id 0) to its handler. Returns false when the stream must
 * not be touched again: the client was freed, or the push was unexpected
 * or malformed and the connection has been dropped.
 */
static bool
client_push(struct ipc_client *c, struct ipc_reader *r)
{
	ipc_handler_fn *fn = c->push[r->type];
	enum ipc_type type = r->type;
	bool ok;

	if (fn == NULL) {
		ipc_reader_done(r);
		log_warn("ipc: unexpected push %s from %s", ipc_type_str(type),
		    c->name);
		client_down(c, "unexpected push");
		return false;
	}
	c->in_callback++;
	ok = fn(NULL, r, c->push_arg);
	c->in_callback--;
	ipc_reader_done(r);
	if (c->freed) {
		if (c->in_callback == 0)
			client_destroy(c);
		return false;
	}
	if (!ok) {
		log_warn("ipc: malformed push %s from %s", ipc_type_str(type),
		    c->name);
		client_down(c, "malformed push");
		return false;
	}
	return !c->failed;
}

static bool
client_frame(void *owner, const char *body, size_t len)
{
	struct ipc_client *c = owner;
	struct ipc_reader r;
	struct ipc_pending *p;
	enum ipc_status st;
	ipc_reply_fn *cb;
	void *arg;
	bool alive;

	st = ipc_reader_init(&r, body, len);
	if (st != IPC_OK) {
		client_down(c,
		    st == IPC_ERR_VERSION ? "IPC version mismatch"
					  : "malformed reply");
		return false;
	}
	if (r.id == 0)
		return client_push(c, &r);
	if ((p = pending_find(c, r.id)) == NULL) {
		log_debug("ipc: %s %u from %s matches no pending request "
			  "(timed out or cancelled); ignored",
		    ipc_type_str(r.type), r.id, c->name);
		ipc_reader_done(&r);
		return true;
	}
	cb = p->cb;
	arg = p->arg;
	pending_remove(c, p);
	alive = client_call(c, cb, arg, &r, IPC_OK);
	ipc_reader_done(&r);
	return alive && !c->failed;
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_client *c = w->data;
	char why[128];

	(void)loop;
	(void)revents;
	switch (stream_pump(&c->s, client_frame, c)) {
	case STREAM_AGAIN:
	case STREAM_STOPPED:
		return;
	case STREAM_EOF:
		client_down(c, "closed by peer");
		return;
	case STREAM_ERROR:
		snprintf(why, sizeof(why), "%s", strerror(errno));
		client_down(c, why);
		return;
	case STREAM_TOO_LARGE:
		client_down(c, "frame over IPC_MAX_FRAME");
		return;
	}
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_client *c = w->data;
	char why[128];
	int err = 0;
	socklen_t errlen = sizeof(err);

	(void)loop;
	(void)revents;
	if (c->state == CLIENT_CONNECTING) {
		if (getsockopt(c->s.fd, SOL_SOCKET, SO_ERROR, &err, &errlen) ==
		    -1)
			err = errno;
		if (err != 0) {
			stream_close(&c->s);
			client_retry(c, err);
		} else {
			client_up(c);
		}
		return;
	}
	if (!stream_flush(&c->s)) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		client_down(c, why);
	}
}

static void
client_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	client_connect(w->data);
}

static void
client_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc_client *c = w->data;
	struct ipc_pending *p;
	ipc_reply_fn *cb;
	void *arg;
	ev_tstamp now = ipc_mono_now();

	(void)loop;
	(void)revents;
	while ((p = c->head) != NULL && p->deadline <= now) {
		log_debug("ipc: request %u to %s timed out", p->id, c->name);
		cb = p->cb;
		arg = p->arg;
		pending_remove(c, p);
		if (!client_call(c, cb, arg, NULL, IPC_ERR_TIMEOUT))
			return;
	}
	client_arm_timer(c);
}

static void
client_connect(struct ipc_client *c)
{
	struct sockaddr_un sun;
	int fd, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		client_retry(c, errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		stream_attach(&c->s, fd);
		client_up(c);
		return;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		/* Completes asynchronously: writable when done. */
		stream_attach(&c->s, fd);
		c->state = CLIENT_CONNECTING;
		ev_io_start(c->loop, &c->s.wio);
		return;
	}
	/* Unix sockets fail at once: no listener, or its backlog is full. */
	err = errno;
	close(fd);
	client_retry(c, err);
}

struct ipc_client *
ipc_client_new(struct ev_loop *loop, const char *path, const char *name)
{
	struct ipc_client *c;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		fatalx("ipc: socket path too long: %s", path);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->slots = calloc(IPC_PENDING_SLOTS, sizeof(*c->slots))) == NULL ||
	    (c->path = strdup(path)) == NULL ||
	    (c->name = strdup(name)) == NULL)
		fatal("ipc: calloc");
	c->loop = loop;
	c->backoff = IPC_BACKOFF_MIN;
	c->next_id = 1;
	stream_init(
	    &c->s, loop, client_read_cb, client_write_cb, client_defer_cb, c);
	ev_init(&c->retry, client_retry_cb);
	c->retry.data = c;
	ev_init(&c->timer, client_timer_cb);
	c->timer.data = c;
	client_connect(c);
	return c;
}

/*
 * Closes the connection and frees the client. Pending requests are dropped
 * without their callbacks running. From inside a callback, the client is
 * freed once the callback returns.
 */
void
ipc_client_free(struct ipc_client *c)
{
	if (c == NULL || c->freed)
		return;
	if (c->in_callback > 0) {
		c->freed = true;
		c->state = CLIENT_DOWN;
		stream_close(&c->s);
		ev_timer_stop(c->loop, &c->retry);
		ev_timer_stop(c->loop, &c->timer);
		return;
	}
	client_destroy(c);
}

bool
ipc_client_connected(const struct ipc_client *c)
{
	return c->state == CLIENT_UP && !c->failed && !c->freed;
}

/* Ids skip 0 and any still in flight, so a free slot is found if any. */
uint32_t
ipc_client_begin(struct ipc_client *c, struct ipc_writer *w, enum ipc_type type)
{
	uint32_t id = c->next_id, tries;

	for (tries = 0; tries < IPC_PENDING_SLOTS; tries++) {
		if (id != 0 && c->slots[id & IPC_PENDING_MASK].cb == NULL)
			break;
		id++;
	}
	if (id == 0)
		id = 1;
	c->next_id = id + 1;
	ipc_msg_begin(w, type, id);
	return id;
}

enum ipc_status
ipc_client_send(struct ipc_client *c, struct ipc_writer *w, uint32_t id,
    double timeout_s, ipc_reply_fn *cb, void *arg)
{
	struct ipc_pending *p = &c->slots[id & IPC_PENDING_MASK];
	enum ipc_status st;
	int saved;

	if (cb == NULL)
		fatalx("ipc_client_send: no callback");
	if (!ipc_client_connected(c)) {
		ipc_msg_discard(w);
		return IPC_ERR_DISCONNECTED;
	}
	if (ipc_frame_finish(w) != IPC_OK) {
		log_warn("ipc: request of %zu bytes to %s over IPC_MAX_FRAME",
		    w->buf.size - 4, c->name);
		ipc_msg_discard(w);
		return IPC_ERR_TOO_LARGE;
	}
	if (p->cb != NULL) {
		ipc_msg_discard(w);
		return IPC_ERR_BUSY;
	}
	st = stream_queue(&c->s, w->buf.data, w->buf.size);
	saved = errno;
	ipc_msg_discard(w);
	if (st == IPC_ERR_DISCONNECTED) {
		client_fail(c, saved);
		return st;
	}
	if (st != IPC_OK)
		return st;
	p->cb = cb;
	p->arg = arg;
	p->id = id;
	if (!(timeout_s > 0.)) /* also NaN */
		timeout_s = 0.;
	p->deadline = ipc_mono_now() + timeout_s;
	pending_insert(c, p);
	client_arm_timer(c);
	return IPC_OK;
}

void
ipc_client_cancel(struct ipc_client *c, uint32_t id)
{
	struct ipc_pending *p = pending_find(c, id);

	if (p != NULL)
		pending_remove(c, p);
}

void
ipc_client_on_push(
    struct ipc_client *c, const struct ipc_handler *handlers, void *arg)
{
	const struct ipc_handler *h;

	memset(c->push, 0, sizeof(c->push));
	for (h = handlers; h != NULL && h->fn != NULL; h++) {
		if ((int)h->type <= 0 || h->type >= IPC_TYPE_MAX ||
		    c->push[h->type] != NULL)
			fatalx("ipc_client_on_push: bad handler table entry "
			       "for type %d",
			    (int)h->type);
		c->push[h->type] = h->fn;
	}
	c->push_arg = arg;
}

void
ipc_client_on_connect(struct ipc_client *c, void (*fn)(void *arg), void *arg)
{
	c->on_connect = fn;
	c->on_connect_arg = arg;
}
