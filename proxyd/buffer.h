/*
 * A byte stream buffer that owns nothing but its memory: bytes are read in
 * at the tail and consumed at the head; storage grows on demand, never
 * beyond a caller-given bound, and is reused, not freed, while a session
 * lives.
 */
#ifndef FLYTRAP_BUFFER_H
#define FLYTRAP_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t start; /* first unconsumed byte */
	size_t end; /* one past the last byte */
	size_t cap;
};

enum buf_io {
	BUF_IO_OK = 0, /* some bytes moved */
	BUF_IO_AGAIN, /* nothing to do now (EAGAIN, or empty) */
	BUF_IO_EOF, /* the peer closed */
	BUF_IO_ERROR, /* read/write failed; errno says why */
	BUF_IO_FULL, /* the buffer reached its bound */
	BUF_IO_NOMEM,
};

static inline size_t
buf_len(const struct buf *b)
{
	return b->end - b->start;
}

static inline const uint8_t *
buf_head(const struct buf *b)
{
	return b->data + b->start;
}

void buf_free(struct buf *b);
void buf_consume(struct buf *b, size_t n);
/* Makes room for `need` more bytes, growing up to `max` in all. */
bool buf_reserve(struct buf *b, size_t need, size_t max)
    __attribute__((warn_unused_result));
/* Appends bytes; false when out of memory. */
bool buf_append(struct buf *b, const void *data, size_t len)
    __attribute__((warn_unused_result));
/* Reads what the socket has, keeping the buffer within `max` bytes. */
enum buf_io buf_read_fd(struct buf *b, int fd, size_t max);
/* Writes as much as the socket takes. */
enum buf_io buf_write_fd(struct buf *b, int fd);

#endif
