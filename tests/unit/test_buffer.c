/*
 * Unit tests for proxyd's stream buffers: bounds are never exceeded, bytes
 * come out in order, and socket I/O reports AGAIN/EOF/FULL correctly.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../proxyd/buffer.h"

static void
test_append_consume_order(void **state)
{
	struct buf b = {0};
	uint8_t data[10000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	assert_true(buf_append(&b, data, 3000));
	buf_consume(&b, 1000);
	assert_true(buf_append(&b, data + 3000, 7000));
	assert_int_equal(buf_len(&b), 9000);
	assert_memory_equal(buf_head(&b), data + 1000, 9000);
	buf_consume(&b, 9000);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

static void
test_reserve_respects_bound(void **state)
{
	struct buf b = {0};

	(void)state;
	assert_true(buf_reserve(&b, 4000, 5000));
	assert_true(b.cap <= 5000);
	assert_false(buf_reserve(&b, 6000, 5000));
	buf_free(&b);
}

static void
test_read_bounded_and_eof(void **state)
{
	struct buf b = {0};
	uint8_t chunk[3000];
	int p[2];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(buf_read_fd(&b, p[0], 2500), BUF_IO_AGAIN);
	assert_int_equal(write(p[1], chunk, sizeof(chunk)), sizeof(chunk));
	assert_int_equal(buf_read_fd(&b, p[0], 2500), BUF_IO_OK);
	assert_int_equal(buf_len(&b), 2500);
	/* At the bound: nothing more is read until bytes are consumed. */
	assert_int_equal(buf_read_fd(&b, p[0], 2500), BUF_IO_FULL);
	assert_true(b.cap <= 2500);
	buf_consume(&b, 2000);
	assert_int_equal(buf_read_fd(&b, p[0], 2500), BUF_IO_OK);
	assert_int_equal(buf_len(&b), 1000);
	close(p[1]);
	assert_int_equal(buf_read_fd(&b, p[0], 2500), BUF_IO_EOF);
	close(p[0]);
	buf_free(&b);
}

static void
test_write_partial(void **state)
{
	struct buf b = {0};
	static uint8_t big[1 << 20];
	uint8_t sink[65536];
	size_t total = 0;
	int p[2];

	(void)state;
	memset(big, 'y', sizeof(big));
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_true(buf_append(&b, big, sizeof(big)));
	/* The pipe holds less than 1 MiB: the rest stays queued. */
	assert_int_equal(buf_write_fd(&b, p[1]), BUF_IO_OK);
	assert_true(buf_len(&b) > 0);
	while (buf_write_fd(&b, p[1]) == BUF_IO_OK)
		;
	assert_int_equal(buf_write_fd(&b, p[1]), BUF_IO_AGAIN);
	for (;;) {
		ssize_t n = read(p[0], sink, sizeof(sink));

		if (n <= 0) {
			if (buf_write_fd(&b, p[1]) != BUF_IO_OK)
				break;
			continue;
		}
		total += (size_t)n;
	}
	assert_int_equal(total, sizeof(big));
	assert_int_equal(buf_len(&b), 0);
	close(p[0]);
	close(p[1]);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_consume_order),
	    cmocka_unit_test(test_reserve_respects_bound),
	    cmocka_unit_test(test_read_bounded_and_eof),
	    cmocka_unit_test(test_write_partial),
	};

	return cmocka_run_group_tests_name("buffer", tests, NULL, NULL);
}
