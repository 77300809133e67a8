/*
 * The client side shared by FlyTrap's benchmarks (bench.h): CONNECTs with
 * timed tokens from the project's codec and token code, packet streams over
 * blocking sockets with deadlines, and percentile reports with RESULT lines.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "hex.h"
#include "token.h"

#define BENCH_MESSAGE_MAX 512

const char *
bench_status_str(enum bench_status st)
{
	switch (st) {
	case BENCH_OK:
		return "ok";
	case BENCH_AGAIN:
		return "no whole packet yet";
	case BENCH_ERR_SIGN:
		return "signing the token failed";
	case BENCH_ERR_ENCODE:
		return "encoding a packet failed";
	case BENCH_ERR_CONNECT:
		return "TCP connect failed";
	case BENCH_ERR_IO:
		return "I/O error or connection closed";
	case BENCH_ERR_TIMEOUT:
		return "timed out";
	case BENCH_ERR_PROTOCOL:
		return "unexpected or undecodable packet";
	case BENCH_ERR_REFUSED:
		return "CONNACK refused the connection";
	case BENCH_ERR_DENIED:
		return "publish or subscription refused (reason code >= 0x80)";
	case BENCH_ERR_MISMATCH:
		return "delivered message is not the one sent";
	}
	return "?";
}

enum eth_status
bench_identity_load(const char *path, struct bench_identity *id)
{
	uint8_t addr[ETH_ADDRESS_LEN];
	enum eth_status st;

	memset(id, 0, sizeof(*id));
	st = eth_key_read_file(path, id->key);
	if (st == ETH_OK)
		st = eth_key_address(id->key, addr);
	if (st != ETH_OK) {
		memset(id, 0, sizeof(*id));
		return st;
	}
	eth_address_hex(addr, id->address);
	id->present = true;
	return ETH_OK;
}

enum eth_status
bench_identity_generate(struct bench_identity *id)
{
	uint8_t addr[ETH_ADDRESS_LEN];
	enum eth_status st;

	memset(id, 0, sizeof(*id));
	st = eth_key_generate(id->key);
	if (st == ETH_OK)
		st = eth_key_address(id->key, addr);
	if (st != ETH_OK) {
		memset(id, 0, sizeof(*id));
		return st;
	}
	eth_address_hex(addr, id->address);
	id->present = true;
	return ETH_OK;
}

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool
bench_label_valid(const char *label)
{
	size_t i, len = strlen(label);

	if (len == 0 || len > BENCH_LABEL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)label[i]) &&
		    strchr("_.-", label[i]) == NULL)
			return false;
	return true;
}

bool
bench_parse_count(const char *text, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n <= 0 ||
	    n > BENCH_COUNT_MAX)
		return false;
	*out = n;
	return true;
}

struct addrinfo *
bench_resolve(const char *prog, const char *host, const char *port)
{
	struct addrinfo hints, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		fprintf(stderr, "%s: %s:%s: %s\n", prog, host, port,
		    gai_strerror(rc));
		exit(1);
	}
	return ai;
}

/* ---- CONNECT ------------------------------------------------------------ */

enum bench_status
bench_build_connect(uint8_t version, const struct bench_identity *id,
    const char *realm, const char *client_id, uint8_t *buf, size_t cap,
    size_t *len)
{
	return bench_build_connect_claiming(
	    version, id, realm, client_id, NULL, buf, cap, len);
}

enum bench_status
bench_build_connect_claiming(uint8_t version, const struct bench_identity *id,
    const char *realm, const char *client_id, const char *claimed, uint8_t *buf,
    size_t cap, size_t *len)
{
	char message[BENCH_MESSAGE_MAX];
	char sig_hex[ETH_SIG_HEX_SIZE];
	char time_text[24];
	char password[ETH_SIG_HEX_SIZE + sizeof(time_text) + 1];
	uint8_t props_buf[BENCH_MESSAGE_MAX];
	uint8_t digest[32], sig[ETH_SIG_LEN];
	struct mqtt_prop_builder props;
	struct mqtt_packet p;
	struct mqtt_connect *c = &p.u.connect;
	size_t message_len, id_len = strlen(client_id);
	int64_t now;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	c->version = version;
	c->clean_start = true;
	c->keep_alive = 60;
	c->client_id.data = (const uint8_t *)client_id;
	c->client_id.len = id_len;
	mqtt_props_builder_init(&props, props_buf, sizeof(props_buf));

	if (id->present) {
		now = (int64_t)time(NULL);
		message_len = token_message_timed(message, sizeof(message),
		    realm, (const uint8_t *)client_id, id_len, now);
		if (message_len == 0)
			return BENCH_ERR_SIGN;
		eth_eip191_digest(message, message_len, digest);
		if (eth_sign(id->key, digest, sig) != ETH_OK)
			return BENCH_ERR_SIGN;
		sig_hex[0] = '0';
		sig_hex[1] = 'x';
		hex_encode(sig, sizeof(sig), sig_hex + 2);
		snprintf(time_text, sizeof(time_text), "%" PRId64, now);

		if (version == MQTT_V5) {
			mqtt_props_add_user(&props, "flytrap-sig", 11, sig_hex,
			    strlen(sig_hex));
			mqtt_props_add_user(&props, "flytrap-time", 12,
			    time_text, strlen(time_text));
			if (claimed != NULL) {
				c->has_username = true;
				c->username.data = (const uint8_t *)claimed;
				c->username.len = strlen(claimed);
			}
		} else {
			snprintf(password, sizeof(password), "%s:%s", time_text,
			    sig_hex);
			if (claimed == NULL)
				claimed = id->address;
			c->has_username = true;
			c->username.data = (const uint8_t *)claimed;
			c->username.len = strlen(claimed);
			c->has_password = true;
			c->password.data = (const uint8_t *)password;
			c->password.len = strlen(password);
		}
	}
	if (mqtt_props_builder_finish(&props, &c->props) != MQTT_OK)
		return BENCH_ERR_ENCODE;
	/* The views above stay valid until mqtt_encode() has copied them. */
	if (mqtt_encode(version, &p, buf, cap, len) != MQTT_OK)
		return BENCH_ERR_ENCODE;
	return BENCH_OK;
}

/* ---- Sockets ------------------------------------------------------------ */

/* Waits until fd is ready for `events`; BENCH_ERR_TIMEOUT if it is not. */
static enum bench_status BENCH_WUR
bench_wait(int fd, short events)
{
	struct pollfd pfd = {fd, events, 0};
	int n;

	do
		n = poll(&pfd, 1, BENCH_IO_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return BENCH_ERR_IO;
	if (n == 0)
		return BENCH_ERR_TIMEOUT;
	return BENCH_OK;
}

static enum bench_status BENCH_WUR
bench_write_all(int fd, const uint8_t *data, size_t len)
{
	enum bench_status st;
	ssize_t n;

	while (len > 0) {
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((st = bench_wait(fd, POLLOUT)) != BENCH_OK)
				return st;
			continue;
		}
		if (n <= 0)
			return BENCH_ERR_IO;
		data += n;
		len -= (size_t)n;
	}
	return BENCH_OK;
}

enum bench_status
bench_conn_send(struct bench_conn *c, const struct mqtt_packet *p)
{
	uint8_t out[BENCH_PACKET_MAX];
	size_t len;

	if (mqtt_encode(c->version, p, out, sizeof(out), &len) != MQTT_OK)
		return BENCH_ERR_ENCODE;
	return bench_write_all(c->fd, out, len);
}

enum bench_status
bench_conn_take(struct bench_conn *c, struct mqtt_packet *p)
{
	struct mqtt_fixed_header hdr;
	enum mqtt_result r;

	/* The packet handed out last is no longer looked at. */
	c->start += c->taken;
	c->taken = 0;
	r = mqtt_frame(
	    c->buf + c->start, c->have - c->start, BENCH_PACKET_MAX, &hdr);
	if (r == MQTT_INCOMPLETE)
		return BENCH_AGAIN;
	if (r != MQTT_OK ||
	    mqtt_decode(c->version, &hdr, c->buf + c->start + hdr.header_len,
		p) != MQTT_OK)
		return BENCH_ERR_PROTOCOL;
	c->taken = hdr.header_len + hdr.remaining;
	return BENCH_OK;
}

enum bench_status
bench_conn_fill(struct bench_conn *c)
{
	ssize_t n;

	/* Keep the unread bytes; the views of the last packet go stale. */
	c->start += c->taken;
	c->taken = 0;
	memmove(c->buf, c->buf + c->start, c->have - c->start);
	c->have -= c->start;
	c->start = 0;
	do
		n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return BENCH_ERR_IO;
	c->have += (size_t)n;
	return BENCH_OK;
}

enum bench_status
bench_conn_read(struct bench_conn *c, struct mqtt_packet *p)
{
	enum bench_status st;

	while ((st = bench_conn_take(c, p)) == BENCH_AGAIN) {
		if ((st = bench_wait(c->fd, POLLIN)) != BENCH_OK ||
		    (st = bench_conn_fill(c)) != BENCH_OK)
			return st;
	}
	return st;
}

/* ---- Sessions ----------------------------------------------------------- */

enum bench_status
bench_session_open(struct bench_conn *c, const struct addrinfo *ai,
    uint8_t version, const uint8_t *connect_packet, size_t connect_len)
{
	struct mqtt_packet p;
	enum bench_status st;
	int one = 1, rc;

	c->version = version;
	c->start = c->have = c->taken = 0;
	c->fd = socket(
	    ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (c->fd < 0)
		return BENCH_ERR_CONNECT;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	do
		rc = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		st = BENCH_ERR_CONNECT;
	} else if ((st = bench_write_all(c->fd, connect_packet, connect_len)) ==
		BENCH_OK &&
	    (st = bench_conn_read(c, &p)) == BENCH_OK) {
		if (p.type != MQTT_CONNACK)
			st = BENCH_ERR_PROTOCOL;
		else if (p.u.connack.reason != 0)
			st = BENCH_ERR_REFUSED;
	}
	if (st != BENCH_OK) {
		close(c->fd);
		c->fd = -1;
	}
	return st;
}

void
bench_session_close(struct bench_conn *c)
{
	struct mqtt_packet d;
	enum bench_status st;

	if (c->fd < 0)
		return;
	memset(&d, 0, sizeof(d));
	d.type = MQTT_DISCONNECT;
	/* Best effort: the peer may already be gone, and nothing is timed. */
	st = bench_conn_send(c, &d);
	(void)st;
	close(c->fd);
	c->fd = -1;
}

/* ---- Reports ------------------------------------------------------------ */

static int
bench_compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double
bench_percentile_us(const uint64_t *sorted, size_t n, double pct)
{
	size_t rank = (size_t)ceil(pct / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1000.0;
}

void
bench_report(const char *bench, const char *label, const char *what,
    uint64_t *samples, size_t n)
{
	double p50, p90, p99, max;

	qsort(samples, n, sizeof(*samples), bench_compare_u64);
	p50 = bench_percentile_us(samples, n, 50);
	p90 = bench_percentile_us(samples, n, 90);
	p99 = bench_percentile_us(samples, n, 99);
	max = (double)samples[n - 1] / 1000.0;

	printf("%s %s: %zu x %s\n", bench, label, n, what);
	printf("  p50 %10.1f us  p90 %10.1f us  p99 %10.1f us  "
	       "max %10.1f us\n",
	    p50, p90, p99, max);
	printf("RESULT bench=%s label=%s n=%zu p50_us=%.1f p90_us=%.1f "
	       "p99_us=%.1f max_us=%.1f\n",
	    bench, label, n, p50, p90, p99, max);
	fflush(stdout);
}

void
bench_settle_identity(const char *prog, const char *key_path,
    const char **realm, const char **label)
{
	if (key_path != NULL && *realm == NULL)
		*realm = getenv("FLYTRAP_REALM");
	if (key_path != NULL && *realm == NULL) {
		fprintf(stderr, "%s: --key needs --realm\n", prog);
		exit(2);
	}
	if (*label == NULL)
		*label = key_path != NULL ? "flytrap" : "direct";
}
