/*
 * flytrapctl's command table and the helpers its commands share.
 */
#ifndef FLYTRAP_FLYTRAPCTL_H
#define FLYTRAP_FLYTRAPCTL_H

#include <stdbool.h>

struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Exit statuses: 0 success, 1 failure, 2 usage error. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

int ctl_keygen(int argc, char **argv);
int ctl_address(int argc, char **argv);
int ctl_token(int argc, char **argv);
int ctl_config(int argc, char **argv);
int ctl_keystore(int argc, char **argv);
int ctl_deploy(int argc, char **argv);
int ctl_topic(int argc, char **argv);
int ctl_grant(int argc, char **argv);
int ctl_revoke(int argc, char **argv);
int ctl_buy(int argc, char **argv);
int ctl_reporter(int argc, char **argv);
int ctl_withdraw(int argc, char **argv);
int ctl_status(int argc, char **argv);
int ctl_ban(int argc, char **argv);
int ctl_unban(int argc, char **argv);
int ctl_bans(int argc, char **argv);
int ctl_authd_status(int argc, char **argv);

/* Prints "flytrapctl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
