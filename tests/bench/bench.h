/*
 * The client side shared by FlyTrap's benchmarks: signed CONNECTs, packet
 * streams over blocking sockets with deadlines, and percentile reports.
 */
#ifndef FLYTRAP_BENCH_H
#define FLYTRAP_BENCH_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth.h"
#include "mqtt.h"

#define BENCH_WUR __attribute__((warn_unused_result))

/* How long one read or write may wait before the run counts as failed. */
#define BENCH_IO_TIMEOUT_MS 5000
/* The largest packet a benchmark sends or accepts; all of them are small. */
#define BENCH_PACKET_MAX 1024
/* Bytes a connection buffers: room for a few packets read at once. */
#define BENCH_STREAM_MAX 8192
#define BENCH_LABEL_MAX 32
#define BENCH_CLIENT_ID_MAX 80
#define BENCH_COUNT_MAX 10000000

enum bench_status {
	BENCH_OK = 0,
	BENCH_AGAIN, /* bench_conn_take(): no whole packet buffered yet */
	BENCH_ERR_SIGN, /* building or signing the token failed */
	BENCH_ERR_ENCODE, /* a packet did not encode */
	BENCH_ERR_CONNECT, /* TCP connect failed */
	BENCH_ERR_IO, /* read/write failed or the peer closed */
	BENCH_ERR_TIMEOUT, /* no progress within BENCH_IO_TIMEOUT_MS */
	BENCH_ERR_PROTOCOL, /* an undecodable or unexpected packet */
	BENCH_ERR_REFUSED, /* CONNACK with a non-zero code */
	BENCH_ERR_DENIED, /* PUBACK or SUBACK with a failure reason code */
	BENCH_ERR_MISMATCH, /* a delivery that is not the message just sent */
};

/* What a status means, for the one line a failed run prints. */
const char *bench_status_str(enum bench_status st);

/* The signing identity of a client; present is false for none. */
struct bench_identity {
	bool present;
	uint8_t key[ETH_KEY_LEN];
	char address[ETH_ADDRESS_HEX_SIZE];
};

/*
 * Reads a key file as flytrapctl keygen writes it into `id`. Returns ETH_OK,
 * or why the file is unusable (id is then absent).
 */
enum eth_status bench_identity_load(
    const char *path, struct bench_identity *id) BENCH_WUR;

/*
 * A throwaway identity: a fresh random key and its address. Returns ETH_OK,
 * or why no key could be made (id is then absent).
 */
enum eth_status bench_identity_generate(struct bench_identity *id) BENCH_WUR;

uint64_t bench_now_ns(void);

/* Whether a label fits a RESULT line and a client id: [A-Za-z0-9_.-]{1,32} */
bool bench_label_valid(const char *label);

/*
 * Settles the realm and label every bench program takes: a key needs a
 * realm (--realm, else $FLYTRAP_REALM; exits 2 naming `prog` when there is
 * none), and the label defaults to "flytrap" with a key, "direct" without.
 */
void bench_settle_identity(const char *prog, const char *key_path,
    const char **realm, const char **label);

/* Parses a decimal count in 1..BENCH_COUNT_MAX; false if it is not one. */
bool bench_parse_count(const char *text, long *out) BENCH_WUR;

/*
 * Resolves host:port for a TCP client; on failure prints why, prefixed
 * with `prog`, and exits 1.
 */
struct addrinfo *bench_resolve(
    const char *prog, const char *host, const char *port);

/*
 * Encodes a clean-start CONNECT for `client_id` into (buf, cap): with an
 * identity, carrying a timed token for `realm` signed now (v5: user
 * properties; v3.1.1: username and password). Returns BENCH_OK with *len
 * set, BENCH_ERR_SIGN or BENCH_ERR_ENCODE.
 */
enum bench_status bench_build_connect(uint8_t version,
    const struct bench_identity *id, const char *realm, const char *client_id,
    uint8_t *buf, size_t cap, size_t *len) BENCH_WUR;

/*
 * As bench_build_connect(), but the username names `claimed` as the
 * client's address (v5 and v3.1.1 alike) whoever signed the token; NULL
 * claims as bench_build_connect() does (v3.1.1: the signer's address; v5:
 * none). A token signed by another key than the claimed address's is
 * well-formed and in time, so authd must recover its signer to refuse it.
 */
enum bench_status bench_build_connect_claiming(uint8_t version,
    const struct bench_identity *id, const char *realm, const char *client_id,
    const char *claimed, uint8_t *buf, size_t cap, size_t *len) BENCH_WUR;

/* One client connection: its socket and the bytes read but not yet used. */
struct bench_conn {
	int fd;
	uint8_t version;
	size_t start; /* first byte not yet handed out */
	size_t have; /* bytes in buf */
	size_t taken; /* length of the packet last handed out, at start */
	uint8_t buf[BENCH_STREAM_MAX];
};

/*
 * Opens a session: TCP connect to `ai`, the encoded CONNECT written, its
 * CONNACK read and checked. Returns BENCH_OK with `c` ready, or why not
 * (the socket is then closed).
 */
enum bench_status bench_session_open(struct bench_conn *c,
    const struct addrinfo *ai, uint8_t version, const uint8_t *connect_packet,
    size_t connect_len) BENCH_WUR;

/* Sends a DISCONNECT, best effort, and closes the socket. */
void bench_session_close(struct bench_conn *c);

/* Encodes `p` for the session's version and writes all of it. */
enum bench_status bench_conn_send(
    struct bench_conn *c, const struct mqtt_packet *p) BENCH_WUR;

/*
 * Hands out the next whole buffered packet, decoded into `p` (its views
 * point into c->buf and stay valid until the next take or fill). Returns
 * BENCH_OK, BENCH_AGAIN when no whole packet is buffered, or
 * BENCH_ERR_PROTOCOL for one that does not decode.
 */
enum bench_status bench_conn_take(
    struct bench_conn *c, struct mqtt_packet *p) BENCH_WUR;

/*
 * Reads what the socket has (one recv; call it when poll() says readable).
 * Returns BENCH_OK, or BENCH_ERR_IO when the peer closed or the read failed.
 */
enum bench_status bench_conn_fill(struct bench_conn *c) BENCH_WUR;

/*
 * The next packet, waiting up to BENCH_IO_TIMEOUT_MS for its bytes. Returns
 * as bench_conn_take(), or BENCH_ERR_TIMEOUT / BENCH_ERR_IO.
 */
enum bench_status bench_conn_read(
    struct bench_conn *c, struct mqtt_packet *p) BENCH_WUR;

/*
 * Prints a measurement: a human-readable block headed `what`, then
 *   RESULT bench=B label=L n=N p50_us=.. p90_us=.. p99_us=.. max_us=..
 * Sorts `samples` (nanoseconds) in place; n must be at least 1.
 */
void bench_report(const char *bench, const char *label, const char *what,
    uint64_t *samples, size_t n);

#endif
