/*
 * connect_bench: CONNECT -> CONNACK latency against a broker or proxyd, one
 * connection at a time, each with a fresh FlyTrap timed token signed outside
 * the timed interval. Prints percentiles and a machine-readable RESULT line.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "eth.h"
#include "hex.h"
#include "mqtt.h"
#include "token.h"

#define BENCH_WUR __attribute__((warn_unused_result))

/* How long one read or write may wait before the run counts as failed. */
#define BENCH_IO_TIMEOUT_MS 5000
#define BENCH_PACKET_MAX 1024
#define BENCH_LABEL_MAX 32
#define BENCH_CLIENT_ID_MAX 80
#define BENCH_MESSAGE_MAX 512

struct bench_options {
	const char *host;
	const char *port;
	const char *key_path; /* NULL: no credentials (direct to a broker) */
	const char *realm;
	const char *label;
	long count;
	uint8_t version;
};

/* The signing identity, when --key is given. */
struct bench_identity {
	bool present;
	uint8_t key[ETH_KEY_LEN];
	char address[ETH_ADDRESS_HEX_SIZE];
};

enum bench_status {
	BENCH_OK = 0,
	BENCH_ERR_SIGN, /* building or signing the token failed */
	BENCH_ERR_ENCODE, /* the CONNECT did not encode */
	BENCH_ERR_CONNECT, /* TCP connect failed */
	BENCH_ERR_IO, /* read/write failed or the peer closed */
	BENCH_ERR_TIMEOUT, /* no progress within BENCH_IO_TIMEOUT_MS */
	BENCH_ERR_PROTOCOL, /* the answer was not a decodable CONNACK */
	BENCH_ERR_REFUSED, /* CONNACK with a non-zero code */
};

static const char *
bench_status_str(enum bench_status st)
{
	switch (st) {
	case BENCH_OK:
		return "ok";
	case BENCH_ERR_SIGN:
		return "signing the token failed";
	case BENCH_ERR_ENCODE:
		return "encoding the CONNECT failed";
	case BENCH_ERR_CONNECT:
		return "TCP connect failed";
	case BENCH_ERR_IO:
		return "I/O error or connection closed";
	case BENCH_ERR_TIMEOUT:
		return "timed out";
	case BENCH_ERR_PROTOCOL:
		return "answer is not a CONNACK";
	case BENCH_ERR_REFUSED:
		return "CONNACK refused the connection";
	}
	return "?";
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: connect_bench --host H --port P --count N "
	    "[--key FILE --realm R] [--v311] [--label NAME]\n");
	exit(2);
}

static uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Whether a label fits the RESULT line and a client id: 1..32 characters
 * of [A-Za-z0-9_.-].
 */
static bool
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

/* Parses the command line into `o`; exits with usage on anything wrong. */
static void
bench_parse_options(int argc, char **argv, struct bench_options *o)
{
	static const struct option longopts[] = {
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'n'},
	    {"key", required_argument, NULL, 'k'},
	    {"realm", required_argument, NULL, 'r'},
	    {"label", required_argument, NULL, 'l'},
	    {"v311", no_argument, NULL, '3'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->version = MQTT_V5;
	o->count = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 'n':
			errno = 0;
			o->count = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || o->count <= 0 ||
			    o->count > 10000000)
				usage();
			break;
		case 'k':
			o->key_path = optarg;
			break;
		case 'r':
			o->realm = optarg;
			break;
		case 'l':
			if (!bench_label_valid(optarg))
				usage();
			o->label = optarg;
			break;
		case '3':
			o->version = MQTT_V311;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->port == NULL || o->count == 0)
		usage();
	if (o->key_path != NULL && o->realm == NULL)
		o->realm = getenv("FLYTRAP_REALM");
	if (o->key_path != NULL && o->realm == NULL) {
		fprintf(stderr, "connect_bench: --key needs --realm\n");
		exit(2);
	}
	if (o->label == NULL)
		o->label = o->key_path != NULL ? "flytrap" : "direct";
}

/*
 * Builds the CONNECT for connection number `index` into (buf, cap): a unique
 * client id and, with an identity, a timed token signed for now. Returns
 * BENCH_OK with *len set, or what failed.
 */
static enum bench_status BENCH_WUR
bench_build_connect(const struct bench_options *o,
    const struct bench_identity *id, long index, uint8_t *buf, size_t cap,
    size_t *len)
{
	char client_id[BENCH_CLIENT_ID_MAX];
	char message[BENCH_MESSAGE_MAX];
	char sig_hex[ETH_SIG_HEX_SIZE];
	char time_text[24];
	char password[ETH_SIG_HEX_SIZE + sizeof(time_text) + 1];
	uint8_t props_buf[BENCH_MESSAGE_MAX];
	uint8_t digest[32], sig[ETH_SIG_LEN];
	struct mqtt_prop_builder props;
	struct mqtt_packet p;
	struct mqtt_connect *c = &p.u.connect;
	size_t message_len;
	int64_t now;
	int n;

	n = snprintf(client_id, sizeof(client_id), "bench-%ld-%s-%ld",
	    (long)getpid(), o->label, index);
	if (n < 0 || (size_t)n >= sizeof(client_id))
		return BENCH_ERR_ENCODE;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	c->version = o->version;
	c->clean_start = true;
	c->keep_alive = 60;
	c->client_id.data = (const uint8_t *)client_id;
	c->client_id.len = (size_t)n;
	mqtt_props_builder_init(&props, props_buf, sizeof(props_buf));

	if (id->present) {
		now = (int64_t)time(NULL);
		message_len = token_message_timed(message, sizeof(message),
		    o->realm, (const uint8_t *)client_id, (size_t)n, now);
		if (message_len == 0)
			return BENCH_ERR_SIGN;
		eth_eip191_digest(message, message_len, digest);
		if (eth_sign(id->key, digest, sig) != ETH_OK)
			return BENCH_ERR_SIGN;
		sig_hex[0] = '0';
		sig_hex[1] = 'x';
		hex_encode(sig, sizeof(sig), sig_hex + 2);
		snprintf(time_text, sizeof(time_text), "%" PRId64, now);

		if (o->version == MQTT_V5) {
			mqtt_props_add_user(&props, "flytrap-sig", 11, sig_hex,
			    strlen(sig_hex));
			mqtt_props_add_user(&props, "flytrap-time", 12,
			    time_text, strlen(time_text));
		} else {
			snprintf(password, sizeof(password), "%s:%s", time_text,
			    sig_hex);
			c->has_username = true;
			c->username.data = (const uint8_t *)id->address;
			c->username.len = strlen(id->address);
			c->has_password = true;
			c->password.data = (const uint8_t *)password;
			c->password.len = strlen(password);
		}
	}
	if (mqtt_props_builder_finish(&props, &c->props) != MQTT_OK)
		return BENCH_ERR_ENCODE;
	/* The views above stay valid until mqtt_encode() has copied them. */
	if (mqtt_encode(o->version, &p, buf, cap, len) != MQTT_OK)
		return BENCH_ERR_ENCODE;
	return BENCH_OK;
}

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

/*
 * Reads one whole packet into (buf, cap) and checks it is a successful
 * CONNACK. Returns BENCH_OK, or why not.
 */
static enum bench_status BENCH_WUR
bench_read_connack(int fd, uint8_t version, uint8_t *buf, size_t cap)
{
	struct mqtt_fixed_header hdr;
	struct mqtt_packet p;
	enum mqtt_result r;
	enum bench_status st;
	size_t have = 0;
	ssize_t n;

	for (;;) {
		r = mqtt_frame(buf, have, (uint32_t)cap, &hdr);
		if (r == MQTT_OK)
			break;
		if (r != MQTT_INCOMPLETE)
			return BENCH_ERR_PROTOCOL;
		if ((st = bench_wait(fd, POLLIN)) != BENCH_OK)
			return st;
		n = recv(fd, buf + have, cap - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return BENCH_ERR_IO;
		have += (size_t)n;
	}
	if (hdr.type != MQTT_CONNACK ||
	    mqtt_decode(version, &hdr, buf + hdr.header_len, &p) != MQTT_OK)
		return BENCH_ERR_PROTOCOL;
	if (p.u.connack.reason != 0)
		return BENCH_ERR_REFUSED;
	return BENCH_OK;
}

/*
 * One measured connection: TCP connect, CONNECT written, CONNACK read; then
 * DISCONNECT and close, outside the measurement. Sets *elapsed_ns.
 */
static enum bench_status BENCH_WUR
bench_one(const struct addrinfo *ai, uint8_t version,
    const uint8_t *connect_packet, size_t connect_len, uint64_t *elapsed_ns)
{
	uint8_t buf[BENCH_PACKET_MAX];
	uint8_t disconnect[8];
	struct mqtt_packet d;
	enum bench_status st;
	uint64_t t0;
	size_t disconnect_len;
	int fd, one = 1, rc;

	fd = socket(
	    ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return BENCH_ERR_CONNECT;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	t0 = bench_now_ns();
	do
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		close(fd);
		return BENCH_ERR_CONNECT;
	}
	st = bench_write_all(fd, connect_packet, connect_len);
	if (st == BENCH_OK)
		st = bench_read_connack(fd, version, buf, sizeof(buf));
	*elapsed_ns = bench_now_ns() - t0;

	if (st == BENCH_OK) {
		memset(&d, 0, sizeof(d));
		d.type = MQTT_DISCONNECT;
		if (mqtt_encode(version, &d, disconnect, sizeof(disconnect),
			&disconnect_len) == MQTT_OK)
			(void)send(
			    fd, disconnect, disconnect_len, MSG_NOSIGNAL);
	}
	close(fd);
	return st;
}

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

static void
bench_load_identity(const struct bench_options *o, struct bench_identity *id)
{
	uint8_t addr[ETH_ADDRESS_LEN];
	enum eth_status st;

	memset(id, 0, sizeof(*id));
	if (o->key_path == NULL)
		return;
	st = eth_key_read_file(o->key_path, id->key);
	if (st == ETH_OK)
		st = eth_key_address(id->key, addr);
	if (st != ETH_OK) {
		fprintf(stderr, "connect_bench: %s: %s\n", o->key_path,
		    eth_status_str(st));
		exit(1);
	}
	eth_address_hex(addr, id->address);
	id->present = true;
}

int
main(int argc, char **argv)
{
	struct bench_options o;
	struct bench_identity id;
	struct addrinfo hints, *ai;
	uint8_t connect_packet[BENCH_PACKET_MAX];
	enum bench_status st;
	uint64_t *samples;
	double p50, p90, p99, max;
	size_t connect_len;
	long i;
	int rc;

	bench_parse_options(argc, argv, &o);
	bench_load_identity(&o, &id);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(o.host, o.port, &hints, &ai)) != 0) {
		fprintf(stderr, "connect_bench: %s:%s: %s\n", o.host, o.port,
		    gai_strerror(rc));
		return 1;
	}
	samples = calloc((size_t)o.count, sizeof(*samples));
	if (samples == NULL) {
		fprintf(stderr, "connect_bench: out of memory\n");
		return 1;
	}

	for (i = 0; i < o.count; i++) {
		/* Signing happens here, before the clock starts. */
		st = bench_build_connect(&o, &id, i, connect_packet,
		    sizeof(connect_packet), &connect_len);
		if (st == BENCH_OK)
			st = bench_one(ai, o.version, connect_packet,
			    connect_len, &samples[i]);
		if (st != BENCH_OK) {
			fprintf(stderr,
			    "connect_bench: %s: connection %ld of %ld: %s\n",
			    o.label, i + 1, o.count, bench_status_str(st));
			freeaddrinfo(ai);
			free(samples);
			return 1;
		}
	}
	freeaddrinfo(ai);

	qsort(samples, (size_t)o.count, sizeof(*samples), bench_compare_u64);
	p50 = bench_percentile_us(samples, (size_t)o.count, 50);
	p90 = bench_percentile_us(samples, (size_t)o.count, 90);
	p99 = bench_percentile_us(samples, (size_t)o.count, 99);
	max = (double)samples[o.count - 1] / 1000.0;

	printf("%s: %ld sequential CONNECT -> CONNACK (MQTT %s%s)\n", o.label,
	    o.count, o.version == MQTT_V5 ? "v5" : "v3.1.1",
	    id.present ? ", timed token" : ", no credentials");
	printf("  p50 %10.1f us\n  p90 %10.1f us\n  p99 %10.1f us\n"
	       "  max %10.1f us\n",
	    p50, p90, p99, max);
	printf("RESULT label=%s n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	       "max_us=%.1f\n",
	    o.label, o.count, p50, p90, p99, max);
	free(samples);
	return 0;
}
