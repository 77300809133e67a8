/*
 * The shared boot sequence of the FlyTrap daemons (see daemon.h): one
 * order for every process, so none of them grows its own variant.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void
daemon_usage(const struct daemon_spec *spec, FILE *out)
{
	fprintf(out,
	    "usage: %s [-d] [-c FILE]\n"
	    "%s\n\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -d       log debug messages\n"
	    "  -h       show this help\n",
	    spec->name, spec->summary, FLYTRAP_CONFIG_PATH);
}

static void
daemon_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

void
daemon_runtime_path(
    const struct daemon_ctx *ctx, const char *file, char *out, size_t outlen)
{
	int n;

	n = snprintf(out, outlen, "%s/%s", ctx->cfg.global.runtime_dir, file);
	if (n < 0 || (size_t)n >= outlen)
		fatalx("runtime_dir '%s' is too long",
		    ctx->cfg.global.runtime_dir);
}

int
daemon_main(int argc, char **argv, const struct daemon_spec *spec)
{
	struct daemon_ctx ctx;
	ev_signal sig_term, sig_int;
	enum log_level level;
	char err[512];
	int ch;

	memset(&ctx, 0, sizeof(ctx));
	ctx.config_path = FLYTRAP_CONFIG_PATH;
	log_init(spec->name, LOG_LEVEL_INFO);

	while ((ch = getopt(argc, argv, "c:dh")) != -1) {
		switch (ch) {
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'd':
			ctx.debug = true;
			break;
		case 'h':
			daemon_usage(spec, stdout);
			return 0;
		default:
			daemon_usage(spec, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		daemon_usage(spec, stderr);
		return 2;
	}

	/* 1. Configuration. */
	if (config_load(&ctx.cfg, ctx.config_path, false, err, sizeof(err)) !=
	    CONFIG_OK) {
		log_err("%s", err);
		return 1;
	}
	if (!log_level_parse(ctx.cfg.global.log_level, &level))
		level = LOG_LEVEL_INFO;
	log_set_level(ctx.debug ? LOG_LEVEL_DEBUG : level);

	/* 2. Signals: a peer going away must be an error, not SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	ctx.loop = ev_default_loop(EVFLAG_AUTO);
	if (ctx.loop == NULL)
		fatalx("cannot initialise the event loop");

	/* 3. Open sockets and files (privilege drop follows here). */
	spec->open(&ctx);

	/* 4. Start serving and connect to peers. */
	ev_signal_init(&sig_term, daemon_on_signal, SIGTERM);
	ev_signal_start(ctx.loop, &sig_term);
	ev_signal_init(&sig_int, daemon_on_signal, SIGINT);
	ev_signal_start(ctx.loop, &sig_int);
	spec->start(&ctx);
	log_info("started (config %s)", ctx.config_path);

	/* 5. Run. */
	ev_run(ctx.loop, 0);

	spec->stop(&ctx);
	ev_signal_stop(ctx.loop, &sig_term);
	ev_signal_stop(ctx.loop, &sig_int);
	config_free(&ctx.cfg);
	log_info("stopped");
	return 0;
}
