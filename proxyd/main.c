/*
 * proxyd: the internet-facing MQTT proxy. It accepts clients, has authd
 * verify their credentials, and relays their packets to the broker as far
 * as chaind's answers allow.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "metrics_client.h"
#include "proxyd.h"
#include "proxyproto.h"

static struct proxyd proxyd;
static ev_timer proxyd_metrics_tick;
static char proxyd_instance[64];

/* Every METRICS_INTERVAL_S: the counters chaind's /metrics shows. */
static void
proxyd_on_metrics(struct ev_loop *loop, ev_timer *w, int revents)
{
	char json[512];

	(void)loop;
	(void)w;
	(void)revents;
	snprintf(json, sizeof(json),
	    "{\"sessions\":%zu,\"connections_total\":%" PRIu64
	    ",\"denials_total\":{\"publish\":%" PRIu64 ",\"subscribe\":%" PRIu64
	    ",\"delivery\":%" PRIu64 "},\"report_dropped_total\":%" PRIu64 "}",
	    proxyd.sessions, proxyd.connections_total, proxyd.denials[0],
	    proxyd.denials[1], proxyd.denials[2], report_dropped());
	metrics_send(proxyd.chaind, "proxyd", proxyd_instance, json);
}

/* Settings of defence.c: load balancers, countries, authd's load. */
static void
proxyd_open_defence(const struct flytrap_config *cfg)
{
	const char *versions = cfg->proxyd.proxy_protocol;
	char err[256];

	if (!netrange_list_parse(cfg->proxyd.proxy_trusted,
		&proxyd.proxy_trusted, &proxyd.n_proxy_trusted, err,
		sizeof(err)))
		fatalx("[proxyd] proxy_trusted: %s", err);
	if (cfg->proxyd.proxy_listen[0] != '\0' && proxyd.n_proxy_trusted == 0)
		fatalx("[proxyd] proxy_listen is set but proxy_trusted is "
		       "empty: no load balancer could connect");
	proxyd.proxy_versions = strcmp(versions, "v1") == 0 ? PROXYPROTO_V1
	    : strcmp(versions, "v2") == 0                   ? PROXYPROTO_V2
					  : PROXYPROTO_V1 | PROXYPROTO_V2;
	proxyd.unknown_country_allow =
	    strcmp(cfg->proxyd.unknown_country, "allow") == 0;
	proxyd.max_auth_pending = (uint32_t)cfg->proxyd.max_auth_pending;
	proxyd.max_auth_pending_per_ip =
	    (uint32_t)cfg->proxyd.max_auth_pending_per_ip;
}

static void
proxyd_open(struct daemon_ctx *ctx)
{
	const struct flytrap_config *cfg = &ctx->cfg;

	proxyd.loop = ctx->loop;
	proxyd.cfg = cfg;
	proxyd.max_packet = (uint32_t)cfg->proxyd.max_packet_size;
	proxyd.buffer_limit = (size_t)cfg->proxyd.buffer_limit;
	proxyd.connect_timeout = (double)cfg->proxyd.connect_timeout_ms / 1e3;
	proxyd.auth_timeout = (double)cfg->proxyd.auth_timeout_ms / 1e3;
	proxyd.acl_timeout = (double)cfg->proxyd.acl_timeout_ms / 1e3;
	proxyd.acl_cache_size = (uint32_t)cfg->proxyd.acl_cache_size;

	if (cfg->proxyd.broker_password[0] != '\0' &&
	    cfg->proxyd.broker_username[0] == '\0' &&
	    !cfg->proxyd.forward_username)
		fatalx("[proxyd] broker_password needs broker_username or "
		       "forward_username: MQTT sends no password alone");
	if (!proxyd_resolve(cfg->proxyd.broker, false, &proxyd.broker_addr,
		&proxyd.broker_addrlen))
		fatalx("[proxyd] broker: bad address '%s' (want host:port)",
		    cfg->proxyd.broker);
	/* A rewritten CONNECT is the client's plus credentials we add. */
	proxyd.scratch_len = proxyd.max_packet + 1024 +
	    strlen(cfg->proxyd.broker_username) +
	    strlen(cfg->proxyd.broker_password);
	proxyd.scratch = malloc(proxyd.scratch_len);
	proxyd.props_scratch = malloc(proxyd.max_packet);
	if (proxyd.scratch == NULL || proxyd.props_scratch == NULL)
		fatalx("out of memory");
	proxyd_open_defence(cfg);
	if (!listener_open_all(&proxyd, cfg->proxyd.listen, false) ||
	    !listener_open_all(&proxyd, cfg->proxyd.proxy_listen, true))
		fatalx("cannot open the listeners");
	if (proxyd.listeners == NULL)
		fatalx("[proxyd] listen and proxy_listen are both empty: "
		       "nowhere to accept clients");
}

static void
proxyd_start(struct daemon_ctx *ctx)
{
	char path[512];

	daemon_runtime_path(ctx, "authd.sock", path, sizeof(path));
	proxyd.authd = ipc_client_new(ctx->loop, path, "authd");
	if (proxyd.authd == NULL)
		fatalx("out of memory");
	defence_start(&proxyd);
	daemon_runtime_path(ctx, "chaind.sock", path, sizeof(path));
	acl_start(&proxyd, path);
	daemon_runtime_path(ctx, "reportd.sock", path, sizeof(path));
	report_start(&proxyd, path);
	metrics_instance_name(
	    "proxyd", proxyd_instance, sizeof(proxyd_instance));
	ev_timer_init(&proxyd_metrics_tick, proxyd_on_metrics,
	    METRICS_INTERVAL_S, METRICS_INTERVAL_S);
	ev_timer_start(ctx->loop, &proxyd_metrics_tick);
	listener_start_all(&proxyd);
	log_info("relaying to the broker at %s", ctx->cfg.proxyd.broker);
}

static void
proxyd_stop(struct daemon_ctx *ctx)
{
	ev_timer_stop(ctx->loop, &proxyd_metrics_tick);
	listener_close_all(&proxyd);
	session_close_all(&proxyd);
	ipc_client_free(proxyd.authd);
	acl_stop(&proxyd);
	report_stop(&proxyd);
	free(proxyd.scratch);
	free(proxyd.props_scratch);
	free(proxyd.proxy_trusted);
	free(proxyd.auth_by_ip);
}

static const struct daemon_spec proxyd_spec = {
    .name = "proxyd",
    .summary = "FlyTrap MQTT proxy: authenticates clients and relays "
	       "them to the broker.",
    .open = proxyd_open,
    .start = proxyd_start,
    .stop = proxyd_stop,
};

int
main(int argc, char **argv)
{
	return daemon_main(argc, argv, &proxyd_spec);
}
