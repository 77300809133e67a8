/*
 * Stream buffers for proxyd's sockets (see buffer.h).
 */
#include "buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Smallest allocation: one MTU-sized read fits without growing. */
#define BUF_MIN_CAP 2048

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

bool
buf_reserve(struct buf *b, size_t need, size_t max)
{
	size_t len = buf_len(b), cap;
	uint8_t *p;

	if (b->cap - b->end >= need)
		return true;
	if (b->start > 0 && b->cap - len >= need) {
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
		return true;
	}
	if (len + need > max)
		return false;
	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < len + need)
		cap *= 2;
	if (cap > max)
		cap = max;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		return false;
	b->data = p;
	b->cap = cap;
	return true;
}

bool
buf_append(struct buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len, SIZE_MAX))
		return false;
	memcpy(b->data + b->end, data, len);
	b->end += len;
	return true;
}

enum buf_io
buf_read_fd(struct buf *b, int fd, size_t max)
{
	size_t room;
	ssize_t n;

	/* Ask for a useful chunk, but never more than the bound allows. */
	room = max > buf_len(b) ? max - buf_len(b) : 0;
	if (room == 0)
		return BUF_IO_FULL;
	if (room > 16384)
		room = 16384;
	if (!buf_reserve(b, room, max))
		return BUF_IO_NOMEM;
	n = read(fd, b->data + b->end, b->cap - b->end);
	if (n > 0) {
		b->end += (size_t)n;
		return BUF_IO_OK;
	}
	if (n == 0)
		return BUF_IO_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return BUF_IO_AGAIN;
	return BUF_IO_ERROR;
}

enum buf_io
buf_write_fd(struct buf *b, int fd)
{
	ssize_t n;

	if (buf_len(b) == 0)
		return BUF_IO_AGAIN;
	n = write(fd, buf_head(b), buf_len(b));
	if (n > 0) {
		buf_consume(b, (size_t)n);
		return BUF_IO_OK;
	}
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return BUF_IO_AGAIN;
	return BUF_IO_ERROR;
}
