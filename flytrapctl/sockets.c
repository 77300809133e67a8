/*
 * How flytrapctl finds and addresses the daemons' sockets, and prints what
 * they answer: shared by the commands that talk to authd, reportd and
 * chaind's wallet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "config.h"
#include "flytrapctl.h"

bool
ctl_socket_path(const char *given, const char *env, const char *config,
    const char *name, char *out, size_t len)
{
	struct flytrap_config cfg;
	const char *from_env = getenv(env);
	bool explicit_config = true;
	char err[512];
	int n;

	if (given == NULL && from_env != NULL && *from_env != '\0')
		given = from_env;
	if (given != NULL) {
		n = snprintf(out, len, "%s", given);
	} else {
		if (config == NULL)
			config = getenv("FLYTRAP_CONFIG");
		if (config == NULL || *config == '\0') {
			config = FLYTRAP_CONFIG_PATH;
			explicit_config = false;
		}
		/* Without the default file its defaults stand. */
		if (config_load(&cfg, config, !explicit_config, err,
			sizeof(err)) != CONFIG_OK) {
			ctl_error("%s", err);
			return false;
		}
		n = snprintf(out, len, "%s/%s", cfg.global.runtime_dir, name);
		config_free(&cfg);
	}
	if (n < 0 || (size_t)n >= len) {
		ctl_error("the path of %s is too long", name);
		return false;
	}
	return true;
}

bool
ctl_timeout_parse(const char *arg, double *out)
{
	uint64_t seconds;

	if (!ctl_duration_parse(arg, &seconds) || seconds == 0 ||
	    seconds > 3600) {
		ctl_error("--timeout: '%s' is not a number of seconds (1 to "
			  "3600)",
		    arg);
		return false;
	}
	*out = (double)seconds;
	return true;
}

void
ctl_print_text(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i],
		    out);
}

void
ctl_print_str(const char *s)
{
	if (s != NULL)
		ctl_print_text(stdout, s, strlen(s));
}
