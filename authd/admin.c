/*
 * authd's admin socket (authd-admin.sock, mode 0600): flytrapctl bans and
 * lifts bans by hand, lists the bans in force and reads authd's figures.
 * Messages: docs/IPC.md, "Bans, countries and alerts".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "authd.h"
#include "ban.h"
#include "geoip.h"
#include "ipc.h"
#include "log.h"
#include "workq.h"

/* The longest manual ban: a hundred years is "until lifted" enough. */
#define ADMIN_MAX_SECONDS (100ULL * 365 * 86400)

/* "until 2026-11-23T12:00:00Z" (rounded up), or "until lifted" for 0. */
static void
admin_time_text(double t, char *out, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	if ((double)s < t)
		s++;
	if (t == 0 || gmtime_r(&s, &tm) == NULL) {
		snprintf(out, len, "until lifted");
		return;
	}
	strftime(out, len, "until %Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
admin_reply(struct ipc_conn *conn, uint32_t id, bool ok, const char *message)
{
	struct ipc_writer w;

	ipc_msg_begin(&w, IPC_BAN_REPLY, id);
	ipc_put_bool(&w, ok);
	ipc_put_str(&w, message, strlen(message));
	ipc_conn_reply(conn, &w);
}

/*
 * IPC_BAN_ADD: str subject, u64 seconds (0: until lifted), str reason.
 * Reply IPC_BAN_REPLY: bool ok, str message.
 */
static bool
admin_on_ban_add(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	struct ban_subject s;
	const char *subject, *reason;
	size_t subject_len, reason_len;
	char text[BAN_SUBJECT_STRLEN], why[BAN_REASON_MAX + 1];
	char message[1024], until[64], err[512];
	double now = ev_now(ad->loop);
	uint64_t seconds;

	if (ipc_get_str(msg, &subject, &subject_len) != IPC_OK ||
	    ipc_get_u64(msg, &seconds) != IPC_OK ||
	    ipc_get_str(msg, &reason, &reason_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	if (!ban_subject_parse(
		subject, subject_len, &s, message, sizeof(message))) {
		admin_reply(conn, msg->id, false, message);
		return true;
	}
	if (s.kind == BAN_KIND_IP_HMAC) {
		admin_reply(conn, msg->id, false,
		    "an ip-hmac subject only comes from other nodes' alerts; "
		    "ban the IP itself");
		return true;
	}
	if (seconds > ADMIN_MAX_SECONDS) {
		admin_reply(conn, msg->id, false,
		    "a ban lasts at most 100 years; give 0 for a ban until "
		    "lifted");
		return true;
	}
	/* The reason as text: NUL-free, cut to what a ban keeps. */
	if (reason_len > BAN_REASON_MAX)
		reason_len = BAN_REASON_MAX;
	memcpy(why, reason, reason_len);
	why[reason_len] = '\0';
	for (size_t i = 0; i < reason_len; i++)
		if (why[i] == '\0')
			why[i] = '?';
	if (why[0] == '\0')
		snprintf(why, sizeof(why), "banned by the operator");
	ban_subject_format(&s, text);
	if (ban_add_manual(ad->bans, now, &s, (double)seconds, why) !=
	    BAN_STARTED) {
		admin_reply(conn, msg->id, false, "out of memory");
		return true;
	}
	admin_time_text(
	    seconds ? now + (double)seconds : 0, until, sizeof(until));
	if (!authd_save_bans(ad, err, sizeof(err)))
		snprintf(message, sizeof(message),
		    "banned %s %s; NOT SAVED, it ends if authd restarts: %s",
		    text, until, err);
	else
		snprintf(message, sizeof(message), "banned %s %s", text, until);
	admin_reply(conn, msg->id, true, message);
	return true;
}

/* IPC_BAN_REMOVE: str subject. Reply IPC_BAN_REPLY. */
static bool
admin_on_ban_remove(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;
	struct ban_subject s;
	struct netaddr ip;
	const char *subject, *why;
	size_t subject_len;
	char text[BAN_SUBJECT_STRLEN], message[1024], err[512];
	double now = ev_now(ad->loop), until;

	if (ipc_get_str(msg, &subject, &subject_len) != IPC_OK ||
	    ipc_get_end(msg) != IPC_OK)
		return false;
	if (!ban_subject_parse(
		subject, subject_len, &s, message, sizeof(message))) {
		admin_reply(conn, msg->id, false, message);
		return true;
	}
	ban_subject_format(&s, text);
	if (ban_remove(ad->bans, now, &s) == BAN_NOT_FOUND) {
		/* Say what does ban it, if anything: a range, a hash. */
		if (s.kind == BAN_KIND_IP &&
		    netaddr_parse(text, strlen(text), &ip) &&
		    ban_check_ip(ad->bans, now, &ip, &until, &why))
			snprintf(message, sizeof(message),
			    "%s has no ban of its own; it is banned by %s",
			    text, why);
		else
			snprintf(
			    message, sizeof(message), "%s is not banned", text);
		admin_reply(conn, msg->id, false, message);
		return true;
	}
	if (!authd_save_bans(ad, err, sizeof(err)))
		snprintf(message, sizeof(message),
		    "lifted the ban of %s; NOT SAVED, it comes back if authd "
		    "restarts: %s",
		    text, err);
	else
		snprintf(
		    message, sizeof(message), "lifted the ban of %s", text);
	admin_reply(conn, msg->id, true, message);
	return true;
}

/* Replies with one string of JSON (or an IPC_ERROR_REPLY without one). */
static void
admin_reply_json(
    struct ipc_conn *conn, enum ipc_type type, uint32_t id, char *json)
{
	struct ipc_writer w;

	if (json == NULL) {
		ipc_msg_begin(&w, IPC_ERROR_REPLY, id);
		ipc_put_u64(&w, 1);
		ipc_put_str(&w, "out of memory", 13);
	} else {
		ipc_msg_begin(&w, type, id);
		ipc_put_str(&w, json, strlen(json));
	}
	ipc_conn_reply(conn, &w);
	free(json);
}

/* IPC_BAN_LIST: no fields. Reply IPC_BAN_LIST_REPLY: str JSON array. */
static bool
admin_on_ban_list(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;

	if (ipc_get_end(msg) != IPC_OK)
		return false;
	admin_reply_json(conn, IPC_BAN_LIST_REPLY, msg->id,
	    ban_list_json(ad->bans, ev_now(ad->loop)));
	return true;
}

/* IPC_AUTHD_STATUS: no fields. Reply IPC_AUTHD_STATUS_REPLY: str JSON. */
static bool
admin_on_status(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct authd *ad = arg;

	if (ipc_get_end(msg) != IPC_OK)
		return false;
	admin_reply_json(
	    conn, IPC_AUTHD_STATUS_REPLY, msg->id, authd_status_json(ad));
	return true;
}

static const char *const admin_outcome_names[] = {
    [ALERT_QUEUED] = "queued",
    [ALERT_DUPLICATE] = "duplicate",
    [ALERT_OVER_BUDGET] = "over_budget",
    [ALERT_NO_WALLET] = "no_wallet",
    [ALERT_FAILED] = "failed",
};

/* {name: count} of the refusal verdicts (AUTH_OK is "verified"). */
static json_t *
admin_refused_json(const struct authd *ad)
{
	json_t *o = json_object();

	for (int v = AUTH_OK + 1; v < AUTH_RESULT_MAX && o != NULL; v++)
		if (json_object_set_new(o, auth_result_str((enum auth_result)v),
			json_integer((json_int_t)ad->refused[v])) != 0) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

/* {outcome: count} of chaind's answers to IPC_ALERT. */
static json_t *
admin_alerts_json(const struct authd *ad)
{
	json_t *o = json_object();
	size_t n = sizeof(admin_outcome_names) / sizeof(admin_outcome_names[0]);

	for (size_t i = 0; i < n && o != NULL; i++)
		if (json_object_set_new(o, admin_outcome_names[i],
			json_integer((json_int_t)ad->n.alert_outcomes[i])) !=
		    0) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

char *
authd_status_json(struct authd *ad)
{
	struct ban_stats st;
	json_t *o;
	char *s;

	ban_get_stats(ad->bans, &st);
	/* "o" values are stolen by json_pack, also when it fails. */
	o = json_pack("{s:I, s:I, s:o, s:I, s:I, s:I, s:I, "
		      "s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:o, s:o, s:b, "
		      "s:b, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
	    "signature_checks", (json_int_t)ad->n.signature_checks, "verified",
	    (json_int_t)ad->verified, "refused", admin_refused_json(ad),
	    "conn_checks", (json_int_t)ad->n.conn_checks, "conn_banned",
	    (json_int_t)ad->n.conn_banned, "conn_dropped",
	    (json_int_t)ad->n.conn_dropped, "strikes",
	    (json_int_t)ad->n.strikes, "bans", "auto",
	    (json_int_t)st.active[BAN_ORIGIN_AUTO], "manual",
	    (json_int_t)st.active[BAN_ORIGIN_MANUAL], "chain",
	    (json_int_t)st.active[BAN_ORIGIN_CHAIN], "bans_started",
	    (json_int_t)st.started, "tracked", (json_int_t)st.tracked,
	    "alerts_sent", (json_int_t)ad->n.alerts_sent, "alerts_unsent",
	    (json_int_t)ad->n.alerts_unsent, "alert_outcomes",
	    admin_alerts_json(ad), "geoip",
	    ad->geoip != NULL ? json_string(geoip_describe(ad->geoip))
			      : json_null(),
	    "chaind_connected",
	    (int)(ad->chaind != NULL && ipc_client_connected(ad->chaind)),
	    "chain_bans", (int)ad->chain_bans, "chain_sync_cursor",
	    (json_int_t)ad->sync_cursor, "chain_bans_applied",
	    (json_int_t)ad->n.chain_bans_applied, "auth_queue", "depth",
	    (json_int_t)workq_length(ad->queue), "ips",
	    (json_int_t)workq_ips(ad->queue), "peak",
	    (json_int_t)ad->queue_peak, "longest_wait_us",
	    (json_int_t)(ad->queue_longest_wait * 1e6));
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static const struct ipc_handler admin_handlers[] = {
    {IPC_BAN_ADD, admin_on_ban_add},
    {IPC_BAN_REMOVE, admin_on_ban_remove},
    {IPC_BAN_LIST, admin_on_ban_list},
    {IPC_AUTHD_STATUS, admin_on_status},
    {0, NULL},
};

struct ipc_server *
authd_admin_listen(struct authd *ad, struct ev_loop *loop, const char *path)
{
	return ipc_server_listen(loop, path, 0600, admin_handlers, ad);
}
