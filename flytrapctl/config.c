/*
 * flytrapctl config: checks a configuration file the way the daemons read
 * it, and prints the effective settings or the defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flytrapctl.h"

static int
config_usage(int status)
{
	fprintf(status == CTL_EXIT_OK ? stdout : stderr,
	    "usage: flytrapctl config check [FILE]\n"
	    "       flytrapctl config defaults\n"
	    "check: reads FILE (default $FLYTRAP_CONFIG, else %s) as the\n"
	    "daemons do; prints the first error as file:line and exits 1, or\n"
	    "prints the effective settings. defaults: prints every option\n"
	    "with its default and documentation.\n",
	    FLYTRAP_CONFIG_PATH);
	return status;
}

int
ctl_config(int argc, char **argv)
{
	struct flytrap_config cfg;
	const char *path;
	char err[512];

	if (argc == 2 && strcmp(argv[1], "defaults") == 0) {
		config_defaults(&cfg);
		config_print(&cfg, stdout);
		config_free(&cfg);
		return CTL_EXIT_OK;
	}
	if (argc < 2 || argc > 3 || strcmp(argv[1], "check") != 0)
		return config_usage(argc >= 2 &&
			    (strcmp(argv[1], "--help") == 0 ||
				strcmp(argv[1], "-h") == 0)
			? CTL_EXIT_OK
			: CTL_EXIT_USAGE);
	path = argc == 3 ? argv[2] : getenv("FLYTRAP_CONFIG");
	if (path == NULL || *path == '\0')
		path = FLYTRAP_CONFIG_PATH;
	if (config_load(&cfg, path, false, err, sizeof(err)) != CONFIG_OK) {
		ctl_error("%s", err);
		return CTL_EXIT_FAIL;
	}
	printf("# %s: OK. Effective settings:\n", path);
	config_print(&cfg, stdout);
	config_free(&cfg);
	return CTL_EXIT_OK;
}
