/*
 * Logging for the FlyTrap daemons and tools: one line per event on stderr.
 * Under systemd (JOURNAL_STREAM set) lines carry a "<N>" priority prefix for
 * journald and no timestamp; otherwise a UTC timestamp and the program name.
 */
#ifndef FLYTRAP_LOG_H
#define FLYTRAP_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; false for anything else. */
bool log_level_parse(const char *s, enum log_level *out)
    __attribute__((warn_unused_result));

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs the message with strerror(errno) appended, then exits 1. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Logs the message, then exits 1. */
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
