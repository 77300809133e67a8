/*
 * authd's banning: the ban table (ban.c) built from the configuration with
 * its IP-hash key and bans file, written back to that file, and what each
 * ban's start and end sets off (a log line, a notice to proxyd, an alert).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authd.h"
#include "ban.h"
#include "config.h"
#include "log.h"

/* Subjects the ban table tracks at most (bans in force are never evicted). */
#define AUTHD_BAN_ENTRIES 1000000
/* The longest key file read for the IP hashes. */
#define AUTHD_HMAC_KEY_MAX 4096

/* ---- Helpers ------------------------------------------------------------ */

uint64_t
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

/* ---- Ban events ---------------------------------------------------------- */

/* Every ban's start and end: a log line, a notice to proxyd, an alert. */
static void
authd_on_ban_event(const struct ban_event *ev, void *arg)
{
	struct authd *ad = arg;
	const char *origin = ban_origin_str(ev->origin);
	char until[64];

	authd_until_text(ev->until, until, sizeof(until));
	switch (ev->type) {
	case BAN_EVENT_START:
		log_info("ban of %s started (%s, ban %u): %s; %s",
		    ev->subject_text, origin, ev->bans, ev->reason, until);
		authd_queue_notice(ad, ev->subject_text);
		/* Other nodes' bans are on the chain already. */
		if (ev->origin != BAN_ORIGIN_CHAIN)
			authd_alert_ban(ad, ev);
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

/* ---- Opening ------------------------------------------------------------- */

/* The key of the IP hashes: the configured file's bytes, else random. */
static void
authd_hmac_key(struct authd *ad, const char *path)
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
	if (!ban_set_hmac_key(ad->bans, key, len))
		fatalx("out of memory for the IP hash key");
	explicit_bzero(key, sizeof(key));
}

void
authd_bans_open(struct authd *ad, const struct flytrap_config *cfg)
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
	ad->bans = ban_table_new(&bc, authd_on_ban_event, ad);
	if (ad->bans == NULL)
		fatalx("out of memory for the ban table");
	authd_hmac_key(ad, cfg->authd.ip_hash_key_file);
	ad->bans_file = cfg->authd.bans_file;
	if (ad->bans_file[0] == '\0') {
		log_info("no bans_file: bans are kept in memory only");
		return;
	}
	if (ban_load(ad->bans, ev_now(ad->loop), ad->bans_file, &loaded, err,
		sizeof(err)) != BAN_FILE_OK)
		fatalx("%s", err);
	log_info("bans file %s: %zu bans in force", ad->bans_file, loaded);
}
