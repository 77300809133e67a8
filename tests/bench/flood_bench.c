/*
 * flood_bench: the attacker of the flood benchmark. N clients, each from its
 * own loopback source address, send CONNECTs whose well-formed, in-time
 * tokens claim an address their key is not, over and over as fast as the
 * server answers, until the time is up or SIGTERM; prints the CONNACK mix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define FLOOD_CLIENTS_DEFAULT 50
#define FLOOD_CONNS_DEFAULT 4
/* Connections open at once, all clients together (one fd each). */
#define FLOOD_SLOTS_MAX 4096
#define FLOOD_SECONDS_MAX 3600
#define FLOOD_SOURCE_BASE "127.0.0.10"
/*
 * Tokens are signed again after this many seconds, well inside authd's
 * token_skew_s (30 by default): an expired token is refused before the
 * signature is looked at, which would make the flood cheap.
 */
#define FLOOD_RESIGN_S 10
/* A slot whose connect() failed waits this long before the next one. */
#define FLOOD_RETRY_NS 10000000u
/* The longest poll(): how late a stop or a per-attempt deadline is seen. */
#define FLOOD_POLL_MS 50
/*
 * The address every CONNECT claims as its username. Nobody holds its key,
 * so no signer is ever it: authd refuses each token only after recovering
 * the signer from the signature (a claim is checked after recovery).
 */
#define FLOOD_CLAIMED_ADDRESS "0x000000000000000000000000000000000000dead"

struct flood_options {
	const char *host;
	const char *port;
	const char *realm;
	const char *label;
	long clients;
	long conns; /* connections each client keeps open at once */
	long seconds;
	struct in_addr source_base;
};

/* How one attempt ended. */
enum flood_outcome {
	FLOOD_REFUSED, /* CONNACK 0x86 Bad user name or password */
	FLOOD_BANNED, /* CONNACK 0x8A Banned */
	FLOOD_BUSY, /* CONNACK 0x89 Server busy */
	FLOOD_OTHER, /* another refusal, or a packet that is no CONNACK */
	FLOOD_ACCEPTED, /* CONNACK 0x00: a forged token let in */
	FLOOD_CLOSED, /* closed or reset without a CONNACK */
	FLOOD_FAILED, /* TCP connect failed */
	FLOOD_TIMEOUT, /* no answer within BENCH_IO_TIMEOUT_MS */
	FLOOD_OUTCOME_MAX
};

enum flood_state {
	FLOOD_IDLE, /* no socket; a new attempt starts at retry_at */
	FLOOD_CONNECTING, /* connect() in progress */
	FLOOD_SENDING, /* CONNECT partly written */
	FLOOD_WAITING, /* CONNECT written, waiting for the CONNACK */
};

/* One connection of one client, attempt after attempt. */
struct flood_slot {
	enum flood_state state;
	struct sockaddr_in source;
	struct bench_identity id; /* a throwaway key */
	char client_id[BENCH_CLIENT_ID_MAX];
	uint8_t packet[BENCH_PACKET_MAX];
	size_t packet_len;
	size_t sent;
	time_t signed_at;
	uint64_t deadline_ns; /* of the attempt under way */
	uint64_t retry_at_ns; /* FLOOD_IDLE: not before */
	struct bench_conn conn;
};

struct flood_counts {
	unsigned long long attempts;
	unsigned long long outcome[FLOOD_OUTCOME_MAX];
	unsigned long long code[256]; /* CONNACK reason codes seen */
};

static volatile sig_atomic_t flood_stop_requested;
static volatile sig_atomic_t flood_reset_requested;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: flood_bench --host H --port P --realm R [--clients N] "
	    "[--conns K]\n"
	    "                   [--seconds S] [--source-base A] "
	    "[--label NAME]\n"
	    "  --clients N      attackers, each from its own source address "
	    "(default %d)\n"
	    "  --conns K        connections each keeps open at once "
	    "(default %d)\n"
	    "  --seconds S      stop after S seconds (default 10, at most "
	    "%d);\n"
	    "                   SIGTERM or SIGINT stops it earlier, SIGUSR1 "
	    "starts the count over\n"
	    "  --source-base A  first source address, in 127.0.0.0/8 "
	    "(default %s)\n",
	    FLOOD_CLIENTS_DEFAULT, FLOOD_CONNS_DEFAULT, FLOOD_SECONDS_MAX,
	    FLOOD_SOURCE_BASE);
	exit(2);
}

/* Parses the command line into `o`; exits with usage on anything wrong. */
static void
flood_parse_options(int argc, char **argv, struct flood_options *o)
{
	static const struct option longopts[] = {
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"realm", required_argument, NULL, 'r'},
	    {"label", required_argument, NULL, 'l'},
	    {"clients", required_argument, NULL, 'c'},
	    {"conns", required_argument, NULL, 'k'},
	    {"seconds", required_argument, NULL, 's'},
	    {"source-base", required_argument, NULL, 'b'},
	    {NULL, 0, NULL, 0},
	};
	uint32_t first, last;
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->label = "flood";
	o->clients = FLOOD_CLIENTS_DEFAULT;
	o->conns = FLOOD_CONNS_DEFAULT;
	o->seconds = 10;
	if (inet_pton(AF_INET, FLOOD_SOURCE_BASE, &o->source_base) != 1)
		abort();
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 'r':
			o->realm = optarg;
			break;
		case 'l':
			if (!bench_label_valid(optarg))
				usage();
			o->label = optarg;
			break;
		case 'c':
			if (!bench_parse_count(optarg, &o->clients))
				usage();
			break;
		case 'k':
			if (!bench_parse_count(optarg, &o->conns))
				usage();
			break;
		case 's':
			if (!bench_parse_count(optarg, &o->seconds) ||
			    o->seconds > FLOOD_SECONDS_MAX)
				usage();
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &o->source_base) != 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (o->realm == NULL)
		o->realm = getenv("FLYTRAP_REALM");
	if (optind != argc || o->port == NULL || o->realm == NULL)
		usage();
	if (o->clients * o->conns > FLOOD_SLOTS_MAX) {
		fprintf(stderr,
		    "flood_bench: %ld clients x %ld connections: more than "
		    "%d at once\n",
		    o->clients, o->conns, FLOOD_SLOTS_MAX);
		exit(2);
	}
	/*
	 * The sources stay on the loopback network, and off 127.0.0.1: that
	 * is where the client being measured comes from, and a ban of the
	 * attackers must not be a ban of it.
	 */
	first = ntohl(o->source_base.s_addr);
	last = first + (uint32_t)o->clients - 1;
	if ((first >> 24) != 127 || (last >> 24) != 127 || last < first ||
	    (first <= 0x7f000001u && 0x7f000001u <= last)) {
		fprintf(stderr,
		    "flood_bench: %ld source addresses from --source-base must "
		    "lie in 127.0.0.0/8 and not include 127.0.0.1\n",
		    o->clients);
		exit(2);
	}
}

static void
flood_on_signal(int sig)
{
	if (sig == SIGUSR1)
		flood_reset_requested = 1;
	else
		flood_stop_requested = 1;
}

/* Stops on SIGTERM/SIGINT, starts the count over on SIGUSR1. */
static void
flood_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = flood_on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() returns at once with EINTR. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
}

/* Raises the open-file limit to fit `need` sockets; false if it cannot. */
static bool
flood_fit_fd_limit(long need)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)need + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return false;
	if (rl.rlim_cur >= want)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		return false;
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* ---- Attempts ------------------------------------------------------------ */

/*
 * Signs the slot's token again when it is near the end of authd's window.
 * Between re-signings the same token is sent again: authd remembers only
 * accepted signatures, so each repeat costs it a recovery all the same.
 */
static enum bench_status
flood_sign(struct flood_slot *slot, const struct flood_options *o)
{
	time_t now = time(NULL);

	if (slot->packet_len > 0 && now - slot->signed_at < FLOOD_RESIGN_S)
		return BENCH_OK;
	slot->signed_at = now;
	return bench_build_connect_claiming(MQTT_V5, &slot->id, o->realm,
	    slot->client_id, FLOOD_CLAIMED_ADDRESS, slot->packet,
	    sizeof(slot->packet), &slot->packet_len);
}

/* Ends the attempt under way (if any), counting how it ended. */
static void
flood_finish(struct flood_slot *slot, struct flood_counts *counts,
    enum flood_outcome outcome, uint64_t now)
{
	if (slot->conn.fd >= 0)
		close(slot->conn.fd);
	slot->conn.fd = -1;
	slot->state = FLOOD_IDLE;
	slot->retry_at_ns = outcome == FLOOD_FAILED ? now + FLOOD_RETRY_NS : 0;
	counts->attempts++;
	counts->outcome[outcome]++;
}

/* Opens the next connection: socket bound to the slot's source, connect(). */
static void
flood_start(struct flood_slot *slot, const struct sockaddr_in *to,
    struct flood_counts *counts, uint64_t now)
{
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		flood_finish(slot, counts, FLOOD_FAILED, now);
		return;
	}
	slot->conn.fd = fd;
	slot->conn.version = MQTT_V5;
	slot->conn.start = slot->conn.have = slot->conn.taken = 0;
	slot->sent = 0;
	slot->deadline_ns = now + (uint64_t)BENCH_IO_TIMEOUT_MS * 1000000u;
	/*
	 * The port is picked at connect() for the whole 4-tuple: thousands of
	 * connections a second from one address would run out of ports
	 * picked at bind().
	 */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&slot->source,
		sizeof(slot->source)) != 0) {
		flood_finish(slot, counts, FLOOD_FAILED, now);
		return;
	}
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) == 0)
		slot->state = FLOOD_SENDING;
	else if (errno == EINPROGRESS)
		slot->state = FLOOD_CONNECTING;
	else
		flood_finish(slot, counts, FLOOD_FAILED, now);
}

/* Writes what the socket takes of the CONNECT. */
static void
flood_send(struct flood_slot *slot, struct flood_counts *counts, uint64_t now)
{
	ssize_t n;

	n = send(slot->conn.fd, slot->packet + slot->sent,
	    slot->packet_len - slot->sent, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		flood_finish(slot, counts, FLOOD_CLOSED, now);
		return;
	}
	slot->sent += (size_t)n;
	if (slot->sent == slot->packet_len)
		slot->state = FLOOD_WAITING;
}

/* Reads toward the CONNACK; ends the attempt when it is there. */
static void
flood_receive(
    struct flood_slot *slot, struct flood_counts *counts, uint64_t now)
{
	struct mqtt_packet p;
	enum bench_status st;
	uint8_t code;

	if (bench_conn_fill(&slot->conn) != BENCH_OK) {
		flood_finish(slot, counts, FLOOD_CLOSED, now);
		return;
	}
	st = bench_conn_take(&slot->conn, &p);
	if (st == BENCH_AGAIN)
		return;
	if (st != BENCH_OK || p.type != MQTT_CONNACK) {
		flood_finish(slot, counts, FLOOD_OTHER, now);
		return;
	}
	code = p.u.connack.reason;
	counts->code[code]++;
	switch (code) {
	case MQTT_RC_BAD_USERNAME_PASSWORD:
		flood_finish(slot, counts, FLOOD_REFUSED, now);
		break;
	case MQTT_RC_BANNED:
		flood_finish(slot, counts, FLOOD_BANNED, now);
		break;
	case MQTT_RC_SERVER_BUSY:
		flood_finish(slot, counts, FLOOD_BUSY, now);
		break;
	case MQTT_RC_SUCCESS:
		flood_finish(slot, counts, FLOOD_ACCEPTED, now);
		break;
	default:
		flood_finish(slot, counts, FLOOD_OTHER, now);
	}
}

/* Acts on what poll() said about the slot's socket. */
static void
flood_on_event(struct flood_slot *slot, short revents,
    struct flood_counts *counts, uint64_t now)
{
	socklen_t len = sizeof(int);
	int err = 0;

	switch (slot->state) {
	case FLOOD_IDLE:
		break;
	case FLOOD_CONNECTING:
		if (getsockopt(
			slot->conn.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			flood_finish(slot, counts, FLOOD_FAILED, now);
			return;
		}
		slot->state = FLOOD_SENDING;
		flood_send(slot, counts, now);
		break;
	case FLOOD_SENDING:
		flood_send(slot, counts, now);
		break;
	case FLOOD_WAITING:
		if (revents & (POLLIN | POLLHUP | POLLERR))
			flood_receive(slot, counts, now);
		break;
	}
}

/* ---- Report -------------------------------------------------------------- */

/*
 * Prints what the attempts came to: a human-readable block, then the FLOOD
 * line; `stopped` says whether a signal ended the run before its time.
 */
static void
flood_report(const struct flood_options *o, const struct flood_counts *c,
    double seconds, bool stopped)
{
	const unsigned long long *k = c->outcome;
	char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
	struct in_addr a;
	double rate = seconds > 0 ? (double)c->attempts / seconds : 0;
	int code;

	inet_ntop(AF_INET, &o->source_base, first, sizeof(first));
	a.s_addr =
	    htonl(ntohl(o->source_base.s_addr) + (uint32_t)o->clients - 1);
	inet_ntop(AF_INET, &a, last, sizeof(last));
	printf("flood %s: %ld clients (%s-%s) x %ld connections, %.1f s "
	       "(%s): %llu attempts, %.0f/s\n",
	    o->label, o->clients, first, last, o->conns, seconds,
	    stopped ? "stopped" : "time up", c->attempts, rate);
	printf("  CONNACK codes:");
	for (code = 0; code < 256; code++)
		if (c->code[code] > 0)
			printf(" 0x%02x x %llu", code, c->code[code]);
	if (c->attempts == k[FLOOD_CLOSED] + k[FLOOD_FAILED] + k[FLOOD_TIMEOUT])
		printf(" none");
	printf("\n  closed without a CONNACK %llu, connect failed %llu, "
	       "timed out %llu\n",
	    k[FLOOD_CLOSED], k[FLOOD_FAILED], k[FLOOD_TIMEOUT]);
	printf("FLOOD label=%s clients=%ld conns=%ld seconds=%.1f "
	       "ended=%s attempts=%llu refused_86=%llu banned_8a=%llu "
	       "busy_89=%llu other=%llu accepted=%llu closed=%llu "
	       "failed=%llu timeout=%llu rate_per_s=%.0f\n",
	    o->label, o->clients, o->conns, seconds,
	    stopped ? "signal" : "time", c->attempts, k[FLOOD_REFUSED],
	    k[FLOOD_BANNED], k[FLOOD_BUSY], k[FLOOD_OTHER], k[FLOOD_ACCEPTED],
	    k[FLOOD_CLOSED], k[FLOOD_FAILED], k[FLOOD_TIMEOUT], rate);
	fflush(stdout);
}

/* ---- Main loop ----------------------------------------------------------- */

/* Gives every slot its source address, throwaway key and client id. */
static bool
flood_prepare(struct flood_slot *slots, const struct flood_options *o)
{
	enum eth_status est;
	long i, n = o->clients * o->conns;

	for (i = 0; i < n; i++) {
		struct flood_slot *slot = &slots[i];
		long client = i / o->conns;

		slot->state = FLOOD_IDLE;
		slot->conn.fd = -1;
		slot->source.sin_family = AF_INET;
		slot->source.sin_addr.s_addr =
		    htonl(ntohl(o->source_base.s_addr) + (uint32_t)client);
		if ((est = bench_identity_generate(&slot->id)) != ETH_OK) {
			fprintf(stderr, "flood_bench: key: %s\n",
			    eth_status_str(est));
			return false;
		}
		snprintf(slot->client_id, sizeof(slot->client_id),
		    "flood-%ld-%s-%ld-%ld", (long)getpid(), o->label, client,
		    i % o->conns);
	}
	return true;
}

int
main(int argc, char **argv)
{
	struct flood_options o;
	struct flood_counts counts;
	struct flood_slot *slots;
	struct pollfd *pfds;
	struct sockaddr_in to;
	struct addrinfo *ai;
	uint64_t now, started, end;
	enum bench_status st;
	long i, n;
	int rc;

	/* First: the script may signal as soon as it has started us. */
	flood_install_signals();
	flood_parse_options(argc, argv, &o);
	n = o.clients * o.conns;
	ai = bench_resolve("flood_bench", o.host, o.port);
	if (ai->ai_family != AF_INET) {
		fprintf(
		    stderr, "flood_bench: %s: not an IPv4 address\n", o.host);
		return 2;
	}
	memcpy(&to, ai->ai_addr, sizeof(to));
	freeaddrinfo(ai);
	if (!flood_fit_fd_limit(n)) {
		fprintf(stderr,
		    "flood_bench: the open-file limit is below %ld sockets\n",
		    n);
		return 1;
	}
	slots = calloc((size_t)n, sizeof(*slots));
	pfds = calloc((size_t)n, sizeof(*pfds));
	if (slots == NULL || pfds == NULL) {
		fprintf(stderr, "flood_bench: out of memory\n");
		return 1;
	}
	if (!flood_prepare(slots, &o))
		return 1;

	memset(&counts, 0, sizeof(counts));
	started = now = bench_now_ns();
	end = started + (uint64_t)o.seconds * 1000000000u;
	while (!flood_stop_requested && now < end) {
		if (flood_reset_requested) {
			flood_reset_requested = 0;
			memset(&counts, 0, sizeof(counts));
			started = now;
		}
		for (i = 0; i < n; i++) {
			struct flood_slot *slot = &slots[i];

			if (slot->state == FLOOD_IDLE &&
			    slot->retry_at_ns <= now) {
				if ((st = flood_sign(slot, &o)) != BENCH_OK) {
					fprintf(stderr, "flood_bench: %s\n",
					    bench_status_str(st));
					return 1;
				}
				flood_start(slot, &to, &counts, now);
			}
			if (slot->state != FLOOD_IDLE &&
			    now >= slot->deadline_ns)
				flood_finish(slot, &counts, FLOOD_TIMEOUT, now);
			pfds[i].fd = slot->conn.fd; /* -1: poll() skips it */
			pfds[i].events =
			    slot->state == FLOOD_WAITING ? POLLIN : POLLOUT;
			pfds[i].revents = 0;
		}
		rc = poll(pfds, (nfds_t)n, FLOOD_POLL_MS);
		if (rc < 0 && errno != EINTR) {
			perror("flood_bench: poll");
			return 1;
		}
		now = bench_now_ns();
		for (i = 0; rc > 0 && i < n; i++)
			if (pfds[i].revents != 0)
				flood_on_event(
				    &slots[i], pfds[i].revents, &counts, now);
	}

	/* Attempts still under way are left out of the count. */
	for (i = 0; i < n; i++)
		if (slots[i].conn.fd >= 0)
			close(slots[i].conn.fd);
	flood_report(&o, &counts, (double)(now - started) / 1e9,
	    flood_stop_requested != 0);
	free(slots);
	free(pfds);
	if (counts.outcome[FLOOD_ACCEPTED] > 0) {
		fprintf(stderr,
		    "flood_bench: %llu CONNECTs with a forged token were "
		    "accepted\n",
		    counts.outcome[FLOOD_ACCEPTED]);
		return 1;
	}
	return 0;
}
