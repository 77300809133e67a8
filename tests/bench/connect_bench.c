/*
 * connect_bench: CONNECT -> CONNACK latency against a broker or proxyd, one
 * connection at a time, each with a fresh FlyTrap timed token signed outside
 * the timed interval. Prints percentiles and a machine-readable RESULT line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct bench_options {
	const char *host;
	const char *port;
	const char *key_path; /* NULL: no credentials (direct to a broker) */
	const char *realm;
	const char *label;
	long count;
	uint8_t version;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: connect_bench --host H --port P --count N "
	    "[--key FILE --realm R] [--v311] [--label NAME]\n");
	exit(2);
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
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->version = MQTT_V5;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 'n':
			if (!bench_parse_count(optarg, &o->count))
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
	bench_settle_identity(
	    "connect_bench", o->key_path, &o->realm, &o->label);
}

/*
 * Connection number `index`: its CONNECT is built and signed first, then
 * the clock runs over TCP connect, CONNECT written and CONNACK read; the
 * DISCONNECT and close are outside the measurement. Sets *elapsed_ns.
 */
static enum bench_status
bench_one(const struct bench_options *o, const struct bench_identity *id,
    const struct addrinfo *ai, long index, uint64_t *elapsed_ns)
{
	char client_id[BENCH_CLIENT_ID_MAX];
	uint8_t connect_packet[BENCH_PACKET_MAX];
	struct bench_conn c;
	enum bench_status st;
	size_t connect_len;
	uint64_t t0;

	snprintf(client_id, sizeof(client_id), "bench-%ld-%s-%ld",
	    (long)getpid(), o->label, index);
	st = bench_build_connect(o->version, id, o->realm, client_id,
	    connect_packet, sizeof(connect_packet), &connect_len);
	if (st != BENCH_OK)
		return st;
	t0 = bench_now_ns();
	st =
	    bench_session_open(&c, ai, o->version, connect_packet, connect_len);
	*elapsed_ns = bench_now_ns() - t0;
	if (st == BENCH_OK)
		bench_session_close(&c);
	return st;
}

int
main(int argc, char **argv)
{
	struct bench_options o;
	struct bench_identity id;
	struct addrinfo *ai;
	enum bench_status st;
	enum eth_status est;
	uint64_t *samples;
	char what[64];
	long i;

	bench_parse_options(argc, argv, &o);
	memset(&id, 0, sizeof(id));
	if (o.key_path != NULL &&
	    (est = bench_identity_load(o.key_path, &id)) != ETH_OK) {
		fprintf(stderr, "connect_bench: %s: %s\n", o.key_path,
		    eth_status_str(est));
		return 1;
	}
	ai = bench_resolve("connect_bench", o.host, o.port);
	samples = calloc((size_t)o.count, sizeof(*samples));
	if (samples == NULL) {
		fprintf(stderr, "connect_bench: out of memory\n");
		return 1;
	}

	for (i = 0; i < o.count; i++) {
		st = bench_one(&o, &id, ai, i, &samples[i]);
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

	snprintf(what, sizeof(what),
	    "sequential CONNECT -> CONNACK (MQTT %s%s)",
	    o.version == MQTT_V5 ? "v5" : "v3.1.1",
	    id.present ? ", timed token" : ", no credentials");
	bench_report("connect", o.label, what, samples, (size_t)o.count);
	free(samples);
	return 0;
}
