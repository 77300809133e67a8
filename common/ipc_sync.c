/*
 * A blocking IPC request for command-line tools: connect, send one frame,
 * read frames until the reply to it, each step bounded by poll() and one
 * deadline. The framing is ipc.h's: u32 big-endian body length, body.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "ipc_sync.h"
#include "log.h"

static double
ipc_sync_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Waits until fd is ready for `events` or the deadline passes. Returns
 * IPC_OK (ready, or in error: the next read or write says which),
 * IPC_ERR_TIMEOUT, or IPC_ERR_DISCONNECTED if poll itself fails.
 */
static enum ipc_status
ipc_sync_wait(int fd, short events, double deadline)
{
	struct pollfd p;
	double left;
	int n;

	for (;;) {
		left = deadline - ipc_sync_now();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return IPC_ERR_TIMEOUT;
		}
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		/* Round up, so that we never spin on a zero timeout. */
		n = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (n > 0)
			return IPC_OK;
		if (n < 0 && errno != EINTR)
			return IPC_ERR_DISCONNECTED;
	}
}

/* Connects a non-blocking socket to path before the deadline. */
static enum ipc_status
ipc_sync_connect(const char *path, double deadline, int *fdp)
{
	struct sockaddr_un sa;
	enum ipc_status st;
	socklen_t elen;
	int fd, err;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return IPC_ERR_DISCONNECTED;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return IPC_ERR_DISCONNECTED;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* Linux: the listen backlog is full; try again. */
			if (ipc_sync_now() >= deadline) {
				close(fd);
				errno = ETIMEDOUT;
				return IPC_ERR_TIMEOUT;
			}
			poll(NULL, 0, 10);
			continue;
		}
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			errno = err;
			return IPC_ERR_DISCONNECTED;
		}
		/* Elsewhere a Unix connect may complete later. */
		if ((st = ipc_sync_wait(fd, POLLOUT, deadline)) != IPC_OK) {
			err = errno;
			close(fd);
			errno = err;
			return st;
		}
		elen = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0) {
			close(fd);
			errno = err;
			return IPC_ERR_DISCONNECTED;
		}
		break;
	}
	*fdp = fd;
	return IPC_OK;
}

static enum ipc_status
ipc_sync_send_all(int fd, const char *p, size_t n, double deadline)
{
	enum ipc_status st;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((st = ipc_sync_wait(fd, POLLOUT, deadline)) !=
			    IPC_OK)
				return st;
			continue;
		}
		return IPC_ERR_DISCONNECTED;
	}
	return IPC_OK;
}

static enum ipc_status
ipc_sync_recv_all(int fd, char *p, size_t n, double deadline)
{
	enum ipc_status st;
	ssize_t r;

	while (n > 0) {
		r = recv(fd, p, n, 0);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0) {
			errno = ECONNRESET;
			return IPC_ERR_DISCONNECTED;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((st = ipc_sync_wait(fd, POLLIN, deadline)) !=
			    IPC_OK)
				return st;
			continue;
		}
		return IPC_ERR_DISCONNECTED;
	}
	return IPC_OK;
}

/* Reads one frame into a new buffer (*body, *len). */
static enum ipc_status
ipc_sync_read_frame(int fd, double deadline, char **body, size_t *len)
{
	unsigned char hdr[4];
	enum ipc_status st;
	uint32_t n;

	if ((st = ipc_sync_recv_all(fd, (char *)hdr, 4, deadline)) != IPC_OK)
		return st;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > IPC_MAX_FRAME)
		return IPC_ERR_TOO_LARGE;
	if ((*body = malloc(n > 0 ? n : 1)) == NULL)
		fatal("ipc: malloc");
	if ((st = ipc_sync_recv_all(fd, *body, n, deadline)) != IPC_OK) {
		free(*body);
		*body = NULL;
		return st;
	}
	*len = n;
	return IPC_OK;
}

enum ipc_status
ipc_request_sync(const char *path, struct ipc_writer *w, double timeout_s,
    char **body, size_t *len)
{
	double deadline = ipc_sync_now() + timeout_s;
	struct ipc_reader r;
	enum ipc_status st;
	uint32_t id;
	size_t n;
	int fd = -1, err;

	*body = NULL;
	*len = 0;
	/* The body follows the 4-byte placeholder ipc_msg_begin wrote. */
	n = w->buf.size - 4;
	if (n > IPC_MAX_FRAME) {
		ipc_msg_discard(w);
		return IPC_ERR_TOO_LARGE;
	}
	if ((st = ipc_reader_init(&r, w->buf.data + 4, n)) != IPC_OK) {
		ipc_msg_discard(w);
		return st;
	}
	id = r.id;
	ipc_reader_done(&r);
	if (id == 0) {
		/* Id 0 marks a push: no reply could be told apart. */
		ipc_msg_discard(w);
		return IPC_ERR_DECODE;
	}
	w->buf.data[0] = (char)(n >> 24);
	w->buf.data[1] = (char)(n >> 16);
	w->buf.data[2] = (char)(n >> 8);
	w->buf.data[3] = (char)n;

	if ((st = ipc_sync_connect(path, deadline, &fd)) != IPC_OK)
		goto done;
	if ((st = ipc_sync_send_all(fd, w->buf.data, w->buf.size, deadline)) !=
	    IPC_OK)
		goto done;
	for (;;) {
		if ((st = ipc_sync_read_frame(fd, deadline, body, len)) !=
		    IPC_OK)
			goto done;
		if ((st = ipc_reader_init(&r, *body, *len)) != IPC_OK)
			break;
		ipc_reader_done(&r);
		if (r.id == id)
			break;
		/* A push, or a late reply to something else: skip it. */
		free(*body);
		*body = NULL;
	}
done:
	err = errno;
	if (st != IPC_OK) {
		free(*body);
		*body = NULL;
		*len = 0;
	}
	if (fd >= 0)
		close(fd);
	ipc_msg_discard(w);
	errno = err;
	return st;
}
