/*
 * authd's ban table: failure counters, bans of IPs, ranges, addresses and
 * IP hashes (automatic, manual, or from other nodes' alerts on the chain),
 * and the per-IP connection attempt rate. Pure logic: the time is passed
 * in, and the only I/O is loading and saving the bans file.
 */
#ifndef FLYTRAP_BAN_H
#define FLYTRAP_BAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "netaddr.h"

#define BAN_WUR __attribute__((warn_unused_result))

/* Room for any subject's text ("ip-hmac:" + 64 hex digits), NUL included. */
#define BAN_SUBJECT_STRLEN 80
/* An IP hash: HMAC-SHA256 of the IP's canonical text. */
#define BAN_HMAC_LEN 32
/* The shortest key accepted for the IP hashes. */
#define BAN_HMAC_KEY_MIN 32
/* The longest reason kept with a ban (longer ones are cut). */
#define BAN_REASON_MAX 256

enum ban_kind {
	BAN_KIND_IP = 0,
	BAN_KIND_RANGE,
	BAN_KIND_ADDRESS,
	BAN_KIND_IP_HMAC,
};

enum ban_origin {
	BAN_ORIGIN_AUTO = 0, /* failures or denials counted here */
	BAN_ORIGIN_MANUAL, /* flytrapctl ban */
	BAN_ORIGIN_CHAIN, /* another node's Banned alert */
	BAN_ORIGIN_MAX
};

/*
 * What a ban is about. Compared and hashed as bytes, so always built by
 * ban_subject_parse() or ban_subject_from_*() (unused bytes are zero).
 */
struct ban_subject {
	uint8_t kind; /* enum ban_kind */
	uint8_t family; /* AF_INET or AF_INET6 for IPs and ranges */
	uint8_t prefix; /* ranges */
	uint8_t key[32]; /* IP or range bytes, address, or IP hash */
};

/*
 * Why a failure counts. Values below AUTH_RESULT_MAX are refused
 * authentications (enum auth_result); the others are what proxyd reports
 * with IPC_STRIKE.
 */
enum ban_cause {
	BAN_CAUSE_DENIED_PUBLISH = 16,
	BAN_CAUSE_DENIED_SUBSCRIBE,
	BAN_CAUSE_WRONG_COUNTRY,
	BAN_CAUSE_MAX /* at most 32: causes are kept as a bit mask */
};

/* The [authd] options the table follows; 0 thresholds never ban. */
struct ban_config {
	uint32_t threshold; /* consecutive IP failures that ban */
	uint32_t address_threshold; /* consecutive denials that ban */
	double window; /* a count starts over after this long without one */
	double duration; /* first automatic ban */
	double escalation; /* factor per repeat */
	double max_duration; /* cap of automatic bans */
	double memory; /* an ended ban still makes the next a repeat */
	double connect_rate; /* attempts per second per IP; 0: no limit */
	double connect_burst; /* attempts at once above the rate */
	size_t max_entries; /* subjects tracked at most (bans are kept) */
};

/* What happened to a ban; the table reports each to its callback. */
enum ban_event_type {
	BAN_EVENT_START, /* a ban began (or replaced another) */
	BAN_EVENT_EXTEND, /* a chain ban made an active ban end later */
	BAN_EVENT_END, /* its time was up */
	BAN_EVENT_LIFT, /* ban_remove() */
};

struct ban_event {
	enum ban_event_type type;
	const struct ban_subject *subject;
	const char *subject_text;
	enum ban_origin origin;
	double since;
	double until; /* 0: until lifted */
	uint32_t bans; /* times this subject has been banned (remembered) */
	const char *reason;
	/* For an automatic START: the client whose failure started it. */
	const struct netaddr *ip; /* or NULL */
	const uint8_t *address; /* 20 bytes, or NULL */
};

/* Called for every event; it must not change the table. */
typedef void ban_event_fn(const struct ban_event *ev, void *arg);

/* How a call changed the table. */
enum ban_outcome {
	BAN_COUNTED = 0, /* a failure was counted; no ban (yet) */
	BAN_STARTED, /* a ban started */
	BAN_EXTENDED, /* an active ban now ends later */
	BAN_UNCHANGED, /* already banned at least as long: nothing done */
	BAN_OFF, /* the threshold is 0: failures are not counted */
	BAN_FULL, /* every tracked subject is banned: not counted */
	BAN_EXPIRED, /* a chain ban whose end has passed: ignored */
	BAN_LIFTED, /* ban_remove(): the ban is lifted */
	BAN_NOT_FOUND, /* ban_remove(): no ban of that subject */
};

struct ban_table;

/*
 * A table following cfg (copied); events go to fn(ev, arg) (fn may be
 * NULL). The IP hash key must be set before ban_ip_hmac() or the
 * checks of ip-hmac bans are used. NULL when out of memory.
 */
struct ban_table *ban_table_new(
    const struct ban_config *cfg, ban_event_fn *fn, void *arg);
void ban_table_free(struct ban_table *t);

/* Sets the key of the IP hashes (at least BAN_HMAC_KEY_MIN bytes). */
bool ban_set_hmac_key(
    struct ban_table *t, const uint8_t *key, size_t len) BAN_WUR;
/* HMAC-SHA256(key, canonical text of ip). */
void ban_ip_hmac(
    const struct ban_table *t, const struct netaddr *ip, uint8_t out[32]);

/* ---- Subjects ------------------------------------------------------------ */

/*
 * Parses a subject: an IP ("192.0.2.1", "2001:db8::1"), a CIDR range
 * ("192.0.2.0/24"; a range of one address is that IP), an address ("0x" +
 * 40 hex digits, any case) or "ip-hmac:" + 64 hex digits. On failure
 * writes a sentence saying what is wrong to err and returns false.
 */
bool ban_subject_parse(const char *s, size_t len, struct ban_subject *out,
    char *err, size_t errlen) BAN_WUR;
/* Canonical text: netaddr_format, netrange_format, 0x lowercase, hex. */
void ban_subject_format(
    const struct ban_subject *s, char out[BAN_SUBJECT_STRLEN]);
void ban_subject_from_ip(const struct netaddr *ip, struct ban_subject *out);
void ban_subject_from_address(const uint8_t addr[20], struct ban_subject *out);

/* "ip", "range", "address", "ip-hmac". */
const char *ban_kind_str(enum ban_kind k);
/* "auto", "manual", "chain". */
const char *ban_origin_str(enum ban_origin o);
/* "bad-signature", "denied publish", ... */
const char *ban_cause_str(enum ban_cause c);

/* ---- Counting ------------------------------------------------------------ */

/*
 * Counts a failure of ip (address: the client's, if known, for the
 * event). Reaching the threshold within the window starts an automatic
 * ban: ban_duration times escalation^k for the k-th repeat while an
 * earlier ban ended less than `memory` ago, capped at max_duration.
 * BAN_COUNTED, BAN_STARTED, BAN_UNCHANGED (ip is banned: not counted),
 * BAN_OFF or BAN_FULL.
 */
enum ban_outcome ban_record_ip_failure(struct ban_table *t, double now,
    const struct netaddr *ip, const uint8_t *address, enum ban_cause cause);

/*
 * Counts a denial of an authenticated address (ip: where it came from, or
 * NULL), with address_threshold. Only the window resets the count: a key
 * that keeps asking for what it may not have, across reconnects and
 * successful logins, gets banned. Outcomes as for ban_record_ip_failure.
 */
enum ban_outcome ban_record_address_failure(struct ban_table *t, double now,
    const uint8_t address[20], const struct netaddr *ip, enum ban_cause cause);

/* A successful authentication from ip: its count starts over. */
void ban_record_ip_success(
    struct ban_table *t, double now, const struct netaddr *ip);

/* ---- Questions ----------------------------------------------------------- */

/*
 * Whether ip is banned: by its own ban, a range containing it, or its
 * hash. On true, *until is the latest end among them (0: until lifted)
 * and *why describes the ban for logs (valid until the table changes).
 */
bool ban_check_ip(struct ban_table *t, double now, const struct netaddr *ip,
    double *until, const char **why);
/* Whether an address is banned; as ban_check_ip. */
bool ban_check_address(struct ban_table *t, double now,
    const uint8_t address[20], double *until, const char **why);

/*
 * IPC_CONN_CHECK: one connection attempt from ip. CONN_DROP when the
 * attempt rate is exceeded (the token bucket is empty; nothing else is
 * asked), CONN_BANNED (with *until) when banned, else CONN_OK.
 */
enum conn_verdict ban_check_connect(
    struct ban_table *t, double now, const struct netaddr *ip, double *until);

/* ---- Manual and chain bans ----------------------------------------------- */

/*
 * Bans a subject by hand for `seconds` (0: until lifted), replacing any
 * ban of that exact subject: BAN_STARTED. Always kept, even beyond
 * max_entries. reason is cut at BAN_REASON_MAX bytes.
 */
enum ban_outcome ban_add_manual(struct ban_table *t, double now,
    const struct ban_subject *s, double seconds, const char *reason);

/*
 * A ban from the chain until `until` (Unix time). It never shortens a ban
 * already in force: BAN_UNCHANGED when that ends as late or later,
 * BAN_EXTENDED when it is made to end at `until`, BAN_STARTED for a
 * subject not banned, BAN_EXPIRED when until has passed, BAN_FULL when
 * the table has no room.
 */
enum ban_outcome ban_add_chain(struct ban_table *t, double now,
    const struct ban_subject *s, double until, const char *reason);

/*
 * Lifts the ban of exactly this subject, whatever its origin (a range ban
 * does not lift the bans of the IPs inside). For an IP or address its
 * failure count starts over too; its history of bans stays (a later
 * automatic ban is still a repeat). BAN_LIFTED or BAN_NOT_FOUND.
 */
enum ban_outcome ban_remove(
    struct ban_table *t, double now, const struct ban_subject *s);

/* ---- Time, listing, figures ---------------------------------------------- */

/*
 * Ends the bans whose time is up (BAN_EVENT_END) and forgets counters
 * that no longer matter. Call it every second or so; the questions above
 * never count an ended ban, called or not.
 */
void ban_expire(struct ban_table *t, double now);

/*
 * The bans in force as a JSON array (malloc'd, NUL-terminated) of
 * {subject, kind, origin, reason, since, until, bans}; NULL when out of
 * memory.
 */
char *ban_list_json(struct ban_table *t, double now);

struct ban_stats {
	size_t active[BAN_ORIGIN_MAX]; /* bans in force by origin */
	size_t tracked; /* subjects in the table */
	uint64_t started; /* bans started since the table was made */
};
void ban_get_stats(const struct ban_table *t, struct ban_stats *out);

/* ---- The bans file ------------------------------------------------------- */

enum ban_file_status {
	BAN_FILE_OK = 0,
	BAN_FILE_IO, /* cannot read or write it */
	BAN_FILE_FORMAT, /* not a bans file */
};

/*
 * Whether an automatic or manual ban started, ended or was lifted since
 * the last ban_save() (chain bans are not saved: the chain keeps them).
 */
bool ban_dirty(const struct ban_table *t);

/*
 * Writes the automatic and manual bans in force to path as JSON, through
 * a temporary file renamed over it (mode 0600). On failure err says why,
 * naming the file.
 */
enum ban_file_status ban_save(struct ban_table *t, double now, const char *path,
    char *err, size_t errlen) BAN_WUR;

/*
 * Adds the bans saved in path, dropping those that have ended (no events
 * are reported for them). A missing file is BAN_FILE_OK with nothing
 * loaded; *loaded (may be NULL) counts the bans taken. On failure err
 * names the file and what is wrong; the table may hold part of it.
 */
enum ban_file_status ban_load(struct ban_table *t, double now, const char *path,
    size_t *loaded, char *err, size_t errlen) BAN_WUR;

#endif
