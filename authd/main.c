/*
 * authd: verifies FlyTrap credentials for proxyd, keeps the bans and looks
 * up countries. It holds no network socket: it answers proxyd on
 * authd.sock and flytrapctl on authd-admin.sock, and tells chaind about
 * bans and wrong countries (and learns other nodes' bans) on chaind.sock.
 * This file only wires the parts together (see authd.h).
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "authd.h"
#include "ban.h"
#include "daemon.h"
#include "expset.h"
#include "geoip.h"
#include "ipc.h"
#include "log.h"
#include "metrics_client.h"

#define AUTHD_SOCKET "authd.sock"
#define AUTHD_ADMIN_SOCKET "authd-admin.sock"
#define CHAIND_SOCKET "chaind.sock"

/* (IP, topic) pairs remembered so a WrongCountry alert goes once an hour. */
#define AUTHD_COUNTRY_ALERTS 100000
#define AUTHD_COUNTRY_ALERT_PERIOD 3600.0
/* How often bans expire, the bans file is written and chain bans polled. */
#define AUTHD_TICK 1.0

static struct authd authd;
static ev_timer authd_tick;
static ev_signal authd_sighup;

/* ---- GeoIP ---------------------------------------------------------------- */

/*
 * Opens the configured database at start: none configured or the file
 * missing leaves every country unknown (which denies topics limited to
 * countries: fail closed); a file that exists but cannot be read is fatal.
 */
static void
authd_geoip_open(void)
{
	char err[512];

	if (authd.geoip_path[0] == '\0') {
		log_warn("no geoip_database: every client's country is "
			 "unknown, so topics limited to countries are denied");
		return;
	}
	if (access(authd.geoip_path, F_OK) != 0 && errno == ENOENT) {
		log_warn("geoip_database %s does not exist: every client's "
			 "country is unknown, so topics limited to countries "
			 "are denied (SIGHUP loads it once it is there)",
		    authd.geoip_path);
		return;
	}
	if ((authd.geoip = geoip_open(authd.geoip_path, err, sizeof(err))) ==
	    NULL)
		fatalx("geoip_database %s", err);
	log_info("GeoIP: %s", geoip_describe(authd.geoip));
}

/* SIGHUP: a new database replaces the old only once it has opened. */
static void
authd_on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct geoip *g;
	char err[512];

	(void)loop;
	(void)w;
	(void)revents;
	if (authd.geoip_path[0] == '\0') {
		log_info("SIGHUP: no geoip_database to reload");
		return;
	}
	if ((g = geoip_open(authd.geoip_path, err, sizeof(err))) == NULL) {
		log_err("SIGHUP: GeoIP database not reloaded, keeping %s: %s",
		    authd.geoip != NULL ? geoip_describe(authd.geoip) : "none",
		    err);
		return;
	}
	geoip_close(authd.geoip);
	authd.geoip = g;
	log_info("SIGHUP: GeoIP database reloaded: %s", geoip_describe(g));
}

/* ---- Boot ----------------------------------------------------------------- */

static void
authd_open(struct daemon_ctx *ctx)
{
	const struct flytrap_config *cfg = &ctx->cfg;
	char path[512];

	if (cfg->global.realm[0] == '\0')
		fatalx("[global] realm is not set: it names this deployment "
		       "in every signed token");
	authd.loop = ctx->loop;
	authd_proxyd_init(&authd);
	authd.realm = cfg->global.realm;
	authd.token_skew = (double)cfg->authd.token_skew_s;
	authd.static_tokens = cfg->authd.static_tokens;
	authd.chain_bans = cfg->authd.chain_bans;
	authd.geoip_path = cfg->authd.geoip_database;
	/* A signature stays replayable until its time leaves the window. */
	authd.replay = expset_new(
	    (size_t)cfg->authd.replay_cache_size, 2 * authd.token_skew + 1);
	authd.challenges = expset_new((size_t)cfg->authd.max_pending_challenges,
	    (double)cfg->authd.challenge_lifetime_s);
	authd.country_alerts =
	    expset_new(AUTHD_COUNTRY_ALERTS, AUTHD_COUNTRY_ALERT_PERIOD);
	if (authd.replay == NULL || authd.challenges == NULL ||
	    authd.country_alerts == NULL)
		fatalx("out of memory for the replay cache");
	if (authd.static_tokens)
		log_warn("static tokens are enabled: they can be replayed "
			 "by anyone who captures one");
	authd_bans_open(&authd, cfg);
	authd_geoip_open();

	daemon_runtime_path(ctx, AUTHD_SOCKET, path, sizeof(path));
	authd.server = authd_proxyd_listen(&authd, ctx->loop, path);
	if (authd.server == NULL)
		fatal("listen on %s", path);
	daemon_runtime_path(ctx, AUTHD_ADMIN_SOCKET, path, sizeof(path));
	authd.admin = authd_admin_listen(&authd, ctx->loop, path);
	if (authd.admin == NULL)
		fatal("listen on %s", path);
}

/* Every second: bans end, the file follows, chain bans are polled. */
static void
authd_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	char err[1024];

	(void)w;
	(void)revents;
	static unsigned ticks;

	ban_expire(authd.bans, ev_now(loop));
	(void)authd_save_bans(&authd, err, sizeof(err));
	authd_ban_sync(&authd);
	if (++ticks % (unsigned)(METRICS_INTERVAL_S / AUTHD_TICK) == 0)
		authd_send_metrics(&authd);
}

static void
authd_start(struct daemon_ctx *ctx)
{
	char path[512];

	daemon_runtime_path(ctx, CHAIND_SOCKET, path, sizeof(path));
	authd.chaind = authd_chaind_connect(&authd, ctx->loop, path);
	ev_timer_init(&authd_tick, authd_on_tick, AUTHD_TICK, AUTHD_TICK);
	ev_timer_start(ctx->loop, &authd_tick);
	ev_signal_init(&authd_sighup, authd_on_sighup, SIGHUP);
	ev_signal_start(ctx->loop, &authd_sighup);
	log_info("realm '%s', token skew %.0f s, static tokens %s, chain "
		 "bans %s",
	    authd.realm, authd.token_skew, authd.static_tokens ? "on" : "off",
	    authd.chain_bans ? "on" : "off");
}

static void
authd_stop(struct daemon_ctx *ctx)
{
	char err[1024];

	ev_timer_stop(ctx->loop, &authd_tick);
	ev_signal_stop(ctx->loop, &authd_sighup);
	ipc_server_close(authd.admin);
	authd.admin = NULL;
	authd_proxyd_close(&authd);
	ipc_client_free(authd.chaind);
	authd.chaind = NULL;
	ban_expire(authd.bans, ev_now(ctx->loop));
	(void)authd_save_bans(&authd, err, sizeof(err));
	ban_table_free(authd.bans);
	geoip_close(authd.geoip);
	expset_free(authd.replay);
	expset_free(authd.challenges);
	expset_free(authd.country_alerts);
	log_info("verified %llu credentials, %llu signature checks",
	    (unsigned long long)authd.verified,
	    (unsigned long long)authd.n.signature_checks);
}

static const struct daemon_spec authd_spec = {
    .name = "authd",
    .summary = "FlyTrap authentication daemon: verifies signed MQTT "
	       "credentials for proxyd, keeps bans, looks up countries.",
    .open = authd_open,
    .start = authd_start,
    .stop = authd_stop,
};

int
main(int argc, char **argv)
{
	return daemon_main(argc, argv, &authd_spec);
}
