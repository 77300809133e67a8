/*
 * authd's state, the verification entry points its IPC handlers call, and
 * the admin socket (admin.c) that flytrapctl talks to.
 */
#ifndef FLYTRAP_AUTHD_H
#define FLYTRAP_AUTHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "auth.h"
#include "eth.h"

struct expset;
struct ban_table;
struct geoip;
struct ipc_client;
struct ipc_server;

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

/*
 * Writes the bans file now if a ban changed since the last write (no-op
 * without a bans file); false with err set when the write failed.
 */
bool authd_save_bans(struct authd *ad, char *err, size_t errlen);

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
