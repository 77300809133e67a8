/*
 * authd's side of authd.sock, where proxyd asks: the IP verdict of a new
 * connection, a credential's verdict, strikes for denied requests; and the
 * ban notices authd pushes back. Messages: docs/IPC.md.
 */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "authd.h"
#include "ban.h"
#include "geoip.h"
#include "ipc.h"
#include "log.h"

/* The client IP proxyd sent (canonical text); false if it is not one. */
static bool
authd_peer_ip(const char *peer, size_t len, struct netaddr *ip)
{
	if (netaddr_parse(peer, len, ip))
		return true;
	log_warn("proxyd sent '%.*s' as a client IP", len > 64 ? 64 : (int)len,
	    peer);
	return false;
}

/* ---- Ban notices --------------------------------------------------------- */

/* Pushes the queued IPC_BAN_NOTICEs to every proxyd. */
static void
authd_flush_notices(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct authd *ad = w->data;
	struct ipc_writer msg;

	(void)revents;
	for (size_t i = 0; i < ad->notice_count; i++) {
		if (ad->server != NULL) {
			ipc_msg_begin(&msg, IPC_BAN_NOTICE, 0);
			ipc_put_str(
			    &msg, ad->notices[i], strlen(ad->notices[i]));
			ipc_server_broadcast(ad->server, &msg);
		}
		free(ad->notices[i]);
	}
	ad->notice_count = 0;
	ev_prepare_stop(loop, w);
}

void
authd_queue_notice(struct authd *ad, const char *subject)
{
	char **grown, *copy;
	size_t cap;

	if (ad->notice_count == ad->notice_cap) {
		cap = ad->notice_cap ? 2 * ad->notice_cap : 16;
		grown = realloc(ad->notices, cap * sizeof(*grown));
		if (grown == NULL)
			fatal("ban notices");
		ad->notices = grown;
		ad->notice_cap = cap;
	}
	if ((copy = strdup(subject)) == NULL)
		fatal("ban notices");
	ad->notices[ad->notice_count++] = copy;
	ev_prepare_start(ad->loop, &ad->notice_watcher);
}

/* ---- proxyd's requests ---------------------------------------------------- */

/*
 * IPC_AUTH_TOKEN: str peer, str client_id, bool has_username, str
 * username, bool has_password, bin password, str flytrap-sig, str
 * flytrap-time, str flytrap-address. Reply: u64 verdict, str address,
 * when its turn comes (check_queue.c).
 */
static bool
authd_on_token(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	struct authd_check c;
	struct auth_token_request *req = &c.u.token;
	const void *password;

	memset(&c, 0, sizeof(c));
	c.kind = AUTHD_CHECK_TOKEN;
	if (ipc_get_str(msg, &c.peer, &c.peer_len) != IPC_OK ||
	    ipc_get_str(msg, &req->client_id, &req->client_id_len) != IPC_OK ||
	    ipc_get_bool(msg, &req->has_username) != IPC_OK ||
	    ipc_get_str(msg, &req->username, &req->username_len) != IPC_OK ||
	    ipc_get_bool(msg, &req->has_password) != IPC_OK ||
	    ipc_get_bin(msg, &password, &req->password_len) != IPC_OK ||
	    ipc_get_str(msg, &req->prop_sig, &req->prop_sig_len) != IPC_OK ||
	    ipc_get_str(msg, &req->prop_time, &req->prop_time_len) != IPC_OK ||
	    ipc_get_str(msg, &req->prop_address, &req->prop_address_len) !=
		IPC_OK ||
	    ipc_get_end(msg) != IPC_OK ||
	    !authd_peer_ip(c.peer, c.peer_len, &c.ip))
		return false;
	req->password = password;
	authd_check_submit(ad, conn, msg->id, &c);
	return true;
}

/*
 * IPC_AUTH_CHALLENGE: str peer, str client_id.
 * Reply: u64 verdict, bin nonce (32 bytes, empty unless AUTH_OK).
 */
static bool
authd_on_challenge(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	struct ipc_writer w;
	uint8_t nonce[32];
	const char *peer, *client_id, *why = "too many pending challenges";
	size_t peer_len, client_id_len;
	struct netaddr ip;
	enum auth_result r;
	double until;

	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &client_id, &client_id_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || !authd_peer_ip(peer, peer_len, &ip))
		return false;
	if (ban_check_ip(ad->bans, ev_now(ad->loop), &ip, &until, &why))
		r = AUTH_BANNED;
	else
		r = authd_issue_challenge(ad, ev_now(ad->loop), nonce);
	if (r != AUTH_OK)
		authd_log_verdict(
		    ad, peer, peer_len, client_id, client_id_len, r, why, NULL);
	ipc_msg_begin(&w, IPC_AUTH_CHALLENGE_REPLY, msg->id);
	ipc_put_u64(&w, r);
	ipc_put_bin(&w, nonce, r == AUTH_OK ? sizeof(nonce) : 0);
	ipc_conn_reply(conn, &w);
	return true;
}

/*
 * IPC_AUTH_RESPONSE: str peer, str client_id, bool has_username, str
 * username, bin nonce, bin signature.
 * Reply: u64 verdict, str address, when its turn comes (check_queue.c).
 */
static bool
authd_on_response(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	struct authd_check c;
	const void *nonce, *sig;
	size_t nonce_len;

	memset(&c, 0, sizeof(c));
	c.kind = AUTHD_CHECK_RESPONSE;
	if (ipc_get_str(msg, &c.peer, &c.peer_len) != IPC_OK ||
	    ipc_get_str(msg, &c.u.response.client_id,
		&c.u.response.client_id_len) != IPC_OK ||
	    ipc_get_bool(msg, &c.u.response.has_username) != IPC_OK ||
	    ipc_get_str(msg, &c.u.response.username,
		&c.u.response.username_len) != IPC_OK ||
	    ipc_get_bin(msg, &nonce, &nonce_len) != IPC_OK ||
	    ipc_get_bin(msg, &sig, &c.u.response.sig_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || nonce_len != 32 ||
	    !authd_peer_ip(c.peer, c.peer_len, &c.ip))
		return false;
	c.u.response.nonce = nonce;
	c.u.response.sig = sig;
	authd_check_submit(ad, conn, msg->id, &c);
	return true;
}

/*
 * IPC_CONN_CHECK: str ip. Reply IPC_CONN_CHECK_REPLY: u64 verdict, u64
 * banned until, str country.
 */
static bool
authd_on_conn_check(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	struct ipc_writer w;
	const char *peer;
	size_t peer_len;
	struct netaddr ip;
	enum conn_verdict v;
	double until = 0;
	char cc[3] = "";

	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || !authd_peer_ip(peer, peer_len, &ip))
		return false;
	ad->n.conn_checks++;
	v = ban_check_connect(ad->bans, ev_now(ad->loop), &ip, &until);
	switch (v) {
	case CONN_OK:
		if (ad->geoip != NULL && !geoip_country(ad->geoip, &ip, cc))
			cc[0] = '\0';
		until = 0;
		break;
	case CONN_BANNED:
		ad->n.conn_banned++;
		log_debug("peer %.*s: connection refused: banned",
		    (int)peer_len, peer);
		break;
	case CONN_DROP:
		ad->n.conn_dropped++;
		log_debug(
		    "peer %.*s: over the attempt rate", (int)peer_len, peer);
		until = 0;
		break;
	}
	ipc_msg_begin(&w, IPC_CONN_CHECK_REPLY, msg->id);
	ipc_put_u64(&w, v);
	ipc_put_u64(
	    &w, v == CONN_BANNED && until != 0 ? authd_seconds_up(until) : 0);
	ipc_put_str(&w, cc, strlen(cc));
	ipc_conn_reply(conn, &w);
	return true;
}

/*
 * IPC_STRIKE: str ip, str address ("" before authentication), u64 action,
 * str topic, bool wrong country, str country. Reply IPC_STRIKE_REPLY.
 */
static bool
authd_on_strike(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	const char *peer, *address, *topic, *cc;
	size_t peer_len, address_len, topic_len, cc_len;
	uint8_t addr[ETH_ADDRESS_LEN];
	char addr_text[ETH_ADDRESS_HEX_SIZE] = "";
	uint64_t action;
	bool wrong_country, has_address;
	struct netaddr ip;
	struct ipc_writer w;
	enum ban_cause cause;
	double now = ev_now(ad->loop);

	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &address, &address_len) != IPC_OK ||
	    ipc_get_u64(msg, &action) != IPC_OK ||
	    ipc_get_str(msg, &topic, &topic_len) != IPC_OK ||
	    ipc_get_bool(msg, &wrong_country) != IPC_OK ||
	    ipc_get_str(msg, &cc, &cc_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || !authd_peer_ip(peer, peer_len, &ip) ||
	    (action != ACL_PUBLISH && action != ACL_SUBSCRIBE) ||
	    (cc_len != 0 && cc_len != 2))
		return false;
	has_address = address_len > 0;
	if (has_address && !eth_address_parse(address, address_len, addr))
		return false;
	if (has_address)
		eth_address_hex(addr, addr_text);
	ad->n.strikes++;
	cause = wrong_country       ? BAN_CAUSE_WRONG_COUNTRY
	    : action == ACL_PUBLISH ? BAN_CAUSE_DENIED_PUBLISH
				    : BAN_CAUSE_DENIED_SUBSCRIBE;
	log_debug("peer %.*s %s: strike (%s '%.*s')", (int)peer_len, peer,
	    has_address ? addr_text : "(not authenticated)",
	    ban_cause_str(cause), topic_len > 128 ? 128 : (int)topic_len,
	    topic);
	(void)ban_record_ip_failure(
	    ad->bans, now, &ip, has_address ? addr : NULL, cause);
	if (has_address)
		(void)ban_record_address_failure(
		    ad->bans, now, addr, &ip, cause);
	if (wrong_country)
		authd_alert_country(
		    ad, &ip, addr_text, action, topic, topic_len, cc, cc_len);
	ipc_msg_begin(&w, IPC_STRIKE_REPLY, msg->id);
	ipc_conn_reply(conn, &w);
	return true;
}

static const struct ipc_handler authd_proxyd_handlers[] = {
    {IPC_AUTH_TOKEN, authd_on_token},
    {IPC_AUTH_CHALLENGE, authd_on_challenge},
    {IPC_AUTH_RESPONSE, authd_on_response},
    {IPC_CONN_CHECK, authd_on_conn_check},
    {IPC_STRIKE, authd_on_strike},
    {0, NULL},
};

void
authd_proxyd_init(struct authd *ad)
{
	ev_prepare_init(&ad->notice_watcher, authd_flush_notices);
	ad->notice_watcher.data = ad;
	authd_checks_init(ad);
}

struct ipc_server *
authd_proxyd_listen(struct authd *ad, struct ev_loop *loop, const char *path)
{
	return ipc_server_listen(loop, path, 0660, authd_proxyd_handlers, ad);
}

void
authd_proxyd_close(struct authd *ad)
{
	authd_flush_notices(ad->loop, &ad->notice_watcher, 0);
	free(ad->notices);
	ad->notices = NULL;
	ad->notice_count = ad->notice_cap = 0;
	/* Every connection's on_close drops its queued checks. */
	ipc_server_close(ad->server);
	ad->server = NULL;
	authd_checks_close(ad);
}
