/*
 * reportd: the durable spool of sensitive-topic access records and the
 * periodic summaries written on-chain through chaind's wallet. It talks
 * to nothing but its sqlite file and Unix sockets: no network.
 */
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "reportd.h"

static struct reportd reportd;

static void
reportd_open(struct daemon_ctx *ctx)
{
	const struct flytrap_config *cfg = &ctx->cfg;
	char err[512], path[512];

	reportd.loop = ctx->loop;
	reportd.cfg = cfg;
	reportd.period_s = (uint64_t)cfg->reportd.period_s;
	reportd.grace_s = (uint64_t)cfg->reportd.grace_s;
	if (reportd.grace_s >= reportd.period_s)
		fatalx("[reportd] grace_s (%llu) must be shorter than "
		       "period_s (%llu)",
		    (unsigned long long)reportd.grace_s,
		    (unsigned long long)reportd.period_s);
	if ((reportd.spool = spool_open(
		 cfg->reportd.database, err, sizeof(err))) == NULL)
		fatalx("[reportd] database: %s", err);
	daemon_runtime_path(ctx, "reportd.sock", path, sizeof(path));
	intake_open(&reportd, path);
	daemon_runtime_path(ctx, "reportd-admin.sock", path, sizeof(path));
	admin_open(&reportd, path);
	daemon_runtime_path(ctx, "wallet.sock", reportd.wallet_path,
	    sizeof(reportd.wallet_path));
}

static void
reportd_start(struct daemon_ctx *ctx)
{
	char path[512];

	summary_start(&reportd);
	daemon_runtime_path(ctx, "chaind.sock", path, sizeof(path));
	metrics_start(&reportd, path);
	log_info("database %s, periods of %llu s summarised %llu s after "
		 "they end, summaries to %s",
	    ctx->cfg.reportd.database, (unsigned long long)reportd.period_s,
	    (unsigned long long)reportd.grace_s, reportd.wallet_path);
}

static void
reportd_stop(struct daemon_ctx *ctx)
{
	(void)ctx;
	metrics_stop(&reportd);
	summary_stop(&reportd);
	intake_close(&reportd);
	admin_close(&reportd);
	spool_close(reportd.spool);
}

static const struct daemon_spec reportd_spec = {
    .name = "reportd",
    .summary = "FlyTrap report daemon: keeps sensitive-topic access "
	       "records and writes the periodic summaries on-chain.",
    .open = reportd_open,
    .start = reportd_start,
    .stop = reportd_stop,
};

int
main(int argc, char **argv)
{
	return daemon_main(argc, argv, &reportd_spec);
}
