/*
 * authd's state and the interfaces between its parts: verification
 * (verify.c), proxyd's socket (proxyd_link.c) and the queue of its
 * signature checks (check_queue.c), the admin socket (admin.c), chaind
 * (chain_link.c) and banning (banning.c); main.c wires them.
 */
#ifndef FLYTRAP_AUTHD_H
#define FLYTRAP_AUTHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "auth.h"
#include "eth.h"
#include "netaddr.h"

struct expset;
struct ban_event;
struct ban_table;
struct flytrap_config;
struct geoip;
struct ipc_client;
struct ipc_conn;
struct ipc_server;
struct workq;

/* What authd counts for IPC_AUTHD_STATUS. */
struct authd_counters {
	uint64_t signature_checks; /* signature recoveries performed */
	uint64_t conn_checks; /* IPC_CONN_CHECK answered */
	uint64_t conn_banned; /* ... with CONN_BANNED */
	uint64_t conn_dropped; /* ... with CONN_DROP */
	uint64_t strikes; /* IPC_STRIKE received */
	uint64_t alerts_sent; /* IPC_ALERT answered by chaind */
	uint64_t alerts_unsent; /* not delivered: no chaind, no answer */
	uint64_t alert_outcomes[5]; /* chaind's answers (enum alert_outcome) */
	uint64_t chain_bans_applied; /* IPC_BAN_SYNC entries taken */
};

struct authd {
	const char *realm;
	double token_skew;
	bool static_tokens;
	struct expset *replay; /* signatures already accepted */
	struct expset *challenges; /* nonces issued and not yet answered */
	uint64_t verified;
	uint64_t refused[AUTH_RESULT_MAX];
	struct authd_counters n;

	struct ev_loop *loop;
	struct ban_table *bans;
	const char *bans_file; /* "" : memory only */
	bool bans_save_failing; /* logged once until a save works again */
	struct geoip *geoip; /* NULL: every country unknown */
	const char *geoip_path;
	struct expset *country_alerts; /* (ip, topic) alerted this hour */
	struct ipc_server *server; /* authd.sock, for proxyd */
	struct ipc_server *admin; /* authd-admin.sock, for flytrapctl */
	struct ipc_client *chaind; /* alerts and chain bans */
	bool chain_bans; /* follow other nodes' Banned alerts */
	bool sync_pending; /* an IPC_BAN_SYNC is in flight */
	uint64_t sync_cursor;

	/*
	 * Ban notices wait until the loop is about to sleep, so the reply to
	 * the request whose failure started a ban reaches proxyd before the
	 * notice that closes its session: the client learns why it failed.
	 */
	ev_prepare notice_watcher;
	char **notices; /* subjects, malloc'd */
	size_t notice_count, notice_cap;

	/*
	 * Requests that need a signature recovery wait here, fair between
	 * client IPs, and are answered a bounded batch per loop iteration;
	 * the rest are answered as they arrive.
	 */
	struct workq *queue;
	ev_check queue_check; /* runs a batch after each poll */
	ev_idle queue_idle; /* keeps poll from sleeping while checks wait */
	size_t queue_bytes; /* held by the queued requests */
	size_t queue_peak; /* the most checks queued at once */
	double queue_longest_wait; /* seconds, the longest any check waited */
};

/* The credentials proxyd found in a CONNECT, as text from the wire. */
struct auth_token_request {
	const char *client_id;
	size_t client_id_len;
	bool has_username;
	const char *username;
	size_t username_len;
	bool has_password;
	const char *password;
	size_t password_len;
	const char *prop_sig; /* user property flytrap-sig, "" if absent */
	size_t prop_sig_len;
	const char *prop_time;
	size_t prop_time_len;
	const char *prop_address;
	size_t prop_address_len;
};

/*
 * Verifies a timed or static token at time `now`. On AUTH_OK fills addr
 * with the signer's address; otherwise *why says what failed, for logs.
 */
enum auth_result authd_verify_token(struct authd *ad,
    const struct auth_token_request *req, double now,
    uint8_t addr[ETH_ADDRESS_LEN], const char **why);

/* Issues a challenge nonce; AUTH_OVERLOADED when too many are pending. */
enum auth_result authd_issue_challenge(
    struct authd *ad, double now, uint8_t nonce[32]);

/*
 * Checks a challenge answer and consumes the nonce. `claimed` (the CONNECT
 * username, or NULL) must name the signer when given.
 */
enum auth_result authd_verify_challenge(struct authd *ad, const char *client_id,
    size_t client_id_len, const char *claimed, size_t claimed_len,
    const uint8_t nonce[32], const uint8_t *sig, size_t sig_len, double now,
    uint8_t addr[ETH_ADDRESS_LEN], const char **why);

/* ---- proxyd's socket (proxyd_link.c) ------------------------------------- */

/* Sets up what the handlers need; before anything can start a ban. */
void authd_proxyd_init(struct authd *ad);

/*
 * Listens on path (mode 0660) for proxyd: IPC_AUTH_TOKEN,
 * IPC_AUTH_CHALLENGE, IPC_AUTH_RESPONSE, IPC_CONN_CHECK and IPC_STRIKE.
 * IPC_AUTH_TOKEN and IPC_AUTH_RESPONSE from an IP that is not banned wait
 * in ad->queue, so their replies may come after those of later requests.
 * NULL with errno set on failure.
 */
struct ipc_server *authd_proxyd_listen(
    struct authd *ad, struct ev_loop *loop, const char *path);

/*
 * Sends the notices still queued, then closes the socket (ad->server);
 * the checks still queued are dropped unanswered.
 */
void authd_proxyd_close(struct authd *ad);

/*
 * Queues an IPC_BAN_NOTICE of subject for every proxyd; it goes when the
 * loop is next about to sleep.
 */
void authd_queue_notice(struct authd *ad, const char *subject);

/* ---- Signature checks (check_queue.c) ------------------------------------ */

/*
 * A request that needs a signature recovery, as its verdict takes it:
 * pointing into the frame while its handler runs, into its job once
 * queued.
 */
struct authd_check {
	enum authd_check_kind {
		AUTHD_CHECK_TOKEN = 1, /* IPC_AUTH_TOKEN */
		AUTHD_CHECK_RESPONSE, /* IPC_AUTH_RESPONSE */
	} kind;
	const char *peer; /* the client IP as proxyd sent it, for logs */
	size_t peer_len;
	struct netaddr ip;
	union {
		struct auth_token_request token;
		struct {
			const char *client_id;
			size_t client_id_len;
			bool has_username;
			const char *username;
			size_t username_len;
			const uint8_t *nonce; /* 32 bytes */
			const uint8_t *sig;
			size_t sig_len;
		} response;
	} u;
};

/* Sets up the queue (ad->queue) and its watchers. */
void authd_checks_init(struct authd *ad);
/* Stops the watchers and frees the queue; after the server has closed. */
void authd_checks_close(struct authd *ad);

/*
 * Answers c (request id on conn, a proxyd connection) with its verdict:
 * now if its IP is banned, which costs no signature recovery; otherwise
 * later, once its turn comes, from a copy (c may point into the frame).
 * A full queue answers AUTH_OVERLOADED now. Exactly one reply, unless
 * conn closes first: then its checks are dropped.
 */
void authd_check_submit(struct authd *ad, struct ipc_conn *conn, uint32_t id,
    const struct authd_check *c);

/*
 * Logs a verdict with what proxyd told us of the peer, and counts it;
 * addr is only read for AUTH_OK.
 */
void authd_log_verdict(struct authd *ad, const char *peer, size_t peer_len,
    const char *client_id, size_t client_id_len, enum auth_result r,
    const char *why, const uint8_t addr[ETH_ADDRESS_LEN]);

/* ---- chaind (chain_link.c) ----------------------------------------------- */

/* A client of chaind.sock that reconnects by itself; never NULL. */
/* Sends authd's counters to chaind for /metrics (every 10 s). */
void authd_send_metrics(struct authd *ad);
struct ipc_client *authd_chaind_connect(
    struct authd *ad, struct ev_loop *loop, const char *path);

/* A Banned alert for a ban that started here (automatic or manual). */
void authd_alert_ban(struct authd *ad, const struct ban_event *ev);

/*
 * A WrongCountry alert, at most one per (IP, topic) an hour from here
 * (chaind has its own limits); reason "country=<cc> publish" (chaind adds
 * the IP's form in the middle). address is "" before authentication.
 */
void authd_alert_country(struct authd *ad, const struct netaddr *ip,
    const char *address, uint64_t action, const char *topic, size_t topic_len,
    const char *cc, size_t cc_len);

/*
 * Asks chaind for the Banned events after ad->sync_cursor, unless chain
 * bans are off, one is in flight or chaind is not connected; the reply
 * applies them and asks for more.
 */
void authd_ban_sync(struct authd *ad);

/* ---- Banning (banning.c) ------------------------------------------------- */

/*
 * Builds the ban table from cfg, with its IP-hash key, and loads the bans
 * file; fatal on any failure.
 */
void authd_bans_open(struct authd *ad, const struct flytrap_config *cfg);

/*
 * Writes the bans file now if a ban changed since the last write (no-op
 * without a bans file); false with err set when the write failed.
 */
bool authd_save_bans(struct authd *ad, char *err, size_t errlen);

/* Whole seconds for the wire, rounded up so a ban never ends early. */
uint64_t authd_seconds_up(double t);

/* ---- The admin socket (admin.c) ------------------------------------------ */

/*
 * Listens on path (mode 0600) for flytrapctl: IPC_BAN_ADD, IPC_BAN_REMOVE,
 * IPC_BAN_LIST and IPC_AUTHD_STATUS. NULL with errno set on failure.
 */
struct ipc_server *authd_admin_listen(
    struct authd *ad, struct ev_loop *loop, const char *path);

/* The JSON object of IPC_AUTHD_STATUS (malloc'd), or NULL. */
char *authd_status_json(struct authd *ad);

#endif
