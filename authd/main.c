/*
 * authd: verifies FlyTrap credentials for proxyd, keeps the bans and looks
 * up countries. It holds no network socket: it answers proxyd on
 * authd.sock and flytrapctl on authd-admin.sock, and tells chaind about
 * bans and wrong countries (and learns other nodes' bans) on chaind.sock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "authd.h"
#include "ban.h"
#include "daemon.h"
#include "expset.h"
#include "geoip.h"
#include "hex.h"
#include "ipc.h"
#include "keccak.h"
#include "log.h"

#define AUTHD_SOCKET "authd.sock"
#define AUTHD_ADMIN_SOCKET "authd-admin.sock"
#define CHAIND_SOCKET "chaind.sock"

/* Subjects the ban table tracks at most (bans in force are never evicted). */
#define AUTHD_BAN_ENTRIES 1000000
/* (IP, topic) pairs remembered so a WrongCountry alert goes once an hour. */
#define AUTHD_COUNTRY_ALERTS 100000
#define AUTHD_COUNTRY_ALERT_PERIOD 3600.0
/* Seconds chaind has to answer an alert or a ban sync. */
#define AUTHD_CHAIND_TIMEOUT 10.0
/* How often bans expire, the bans file is written and chain bans polled. */
#define AUTHD_TICK 1.0
/* The longest key file read for the IP hashes. */
#define AUTHD_HMAC_KEY_MAX 4096

static struct authd authd;
static ev_timer authd_tick;
static ev_signal authd_sighup;

/*
 * Ban notices wait until the loop is about to sleep, so the reply to the
 * request whose failure started a ban reaches proxyd before the notice
 * that closes its session: the client learns why it failed.
 */
static ev_prepare authd_notice_watcher;
static char **authd_notices;
static size_t authd_notice_count, authd_notice_cap;

/* ---- Helpers ------------------------------------------------------------ */

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

/* Whole seconds for the wire, rounded up so a ban never ends early. */
static uint64_t
authd_seconds_up(double t)
{
	uint64_t s = (uint64_t)t;

	return (double)s < t ? s + 1 : s;
}

/* "until 2026-11-23T12:00:00Z" or "until lifted". */
static void
authd_until_text(double until, char *out, size_t len)
{
	time_t s = (time_t)authd_seconds_up(until);
	struct tm tm;

	if (until == 0 || gmtime_r(&s, &tm) == NULL)
		snprintf(out, len, "until lifted");
	else
		strftime(out, len, "until %Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "ip-hmac:<64 hex>" of ip. */
static void
authd_ip_hash_text(const struct netaddr *ip, char out[8 + 64 + 1])
{
	uint8_t h[BAN_HMAC_LEN];

	ban_ip_hmac(authd.bans, ip, h);
	memcpy(out, "ip-hmac:", 8);
	hex_encode(h, sizeof(h), out + 8);
}

bool
authd_save_bans(struct authd *ad, char *err, size_t errlen)
{
	if (ad->bans_file[0] == '\0' || !ban_dirty(ad->bans))
		return true;
	if (ban_save(ad->bans, ev_now(ad->loop), ad->bans_file, err, errlen) !=
	    BAN_FILE_OK) {
		if (!ad->bans_save_failing)
			log_err("%s", err);
		ad->bans_save_failing = true;
		return false;
	}
	if (ad->bans_save_failing)
		log_info("bans file %s written again", ad->bans_file);
	ad->bans_save_failing = false;
	return true;
}

/* ---- Alerts to chaind --------------------------------------------------- */

/* IPC_ALERT_REPLY: u64 outcome (or IPC_ERROR_REPLY). */
static void
authd_on_alert_reply(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	static const char *const outcomes[] = {"queued for the chain",
	    "already written", "over the hourly budget: logged only",
	    "chaind has no wallet: logged only", "could not be stored"};
	uint64_t outcome, code;
	const char *text;
	size_t len;

	(void)arg;
	if (st != IPC_OK) {
		authd.n.alerts_unsent++;
		log_warn("alert not sent: chaind did not answer (%s)",
		    ipc_status_str(st));
		return;
	}
	if (msg->type == IPC_ERROR_REPLY) {
		if (ipc_get_u64(msg, &code) != IPC_OK ||
		    ipc_get_str(msg, &text, &len) != IPC_OK ||
		    ipc_get_end(msg) != IPC_OK)
			fatalx("malformed IPC_ERROR_REPLY from chaind");
		authd.n.alerts_unsent++;
		log_warn("alert refused by chaind: %.*s (code %llu)", (int)len,
		    text, (unsigned long long)code);
		return;
	}
	if (msg->type != IPC_ALERT_REPLY ||
	    ipc_get_u64(msg, &outcome) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || outcome > ALERT_FAILED)
		fatalx("malformed %s from chaind", ipc_type_str(msg->type));
	authd.n.alerts_sent++;
	authd.n.alert_outcomes[outcome]++;
	log_info("alert: %s", outcomes[outcome]);
}

/*
 * Sends IPC_ALERT: u64 action, str ip, str ip hash, str subject, str
 * address, str reason, u64 until. Without chaind it is logged only.
 */
static void
authd_send_alert(enum alert_action action, const struct netaddr *ip,
    const char *subject, size_t subject_len, const char *address,
    const char *reason, uint64_t until)
{
	char ip_text[NETADDR_STRLEN] = "", hash[8 + 64 + 1] = "";
	struct ipc_writer w;
	uint32_t id;

	if (ip != NULL) {
		netaddr_format(ip, ip_text);
		authd_ip_hash_text(ip, hash);
	}
	id = ipc_client_begin(authd.chaind, &w, IPC_ALERT);
	ipc_put_u64(&w, action);
	ipc_put_str(&w, ip_text, strlen(ip_text));
	ipc_put_str(&w, hash, strlen(hash));
	ipc_put_str(&w, subject, subject_len);
	ipc_put_str(&w, address, strlen(address));
	ipc_put_str(&w, reason, strlen(reason));
	ipc_put_u64(&w, until);
	if (ipc_client_send(authd.chaind, &w, id, AUTHD_CHAIND_TIMEOUT,
		authd_on_alert_reply, NULL) != IPC_OK) {
		authd.n.alerts_unsent++;
		log_warn("alert %s about %.*s not sent: chaind is not "
			 "connected",
		    action == ALERT_BANNED ? "Banned" : "WrongCountry",
		    subject_len > 128 ? 128 : (int)subject_len, subject);
	}
}

/* A Banned alert for a ban that started here (automatic or manual). */
static void
authd_alert_ban(const struct ban_event *ev)
{
	char address[ETH_ADDRESS_HEX_SIZE] = "";
	struct netaddr subject_ip;
	const struct netaddr *ip = ev->ip;

	switch ((enum ban_kind)ev->subject->kind) {
	case BAN_KIND_IP:
		if (netaddr_parse(ev->subject_text, strlen(ev->subject_text),
			&subject_ip))
			ip = &subject_ip;
		break;
	case BAN_KIND_ADDRESS:
		snprintf(address, sizeof(address), "%s", ev->subject_text);
		break;
	case BAN_KIND_RANGE:
	case BAN_KIND_IP_HMAC:
		ip = NULL;
		break;
	}
	if (address[0] == '\0' && ev->address != NULL)
		eth_address_hex(ev->address, address);
	authd_send_alert(ALERT_BANNED, ip, ev->subject_text,
	    strlen(ev->subject_text), address, ev->reason,
	    ev->until != 0 ? authd_seconds_up(ev->until) : 0);
}

/*
 * A WrongCountry alert, at most one per (IP, topic) an hour from here
 * (chaind has its own limits); reason "country=<cc> publish" (chaind adds
 * the IP's form in the middle).
 */
static void
authd_alert_country(const struct netaddr *ip, const char *address,
    uint64_t action, const char *topic, size_t topic_len, const char *cc,
    size_t cc_len)
{
	static bool full_logged;
	char ip_text[NETADDR_STRLEN], reason[64];
	uint8_t key[EXPSET_KEY_LEN];
	struct keccak256_ctx k;

	netaddr_format(ip, ip_text);
	keccak256_init(&k);
	keccak256_update(&k, ip_text, strlen(ip_text) + 1);
	keccak256_update(&k, topic, topic_len);
	keccak256_final(&k, key);
	switch (expset_add(authd.country_alerts, key, ev_now(authd.loop))) {
	case EXPSET_ADDED:
		full_logged = false;
		break;
	case EXPSET_PRESENT:
		return;
	case EXPSET_FULL:
		if (!full_logged)
			log_warn("too many WrongCountry alerts this hour: "
				 "further ones are not sent");
		full_logged = true;
		return;
	}
	snprintf(reason, sizeof(reason), "country=%.*s %s",
	    cc_len ? (int)cc_len : 7, cc_len ? cc : "unknown",
	    action == ACL_PUBLISH ? "publish" : "subscribe");
	authd_send_alert(
	    ALERT_WRONG_COUNTRY, ip, topic, topic_len, address, reason, 0);
}

/* ---- Ban events ---------------------------------------------------------- */

/* Pushes the queued IPC_BAN_NOTICEs to every proxyd. */
static void
authd_flush_notices(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ipc_writer msg;

	(void)revents;
	for (size_t i = 0; i < authd_notice_count; i++) {
		if (authd.server != NULL) {
			ipc_msg_begin(&msg, IPC_BAN_NOTICE, 0);
			ipc_put_str(
			    &msg, authd_notices[i], strlen(authd_notices[i]));
			ipc_server_broadcast(authd.server, &msg);
		}
		free(authd_notices[i]);
	}
	authd_notice_count = 0;
	ev_prepare_stop(loop, w);
}

static void
authd_queue_notice(const char *subject)
{
	char **grown, *copy;
	size_t cap;

	if (authd_notice_count == authd_notice_cap) {
		cap = authd_notice_cap ? 2 * authd_notice_cap : 16;
		grown = realloc(authd_notices, cap * sizeof(*grown));
		if (grown == NULL)
			fatal("ban notices");
		authd_notices = grown;
		authd_notice_cap = cap;
	}
	if ((copy = strdup(subject)) == NULL)
		fatal("ban notices");
	authd_notices[authd_notice_count++] = copy;
	ev_prepare_start(authd.loop, &authd_notice_watcher);
}

/* Every ban's start and end: a log line, a notice to proxyd, an alert. */
static void
authd_on_ban_event(const struct ban_event *ev, void *arg)
{
	const char *origin = ban_origin_str(ev->origin);
	char until[64];

	(void)arg;
	authd_until_text(ev->until, until, sizeof(until));
	switch (ev->type) {
	case BAN_EVENT_START:
		log_info("ban of %s started (%s, ban %u): %s; %s",
		    ev->subject_text, origin, ev->bans, ev->reason, until);
		authd_queue_notice(ev->subject_text);
		/* Other nodes' bans are on the chain already. */
		if (ev->origin != BAN_ORIGIN_CHAIN)
			authd_alert_ban(ev);
		return;
	case BAN_EVENT_EXTEND:
		log_info("ban of %s extended by a chain alert: %s; %s",
		    ev->subject_text, ev->reason, until);
		return;
	case BAN_EVENT_END:
		log_info("ban of %s ended (%s: %s)", ev->subject_text, origin,
		    ev->reason);
		return;
	case BAN_EVENT_LIFT:
		log_info("ban of %s lifted by the operator (%s: %s)",
		    ev->subject_text, origin, ev->reason);
		return;
	}
}

/* ---- Bans from the chain ------------------------------------------------- */

static void authd_ban_sync(void);

/*
 * IPC_BAN_SYNC_REPLY: u64 next cursor, u64 n, n x (str subject, u64
 * until, str reason, str reporter). Applies them and asks for more.
 */
static void
authd_on_ban_sync(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	static bool error_logged;
	const char *subject, *reason, *reporter, *text;
	size_t subject_len, reason_len, reporter_len, len;
	uint64_t next, n, until, code;
	struct ban_subject s;
	char why[BAN_REASON_MAX + 64], err[256];
	double now = ev_now(authd.loop);

	(void)arg;
	authd.sync_pending = false;
	if (st != IPC_OK) {
		log_debug("ban sync: %s", ipc_status_str(st));
		return;
	}
	if (msg->type == IPC_ERROR_REPLY) {
		if (ipc_get_u64(msg, &code) != IPC_OK ||
		    ipc_get_str(msg, &text, &len) != IPC_OK ||
		    ipc_get_end(msg) != IPC_OK)
			fatalx("malformed IPC_ERROR_REPLY from chaind");
		if (!error_logged)
			log_warn("ban sync refused by chaind: %.*s (code %llu)",
			    (int)len, text, (unsigned long long)code);
		error_logged = true;
		return;
	}
	error_logged = false;
	if (msg->type != IPC_BAN_SYNC_REPLY ||
	    ipc_get_u64(msg, &next) != IPC_OK || ipc_get_u64(msg, &n) != IPC_OK)
		fatalx("malformed %s from chaind", ipc_type_str(msg->type));
	for (uint64_t i = 0; i < n; i++) {
		if (ipc_get_str(msg, &subject, &subject_len) != IPC_OK ||
		    ipc_get_u64(msg, &until) != IPC_OK ||
		    ipc_get_str(msg, &reason, &reason_len) != IPC_OK ||
		    ipc_get_str(msg, &reporter, &reporter_len) != IPC_OK)
			fatalx("malformed IPC_BAN_SYNC_REPLY from chaind");
		if (!ban_subject_parse(
			subject, subject_len, &s, err, sizeof(err))) {
			log_warn("chain ban ignored: %s", err);
			continue;
		}
		snprintf(why, sizeof(why), "%.*s (reported by %.*s)",
		    reason_len > BAN_REASON_MAX ? BAN_REASON_MAX
						: (int)reason_len,
		    reason, reporter_len > 42 ? 42 : (int)reporter_len,
		    reporter);
		switch (
		    ban_add_chain(authd.bans, now, &s, (double)until, why)) {
		case BAN_STARTED:
		case BAN_EXTENDED:
			authd.n.chain_bans_applied++;
			break;
		case BAN_FULL:
			log_warn("chain ban of %.*s not kept: the ban table "
				 "is full",
			    (int)subject_len, subject);
			break;
		default:
			break;
		}
	}
	if (ipc_get_end(msg) != IPC_OK)
		fatalx("malformed IPC_BAN_SYNC_REPLY from chaind");
	authd.sync_cursor = next;
	if (n > 0)
		authd_ban_sync();
}

/* Asks chaind for the Banned events after the cursor. */
static void
authd_ban_sync(void)
{
	struct ipc_writer w;
	uint32_t id;

	if (!authd.chain_bans || authd.sync_pending ||
	    !ipc_client_connected(authd.chaind))
		return;
	id = ipc_client_begin(authd.chaind, &w, IPC_BAN_SYNC);
	ipc_put_u64(&w, authd.sync_cursor);
	if (ipc_client_send(authd.chaind, &w, id, AUTHD_CHAIND_TIMEOUT,
		authd_on_ban_sync, NULL) == IPC_OK)
		authd.sync_pending = true;
}

/* chaind pushes IPC_ACL_INVALIDATE to every client: not ours to act on. */
static bool
authd_on_acl_invalidate(
    struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	const char *address;
	size_t len;

	(void)conn;
	(void)arg;
	return ipc_get_str(msg, &address, &len) == IPC_OK &&
	    ipc_get_end(msg) == IPC_OK;
}

static const struct ipc_handler authd_chaind_pushes[] = {
    {IPC_ACL_INVALIDATE, authd_on_acl_invalidate},
    {0, NULL},
};

/* ---- Verdicts ------------------------------------------------------------ */

/* Logs a verdict with what proxyd told us of the peer, and counts it. */
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
 * After a verification: a refusal counts toward the IP's ban (not
 * AUTH_OVERLOADED: authd's limit, not the client's fault); success starts
 * the IP's count over, and then a banned signer is refused.
 */
static enum auth_result
authd_settle_verdict(const struct netaddr *ip, enum auth_result r,
    const uint8_t addr[ETH_ADDRESS_LEN], const char **why)
{
	double now = ev_now(authd.loop), until;

	if (r == AUTH_OK) {
		ban_record_ip_success(authd.bans, now, ip);
		if (ban_check_address(authd.bans, now, addr, &until, why))
			return AUTH_BANNED;
		return AUTH_OK;
	}
	if (r != AUTH_OVERLOADED && r != AUTH_BANNED)
		(void)ban_record_ip_failure(
		    authd.bans, now, ip, NULL, (enum ban_cause)r);
	return r;
}

/* ---- proxyd's requests ---------------------------------------------------- */

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
	struct netaddr ip;
	size_t peer_len;
	enum auth_result r;
	double until;

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
	    ipc_get_end(msg) != IPC_OK || !authd_peer_ip(peer, peer_len, &ip))
		return false;
	req.password = password;

	/* A banned client costs no signature recovery. */
	if (ban_check_ip(authd.bans, ev_now(authd.loop), &ip, &until, &why))
		r = AUTH_BANNED;
	else {
		r = authd_verify_token(
		    &authd, &req, ev_now(authd.loop), addr, &why);
		r = authd_settle_verdict(&ip, r, addr, &why);
	}
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
	const char *peer, *client_id, *why = "too many pending challenges";
	size_t peer_len, client_id_len;
	struct netaddr ip;
	enum auth_result r;
	double until;

	(void)arg;
	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &client_id, &client_id_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || !authd_peer_ip(peer, peer_len, &ip))
		return false;
	if (ban_check_ip(authd.bans, ev_now(authd.loop), &ip, &until, &why))
		r = AUTH_BANNED;
	else
		r = authd_issue_challenge(&authd, ev_now(authd.loop), nonce);
	if (r != AUTH_OK)
		authd_log_verdict(
		    peer, peer_len, client_id, client_id_len, r, why, NULL);
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
	struct netaddr ip;
	bool has_username;
	enum auth_result r;
	double now = ev_now(authd.loop), until;

	(void)arg;
	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_str(msg, &client_id, &client_id_len) != IPC_OK ||
	    ipc_get_bool(msg, &has_username) != IPC_OK ||
	    ipc_get_str(msg, &username, &username_len) != IPC_OK ||
	    ipc_get_bin(msg, &nonce, &nonce_len) != IPC_OK ||
	    ipc_get_bin(msg, &sig, &sig_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || nonce_len != 32 ||
	    !authd_peer_ip(peer, peer_len, &ip))
		return false;
	if (ban_check_ip(authd.bans, now, &ip, &until, &why)) {
		/* The nonce is single-use whatever the outcome. */
		(void)expset_take(authd.challenges, nonce, now);
		r = AUTH_BANNED;
	} else {
		r = authd_verify_challenge(&authd, client_id, client_id_len,
		    has_username ? username : NULL, username_len, nonce, sig,
		    sig_len, now, addr, &why);
		r = authd_settle_verdict(&ip, r, addr, &why);
	}
	authd_log_verdict(
	    peer, peer_len, client_id, client_id_len, r, why, addr);
	authd_reply_verdict(conn, IPC_AUTH_RESPONSE_REPLY, msg->id, r, addr);
	return true;
}

/*
 * IPC_CONN_CHECK: str ip. Reply IPC_CONN_CHECK_REPLY: u64 verdict, u64
 * banned until, str country.
 */
static bool
authd_on_conn_check(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct ipc_writer w;
	const char *peer;
	size_t peer_len;
	struct netaddr ip;
	enum conn_verdict v;
	double until = 0;
	char cc[3] = "";

	(void)arg;
	if (ipc_get_str(msg, &peer, &peer_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || !authd_peer_ip(peer, peer_len, &ip))
		return false;
	authd.n.conn_checks++;
	v = ban_check_connect(authd.bans, ev_now(authd.loop), &ip, &until);
	switch (v) {
	case CONN_OK:
		if (authd.geoip != NULL && !geoip_country(authd.geoip, &ip, cc))
			cc[0] = '\0';
		until = 0;
		break;
	case CONN_BANNED:
		authd.n.conn_banned++;
		log_debug("peer %.*s: connection refused: banned",
		    (int)peer_len, peer);
		break;
	case CONN_DROP:
		authd.n.conn_dropped++;
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
	const char *peer, *address, *topic, *cc;
	size_t peer_len, address_len, topic_len, cc_len;
	uint8_t addr[ETH_ADDRESS_LEN];
	char addr_text[ETH_ADDRESS_HEX_SIZE] = "";
	uint64_t action;
	bool wrong_country, has_address;
	struct netaddr ip;
	struct ipc_writer w;
	enum ban_cause cause;
	double now = ev_now(authd.loop);

	(void)arg;
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
	authd.n.strikes++;
	cause = wrong_country       ? BAN_CAUSE_WRONG_COUNTRY
	    : action == ACL_PUBLISH ? BAN_CAUSE_DENIED_PUBLISH
				    : BAN_CAUSE_DENIED_SUBSCRIBE;
	log_debug("peer %.*s %s: strike (%s '%.*s')", (int)peer_len, peer,
	    has_address ? addr_text : "(not authenticated)",
	    ban_cause_str(cause), topic_len > 128 ? 128 : (int)topic_len,
	    topic);
	(void)ban_record_ip_failure(
	    authd.bans, now, &ip, has_address ? addr : NULL, cause);
	if (has_address)
		(void)ban_record_address_failure(
		    authd.bans, now, addr, &ip, cause);
	if (wrong_country)
		authd_alert_country(
		    &ip, addr_text, action, topic, topic_len, cc, cc_len);
	ipc_msg_begin(&w, IPC_STRIKE_REPLY, msg->id);
	ipc_conn_reply(conn, &w);
	return true;
}

static const struct ipc_handler authd_handlers[] = {
    {IPC_AUTH_TOKEN, authd_on_token},
    {IPC_AUTH_CHALLENGE, authd_on_challenge},
    {IPC_AUTH_RESPONSE, authd_on_response},
    {IPC_CONN_CHECK, authd_on_conn_check},
    {IPC_STRIKE, authd_on_strike},
    {0, NULL},
};

/* ---- GeoIP ---------------------------------------------------------------- */

/*
 * Opens the configured database at start: none configured or the file
 * missing leaves every country unknown (which denies topics limited to
 * countries: fail closed); a file that exists but cannot be read is fatal.
 */
static void
authd_geoip_open(void)
{
	char err[512];

	if (authd.geoip_path[0] == '\0') {
		log_warn("no geoip_database: every client's country is "
			 "unknown, so topics limited to countries are denied");
		return;
	}
	if (access(authd.geoip_path, F_OK) != 0 && errno == ENOENT) {
		log_warn("geoip_database %s does not exist: every client's "
			 "country is unknown, so topics limited to countries "
			 "are denied (SIGHUP loads it once it is there)",
		    authd.geoip_path);
		return;
	}
	if ((authd.geoip = geoip_open(authd.geoip_path, err, sizeof(err))) ==
	    NULL)
		fatalx("geoip_database %s", err);
	log_info("GeoIP: %s", geoip_describe(authd.geoip));
}

/* SIGHUP: a new database replaces the old only once it has opened. */
static void
authd_on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct geoip *g;
	char err[512];

	(void)loop;
	(void)w;
	(void)revents;
	if (authd.geoip_path[0] == '\0') {
		log_info("SIGHUP: no geoip_database to reload");
		return;
	}
	if ((g = geoip_open(authd.geoip_path, err, sizeof(err))) == NULL) {
		log_err("SIGHUP: GeoIP database not reloaded, keeping %s: %s",
		    authd.geoip != NULL ? geoip_describe(authd.geoip) : "none",
		    err);
		return;
	}
	geoip_close(authd.geoip);
	authd.geoip = g;
	log_info("SIGHUP: GeoIP database reloaded: %s", geoip_describe(g));
}

/* ---- Boot ----------------------------------------------------------------- */

/* The key of the IP hashes: the configured file's bytes, else random. */
static void
authd_hmac_key(const char *path)
{
	uint8_t key[AUTHD_HMAC_KEY_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	if (path[0] == '\0') {
		if (getrandom(key, 32, 0) != 32)
			fatal("getrandom");
		len = 32;
		log_warn("no ip_hash_key_file: the IP hashes of alerts use a "
			 "random key, so they differ between restarts and "
			 "hosts (other nodes cannot match them)");
	} else {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			fatal("ip_hash_key_file %s", path);
		if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
			log_warn("ip_hash_key_file %s is readable by others "
				 "(mode %03o): it keys the IP hashes",
			    path, (unsigned)(st.st_mode & 0777));
		while (len < sizeof(key)) {
			n = read(fd, key + len, sizeof(key) - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				fatal("ip_hash_key_file %s", path);
			if (n == 0)
				break;
			len += (size_t)n;
		}
		close(fd);
		if (len < BAN_HMAC_KEY_MIN || len > AUTHD_HMAC_KEY_MAX)
			fatalx("ip_hash_key_file %s: %zu bytes; the key must "
			       "be %d to %d bytes",
			    path, len, BAN_HMAC_KEY_MIN, AUTHD_HMAC_KEY_MAX);
	}
	if (!ban_set_hmac_key(authd.bans, key, len))
		fatalx("out of memory for the IP hash key");
	explicit_bzero(key, sizeof(key));
}

static void
authd_bans_open(const struct flytrap_config *cfg)
{
	struct ban_config bc;
	char err[1024];
	size_t loaded;

	memset(&bc, 0, sizeof(bc));
	bc.threshold = (uint32_t)cfg->authd.ban_threshold;
	bc.address_threshold = (uint32_t)cfg->authd.address_ban_threshold;
	bc.window = (double)cfg->authd.ban_window_s;
	bc.duration = (double)cfg->authd.ban_duration_s;
	bc.escalation = (double)cfg->authd.ban_escalation;
	bc.max_duration = (double)cfg->authd.ban_max_s;
	bc.memory = (double)cfg->authd.ban_memory_s;
	bc.connect_rate = (double)cfg->authd.connect_rate;
	bc.connect_burst = (double)cfg->authd.connect_burst;
	bc.max_entries = AUTHD_BAN_ENTRIES;
	authd.bans = ban_table_new(&bc, authd_on_ban_event, &authd);
	if (authd.bans == NULL)
		fatalx("out of memory for the ban table");
	authd_hmac_key(cfg->authd.ip_hash_key_file);
	authd.bans_file = cfg->authd.bans_file;
	if (authd.bans_file[0] == '\0') {
		log_info("no bans_file: bans are kept in memory only");
		return;
	}
	if (ban_load(authd.bans, ev_now(authd.loop), authd.bans_file, &loaded,
		err, sizeof(err)) != BAN_FILE_OK)
		fatalx("%s", err);
	log_info("bans file %s: %zu bans in force", authd.bans_file, loaded);
}

static void
authd_open(struct daemon_ctx *ctx)
{
	const struct flytrap_config *cfg = &ctx->cfg;
	char path[512];

	if (cfg->global.realm[0] == '\0')
		fatalx("[global] realm is not set: it names this deployment "
		       "in every signed token");
	authd.loop = ctx->loop;
	ev_prepare_init(&authd_notice_watcher, authd_flush_notices);
	authd.realm = cfg->global.realm;
	authd.token_skew = (double)cfg->authd.token_skew_s;
	authd.static_tokens = cfg->authd.static_tokens;
	authd.chain_bans = cfg->authd.chain_bans;
	authd.geoip_path = cfg->authd.geoip_database;
	/* A signature stays replayable until its time leaves the window. */
	authd.replay = expset_new(
	    (size_t)cfg->authd.replay_cache_size, 2 * authd.token_skew + 1);
	authd.challenges = expset_new((size_t)cfg->authd.max_pending_challenges,
	    (double)cfg->authd.challenge_lifetime_s);
	authd.country_alerts =
	    expset_new(AUTHD_COUNTRY_ALERTS, AUTHD_COUNTRY_ALERT_PERIOD);
	if (authd.replay == NULL || authd.challenges == NULL ||
	    authd.country_alerts == NULL)
		fatalx("out of memory for the replay cache");
	if (authd.static_tokens)
		log_warn("static tokens are enabled: they can be replayed "
			 "by anyone who captures one");
	authd_bans_open(cfg);
	authd_geoip_open();

	daemon_runtime_path(ctx, AUTHD_SOCKET, path, sizeof(path));
	authd.server =
	    ipc_server_listen(ctx->loop, path, 0660, authd_handlers, &authd);
	if (authd.server == NULL)
		fatal("listen on %s", path);
	daemon_runtime_path(ctx, AUTHD_ADMIN_SOCKET, path, sizeof(path));
	authd.admin = authd_admin_listen(&authd, ctx->loop, path);
	if (authd.admin == NULL)
		fatal("listen on %s", path);
}

/* Every second: bans end, the file follows, chain bans are polled. */
static void
authd_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	char err[1024];

	(void)w;
	(void)revents;
	ban_expire(authd.bans, ev_now(loop));
	(void)authd_save_bans(&authd, err, sizeof(err));
	authd_ban_sync();
}

static void
authd_start(struct daemon_ctx *ctx)
{
	char path[512];

	daemon_runtime_path(ctx, CHAIND_SOCKET, path, sizeof(path));
	authd.chaind = ipc_client_new(ctx->loop, path, "chaind");
	ipc_client_on_push(authd.chaind, authd_chaind_pushes, &authd);
	ev_timer_init(&authd_tick, authd_on_tick, AUTHD_TICK, AUTHD_TICK);
	ev_timer_start(ctx->loop, &authd_tick);
	ev_signal_init(&authd_sighup, authd_on_sighup, SIGHUP);
	ev_signal_start(ctx->loop, &authd_sighup);
	log_info("realm '%s', token skew %.0f s, static tokens %s, chain "
		 "bans %s",
	    authd.realm, authd.token_skew, authd.static_tokens ? "on" : "off",
	    authd.chain_bans ? "on" : "off");
}

static void
authd_stop(struct daemon_ctx *ctx)
{
	char err[1024];

	ev_timer_stop(ctx->loop, &authd_tick);
	ev_signal_stop(ctx->loop, &authd_sighup);
	authd_flush_notices(ctx->loop, &authd_notice_watcher, 0);
	free(authd_notices);
	authd_notices = NULL;
	authd_notice_count = authd_notice_cap = 0;
	ipc_server_close(authd.admin);
	ipc_server_close(authd.server);
	authd.admin = authd.server = NULL;
	ipc_client_free(authd.chaind);
	authd.chaind = NULL;
	ban_expire(authd.bans, ev_now(ctx->loop));
	(void)authd_save_bans(&authd, err, sizeof(err));
	ban_table_free(authd.bans);
	geoip_close(authd.geoip);
	expset_free(authd.replay);
	expset_free(authd.challenges);
	expset_free(authd.country_alerts);
	log_info("verified %llu credentials, %llu signature checks",
	    (unsigned long long)authd.verified,
	    (unsigned long long)authd.n.signature_checks);
}

static const struct daemon_spec authd_spec = {
    .name = "authd",
    .summary = "FlyTrap authentication daemon: verifies signed MQTT "
	       "credentials for proxyd, keeps bans, looks up countries.",
    .open = authd_open,
    .start = authd_start,
    .stop = authd_stop,
};

int
main(int argc, char **argv)
{
	return daemon_main(argc, argv, &authd_spec);
}
