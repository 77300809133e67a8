/*
 * The configuration table and its INI reader (libinih). Each option is one
 * row: section, key, type, where it lives, default, bounds and a one-line doc.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "log.h"

#define CONFIG_FIELD(section, name)                                            \
	offsetof(struct flytrap_config, section.name)

/* The largest MQTT packet: 4-byte remaining length maximum + fixed header. */
#define MQTT_PACKET_MAX 268435460

/* {section, key, type, field, default, min, max, doc} */
const struct config_option config_options[] = {
    {"global", "realm", CONFIG_STRING, CONFIG_FIELD(global, realm), "", 0, 0,
	"Deployment name every token is signed for; empty means the contract "
	"address"},
    {"global", "runtime_dir", CONFIG_STRING, CONFIG_FIELD(global, runtime_dir),
	"/run/flytrap", 0, 0, "Directory holding the daemons' IPC sockets"},
    {"global", "log_level", CONFIG_STRING, CONFIG_FIELD(global, log_level),
	"info", 0, 0,
	"Least severe messages logged: error, warn, info or debug"},

    {"proxyd", "listen", CONFIG_STRING, CONFIG_FIELD(proxyd, listen),
	"0.0.0.0:1883", 0, 0,
	"Comma-separated host:port addresses MQTT clients connect to"},
    {"proxyd", "broker", CONFIG_STRING, CONFIG_FIELD(proxyd, broker),
	"127.0.0.1:1884", 0, 0,
	"host:port of the MQTT broker that authenticated clients reach"},
    {"proxyd", "broker_username", CONFIG_STRING,
	CONFIG_FIELD(proxyd, broker_username), "", 0, 0,
	"Username proxyd gives the broker instead of the client's address"},
    {"proxyd", "broker_password", CONFIG_STRING,
	CONFIG_FIELD(proxyd, broker_password), "", 0, 0,
	"Password proxyd gives the broker (empty: none)"},
    {"proxyd", "connect_timeout_ms", CONFIG_INT,
	CONFIG_FIELD(proxyd, connect_timeout_ms), "10000", 100, 600000,
	"Milliseconds a new connection has to send CONNECT and authenticate"},
    {"proxyd", "auth_timeout_ms", CONFIG_INT,
	CONFIG_FIELD(proxyd, auth_timeout_ms), "2000", 10, 60000,
	"Milliseconds proxyd waits for authd's verdict before refusing"},
    {"proxyd", "max_packet_size", CONFIG_INT,
	CONFIG_FIELD(proxyd, max_packet_size), "1048576", 64, MQTT_PACKET_MAX,
	"Largest MQTT packet in bytes accepted from clients or the broker"},
    {"proxyd", "max_sessions", CONFIG_INT, CONFIG_FIELD(proxyd, max_sessions),
	"10000", 1, 1000000,
	"Most client connections served at once; more are refused"},
    {"proxyd", "buffer_limit", CONFIG_INT, CONFIG_FIELD(proxyd, buffer_limit),
	"262144", 4096, MQTT_PACKET_MAX,
	"Bytes queued per direction before proxyd stops reading the other "
	"side"},
    {"proxyd", "forward_username", CONFIG_BOOL,
	CONFIG_FIELD(proxyd, forward_username), "true", 0, 0,
	"Set the broker-side username to the authenticated address"},
    {"proxyd", "acl_timeout_ms", CONFIG_INT,
	CONFIG_FIELD(proxyd, acl_timeout_ms), "2000", 10, 60000,
	"Milliseconds proxyd waits for chaind's answer before denying"},
    {"proxyd", "acl_cache_size", CONFIG_INT,
	CONFIG_FIELD(proxyd, acl_cache_size), "256", 1, 65536,
	"Permission answers each session remembers"},
    {"proxyd", "report_buffer", CONFIG_INT, CONFIG_FIELD(proxyd, report_buffer),
	"100000", 100, 100000000,
	"Access records of sensitive topics held for reportd; when full the "
	"newest are dropped, counted and logged"},
    {"proxyd", "proxy_listen", CONFIG_STRING,
	CONFIG_FIELD(proxyd, proxy_listen), "", 0, 0,
	"Comma-separated host:port addresses where every connection must "
	"start with a PROXY protocol header from proxy_trusted"},
    {"proxyd", "proxy_protocol", CONFIG_STRING,
	CONFIG_FIELD(proxyd, proxy_protocol), "any", 0, 0,
	"PROXY protocol versions accepted on proxy_listen: v1, v2 or any"},
    {"proxyd", "proxy_trusted", CONFIG_STRING,
	CONFIG_FIELD(proxyd, proxy_trusted), "127.0.0.1, ::1", 0, 0,
	"Addresses or CIDR ranges of the load balancers allowed to connect "
	"to proxy_listen"},
    {"proxyd", "unknown_country", CONFIG_STRING,
	CONFIG_FIELD(proxyd, unknown_country), "deny", 0, 0,
	"On topics limited to countries, deny or allow a client whose "
	"country is unknown (private ranges, not in the database)"},
    {"proxyd", "max_auth_pending", CONFIG_INT,
	CONFIG_FIELD(proxyd, max_auth_pending), "256", 1, 1000000,
	"Credential checks at authd at once; more clients wait their turn in "
	"proxyd"},
    {"proxyd", "max_auth_pending_per_ip", CONFIG_INT,
	CONFIG_FIELD(proxyd, max_auth_pending_per_ip), "2", 1, 100000,
	"Credential checks of one client IP at authd at once; its other "
	"clients wait their turn"},

    {"authd", "token_skew_s", CONFIG_INT, CONFIG_FIELD(authd, token_skew_s),
	"30", 1, 86400,
	"Seconds a timed token's time may differ from authd's clock"},
    {"authd", "static_tokens", CONFIG_BOOL, CONFIG_FIELD(authd, static_tokens),
	"false", 0, 0,
	"Accept static tokens (replayable; only for devices that cannot sign)"},
    {"authd", "replay_cache_size", CONFIG_INT,
	CONFIG_FIELD(authd, replay_cache_size), "1000000", 1000, 100000000,
	"Timed-token signatures remembered to refuse replays"},
    {"authd", "challenge_lifetime_s", CONFIG_INT,
	CONFIG_FIELD(authd, challenge_lifetime_s), "30", 1, 3600,
	"Seconds a challenge nonce may be answered in"},
    {"authd", "max_pending_challenges", CONFIG_INT,
	CONFIG_FIELD(authd, max_pending_challenges), "100000", 1, 10000000,
	"Most unanswered challenges at once; more clients are refused"},
    {"authd", "ban_threshold", CONFIG_INT, CONFIG_FIELD(authd, ban_threshold),
	"3", 0, 1000000,
	"Consecutive failures from one IP that ban it (0: never ban)"},
    {"authd", "ban_window_s", CONFIG_INT, CONFIG_FIELD(authd, ban_window_s),
	"600", 1, 31536000,
	"Seconds after which an IP's or address's failure count starts over"},
    {"authd", "ban_duration_s", CONFIG_INT, CONFIG_FIELD(authd, ban_duration_s),
	"300", 1, 31536000, "Seconds a first automatic ban lasts"},
    {"authd", "ban_escalation", CONFIG_INT, CONFIG_FIELD(authd, ban_escalation),
	"2", 1, 1000,
	"Factor by which each repeat ban of the same IP or address lasts "
	"longer"},
    {"authd", "ban_max_s", CONFIG_INT, CONFIG_FIELD(authd, ban_max_s), "86400",
	1, 31536000, "Longest automatic ban, in seconds"},
    {"authd", "ban_memory_s", CONFIG_INT, CONFIG_FIELD(authd, ban_memory_s),
	"86400", 0, 31536000,
	"Seconds an expired ban still makes the next one a repeat"},
    {"authd", "address_ban_threshold", CONFIG_INT,
	CONFIG_FIELD(authd, address_ban_threshold), "10", 0, 1000000,
	"Consecutive denials that ban an authenticated address wherever it "
	"connects from (0: never)"},
    {"authd", "connect_rate", CONFIG_INT, CONFIG_FIELD(authd, connect_rate),
	"0", 0, 1000000,
	"Connection attempts per second one IP may make before further "
	"sockets are closed without a word (0: no limit)"},
    {"authd", "connect_burst", CONFIG_INT, CONFIG_FIELD(authd, connect_burst),
	"20", 1, 1000000,
	"Attempts one IP may make at once above connect_rate"},
    {"authd", "bans_file", CONFIG_STRING, CONFIG_FIELD(authd, bans_file),
	"/var/lib/flytrap/bans.json", 0, 0,
	"File keeping the bans across restarts (empty: memory only)"},
    {"authd", "geoip_database", CONFIG_STRING,
	CONFIG_FIELD(authd, geoip_database),
	FLYTRAP_DATADIR "/dbip-country.mmdb", 0, 0,
	"MaxMind DB file giving each client IP its country (GeoIP2/GeoLite2 "
	"or DB-IP schema); reloaded on SIGHUP"},
    {"authd", "ip_hash_key_file", CONFIG_STRING,
	CONFIG_FIELD(authd, ip_hash_key_file), "", 0, 0,
	"File with the secret keying the IP hashes written on-chain (share it "
	"between hosts); empty: a random key per start"},
    {"authd", "chain_bans", CONFIG_BOOL, CONFIG_FIELD(authd, chain_bans),
	"true", 0, 0,
	"Enforce the Banned alerts other FlyTrap nodes write on the chain"},

    {"chaind", "rpc_url", CONFIG_STRING, CONFIG_FIELD(chaind, rpc_url),
	"http://127.0.0.1:8545", 0, 0,
	"JSON-RPC URL of the Ethereum node (http or https)"},
    {"chaind", "contract", CONFIG_STRING, CONFIG_FIELD(chaind, contract), "", 0,
	0, "Address of the FlyTrap contract (0x...)"},
    {"chaind", "start_block", CONFIG_INT, CONFIG_FIELD(chaind, start_block),
	"0", 0, 9000000000000000000LL,
	"Block to follow events from on a fresh database (the deployment's)"},
    {"chaind", "keystore", CONFIG_STRING, CONFIG_FIELD(chaind, keystore), "", 0,
	0,
	"Wallet keystore (Web3 Secret Storage v3); empty: chaind writes "
	"nothing"},
    {"chaind", "password_file", CONFIG_STRING,
	CONFIG_FIELD(chaind, password_file), "", 0, 0,
	"File holding the keystore password; empty: "
	"$FLYTRAP_KEYSTORE_PASSWORD"},
    {"chaind", "database", CONFIG_STRING, CONFIG_FIELD(chaind, database),
	"/var/lib/flytrap/chaind.db", 0, 0,
	"sqlite file caching permissions and every contract event"},
    {"chaind", "poll_interval_ms", CONFIG_INT,
	CONFIG_FIELD(chaind, poll_interval_ms), "1000", 50, 600000,
	"Milliseconds between checks for a new block"},
    {"chaind", "rpc_timeout_ms", CONFIG_INT,
	CONFIG_FIELD(chaind, rpc_timeout_ms), "5000", 100, 600000,
	"Milliseconds a JSON-RPC call may take"},
    {"chaind", "confirmations", CONFIG_INT, CONFIG_FIELD(chaind, confirmations),
	"1", 1, 1000,
	"Blocks on top of which a transaction counts as done (1: mined)"},
    {"chaind", "reorg_depth", CONFIG_INT, CONFIG_FIELD(chaind, reorg_depth),
	"64", 1, 10000,
	"Recent block hashes kept to detect and undo chain reorganisations"},
    {"chaind", "alert_budget_per_hour", CONFIG_INT,
	CONFIG_FIELD(chaind, alert_budget_per_hour), "60", 0, 1000000,
	"Alerts (Banned, WrongCountry) written on-chain per hour at most; "
	"the rest are logged only"},
    {"chaind", "alert_ip", CONFIG_STRING, CONFIG_FIELD(chaind, alert_ip),
	"hash", 0, 0,
	"How an alert names a client IP on-chain: hash (keyed, see "
	"ip_hash_key_file) or clear (personal data that cannot be erased)"},

    {"chaind", "http_listen", CONFIG_STRING, CONFIG_FIELD(chaind, http_listen),
	"127.0.0.1:8780", 0, 0,
	"host:port of the read-only audit API, /metrics and the auditor's "
	"page (empty: off)"},
    {"chaind", "web_root", CONFIG_STRING, CONFIG_FIELD(chaind, web_root),
	FLYTRAP_DATADIR "/web", 0, 0, "Directory of the auditor's page"},

    {"reportd", "database", CONFIG_STRING, CONFIG_FIELD(reportd, database),
	"/var/lib/flytrap/reportd.db", 0, 0,
	"sqlite file keeping the access records of sensitive topics"},
    {"reportd", "period_s", CONFIG_INT, CONFIG_FIELD(reportd, period_s), "1800",
	10, 86400 * 31,
	"Seconds per summary period (periods start at multiples of it)"},
    {"reportd", "grace_s", CONFIG_INT, CONFIG_FIELD(reportd, grace_s), "10", 0,
	3600,
	"Seconds after a period's end before its summary is built (late "
	"records)"},

    {NULL, NULL, CONFIG_STRING, 0, NULL, 0, 0, NULL},
};

#define CONFIG_OPTION_COUNT                                                    \
	(sizeof(config_options) / sizeof(config_options[0]) - 1)

/* ---- Values ---------------------------------------------------------------- */

/* String options that take one of a few words: {field, "a|b|c"}. */
static const struct {
	size_t offset;
	const char *words;
	const char *text; /* for error messages */
} config_choices[] = {
    {CONFIG_FIELD(global, log_level), "error|warn|info|debug",
	"one of error, warn, info, debug"},
    {CONFIG_FIELD(proxyd, proxy_protocol), "v1|v2|any", "v1, v2 or any"},
    {CONFIG_FIELD(proxyd, unknown_country), "deny|allow", "deny or allow"},
    {CONFIG_FIELD(chaind, alert_ip), "hash|clear", "hash or clear"},
};

/* The choices of a string option, or -1 when it takes any string. */
static int
config_choice_index(const struct config_option *opt)
{
	for (size_t i = 0;
	     i < sizeof(config_choices) / sizeof(config_choices[0]); i++)
		if (config_choices[i].offset == opt->offset)
			return (int)i;
	return -1;
}

/* True when value is one of the '|'-separated words. */
static bool
config_word_in(const char *value, const char *words)
{
	size_t n = strlen(value);

	while (*words != '\0') {
		const char *end = strchr(words, '|');
		size_t len =
		    end != NULL ? (size_t)(end - words) : strlen(words);

		if (len == n && strncmp(value, words, n) == 0)
			return true;
		words += len + (end != NULL);
	}
	return false;
}

/* Parses decimal digits with an optional '-', the whole string. */
static bool
config_parse_int(const char *s, long long *out)
{
	bool negative = false;
	long long v = 0;

	if (*s == '-') {
		negative = true;
		s++;
	}
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (LLONG_MAX - (*s - '0')) / 10)
			return false;
		v = 10 * v + (*s - '0');
	}
	*out = negative ? -v : v;
	return true;
}

static bool
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/*
 * Stores value into the option's field; false if it is not a valid value
 * (the field is then unchanged). Aborts if memory runs out.
 */
static bool
config_set(struct flytrap_config *cfg, const struct config_option *opt,
    const char *value)
{
	char *field = (char *)cfg + opt->offset;
	long long n;
	bool b;
	char *copy;
	int choice;

	switch (opt->type) {
	case CONFIG_STRING:
		choice = config_choice_index(opt);
		if (choice >= 0 &&
		    !config_word_in(value, config_choices[choice].words))
			return false;
		if ((copy = strdup(value)) == NULL)
			fatal("config: strdup");
		free(*(char **)(void *)field);
		*(char **)(void *)field = copy;
		return true;
	case CONFIG_INT:
		if (!config_parse_int(value, &n) || n < opt->min ||
		    n > opt->max)
			return false;
		*(long long *)(void *)field = n;
		return true;
	case CONFIG_BOOL:
		if (!config_parse_bool(value, &b))
			return false;
		*(bool *)(void *)field = b;
		return true;
	}
	return false;
}

/* Says what values an option takes, for error messages. */
static void
config_describe_valid(const struct config_option *opt, char *out, size_t len)
{
	switch (opt->type) {
	case CONFIG_INT:
		snprintf(out, len, "an integer between %lld and %lld", opt->min,
		    opt->max);
		return;
	case CONFIG_BOOL:
		snprintf(out, len, "true or false (or yes/no, on/off, 1/0)");
		return;
	case CONFIG_STRING:
		if (config_choice_index(opt) >= 0) {
			snprintf(out, len, "%s",
			    config_choices[config_choice_index(opt)].text);
			return;
		}
		break;
	}
	snprintf(out, len, "a string");
}

/* ---- Defaults, freeing, printing ---------------------------------------- */

void
config_defaults(struct flytrap_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (const struct config_option *opt = config_options;
	     opt->name != NULL; opt++) {
		if (!config_set(cfg, opt, opt->default_value))
			fatalx("config: bad default for [%s] %s", opt->section,
			    opt->name);
	}
}

void
config_free(struct flytrap_config *cfg)
{
	for (const struct config_option *opt = config_options;
	     opt->name != NULL; opt++) {
		if (opt->type == CONFIG_STRING) {
			char **field =
			    (char **)(void *)((char *)cfg + opt->offset);
			free(*field);
			*field = NULL;
		}
	}
}

void
config_print(const struct flytrap_config *cfg, FILE *out)
{
	const char *section = NULL;

	fprintf(out, "# FlyTrap configuration: the effective settings.\n");
	for (const struct config_option *opt = config_options;
	     opt->name != NULL; opt++) {
		const char *field = (const char *)cfg + opt->offset;
		const char *s;

		if (section == NULL || strcmp(section, opt->section) != 0) {
			section = opt->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "# %s\n", opt->doc);
		switch (opt->type) {
		case CONFIG_STRING:
			s = *(char *const *)(const void *)field;
			if (s == NULL || s[0] == '\0')
				fprintf(out, "%s =\n", opt->name);
			else if (s[0] == ';') /* " ;" would start a comment */
				fprintf(out, "%s =%s\n", opt->name, s);
			else
				fprintf(out, "%s = %s\n", opt->name, s);
			break;
		case CONFIG_INT:
			fprintf(out, "%s = %lld\n", opt->name,
			    *(const long long *)(const void *)field);
			break;
		case CONFIG_BOOL:
			fprintf(out, "%s = %s\n", opt->name,
			    *(const bool *)(const void *)field ? "true"
							       : "false");
			break;
		}
	}
}

/* ---- Loading ---------------------------------------------------------------- */

struct config_parser {
	struct flytrap_config *cfg;
	const char *path;
	FILE *file;
	char *line; /* getline() buffer */
	size_t line_cap;
	int lineno; /* of the line inih is working on */
	bool seen[CONFIG_OPTION_COUNT];
	enum config_status status; /* of the first error */
	char *err;
	size_t errlen;
};

/* Records the first error only; later ones are consequences of it. */
static void __attribute__((format(printf, 3, 4))) config_error(
    struct config_parser *p, enum config_status st, const char *fmt, ...)
{
	va_list ap;

	if (p->status != CONFIG_OK)
		return;
	p->status = st;
	if (p->err == NULL || p->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
}

static bool
config_section_known(const char *name, size_t len)
{
	for (const struct config_option *opt = config_options;
	     opt->name != NULL; opt++) {
		if (strlen(opt->section) == len &&
		    memcmp(opt->section, name, len) == 0)
			return true;
	}
	return false;
}

/*
 * inih's line reader. Handing inih one whole line per call keeps its line
 * count equal to ours; we also refuse lines it would split, catch unknown
 * sections on their own line (even when empty), and strip leading white
 * space so an indented line is never taken as a continuation of the
 * previous value.
 */
static char *
config_read_line(char *str, int num, void *stream)
{
	struct config_parser *p = stream;
	ssize_t n;
	char *start, *end;

	if (p->status != CONFIG_OK)
		return NULL;
	n = getline(&p->line, &p->line_cap, p->file);
	if (n < 0) {
		if (ferror(p->file))
			config_error(p, CONFIG_ERR_IO, "%s: %s", p->path,
			    strerror(errno));
		return NULL;
	}
	p->lineno++;
	if (memchr(p->line, '\0', (size_t)n) != NULL) {
		config_error(p, CONFIG_ERR_SYNTAX, "%s:%d: syntax error",
		    p->path, p->lineno);
		return NULL;
	}
	start = p->line;
	end = p->line + n;
	if (p->lineno == 1 && n >= 3 && memcmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end - start + 1 > num) {
		config_error(p, CONFIG_ERR_SYNTAX,
		    "%s:%d: line longer than %d characters", p->path, p->lineno,
		    num - 1);
		return NULL;
	}
	if (*start == '[') {
		char *close = memchr(start, ']', (size_t)(end - start));
		/* Without ']' it is inih's syntax error. */
		if (close != NULL &&
		    !config_section_known(
			start + 1, (size_t)(close - start - 1))) {
			config_error(p, CONFIG_ERR_UNKNOWN,
			    "%s:%d: unknown section %.*s", p->path, p->lineno,
			    (int)(close - start + 1), start);
			return NULL;
		}
	}
	memcpy(str, start, (size_t)(end - start));
	str[end - start] = '\0';
	return str;
}

/* inih's handler, once per key = value; returns 0 on error. */
static int
config_handle_pair(
    void *user, const char *section, const char *name, const char *value)
{
	struct config_parser *p = user;
	char valid[64];
	size_t i;

	if (section[0] == '\0') {
		config_error(p, CONFIG_ERR_SYNTAX,
		    "%s:%d: key '%s' outside any section", p->path, p->lineno,
		    name);
		return 0;
	}
	for (i = 0; i < CONFIG_OPTION_COUNT; i++) {
		if (strcmp(config_options[i].section, section) == 0 &&
		    strcmp(config_options[i].name, name) == 0)
			break;
	}
	if (i == CONFIG_OPTION_COUNT) {
		config_error(p, CONFIG_ERR_UNKNOWN,
		    "%s:%d: unknown key '%s' in [%s]", p->path, p->lineno, name,
		    section);
		return 0;
	}
	if (p->seen[i]) {
		config_error(p, CONFIG_ERR_DUPLICATE,
		    "%s:%d: key '%s' given twice", p->path, p->lineno, name);
		return 0;
	}
	p->seen[i] = true;
	if (!config_set(p->cfg, &config_options[i], value)) {
		config_describe_valid(&config_options[i], valid, sizeof(valid));
		config_error(p, CONFIG_ERR_VALUE, "%s:%d: '%s' must be %s",
		    p->path, p->lineno, name, valid);
		return 0;
	}
	return 1;
}

enum config_status
config_load(struct flytrap_config *cfg, const char *path, bool allow_missing,
    char *err, size_t errlen)
{
	struct config_parser p = {
	    .cfg = cfg,
	    .path = path,
	    .status = CONFIG_OK,
	    .err = err,
	    .errlen = errlen,
	};
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	config_defaults(cfg);
	p.file = fopen(path, "re");
	if (p.file == NULL) {
		if (errno == ENOENT && allow_missing)
			return CONFIG_OK;
		config_error(
		    &p, CONFIG_ERR_IO, "%s: %s", path, strerror(errno));
		config_free(cfg);
		return p.status;
	}
	rc = ini_parse_stream(config_read_line, &p, config_handle_pair, &p);
	if (p.status == CONFIG_OK && rc > 0)
		config_error(
		    &p, CONFIG_ERR_SYNTAX, "%s:%d: syntax error", path, rc);
	else if (p.status == CONFIG_OK && rc < 0)
		config_error(&p, CONFIG_ERR_IO, "%s: out of memory", path);
	free(p.line);
	fclose(p.file);
	if (p.status != CONFIG_OK)
		config_free(cfg);
	return p.status;
}
