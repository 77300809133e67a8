/*
 * pub_bench: PUBLISH latencies against a broker or proxyd: QoS 1 PUBLISH ->
 * PUBACK on one warm session, publish -> delivery between two sessions, and
 * the first (cold) authorisation of a key never asked about before.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Every payload: the sequence number, then the send time (ns), big-endian. */
#define PUB_PAYLOAD_LEN 16
#define PUB_TOPIC_MAX 256
#define PUB_PREFIX_MAX 128
#define PUB_KEY_PATH_MAX 4096
#define PUB_WARMUP_DEFAULT 100

enum pub_mode {
	PUB_MODE_PUBACK,
	PUB_MODE_DELIVERY,
	PUB_MODE_AUTH,
};

struct pub_options {
	enum pub_mode mode;
	const char *host;
	const char *port;
	const char *key_path; /* NULL: no credentials (direct to a broker) */
	const char *keys_path; /* auth: fresh key files, one path a line */
	const char *realm;
	const char *label;
	const char *prefix; /* topics are PREFIX/MODE/... */
	long count;
	long warmup;
	uint8_t qos; /* delivery */
	uint8_t version;
};

/* One client session and what it needs to publish. */
struct pub_client {
	struct bench_conn conn;
	uint16_t packet_id; /* the last one used */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pub_bench --mode puback|delivery|auth --host H --port P "
	    "--count N\n"
	    "                 [--key FILE --realm R] [--warmup N] [--qos 0|1] "
	    "[--keys LIST]\n"
	    "                 [--topic PREFIX] [--label NAME] [--v311]\n");
	exit(2);
}

/* Parses the command line into `o`; exits with usage on anything wrong. */
static void
pub_parse_options(int argc, char **argv, struct pub_options *o)
{
	static const struct option longopts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"key", required_argument, NULL, 'k'},
	    {"keys", required_argument, NULL, 'K'},
	    {"realm", required_argument, NULL, 'r'},
	    {"label", required_argument, NULL, 'l'},
	    {"topic", required_argument, NULL, 't'},
	    {"qos", required_argument, NULL, 'q'},
	    {"v311", no_argument, NULL, '3'},
	    {NULL, 0, NULL, 0},
	};
	bool have_mode = false;
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->prefix = "bench";
	o->version = MQTT_V5;
	o->warmup = PUB_WARMUP_DEFAULT;
	o->qos = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			have_mode = true;
			if (strcmp(optarg, "puback") == 0)
				o->mode = PUB_MODE_PUBACK;
			else if (strcmp(optarg, "delivery") == 0)
				o->mode = PUB_MODE_DELIVERY;
			else if (strcmp(optarg, "auth") == 0)
				o->mode = PUB_MODE_AUTH;
			else
				usage();
			break;
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
		case 'w':
			if (strcmp(optarg, "0") == 0)
				o->warmup = 0;
			else if (!bench_parse_count(optarg, &o->warmup))
				usage();
			break;
		case 'k':
			o->key_path = optarg;
			break;
		case 'K':
			o->keys_path = optarg;
			break;
		case 'r':
			o->realm = optarg;
			break;
		case 'l':
			if (!bench_label_valid(optarg))
				usage();
			o->label = optarg;
			break;
		case 't':
			if (strlen(optarg) > PUB_PREFIX_MAX ||
			    !mqtt_topic_name_valid(
				(const uint8_t *)optarg, strlen(optarg)))
				usage();
			o->prefix = optarg;
			break;
		case 'q':
			if (strcmp(optarg, "0") != 0 &&
			    strcmp(optarg, "1") != 0)
				usage();
			o->qos = (uint8_t)(optarg[0] - '0');
			break;
		case '3':
			o->version = MQTT_V311;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !have_mode || o->port == NULL || o->count == 0)
		usage();
	if (o->mode == PUB_MODE_AUTH &&
	    (o->keys_path == NULL || o->key_path == NULL)) {
		fprintf(stderr,
		    "pub_bench: --mode auth needs --keys (fresh "
		    "keys) and --key (a warm one)\n");
		exit(2);
	}
	bench_settle_identity("pub_bench", o->key_path, &o->realm, &o->label);
}

/* ---- Sessions and packets ----------------------------------------------- */

/*
 * Opens a session for `id` (absent: no credentials) with the client id
 * bench-PID-LABEL-ROLE; the token is signed before anything is sent.
 */
static enum bench_status
pub_open(const struct pub_options *o, const struct bench_identity *id,
    const struct addrinfo *ai, const char *role, struct pub_client *client)
{
	char client_id[BENCH_CLIENT_ID_MAX];
	uint8_t connect_packet[BENCH_PACKET_MAX];
	enum bench_status st;
	size_t connect_len;

	snprintf(client_id, sizeof(client_id), "bench-%ld-%s-%s",
	    (long)getpid(), o->label, role);
	st = bench_build_connect(o->version, id, o->realm, client_id,
	    connect_packet, sizeof(connect_packet), &connect_len);
	if (st != BENCH_OK)
		return st;
	client->packet_id = 0;
	return bench_session_open(
	    &client->conn, ai, o->version, connect_packet, connect_len);
}

static uint16_t
pub_next_packet_id(struct pub_client *client)
{
	if (++client->packet_id == 0)
		client->packet_id = 1;
	return client->packet_id;
}

/*
 * Sends PUBLISH number `seq` on `topic`; its payload carries seq and the
 * time just before encoding, which is also returned in *sent_ns. QoS 1 uses
 * the client's next packet id, returned in *packet_id.
 */
static enum bench_status
pub_send(struct pub_client *client, const char *topic, uint8_t qos,
    uint64_t seq, uint64_t *sent_ns, uint16_t *packet_id)
{
	uint8_t payload[PUB_PAYLOAD_LEN];
	struct mqtt_packet p;
	uint64_t now;
	int i;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.qos = qos;
	p.u.publish.topic.data = (const uint8_t *)topic;
	p.u.publish.topic.len = strlen(topic);
	p.u.publish.packet_id = qos > 0 ? pub_next_packet_id(client) : 0;
	p.u.publish.payload.data = payload;
	p.u.publish.payload.len = sizeof(payload);
	*packet_id = p.u.publish.packet_id;
	now = bench_now_ns();
	for (i = 0; i < 8; i++) {
		payload[i] = (uint8_t)(seq >> (56 - 8 * i));
		payload[8 + i] = (uint8_t)(now >> (56 - 8 * i));
	}
	*sent_ns = now;
	return bench_conn_send(&client->conn, &p);
}

/* Reads a payload written by pub_send(); false if it is not one. */
static bool
pub_payload_read(
    const struct mqtt_bytes *payload, uint64_t *seq, uint64_t *sent_ns)
{
	int i;

	if (payload->len != PUB_PAYLOAD_LEN)
		return false;
	*seq = *sent_ns = 0;
	for (i = 0; i < 8; i++) {
		*seq = *seq << 8 | payload->data[i];
		*sent_ns = *sent_ns << 8 | payload->data[8 + i];
	}
	return true;
}

/* Checks that `p` acknowledges packet_id with success. */
static enum bench_status
pub_check_puback(const struct mqtt_packet *p, uint16_t packet_id)
{
	if (p->type != MQTT_PUBACK || p->u.ack.packet_id != packet_id)
		return BENCH_ERR_PROTOCOL;
	/* v3.1.1 has no reason code: the decoder leaves 0 (success). */
	if (p->u.ack.reason >= 0x80)
		return BENCH_ERR_DENIED;
	return BENCH_OK;
}

/*
 * One timed QoS 1 round trip: PUBLISH number `seq` on `topic` until its
 * PUBACK is read. Sets *elapsed_ns.
 */
static enum bench_status
pub_round_trip(struct pub_client *client, const char *topic, uint64_t seq,
    uint64_t *elapsed_ns)
{
	struct mqtt_packet p;
	enum bench_status st;
	uint64_t t0;
	uint16_t packet_id;

	if ((st = pub_send(client, topic, 1, seq, &t0, &packet_id)) !=
		BENCH_OK ||
	    (st = bench_conn_read(&client->conn, &p)) != BENCH_OK)
		return st;
	*elapsed_ns = bench_now_ns() - t0;
	return pub_check_puback(&p, packet_id);
}

/* Subscribes to `filter` at `qos` and checks the SUBACK grants it. */
static enum bench_status
pub_subscribe(struct pub_client *client, const char *filter, uint8_t qos)
{
	uint8_t list[PUB_TOPIC_MAX + 3];
	size_t len = strlen(filter);
	struct mqtt_packet p;
	enum bench_status st;
	uint16_t packet_id = pub_next_packet_id(client);

	/* The filter list is wire bytes: length, filter, options (QoS). */
	list[0] = (uint8_t)(len >> 8);
	list[1] = (uint8_t)len;
	memcpy(list + 2, filter, len);
	list[2 + len] = qos;
	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBSCRIBE;
	p.u.subscribe.packet_id = packet_id;
	p.u.subscribe.list.data = list;
	p.u.subscribe.list.len = len + 3;
	p.u.subscribe.count = 1;
	if ((st = bench_conn_send(&client->conn, &p)) != BENCH_OK ||
	    (st = bench_conn_read(&client->conn, &p)) != BENCH_OK)
		return st;
	if (p.type != MQTT_SUBACK || p.u.suback.packet_id != packet_id ||
	    p.u.suback.reasons.len != 1)
		return BENCH_ERR_PROTOCOL;
	return p.u.suback.reasons.data[0] >= 0x80 ? BENCH_ERR_DENIED : BENCH_OK;
}

/* ---- Modes -------------------------------------------------------------- */

/*
 * A failed measurement: one line on stderr naming the step (and, for
 * index >= 0, which of the run's iterations), then exit status 1.
 */
static void
pub_fail(const struct pub_options *o, const char *what, long index,
    enum bench_status st)
{
	if (index < 0)
		fprintf(stderr, "pub_bench: %s: %s: %s\n", o->label, what,
		    bench_status_str(st));
	else
		fprintf(stderr, "pub_bench: %s: %s, iteration %ld: %s\n",
		    o->label, what, index + 1, bench_status_str(st));
	exit(1);
}

/*
 * QoS 1 PUBLISH -> PUBACK, one at a time on one session; the first
 * o->warmup round trips fill the permission caches and are not counted.
 */
static void
pub_mode_puback(const struct pub_options *o, const struct bench_identity *id,
    const struct addrinfo *ai, uint64_t *samples)
{
	char topic[PUB_TOPIC_MAX], what[96];
	struct pub_client client;
	enum bench_status st;
	uint64_t elapsed;
	long i;

	snprintf(
	    topic, sizeof(topic), "%s/puback/%ld", o->prefix, (long)getpid());
	if ((st = pub_open(o, id, ai, "pub", &client)) != BENCH_OK)
		pub_fail(o, "CONNECT", -1, st);
	for (i = 0; i < o->warmup + o->count; i++) {
		st = pub_round_trip(&client, topic, (uint64_t)i, &elapsed);
		if (st != BENCH_OK)
			pub_fail(o, "PUBLISH", i, st);
		if (i >= o->warmup)
			samples[i - o->warmup] = elapsed;
	}
	bench_session_close(&client.conn);
	snprintf(what, sizeof(what),
	    "QoS 1 PUBLISH -> PUBACK, one session, after %ld warm-up",
	    o->warmup);
	bench_report("puback", o->label, what, samples, (size_t)o->count);
}

/*
 * Waits until message `seq` has reached the subscriber (and, at QoS 1, the
 * publisher has its PUBACK for packet_id); sets *received_ns to when the
 * delivery was read. The subscriber acknowledges a QoS 1 delivery.
 */
static enum bench_status
pub_await_delivery(struct pub_client *sub, struct pub_client *pub, uint8_t qos,
    uint16_t packet_id, uint64_t seq, uint64_t *sent_ns, uint64_t *received_ns)
{
	struct mqtt_packet p, ack;
	struct pollfd pfd[2];
	enum bench_status st;
	bool delivered = false, acked = qos == 0;
	uint64_t got_seq;
	int n;

	while (!delivered || !acked) {
		st = bench_conn_take(&sub->conn, &p);
		if (st == BENCH_OK) {
			*received_ns = bench_now_ns();
			if (delivered || p.type != MQTT_PUBLISH)
				return BENCH_ERR_PROTOCOL;
			if (!pub_payload_read(
				&p.u.publish.payload, &got_seq, sent_ns) ||
			    got_seq != seq)
				return BENCH_ERR_MISMATCH;
			delivered = true;
			if (p.u.publish.qos == 1) {
				memset(&ack, 0, sizeof(ack));
				ack.type = MQTT_PUBACK;
				ack.u.ack.packet_id = p.u.publish.packet_id;
				st = bench_conn_send(&sub->conn, &ack);
				if (st != BENCH_OK)
					return st;
			}
			continue;
		}
		if (st != BENCH_AGAIN)
			return st;
		if (!acked) {
			st = bench_conn_take(&pub->conn, &p);
			if (st == BENCH_OK) {
				if ((st = pub_check_puback(&p, packet_id)) !=
				    BENCH_OK)
					return st;
				acked = true;
				continue;
			}
			if (st != BENCH_AGAIN)
				return st;
		}
		pfd[0].fd = sub->conn.fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = pub->conn.fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		n = poll(pfd, 2, BENCH_IO_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return BENCH_ERR_IO;
		if (n == 0)
			return BENCH_ERR_TIMEOUT;
		if (pfd[0].revents != 0 &&
		    (st = bench_conn_fill(&sub->conn)) != BENCH_OK)
			return st;
		if (pfd[1].revents != 0 &&
		    (st = bench_conn_fill(&pub->conn)) != BENCH_OK)
			return st;
	}
	return BENCH_OK;
}

/*
 * Publish -> delivery: a subscriber and a publisher session of the same
 * identity; each message is sent when the previous one has arrived, and
 * timed from the send time in its payload to its reading by the subscriber.
 */
static void
pub_mode_delivery(const struct pub_options *o, const struct bench_identity *id,
    const struct addrinfo *ai, uint64_t *samples)
{
	char topic[PUB_TOPIC_MAX], what[96];
	struct pub_client sub, pub;
	enum bench_status st;
	uint64_t sent = 0, received = 0;
	uint16_t packet_id;
	long i;

	snprintf(
	    topic, sizeof(topic), "%s/delivery/%ld", o->prefix, (long)getpid());
	if ((st = pub_open(o, id, ai, "sub", &sub)) != BENCH_OK)
		pub_fail(o, "subscriber CONNECT", -1, st);
	if ((st = pub_subscribe(&sub, topic, o->qos)) != BENCH_OK)
		pub_fail(o, "SUBSCRIBE", -1, st);
	if ((st = pub_open(o, id, ai, "pub", &pub)) != BENCH_OK)
		pub_fail(o, "publisher CONNECT", -1, st);
	for (i = 0; i < o->warmup + o->count; i++) {
		st = pub_send(
		    &pub, topic, o->qos, (uint64_t)i, &sent, &packet_id);
		if (st == BENCH_OK)
			st = pub_await_delivery(&sub, &pub, o->qos, packet_id,
			    (uint64_t)i, &sent, &received);
		if (st != BENCH_OK)
			pub_fail(o, "message", i, st);
		if (i >= o->warmup)
			samples[i - o->warmup] = received - sent;
	}
	bench_session_close(&pub.conn);
	bench_session_close(&sub.conn);
	snprintf(what, sizeof(what),
	    "QoS %u publish -> delivery, after %ld warm-up", o->qos, o->warmup);
	bench_report("delivery", o->label, what, samples, (size_t)o->count);
}

/* Reads the next path of the key list into (buf, cap); false at the end. */
static bool
pub_next_key_path(FILE *list, char *buf, size_t cap)
{
	size_t len;

	if (fgets(buf, (int)cap, list) == NULL)
		return false;
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return len > 0;
}

/*
 * First authorisation: each iteration connects with a fresh key (granted,
 * but never asked about: chaind has no answer cached for it) and times its
 * first QoS 1 PUBLISH (cold: proxyd asks chaind, chaind asks the node) and
 * the second (warm: proxyd's session cache). Then a fresh session of the
 * warm key times its first PUBLISH (session-cold: proxyd asks chaind,
 * which answers from its database).
 */
static void
pub_mode_auth(const struct pub_options *o, const struct bench_identity *warm_id,
    const struct addrinfo *ai, uint64_t *cold, uint64_t *warm,
    uint64_t *session)
{
	char topic[PUB_TOPIC_MAX], role[32], path[PUB_KEY_PATH_MAX];
	struct bench_identity id;
	struct pub_client client;
	enum bench_status st;
	enum eth_status est;
	FILE *list;
	long i;

	if ((list = fopen(o->keys_path, "r")) == NULL) {
		fprintf(stderr, "pub_bench: %s: %s\n", o->keys_path,
		    strerror(errno));
		exit(1);
	}
	for (i = 0; i < o->count; i++) {
		if (!pub_next_key_path(list, path, sizeof(path))) {
			fprintf(stderr, "pub_bench: %s: fewer than %ld keys\n",
			    o->keys_path, o->count);
			exit(1);
		}
		if ((est = bench_identity_load(path, &id)) != ETH_OK) {
			fprintf(stderr, "pub_bench: %s: %s\n", path,
			    eth_status_str(est));
			exit(1);
		}
		snprintf(topic, sizeof(topic), "%s/auth/%ld/%ld", o->prefix,
		    (long)getpid(), i);

		snprintf(role, sizeof(role), "cold-%ld", i);
		if ((st = pub_open(o, &id, ai, role, &client)) != BENCH_OK)
			pub_fail(o, "fresh key's CONNECT", i, st);
		if ((st = pub_round_trip(&client, topic, 0, &cold[i])) !=
		    BENCH_OK)
			pub_fail(o, "fresh key's first PUBLISH", i, st);
		if ((st = pub_round_trip(&client, topic, 1, &warm[i])) !=
		    BENCH_OK)
			pub_fail(o, "fresh key's second PUBLISH", i, st);
		bench_session_close(&client.conn);

		snprintf(role, sizeof(role), "session-%ld", i);
		if ((st = pub_open(o, warm_id, ai, role, &client)) != BENCH_OK)
			pub_fail(o, "warm key's CONNECT", i, st);
		if ((st = pub_round_trip(&client, topic, 2, &session[i])) !=
		    BENCH_OK)
			pub_fail(o, "warm key's first PUBLISH", i, st);
		bench_session_close(&client.conn);
	}
	fclose(list);
	bench_report("auth", "cold", "first QoS 1 PUBLISH of a fresh key", cold,
	    (size_t)o->count);
	bench_report("auth", "session-cold",
	    "first QoS 1 PUBLISH of a new session of a known key", session,
	    (size_t)o->count);
	bench_report("auth", "warm", "second QoS 1 PUBLISH of the fresh key",
	    warm, (size_t)o->count);
}

int
main(int argc, char **argv)
{
	struct pub_options o;
	struct bench_identity id;
	struct addrinfo *ai;
	enum eth_status est;
	uint64_t *samples;
	size_t n;

	pub_parse_options(argc, argv, &o);
	memset(&id, 0, sizeof(id));
	if (o.key_path != NULL &&
	    (est = bench_identity_load(o.key_path, &id)) != ETH_OK) {
		fprintf(stderr, "pub_bench: %s: %s\n", o.key_path,
		    eth_status_str(est));
		return 1;
	}
	ai = bench_resolve("pub_bench", o.host, o.port);
	n = (size_t)o.count * (o.mode == PUB_MODE_AUTH ? 3 : 1);
	if ((samples = calloc(n, sizeof(*samples))) == NULL) {
		fprintf(stderr, "pub_bench: out of memory\n");
		return 1;
	}
	switch (o.mode) {
	case PUB_MODE_PUBACK:
		pub_mode_puback(&o, &id, ai, samples);
		break;
	case PUB_MODE_DELIVERY:
		pub_mode_delivery(&o, &id, ai, samples);
		break;
	case PUB_MODE_AUTH:
		pub_mode_auth(&o, &id, ai, samples, samples + o.count,
		    samples + 2 * o.count);
		break;
	}
	freeaddrinfo(ai);
	free(samples);
	return 0;
}
