/*
 * FlyTrap's configuration: one INI file, a section per daemon. Every option
 * is one row of the table in config.c, with its type, default and
 * documentation; unknown sections and keys are errors reported as file:line.
 */
#ifndef FLYTRAP_CONFIG_H
#define FLYTRAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define FLYTRAP_CONFIG_PATH "/etc/flytrap/flytrap.conf"

/* Where read-only data (the GeoIP database) is installed. */
#ifndef FLYTRAP_DATADIR
#define FLYTRAP_DATADIR "/usr/local/share/flytrap"
#endif

struct flytrap_config {
	struct {
		char *realm;
		char *runtime_dir;
		char *log_level;
	} global;
	struct {
		char *listen; /* comma-separated host:port list */
		char *broker; /* host:port */
		char *broker_username;
		char *broker_password;
		long long connect_timeout_ms;
		long long auth_timeout_ms;
		long long max_packet_size;
		long long max_sessions;
		long long buffer_limit;
		bool forward_username;
		long long acl_timeout_ms;
		long long acl_cache_size;
		long long report_buffer; /* access records held for reportd */
		char *proxy_listen; /* listeners that require a PROXY header */
		char *proxy_protocol; /* v1, v2 or any */
		char *proxy_trusted; /* CIDR list of load balancers */
		char *unknown_country; /* deny or allow */
		long long max_auth_pending;
		long long max_auth_pending_per_ip;
	} proxyd;
	struct {
		long long token_skew_s;
		bool static_tokens;
		long long replay_cache_size;
		long long challenge_lifetime_s;
		long long max_pending_challenges;
		long long ban_threshold;
		long long ban_window_s;
		long long ban_duration_s;
		long long ban_escalation;
		long long ban_max_s;
		long long ban_memory_s;
		long long address_ban_threshold;
		long long connect_rate;
		long long connect_burst;
		char *bans_file;
		char *geoip_database;
		char *ip_hash_key_file;
		bool chain_bans;
	} authd;
	struct {
		char *rpc_url;
		char *contract;
		long long start_block;
		char *keystore;
		char *password_file;
		char *database;
		long long poll_interval_ms;
		long long rpc_timeout_ms;
		long long confirmations;
		long long reorg_depth;
		long long alert_budget_per_hour;
		char *alert_ip; /* hash or clear */
		char *http_listen; /* host:port of the audit API; "" off */
		char *web_root; /* the auditor's page */
	} chaind;
	struct {
		char *database;
		long long period_s;
		long long grace_s;
	} reportd;
};

enum config_type {
	CONFIG_STRING,
	CONFIG_INT,
	CONFIG_BOOL,
};

struct config_option {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset; /* into struct flytrap_config */
	const char *default_value; /* as text, parsed like file values */
	long long min; /* CONFIG_INT bounds */
	long long max;
	const char *doc;
};

/* The table of every option, ending with a row whose name is NULL. */
extern const struct config_option config_options[];

enum config_status {
	CONFIG_OK = 0,
	CONFIG_ERR_IO, /* file cannot be opened or read */
	CONFIG_ERR_SYNTAX, /* not an INI line */
	CONFIG_ERR_UNKNOWN, /* unknown section or key */
	CONFIG_ERR_VALUE, /* value of the wrong type or out of range */
	CONFIG_ERR_DUPLICATE, /* a key given twice in its section */
};

/* Fills cfg with every default. */
void config_defaults(struct flytrap_config *cfg);

/*
 * Loads defaults, then the file at path. On error writes a message of the
 * form "path:line: what is wrong" into (err, errlen). A missing file is
 * CONFIG_ERR_IO unless allow_missing is set (then defaults stand).
 * cfg is overwritten without being freed, so pass a fresh or config_free'd
 * one. On success the caller frees it with config_free; on error it holds
 * no strings (config_free is harmless). Only the first error is reported.
 */
enum config_status config_load(struct flytrap_config *cfg, const char *path,
    bool allow_missing, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Writes the effective settings as an INI file, with each option's doc. */
void config_print(const struct flytrap_config *cfg, FILE *out);

/* Frees the strings held by cfg. */
void config_free(struct flytrap_config *cfg);

#endif
