/*
 * authd's side of chaind.sock: Banned and WrongCountry alerts for chaind to
 * write on-chain, and the other nodes' bans read back from its event store.
 * Messages: docs/IPC.md, "Bans, countries and alerts".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acl.h"
#include "authd.h"
#include "ban.h"
#include "expset.h"
#include "hex.h"
#include "ipc.h"
#include "keccak.h"
#include "log.h"
#include "metrics_client.h"

/* Seconds chaind has to answer an alert or a ban sync. */
#define AUTHD_CHAIND_TIMEOUT 10.0

/* ---- Alerts to chaind --------------------------------------------------- */

/* "ip-hmac:<64 hex>" of ip. */
static void
authd_ip_hash_text(
    struct authd *ad, const struct netaddr *ip, char out[8 + 64 + 1])
{
	uint8_t h[BAN_HMAC_LEN];

	ban_ip_hmac(ad->bans, ip, h);
	memcpy(out, "ip-hmac:", 8);
	hex_encode(h, sizeof(h), out + 8);
}

/* IPC_ALERT_REPLY: u64 outcome (or IPC_ERROR_REPLY). */
static void
authd_on_alert_reply(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	static const char *const outcomes[] = {"queued for the chain",
	    "already written", "over the hourly budget: logged only",
	    "chaind has no wallet: logged only", "could not be stored"};
	struct authd *ad = arg;
	uint64_t outcome, code;
	const char *text;
	size_t len;

	if (st != IPC_OK) {
		ad->n.alerts_unsent++;
		log_warn("alert not sent: chaind did not answer (%s)",
		    ipc_status_str(st));
		return;
	}
	if (msg->type == IPC_ERROR_REPLY) {
		if (ipc_get_u64(msg, &code) != IPC_OK ||
		    ipc_get_str(msg, &text, &len) != IPC_OK ||
		    ipc_get_end(msg) != IPC_OK)
			fatalx("malformed IPC_ERROR_REPLY from chaind");
		ad->n.alerts_unsent++;
		log_warn("alert refused by chaind: %.*s (code %llu)", (int)len,
		    text, (unsigned long long)code);
		return;
	}
	if (msg->type != IPC_ALERT_REPLY ||
	    ipc_get_u64(msg, &outcome) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK || outcome > ALERT_FAILED)
		fatalx("malformed %s from chaind", ipc_type_str(msg->type));
	ad->n.alerts_sent++;
	ad->n.alert_outcomes[outcome]++;
	log_info("alert: %s", outcomes[outcome]);
}

/*
 * Sends IPC_ALERT: u64 action, str ip, str ip hash, str subject, str
 * address, str reason, u64 until. Without chaind it is logged only.
 */
static void
authd_send_alert(struct authd *ad, enum alert_action action,
    const struct netaddr *ip, const char *subject, size_t subject_len,
    const char *address, const char *reason, uint64_t until)
{
	char ip_text[NETADDR_STRLEN] = "", hash[8 + 64 + 1] = "";
	struct ipc_writer w;
	uint32_t id;

	if (ip != NULL) {
		netaddr_format(ip, ip_text);
		authd_ip_hash_text(ad, ip, hash);
	}
	id = ipc_client_begin(ad->chaind, &w, IPC_ALERT);
	ipc_put_u64(&w, action);
	ipc_put_str(&w, ip_text, strlen(ip_text));
	ipc_put_str(&w, hash, strlen(hash));
	ipc_put_str(&w, subject, subject_len);
	ipc_put_str(&w, address, strlen(address));
	ipc_put_str(&w, reason, strlen(reason));
	ipc_put_u64(&w, until);
	if (ipc_client_send(ad->chaind, &w, id, AUTHD_CHAIND_TIMEOUT,
		authd_on_alert_reply, ad) != IPC_OK) {
		ad->n.alerts_unsent++;
		log_warn("alert %s about %.*s not sent: chaind is not "
			 "connected",
		    action == ALERT_BANNED ? "Banned" : "WrongCountry",
		    subject_len > 128 ? 128 : (int)subject_len, subject);
	}
}

void
authd_alert_ban(struct authd *ad, const struct ban_event *ev)
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
	authd_send_alert(ad, ALERT_BANNED, ip, ev->subject_text,
	    strlen(ev->subject_text), address, ev->reason,
	    ev->until != 0 ? authd_seconds_up(ev->until) : 0);
}

void
authd_alert_country(struct authd *ad, const struct netaddr *ip,
    const char *address, uint64_t action, const char *topic, size_t topic_len,
    const char *cc, size_t cc_len)
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
	switch (expset_add(ad->country_alerts, key, ev_now(ad->loop))) {
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
	    ad, ALERT_WRONG_COUNTRY, ip, topic, topic_len, address, reason, 0);
}

/* ---- Bans from the chain ------------------------------------------------- */

/*
 * IPC_BAN_SYNC_REPLY: u64 next cursor, u64 n, n x (str subject, u64
 * until, str reason, str reporter). Applies them and asks for more.
 */
static void
authd_on_ban_sync(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	static bool error_logged;
	struct authd *ad = arg;
	const char *subject, *reason, *reporter, *text;
	size_t subject_len, reason_len, reporter_len, len;
	uint64_t next, n, until, code;
	struct ban_subject s;
	char why[BAN_REASON_MAX + 64], err[256];
	double now = ev_now(ad->loop);

	ad->sync_pending = false;
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
		switch (ban_add_chain(ad->bans, now, &s, (double)until, why)) {
		case BAN_STARTED:
		case BAN_EXTENDED:
			ad->n.chain_bans_applied++;
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
	ad->sync_cursor = next;
	if (n > 0)
		authd_ban_sync(ad);
}

void
authd_ban_sync(struct authd *ad)
{
	struct ipc_writer w;
	uint32_t id;

	if (!ad->chain_bans || ad->sync_pending ||
	    !ipc_client_connected(ad->chaind))
		return;
	id = ipc_client_begin(ad->chaind, &w, IPC_BAN_SYNC);
	ipc_put_u64(&w, ad->sync_cursor);
	if (ipc_client_send(ad->chaind, &w, id, AUTHD_CHAIND_TIMEOUT,
		authd_on_ban_sync, ad) == IPC_OK)
		ad->sync_pending = true;
}

/* ---- Connection ---------------------------------------------------------- */

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

/* ---- Counters for chaind's /metrics ------------------------------------- */

void
authd_send_metrics(struct authd *ad)
{
	static char instance[64];
	struct ban_stats bs;
	json_t *o, *auth, *bans;
	char *text;

	if (instance[0] == '\0')
		metrics_instance_name("authd", instance, sizeof(instance));
	ban_get_stats(ad->bans, &bs);
	if ((o = json_object()) == NULL || (auth = json_object()) == NULL ||
	    (bans = json_object()) == NULL)
		fatalx("out of memory");
	json_object_set_new(auth, "ok", json_integer((json_int_t)ad->verified));
	for (int r = AUTH_OK + 1; r < AUTH_RESULT_MAX; r++)
		json_object_set_new(auth, auth_result_str((enum auth_result)r),
		    json_integer((json_int_t)ad->refused[r]));
	for (int i = 0; i < BAN_ORIGIN_MAX; i++)
		json_object_set_new(bans, ban_origin_str((enum ban_origin)i),
		    json_integer((json_int_t)bs.active[i]));
	json_object_set_new(o, "auth_total", auth);
	json_object_set_new(o, "bans_active", bans);
	json_object_set_new(
	    o, "strikes_total", json_integer((json_int_t)ad->n.strikes));
	if ((text = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	json_decref(o);
	metrics_send(ad->chaind, "authd", instance, text);
	free(text);
}

static const struct ipc_handler authd_chaind_pushes[] = {
    {IPC_ACL_INVALIDATE, authd_on_acl_invalidate},
    {0, NULL},
};

struct ipc_client *
authd_chaind_connect(struct authd *ad, struct ev_loop *loop, const char *path)
{
	struct ipc_client *c = ipc_client_new(loop, path, "chaind");

	ipc_client_on_push(c, authd_chaind_pushes, ad);
	return c;
}
