/*
 * flytrapctl audit: the auditor's commands, dispatched by one table of
 * subcommands. A file that brings subcommands declares its functions in
 * flytrapctl.h and adds its rows to audit_commands below.
 */
#include <stdio.h>
#include <string.h>

#include "flytrapctl.h"

static const struct ctl_command audit_commands[] = {
    /* audit_proof.c: reportd's records and their Merkle proofs. */
    {"prove", ctl_audit_prove, "print the proof that a record is summarised"},
    {"verify", ctl_audit_verify,
	"check a proof against the SummaryRoot event on the chain"},
    /*
     * audit_query.c: chaind's audit queries over its status socket; one
     * function serves them all, told apart by argv[0].
     */
    {"who", ctl_audit_query,
	"who accessed a sensitive topic in a time range (summaries)"},
    {"holders", ctl_audit_query,
	"who held publish/subscribe rights on an entry at a time"},
    {"why", ctl_audit_query,
	"why an address may use a topic: the grants that decide"},
    {"events", ctl_audit_query,
	"contract events by topic, address, action and time"},
    {"summaries", ctl_audit_query, "Summary events with their roots"},
    {"alerts", ctl_audit_query, "Banned and WrongCountry alerts"},
    {"topics", ctl_audit_query, "every topic entry with its settings"},
    {"status", ctl_audit_query, "how far chaind's copy of the chain reaches"},
    {NULL, NULL, NULL},
};

static int
audit_usage(FILE *out, int status)
{
	const struct ctl_command *c;

	fprintf(out,
	    "usage: flytrapctl audit SUBCOMMAND [options]\n\n"
	    "subcommands:\n");
	for (c = audit_commands; c->name != NULL; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out, "\n'flytrapctl audit SUBCOMMAND --help' describes one.\n");
	return status;
}

int
ctl_audit(int argc, char **argv)
{
	const struct ctl_command *c;

	if (argc < 2)
		return audit_usage(stderr, CTL_EXIT_USAGE);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return audit_usage(stdout, CTL_EXIT_OK);
	for (c = audit_commands; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	ctl_error("audit: unknown subcommand '%s'", argv[1]);
	return audit_usage(stderr, CTL_EXIT_USAGE);
}
