/*
 * The boot sequence every FlyTrap daemon shares, written once: parse the
 * command line and configuration, open what the daemon needs, start its
 * loop and peers, run until SIGTERM/SIGINT, then shut down.
 */
#ifndef FLYTRAP_DAEMON_H
#define FLYTRAP_DAEMON_H

#include <stdbool.h>

#include <ev.h>

#include "config.h"

struct daemon_ctx {
	struct ev_loop *loop;
	struct flytrap_config cfg;
	const char *config_path;
	bool debug;
};

struct daemon_spec {
	const char *name; /* "proxyd" */
	const char *summary; /* one line for --help */
	/* Opens sockets and files; may call fatal/fatalx. */
	void (*open)(struct daemon_ctx *ctx);
	/* Connects to peers and starts serving; runs inside the loop's set-up. */
	void (*start)(struct daemon_ctx *ctx);
	/* Releases what open/start made; the loop has stopped. */
	void (*stop)(struct daemon_ctx *ctx);
};

/*
 * Runs a daemon from main(): options -c FILE (default
 * FLYTRAP_CONFIG_PATH), -d (debug log), -h. Returns the process exit
 * status.
 */
int daemon_main(int argc, char **argv, const struct daemon_spec *spec);

/*
 * Joins the runtime directory and a file name into out; fatalx if it does
 * not fit (a configuration error).
 */
void daemon_runtime_path(
    const struct daemon_ctx *ctx, const char *file, char *out, size_t outlen);

#endif
