/*
 * One line per event on stderr, written with a single write(2) so lines from
 * several processes sharing stderr do not interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Longer messages are cut, ending in "...". */
#define LOG_LINE_MAX 2048

static const char *log_progname;
static enum log_level log_current_level = LOG_LEVEL_INFO;
static bool log_journal;

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

/* sd-daemon(3) priority prefixes: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const char *const log_journal_prefixes[] = {
    [LOG_LEVEL_ERR] = "<3>",
    [LOG_LEVEL_WARN] = "<4>",
    [LOG_LEVEL_INFO] = "<6>",
    [LOG_LEVEL_DEBUG] = "<7>",
};

/*
 * systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected
 * to stderr; the variable is inherited, so it counts only while stderr is
 * still that stream (systemd.exec(5)).
 */
static bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char end;

	if (env == NULL || env[0] == '\0')
		return false;
	if (sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(STDERR_FILENO, &sb) < 0)
		return false;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

void
log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_current_level = level;
	log_journal = log_stderr_is_journal();
}

void
log_set_level(enum log_level level)
{
	log_current_level = level;
}

enum log_level
log_get_level(void)
{
	return log_current_level;
}

bool
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0;
	     i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

/*
 * Formats and writes one line: prefix, message, then ": suffix" if given
 * (kept even when the message is cut). Control characters in the message
 * (which may quote client input) become '?', so one event is one line.
 */
static void __attribute__((format(printf, 3, 0))) log_vwrite(
    enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 1]; /* + the newline */
	char stamp[32];
	size_t len, msg_start, msg_room, suffix_len = 0;
	int saved_errno = errno;
	struct tm tm;
	time_t now;
	int n;

	if (level > log_current_level)
		return;
	if (log_journal) {
		n = snprintf(
		    line, LOG_LINE_MAX, "%s", log_journal_prefixes[level]);
	} else {
		now = time(NULL);
		if (gmtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) ==
			0)
			strcpy(stamp, "0000-00-00T00:00:00Z");
		n = snprintf(line, LOG_LINE_MAX, "%s %s[%ld] %s: ", stamp,
		    log_progname != NULL ? log_progname
					 : program_invocation_short_name,
		    (long)getpid(), log_level_names[level]);
	}
	len = n < 0 ? 0 : (size_t)n;
	if (len > LOG_LINE_MAX / 2)
		len = LOG_LINE_MAX / 2;
	msg_start = len;
	if (suffix != NULL) {
		suffix_len = strlen(suffix);
		if (suffix_len > LOG_LINE_MAX / 4)
			suffix_len = LOG_LINE_MAX / 4;
	}
	/* Room for the message and its NUL, leaving ": " + suffix. */
	msg_room = LOG_LINE_MAX - len - (suffix != NULL ? 2 + suffix_len : 0);
	n = vsnprintf(line + len, msg_room, fmt, ap);
	if (n < 0) {
		n = 0;
		line[len] = '\0';
	}
	if ((size_t)n >= msg_room) {
		len += msg_room - 1;
		memcpy(line + len - 3, "...", 3);
	} else {
		len += (size_t)n;
	}
	if (suffix != NULL) {
		memcpy(line + len, ": ", 2);
		memcpy(line + len + 2, suffix, suffix_len);
		len += 2 + suffix_len;
	}
	for (size_t i = msg_start; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	line[len++] = '\n';
	/* A failed write to stderr has nowhere to be reported. */
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
		;
	errno = saved_errno;
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	const char *reason = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, reason, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
