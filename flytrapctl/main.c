/*
 * flytrapctl: the operator's and topic owner's command line. This file
 * only dispatches to the command table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flytrapctl.h"

static const struct ctl_command ctl_commands[] = {
    {"keygen", ctl_keygen, "create a new key file and print its address"},
    {"address", ctl_address, "print the address of a key file"},
    {"token", ctl_token, "print the MQTT credentials a key signs"},
    {"config", ctl_config, "check a configuration file, print defaults"},
    {"keystore", ctl_keystore, "encrypt a key into a JSON keystore file"},
    {"deploy", ctl_deploy, "deploy a new FlyTrap contract"},
    {"topic", ctl_topic, "create, show, list and change topic entries"},
    {"grant", ctl_grant, "give an address a publish/subscribe right"},
    {"revoke", ctl_revoke, "take a publish/subscribe right away"},
    {"buy", ctl_buy, "buy a publish/subscribe right at its price"},
    {"reporter", ctl_reporter, "add or remove a reporter (chaind wallet)"},
    {"withdraw", ctl_withdraw, "withdraw the payments credited to you"},
    {"status", ctl_status, "ask chaind how the chain side is doing"},
    {"ban", ctl_ban, "ban an IP, a range or an address at authd"},
    {"unban", ctl_unban, "lift a ban at authd"},
    {"bans", ctl_bans, "list the bans in force at authd"},
    {"authd-status", ctl_authd_status, "print authd's figures (JSON)"},
    {"audit", ctl_audit, "the audit trail: queries, access proofs"},
    {"erase", ctl_erase, "forget a person's address or IP (local records)"},
    {NULL, NULL, NULL},
};

void
ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("flytrapctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
ctl_usage(FILE *out)
{
	const struct ctl_command *c;

	fprintf(out, "usage: flytrapctl COMMAND [options]\n\ncommands:\n");
	for (c = ctl_commands; c->name != NULL; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out, "\n'flytrapctl COMMAND --help' describes a command.\n");
}

int
main(int argc, char **argv)
{
	const struct ctl_command *c;

	if (argc < 2) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		ctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	for (c = ctl_commands; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	ctl_error("unknown command '%s'", argv[1]);
	ctl_usage(stderr);
	return CTL_EXIT_USAGE;
}
