/*
 * authd: verifies FlyTrap credentials for proxyd. It holds no network
 * socket; it answers requests on its Unix socket in the runtime directory.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "authd.h"
#include "daemon.h"
#include "expset.h"
#include "ipc.h"
#include "log.h"

#define AUTHD_SOCKET "authd.sock"

static struct authd authd;
static struct ipc_server *authd_server;

/* Logs a refusal with what proxyd told us of the peer. */
static void
authd_log_verdict(const char *peer, size_t peer_len, const char *client_id,
    size_t client_id_len, enum auth_result r, const char *why,
    const uint8_t addr[ETH_ADDRESS_LEN])
{
	char hex[ETH_ADDRESS_HEX_SIZE];
	int cid = client_id_len > 128 ? 128 : (int)client_id_len;

	if (r == AUTH_OK) {
		authd.verified++;
		eth_address_hex(addr, hex);
		log_info("peer %.*s client '%.*s': %s by %s", (int)peer_len,
		    peer, cid, client_id, why, hex);
		return;
	}
	authd.refused[r]++;
	log_info("peer %.*s client '%.*s': refused (%s): %s", (int)peer_len,
	    peer, cid, client_id, auth_result_str(r), why);
}

static void
authd_reply_verdict(struct ipc_conn *conn, enum ipc_type type, uint32_t id,
    enum auth_result r, const uint8_t addr[ETH_ADDRESS_LEN])
{
	struct ipc_writer w;
	char hex[ETH_ADDRESS_HEX_SIZE] = "";

	if (r == AUTH_OK)
		eth_address_hex(addr, hex);
	ipc_msg_begin(&w, type, id);
	ipc_put_u64(&w, r);
	ipc_put_str(&w, hex, strlen(hex));
	ipc_conn_reply(conn, &w);
}

/*
 * IPC_AUTH_TOKEN: str peer, str client_id, bool has_username, str
 * username, bool has_password, bin password, str flytrap-sig, str
 * flytrap-time, str flytrap-address. Reply: u64 verdict, str address.
 */
static bool
authd_on_token(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct auth_token_request req;
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *peer, *why;
	const void *password;
	size_t peer_len;
	enum auth_result r;

	(void)arg;
	memset(&req, 0, sizeof(req));
	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &req.client_id, &req.client_id_len) != IPC_OK ||
	    ipc_get_bool(msg, &req.has_username) != IPC_OK ||
	    ipc_get_str(msg, &req.username, &req.username_len) != IPC_OK ||
	    ipc_get_bool(msg, &req.has_password) != IPC_OK ||
	    ipc_get_bin(msg, &password, &req.password_len) != IPC_OK ||
	    ipc_get_str(msg, &req.prop_sig, &req.prop_sig_len) != IPC_OK ||
	    ipc_get_str(msg, &req.prop_time, &req.prop_time_len) != IPC_OK ||
	    ipc_get_str(msg, &req.prop_address, &req.prop_address_len) !=
		IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	req.password = password;

	r = authd_verify_token(&authd, &req, ev_now(EV_DEFAULT), addr, &why);
	authd_log_verdict(
	    peer, peer_len, req.client_id, req.client_id_len, r, why, addr);
	authd_reply_verdict(conn, IPC_AUTH_TOKEN_REPLY, msg->id, r, addr);
	return true;
}

/*
 * IPC_AUTH_CHALLENGE: str peer, str client_id.
 * Reply: u64 verdict, bin nonce (32 bytes, empty unless AUTH_OK).
 */
static bool
authd_on_challenge(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct ipc_writer w;
	uint8_t nonce[32];
	const char *peer, *client_id;
	size_t peer_len, client_id_len;
	enum auth_result r;

	(void)arg;
	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &client_id, &client_id_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	r = authd_issue_challenge(&authd, ev_now(EV_DEFAULT), nonce);
	if (r != AUTH_OK)
		authd_log_verdict(peer, peer_len, client_id, client_id_len, r,
		    "too many pending challenges", NULL);
	ipc_msg_begin(&w, IPC_AUTH_CHALLENGE_REPLY, msg->id);
	ipc_put_u64(&w, r);
	ipc_put_bin(&w, nonce, r == AUTH_OK ? sizeof(nonce) : 0);
	ipc_conn_reply(conn, &w);
	return true;
}

/*
 * IPC_AUTH_RESPONSE: str peer, str client_id, bool has_username, str
 * username, bin nonce, bin signature.
 * Reply: u64 verdict, str address.
 */
static bool
authd_on_response(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *peer, *client_id, *username, *why;
	const void *nonce, *sig;
	size_t peer_len, client_id_len, username_len, nonce_len, sig_len;
	bool has_username;
	enum auth_result r;

	(void)arg;
	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &client_id, &client_id_len) != IPC_OK ||
	    ipc_get_bool(msg, &has_username) != IPC_OK ||
	    ipc_get_str(msg, &username, &username_len) != IPC_OK ||
	    ipc_get_bin(msg, &nonce, &nonce_len) != IPC_OK ||
	    ipc_get_bin(msg, &sig, &sig_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || nonce_len != 32)
		return false;
	r = authd_verify_challenge(&authd, client_id, client_id_len,
	    has_username ? username : NULL, username_len, nonce, sig, sig_len,
	    ev_now(EV_DEFAULT), addr, &why);
	authd_log_verdict(
	    peer, peer_len, client_id, client_id_len, r, why, addr);
	authd_reply_verdict(conn, IPC_AUTH_RESPONSE_REPLY, msg->id, r, addr);
	return true;
}

static const struct ipc_handler authd_handlers[] = {
    {IPC_AUTH_TOKEN, authd_on_token},
    {IPC_AUTH_CHALLENGE, authd_on_challenge},
    {IPC_AUTH_RESPONSE, authd_on_response},
    {0, NULL},
};

static void
authd_open(struct daemon_ctx *ctx)
{
	const struct flytrap_config *cfg = &ctx->cfg;
	char path[512];

	if (cfg->global.realm[0] == '\0')
		fatalx("[global] realm is not set: it names this deployment "
		       "in every signed token");
	authd.realm = cfg->global.realm;
	authd.token_skew = (double)cfg->authd.token_skew_s;
	authd.static_tokens = cfg->authd.static_tokens;
	/* A signature stays replayable until its time leaves the window. */
	authd.replay = expset_new(
	    (size_t)cfg->authd.replay_cache_size, 2 * authd.token_skew + 1);
	authd.challenges = expset_new((size_t)cfg->authd.max_pending_challenges,
	    (double)cfg->authd.challenge_lifetime_s);
	if (authd.replay == NULL || authd.challenges == NULL)
		fatalx("out of memory for the replay cache");
	if (authd.static_tokens)
		log_warn("static tokens are enabled: they can be replayed "
			 "by anyone who captures one");

	daemon_runtime_path(ctx, AUTHD_SOCKET, path, sizeof(path));
	authd_server =
	    ipc_server_listen(ctx->loop, path, 0660, authd_handlers, &authd);
	if (authd_server == NULL)
		fatal("listen on %s", path);
}

static void
authd_start(struct daemon_ctx *ctx)
{
	(void)ctx;
	log_info("realm '%s', token skew %.0f s, static tokens %s", authd.realm,
	    authd.token_skew, authd.static_tokens ? "on" : "off");
}

static void
authd_stop(struct daemon_ctx *ctx)
{
	(void)ctx;
	ipc_server_close(authd_server);
	expset_free(authd.replay);
	expset_free(authd.challenges);
	log_info(
	    "verified %llu credentials", (unsigned long long)authd.verified);
}

static const struct daemon_spec authd_spec = {
    .name = "authd",
    .summary = "FlyTrap authentication daemon: verifies signed MQTT "
	       "credentials for proxyd.",
    .open = authd_open,
    .start = authd_start,
    .stop = authd_stop,
};

int
main(int argc, char **argv)
{
	return daemon_main(argc, argv, &authd_spec);
}
