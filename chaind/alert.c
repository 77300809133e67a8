/*
 * authd's alerts and bans on chaind.sock: IPC_ALERT becomes a logAlert call
 * on the wallet (once per ban, once an hour per IP and topic for a wrong
 * country, within an hourly budget) and a row of the alerts table whatever
 * its outcome; IPC_BAN_SYNC hands authd the Banned events of every
 * reporter from the event store, after a cursor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "abi.h"
#include "chaind.h"
#include "ipc.h"
#include "log.h"
#include "mqtt.h"
#include "netaddr.h"

/* Longest reason authd may send, in bytes. */
#define ALERT_REASON_MAX 256
/* Longest subject of a Banned alert (an IP, range, address or hash). */
#define ALERT_SUBJECT_MAX 300
/* Longest WrongCountry topic: what MQTT allows. */
#define ALERT_TOPIC_MAX 65535
/* Longest topic written on-chain as an alert's name; longer ones are cut. */
#define ALERT_NAME_MAX 256
/* The budget's window, and WrongCountry's: one hour. */
#define ALERT_WINDOW_S 3600
/* A kind of dropped alert is logged at most once a minute. */
#define ALERT_LOG_EVERY_S 60.0

/* Bans in one IPC_BAN_SYNC reply, and bytes of reason for each. */
#define BAN_SYNC_MAX 256
#define BAN_SYNC_REASON_MAX 256

#define IP_HASH_PREFIX "ip-hmac:"
#define IP_HASH_PREFIX_LEN (sizeof(IP_HASH_PREFIX) - 1)
#define IP_HASH_LEN (IP_HASH_PREFIX_LEN + 64)

#define LOG_ALERT_SIGNATURE "logAlert(uint8,address,string,string)"

/* What a Banned alert's subject is. */
enum ban_kind {
	BAN_IP,
	BAN_RANGE,
	BAN_ADDRESS,
	BAN_IP_HASH,
};

static const char *const ban_kind_name[] = {
    [BAN_IP] = "ip",
    [BAN_RANGE] = "range",
    [BAN_ADDRESS] = "address",
    [BAN_IP_HASH] = "ip-hmac",
};

/* An IPC_ALERT once read and checked. */
struct alert {
	unsigned action; /* enum alert_action */
	char ip[NETADDR_STRLEN]; /* canonical, or "" */
	char ip_hash[IP_HASH_LEN + 1]; /* or "" */
	enum ban_kind kind; /* Banned only */
	char ban_subject[ALERT_SUBJECT_MAX + 1]; /* Banned: canonical */
	const char *subject; /* ban_subject, or the topic in the message */
	size_t subject_len;
	char address[ETH_ADDRESS_HEX_SIZE]; /* or "" */
	const char *reason;
	size_t reason_len;
	uint64_t until;
};

/*
 * A log line that may repeat at attacker's pace: the first is written,
 * the next ones within a minute only counted, and the count written when
 * the minute is up.
 */
struct alert_quiet {
	ev_timer timer;
	ev_tstamp last; /* when a line was last written; 0: never */
	uint64_t held; /* occurrences not logged yet */
	const char *what; /* "alerts dropped over the hourly budget" */
};

static struct {
	struct chaind *cd;
	bool ip_clear; /* [chaind] alert_ip = clear */
	uint8_t selector[ABI_SELECTOR_LEN];
	struct alert_quiet over_budget;
	struct alert_quiet no_wallet;
	struct alert_quiet failed;
} al;

/* ---- Rate-limited logs ------------------------------------------------- */

static void
quiet_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct alert_quiet *q = w->data;

	(void)revents;
	if (q->held > 0)
		log_warn("%" PRIu64 " more %s in the last minute (kept in "
			 "the alerts table)",
		    q->held, q->what);
	q->held = 0;
	q->last = ev_now(loop);
}

/* Whether to write this occurrence's line now (else it is counted). */
static bool
quiet_pass(struct alert_quiet *q)
{
	struct ev_loop *loop = al.cd->loop;
	ev_tstamp now = ev_now(loop);

	if (q->last == 0 || now - q->last >= ALERT_LOG_EVERY_S) {
		q->last = now;
		return true;
	}
	q->held++;
	if (!ev_is_active(&q->timer)) {
		ev_timer_set(&q->timer, q->last + ALERT_LOG_EVERY_S - now, 0.);
		ev_timer_start(loop, &q->timer);
	}
	return false;
}

static void
quiet_init(struct alert_quiet *q, const char *what)
{
	memset(q, 0, sizeof(*q));
	ev_timer_init(&q->timer, quiet_on_timer, 0., 0.);
	q->timer.data = q;
	q->what = what;
}

static void
quiet_stop(struct alert_quiet *q)
{
	ev_timer_stop(al.cd->loop, &q->timer);
	if (q->held > 0)
		log_warn("%" PRIu64 " more %s (kept in the alerts table)",
		    q->held, q->what);
	q->held = 0;
}

/* ---- Reading an alert -------------------------------------------------- */

static bool
lower_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "ip-hmac:" and 64 lowercase hex digits. */
static bool
is_ip_hash(const char *s, size_t len)
{
	return len == IP_HASH_LEN &&
	    memcmp(s, IP_HASH_PREFIX, IP_HASH_PREFIX_LEN) == 0 &&
	    lower_hex(s + IP_HASH_PREFIX_LEN, len - IP_HASH_PREFIX_LEN);
}

/* "0x" and 40 lowercase hex digits. */
static bool
is_address(const char *s, size_t len)
{
	return len == ETH_ADDRESS_HEX_SIZE - 1 && s[0] == '0' && s[1] == 'x' &&
	    lower_hex(s + 2, len - 2);
}

/* Copies s (len bytes, no NUL inside) into out[cap] with a NUL. */
static bool
copy_text(const char *s, size_t len, char *out, size_t cap)
{
	if (len >= cap || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/*
 * A Banned subject: an IP or a range (written back in canonical form; a
 * range of one address is that IP), an address, or an IP hash.
 */
static bool
alert_read_ban_subject(struct alert *a, const char *s, size_t len)
{
	struct netaddr addr;
	struct netrange range;

	if (is_ip_hash(s, len)) {
		a->kind = BAN_IP_HASH;
		return copy_text(
		    s, len, a->ban_subject, sizeof(a->ban_subject));
	}
	if (is_address(s, len)) {
		a->kind = BAN_ADDRESS;
		return copy_text(
		    s, len, a->ban_subject, sizeof(a->ban_subject));
	}
	if (netaddr_parse(s, len, &addr)) {
		a->kind = BAN_IP;
		netaddr_format(&addr, a->ban_subject);
		return true;
	}
	if (netrange_parse(s, len, &range)) {
		netrange_format(&range, a->ban_subject);
		a->kind = strchr(a->ban_subject, '/') ? BAN_RANGE : BAN_IP;
		return true;
	}
	return false;
}

/*
 * Reads IPC_ALERT: u64 action, str ip, str ip hash, str subject, str
 * address, str reason, u64 until. Returns false with *why set when the
 * message breaks the wire contract (docs/IPC.md): the peer is then
 * disconnected.
 */
static bool
alert_read(struct ipc_reader *msg, struct alert *a, const char **why)
{
	const char *ip, *ip_hash, *subject, *address, *reason;
	size_t ip_len, ip_hash_len, subject_len, address_len, reason_len;
	uint64_t action;
	struct netaddr addr;

	memset(a, 0, sizeof(*a));
	*why = "fields";
	if (ipc_get_u64(msg, &action) != IPC_OK ||
	    ipc_get_str(msg, &ip, &ip_len) != IPC_OK ||
	    ipc_get_str(msg, &ip_hash, &ip_hash_len) != IPC_OK ||
	    ipc_get_str(msg, &subject, &subject_len) != IPC_OK ||
	    ipc_get_str(msg, &address, &address_len) != IPC_OK ||
	    ipc_get_str(msg, &reason, &reason_len) != IPC_OK ||
	    ipc_get_u64(msg, &a->until) != IPC_OK || ipc_get_end(msg) != IPC_OK)
		return false;
	*why = "action";
	if (action != ALERT_BANNED && action != ALERT_WRONG_COUNTRY)
		return false;
	a->action = (unsigned)action;
	*why = "ip";
	if (ip_len > 0) {
		if (!netaddr_parse(ip, ip_len, &addr))
			return false;
		netaddr_format(&addr, a->ip);
	}
	*why = "ip hash";
	if (ip_hash_len > 0 &&
	    (!is_ip_hash(ip_hash, ip_hash_len) ||
		!copy_text(
		    ip_hash, ip_hash_len, a->ip_hash, sizeof(a->ip_hash))))
		return false;
	*why = "address";
	if (address_len > 0 &&
	    (!is_address(address, address_len) ||
		!copy_text(
		    address, address_len, a->address, sizeof(a->address))))
		return false;
	*why = "reason";
	if (reason_len > ALERT_REASON_MAX ||
	    !mqtt_utf8_valid((const uint8_t *)reason, reason_len))
		return false;
	/* An empty string may come as NULL. */
	a->reason = reason_len > 0 ? reason : "";
	a->reason_len = reason_len;
	*why = "subject";
	if (a->action == ALERT_BANNED) {
		if (subject_len == 0 || subject_len > ALERT_SUBJECT_MAX ||
		    !alert_read_ban_subject(a, subject, subject_len))
			return false;
		a->subject = a->ban_subject;
		a->subject_len = strlen(a->ban_subject);
	} else {
		if (subject_len == 0 || subject_len > ALERT_TOPIC_MAX ||
		    !mqtt_utf8_valid((const uint8_t *)subject, subject_len))
			return false;
		a->subject = subject;
		a->subject_len = subject_len;
		a->until = 0; /* no meaning for a wrong country */
	}
	return true;
}

/* ---- Writing it on-chain ----------------------------------------------- */

/* How the alert's IP appears on-chain, or "" when it must not. */
static const char *
alert_ip_form(const struct alert *a, char *buf, size_t len)
{
	if (al.ip_clear && a->ip[0] != '\0') {
		snprintf(buf, len, "ip:%s", a->ip);
		return buf;
	}
	return a->ip_hash;
}

/* The longest prefix of s, at most max bytes, that ends on a character. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/*
 * The logAlert call data for an alert (docs/IPC.md, "On-chain"). Returns
 * false when the alert has nothing that may go on-chain: an IP ban with
 * alert_ip = hash but no hash (a clear IP is never written then).
 */
static bool
alert_calldata(const struct alert *a, uint8_t **data, size_t *len)
{
	static char name[ALERT_NAME_MAX + 8];
	static char reason[ALERT_REASON_MAX + 128];
	uint8_t target[ETH_ADDRESS_LEN];
	char ip[NETADDR_STRLEN + 3];
	const char *form, *name_p = name, *space;
	size_t name_len, head;
	struct abi_enc e;

	memset(target, 0, sizeof(target));
	if (a->address[0] != '\0' &&
	    !eth_address_parse(a->address, strlen(a->address), target))
		fatalx("alert: a checked address does not parse");
	if (a->action == ALERT_BANNED) {
		switch (a->kind) {
		case BAN_IP:
			if (al.ip_clear)
				snprintf(name, sizeof(name), "ip:%s",
				    a->ban_subject);
			else if (a->ip_hash[0] != '\0')
				snprintf(name, sizeof(name), "%s", a->ip_hash);
			else
				return false;
			break;
		case BAN_IP_HASH:
			snprintf(name, sizeof(name), "%s", a->ban_subject);
			break;
		case BAN_RANGE:
			snprintf(name, sizeof(name), "net:%s", a->ban_subject);
			memset(target, 0, sizeof(target));
			break;
		case BAN_ADDRESS:
			snprintf(name, sizeof(name), "address");
			if (!eth_address_parse(
				a->ban_subject, strlen(a->ban_subject), target))
				fatalx("alert: a checked address does not "
				       "parse");
			break;
		}
		name_len = strlen(name);
		snprintf(reason, sizeof(reason), "until=%" PRIu64 "%s%.*s",
		    a->until, a->reason_len ? " " : "", (int)a->reason_len,
		    a->reason);
	} else {
		/* The topic itself, cut (on a character) if very long. */
		name_p = a->subject;
		name_len = a->subject_len;
		if (name_len > ALERT_NAME_MAX) {
			name_len = utf8_cut(
			    a->subject, a->subject_len, ALERT_NAME_MAX - 3);
			snprintf(name, sizeof(name), "%.*s...", (int)name_len,
			    a->subject);
			name_p = name;
			name_len = strlen(name);
		}
		/* "country=US publish" becomes "country=US <ip> publish". */
		form = alert_ip_form(a, ip, sizeof(ip));
		space = memchr(a->reason, ' ', a->reason_len);
		head = space ? (size_t)(space - a->reason) : a->reason_len;
		snprintf(reason, sizeof(reason), "%.*s%s%s%.*s", (int)head,
		    a->reason, head > 0 && form[0] != '\0' ? " " : "", form,
		    (int)(a->reason_len - head), a->reason + head);
	}
	abi_enc_begin(&e, al.selector);
	abi_enc_uint(&e, a->action);
	abi_enc_address(&e, target);
	abi_enc_string(&e, name_p, name_len);
	abi_enc_string(&e, reason, strlen(reason));
	if (abi_enc_finish(&e, data, len) != ABI_OK)
		fatalx("out of memory");
	return true;
}

/* "Banned ip", "WrongCountry": what the logs may say of an alert. */
static void
alert_describe(const struct alert *a, char *out, size_t len)
{
	if (a->action == ALERT_BANNED)
		snprintf(out, len, "Banned %s", ban_kind_name[a->kind]);
	else
		snprintf(out, len, "WrongCountry");
}

/* ---- Deciding ---------------------------------------------------------- */

/* The first second of the hour that ends now (both bounds included). */
static uint64_t
window_start(uint64_t now)
{
	return now >= ALERT_WINDOW_S ? now - ALERT_WINDOW_S + 1 : 0;
}

/*
 * Whether the alert was already written: a ban once for its subject and
 * end, a wrong country once an hour per IP and topic.
 */
static enum store_status
alert_find_written(struct chaind *cd, const struct alert *a, uint64_t now)
{
	if (a->action == ALERT_BANNED)
		return store_alert_find_ban(
		    cd->store, a->subject, a->subject_len, a->until);
	return store_alert_find_country(cd->store, a->ip, a->ip_hash,
	    a->subject, a->subject_len, window_start(now));
}

/* Whether the hourly budget of on-chain alerts still has room. */
static enum store_status
alert_budget_left(struct chaind *cd, uint64_t now, bool *left)
{
	uint64_t n = 0;
	enum store_status r;

	r = store_alert_count_queued(cd->store, window_start(now), &n);
	*left = n < (uint64_t)cd->cfg->chaind.alert_budget_per_hour;
	return r;
}

/*
 * Hands the call to the wallet and records the alert, in one database
 * transaction: an alert is recorded as queued exactly when its
 * transaction is in the wallet's queue.
 */
static enum alert_outcome
alert_queue(struct chaind *cd, struct store_alert *rec, const uint8_t *data,
    size_t len, uint64_t *id)
{
	char purpose[64];

	snprintf(purpose, sizeof(purpose), "alert %s",
	    rec->action == ALERT_BANNED ? "Banned" : "WrongCountry");
	if (store_begin(cd->store) != STORE_OK)
		return ALERT_FAILED;
	rec->outcome = ALERT_QUEUED;
	if ((rec->tx = wallet_submit(cd, purpose, data, len)) == 0 ||
	    store_alert_add(cd->store, rec, id) != STORE_OK ||
	    store_commit(cd->store) != STORE_OK) {
		store_rollback(cd->store);
		cd->pending_tx = store_tx_pending(cd->store);
		rec->outcome = ALERT_FAILED;
		rec->tx = 0;
		*id = 0;
		return ALERT_FAILED;
	}
	return ALERT_QUEUED;
}

/* Decides what becomes of an alert, records it, and logs what must be. */
static enum alert_outcome
alert_handle(struct chaind *cd, const struct alert *a)
{
	struct store_alert rec;
	enum alert_outcome outcome;
	enum store_status r;
	uint64_t now = (uint64_t)time(NULL), id = 0;
	uint8_t *data = NULL;
	size_t len = 0;
	bool left = false;
	const char *failure = "the database failed";
	char what[32];

	memset(&rec, 0, sizeof(rec));
	rec.time = now;
	rec.action = a->action;
	rec.ip = a->ip;
	rec.ip_hash = a->ip_hash;
	rec.subject = a->subject;
	rec.subject_len = a->subject_len;
	rec.address = a->address;
	rec.reason = a->reason;
	rec.reason_len = a->reason_len;
	rec.until = a->until;

	if (!cd->has_wallet) {
		outcome = ALERT_NO_WALLET;
	} else if (!alert_calldata(a, &data, &len)) {
		outcome = ALERT_FAILED;
		failure = "an IP ban without its ip-hmac, and alert_ip = hash "
			  "never writes a clear IP";
	} else if ((r = alert_find_written(cd, a, now)) != STORE_MISSING) {
		outcome = r == STORE_OK ? ALERT_DUPLICATE : ALERT_FAILED;
	} else if (alert_budget_left(cd, now, &left) != STORE_OK) {
		outcome = ALERT_FAILED;
	} else {
		outcome = left ? ALERT_QUEUED : ALERT_OVER_BUDGET;
	}

	if (outcome == ALERT_QUEUED)
		outcome = alert_queue(cd, &rec, data, len, &id);
	free(data);
	if (outcome != ALERT_QUEUED) {
		/* Whatever became of it, the alert is kept (if it can be). */
		rec.outcome = outcome;
		if (store_alert_add(cd->store, &rec, &id) != STORE_OK) {
			outcome = ALERT_FAILED;
			id = 0;
		}
	}

	alert_describe(a, what, sizeof(what));
	switch (outcome) {
	case ALERT_QUEUED:
		log_info("alert #%" PRIu64 " (%s) queued as tx %" PRIu64, id,
		    what, rec.tx);
		break;
	case ALERT_DUPLICATE:
		log_debug("alert #%" PRIu64 " (%s): already written", id, what);
		break;
	case ALERT_OVER_BUDGET:
		if (quiet_pass(&al.over_budget))
			log_warn("alert #%" PRIu64 " (%s) dropped: the budget "
				 "of %lld on-chain alerts per hour is spent; "
				 "kept in the alerts table only",
			    id, what, cd->cfg->chaind.alert_budget_per_hour);
		break;
	case ALERT_NO_WALLET:
		if (quiet_pass(&al.no_wallet))
			log_warn("alert #%" PRIu64 " (%s) not written: chaind "
				 "has no wallet ([chaind] keystore); kept in "
				 "the alerts table only",
			    id, what);
		break;
	case ALERT_FAILED:
		if (!quiet_pass(&al.failed))
			break;
		if (id != 0)
			log_err("alert #%" PRIu64 " (%s) not written: %s", id,
			    what, failure);
		else
			log_err(
			    "alert (%s) lost: it could not be stored", what);
		break;
	}
	return outcome;
}

/*
 * IPC_ALERT: u64 action, str ip, str ip hash, str subject, str address,
 * str reason, u64 until. Reply IPC_ALERT_REPLY: u64 outcome.
 */
bool
alert_on_alert(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	struct chaind *cd = arg;
	struct ipc_writer w;
	struct alert a;
	enum alert_outcome outcome;
	const char *why;

	if (!alert_read(msg, &a, &why)) {
		log_warn("chaind.sock: malformed IPC_ALERT (%s): dropping "
			 "the peer",
		    why);
		return false;
	}
	outcome = alert_handle(cd, &a);
	cd->alerts[outcome]++;
	ipc_msg_begin(&w, IPC_ALERT_REPLY, msg->id);
	ipc_put_u64(&w, outcome);
	ipc_conn_reply(conn, &w);
	return true;
}

uint64_t
alert_last_hour(struct chaind *cd)
{
	uint64_t now = (uint64_t)time(NULL), n = 0;

	if (store_alert_count_queued(cd->store, window_start(now), &n) !=
	    STORE_OK)
		return 0;
	return n;
}

/* ---- Ban sync ---------------------------------------------------------- */

/* One ban of a reply, copied out of the event. */
struct ban_item {
	char subject[IP_HASH_LEN + 1];
	uint64_t until;
	char reason[BAN_SYNC_REASON_MAX + 1];
	char reporter[ETH_ADDRESS_HEX_SIZE];
};

struct ban_scan {
	uint64_t now;
	const char *self; /* this node's wallet: its bans are authd's own */
	uint64_t last_id; /* the last event looked at */
	size_t n;
	struct ban_item *items;
};

/*
 * Parses the "until=<unix s>" that starts a Banned reason, followed by
 * the end or a space; *rest is what follows the space. False when it is
 * missing or out of range.
 */
static bool
ban_parse_until(const char *s, size_t len, uint64_t *until, const char **rest,
    size_t *rest_len)
{
	static const char prefix[] = "until=";
	size_t i = sizeof(prefix) - 1;
	uint64_t v = 0;

	if (len <= i || memcmp(s, prefix, i) != 0)
		return false;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == sizeof(prefix) - 1 || (i < len && s[i] != ' '))
		return false;
	if (i < len)
		i++;
	*until = v;
	*rest = s + i;
	*rest_len = len - i;
	return true;
}

/*
 * The subject a Banned event names: its ip-hmac as is, the IP of
 * "ip:<ip>", the range of "net:<range>", the target of "address". False
 * for any other name (a newer or foreign form: not enforced).
 */
static bool
ban_subject(const struct store_event *ev, char *out, size_t cap)
{
	static const char zero[] = "0x0000000000000000000000000000000000000000";
	const char *name = ev->name;
	size_t len = ev->name_len;
	struct netaddr addr;
	struct netrange range;
	char text[NETADDR_STRLEN];

	if (len == IP_HASH_LEN && len < cap &&
	    memcmp(name, IP_HASH_PREFIX, IP_HASH_PREFIX_LEN) == 0) {
		size_t i;

		/* Any case on-chain; authd compares the lowercase form. */
		for (i = 0; i < len; i++)
			out[i] = i >= IP_HASH_PREFIX_LEN && name[i] >= 'A' &&
				name[i] <= 'F'
			    ? (char)(name[i] - 'A' + 'a')
			    : name[i];
		out[len] = '\0';
		return is_ip_hash(out, len);
	}
	if (len > 3 && memcmp(name, "ip:", 3) == 0 &&
	    netaddr_parse(name + 3, len - 3, &addr)) {
		netaddr_format(&addr, text);
		snprintf(out, cap, "%s", text);
		return true;
	}
	if (len > 4 && memcmp(name, "net:", 4) == 0 &&
	    netrange_parse(name + 4, len - 4, &range)) {
		netrange_format(&range, text);
		snprintf(out, cap, "%s", text);
		return true;
	}
	if (len == 7 && memcmp(name, "address", 7) == 0 &&
	    strcmp(ev->target, zero) != 0) {
		snprintf(out, cap, "%s", ev->target);
		return true;
	}
	return false;
}

/*
 * Copies a reason from the chain (any bytes a reporter wrote) as text
 * authd can show: cut to the room on a character, control characters
 * and, when it is not UTF-8 at all, every non-ASCII byte as '?'.
 */
static void
ban_reason(const char *s, size_t len, char *out, size_t cap)
{
	bool utf8 = mqtt_utf8_valid((const uint8_t *)s, len);
	size_t i,
	    n = utf8 ? utf8_cut(s, len, cap - 1)
		     : (len < cap - 1 ? len : cap - 1);

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80)
		    ? '?'
		    : (char)c;
	}
	out[n] = '\0';
}

static bool
ban_scan_event(void *arg, uint64_t id, const struct store_event *ev)
{
	struct ban_scan *sc = arg;
	struct ban_item *it = &sc->items[sc->n];
	const char *rest;
	size_t rest_len;
	uint64_t until;

	sc->last_id = id;
	/*
	 * authd keeps the bans it started (bans_file); giving them back would
	 * revive those an operator lifted since.
	 */
	if (sc->self != NULL && strcasecmp(ev->source, sc->self) == 0)
		return true;
	if (!ban_parse_until(
		ev->reason, ev->reason_len, &until, &rest, &rest_len) ||
	    (until != 0 && until <= sc->now) ||
	    !ban_subject(ev, it->subject, sizeof(it->subject)))
		return true;
	it->until = until;
	ban_reason(rest, rest_len, it->reason, sizeof(it->reason));
	snprintf(it->reporter, sizeof(it->reporter), "%s", ev->source);
	return ++sc->n < BAN_SYNC_MAX;
}

/*
 * IPC_BAN_SYNC: u64 cursor. Reply IPC_BAN_SYNC_REPLY: u64 next cursor,
 * u64 n, n x (str subject, u64 until, str reason, str reporter): the
 * Banned events after the cursor still in force, in order. n is 0 only
 * when every stored event has been looked at.
 */
bool
alert_on_ban_sync(struct ipc_conn *conn, struct ipc_reader *msg, void *arg)
{
	static struct ban_item items[BAN_SYNC_MAX];
	struct chaind *cd = arg;
	struct ipc_writer w;
	struct ban_scan sc;
	uint64_t cursor;
	size_t i;

	if (ipc_get_u64(msg, &cursor) != IPC_OK || ipc_get_end(msg) != IPC_OK)
		return false;
	memset(&sc, 0, sizeof(sc));
	sc.now = (uint64_t)time(NULL);
	sc.self = cd->has_wallet ? cd->wallet_address : NULL;
	sc.last_id = cursor;
	sc.items = items;
	if (store_events_after(cd->store, ALERT_BANNED, cursor, ban_scan_event,
		&sc) != STORE_OK) {
		ipc_msg_begin(&w, IPC_ERROR_REPLY, msg->id);
		ipc_put_u64(&w, 1);
		ipc_put_str(&w, "database error", strlen("database error"));
		ipc_conn_reply(conn, &w);
		return true;
	}
	cd->ban_syncs++;
	ipc_msg_begin(&w, IPC_BAN_SYNC_REPLY, msg->id);
	ipc_put_u64(&w, sc.last_id);
	ipc_put_u64(&w, sc.n);
	for (i = 0; i < sc.n; i++) {
		ipc_put_str(&w, items[i].subject, strlen(items[i].subject));
		ipc_put_u64(&w, items[i].until);
		ipc_put_str(&w, items[i].reason, strlen(items[i].reason));
		ipc_put_str(&w, items[i].reporter, strlen(items[i].reporter));
	}
	ipc_conn_reply(conn, &w);
	return true;
}

/* ---- Setup ------------------------------------------------------------- */

void
alert_open(struct chaind *cd)
{
	const char *mode = cd->cfg->chaind.alert_ip;

	al.cd = cd;
	if (strcmp(mode, "hash") == 0)
		al.ip_clear = false;
	else if (strcmp(mode, "clear") == 0)
		al.ip_clear = true;
	else
		fatalx("[chaind] alert_ip: '%s' is neither 'hash' nor 'clear'",
		    mode);
	abi_selector(LOG_ALERT_SIGNATURE, al.selector);
	quiet_init(&al.over_budget, "alerts dropped over the hourly budget");
	quiet_init(&al.no_wallet, "alerts not written for want of a wallet");
	quiet_init(&al.failed, "alerts not written");
}

void
alert_close(struct chaind *cd)
{
	(void)cd;
	quiet_stop(&al.over_budget);
	quiet_stop(&al.no_wallet);
	quiet_stop(&al.failed);
}
