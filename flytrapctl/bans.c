/*
 * flytrapctl ban, unban, bans and authd-status: the operator's side of
 * authd's bans, over authd's admin socket (IPC_BAN_ADD, IPC_BAN_REMOVE,
 * IPC_BAN_LIST, IPC_AUTHD_STATUS; docs/IPC.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chain.h"
#include "config.h"
#include "flytrapctl.h"
#include "ipc.h"
#include "ipc_sync.h"

#define ADMIN_SOCKET_NAME "authd-admin.sock"
/* Seconds to wait for authd unless --timeout says otherwise. */
#define ADMIN_DEFAULT_TIMEOUT 5.0

/* getopt_long codes of the options these commands share. */
enum admin_opt {
	ADMIN_OPT_SOCKET = 0x200,
	ADMIN_OPT_CONFIG,
	ADMIN_OPT_TIMEOUT,
	ADMIN_OPT_JSON,
	ADMIN_OPT_FOR,
	ADMIN_OPT_REASON,
};

static const char admin_help[] =
    "Options of every command talking to authd:\n"
    "  --admin-socket PATH  authd's admin socket; else\n"
    "                       $FLYTRAP_AUTHD_ADMIN_SOCKET, else\n"
    "                       <runtime_dir>/" ADMIN_SOCKET_NAME " of the\n"
    "                       configuration file\n"
    "  --config FILE        that file (default $FLYTRAP_CONFIG, "
    "else " FLYTRAP_CONFIG_PATH ")\n"
    "  --timeout SECONDS    wait at most this long for authd (default 5)\n";

/* Where to reach authd and how long to wait. */
struct admin {
	const char *socket; /* from --admin-socket or the environment */
	const char *config; /* --config */
	double timeout_s;
	bool json;
	uint64_t seconds; /* ban --for; 0: until lifted */
	const char *reason; /* ban --reason */
	char path[512]; /* the socket in the end */
};

static int
admin_usage(int status, const char *synopsis, const char *what)
{
	FILE *out = status == CTL_EXIT_OK ? stdout : stderr;

	fprintf(
	    out, "usage: flytrapctl %s\n%s\n\n%s", synopsis, what, admin_help);
	return status;
}

/*
 * Takes one of the shared options; 1 taken, 0 not one of them, -1 bad
 * value (reported).
 */
static int
admin_option(struct admin *a, int ch, const char *arg)
{
	switch (ch) {
	case ADMIN_OPT_SOCKET:
		a->socket = arg;
		return 1;
	case ADMIN_OPT_CONFIG:
		a->config = arg;
		return 1;
	case ADMIN_OPT_TIMEOUT:
		return ctl_timeout_parse(arg, &a->timeout_s) ? 1 : -1;
	case ADMIN_OPT_JSON:
		a->json = true;
		return 1;
	case ADMIN_OPT_FOR:
		if (!ctl_duration_parse(arg, &a->seconds) || a->seconds == 0) {
			ctl_error(
			    "--for: '%s' is not a duration (300, 90s, 15m, "
			    "2h, 7d; leave --for out for a ban until "
			    "lifted)",
			    arg);
			return -1;
		}
		return 1;
	case ADMIN_OPT_REASON:
		a->reason = arg;
		return 1;
	default:
		return 0;
	}
}

/*
 * Sends w to authd and returns its reply in *r (release with
 * ipc_reader_done, then free *body). An IPC_ERROR_REPLY or a failure is
 * reported as "CMD: why".
 */
static enum ctl_status
admin_request(struct admin *a, const char *cmd, struct ipc_writer *w,
    char **body, struct ipc_reader *r)
{
	enum ipc_status st;
	const char *text;
	uint64_t code;
	size_t len;

	if (!ctl_socket_path(a->socket, "FLYTRAP_AUTHD_ADMIN_SOCKET", a->config,
		ADMIN_SOCKET_NAME, a->path, sizeof(a->path))) {
		ipc_msg_discard(w);
		return CTL_FAILED;
	}
	st = ipc_request_sync(a->path, w, a->timeout_s, body, &len);
	switch (st) {
	case IPC_OK:
		break;
	case IPC_ERR_DISCONNECTED:
		if (errno == ECONNRESET)
			ctl_error("%s: authd closed the connection to %s "
				  "without answering (another IPC version?)",
			    cmd, a->path);
		else
			ctl_error("%s: cannot connect to authd's admin socket "
				  "%s: %s (is authd running? give "
				  "--admin-socket PATH or set "
				  "FLYTRAP_AUTHD_ADMIN_SOCKET)",
			    cmd, a->path, strerror(errno));
		return CTL_FAILED;
	case IPC_ERR_TIMEOUT:
		ctl_error("%s: authd did not answer on %s within %.0f s", cmd,
		    a->path, a->timeout_s);
		return CTL_FAILED;
	case IPC_ERR_VERSION:
		ctl_error("%s: authd speaks another IPC version than this "
			  "flytrapctl (%d): are both from the same build?",
		    cmd, IPC_VERSION);
		return CTL_FAILED;
	default:
		ctl_error("%s: %s: %s", cmd, a->path, ipc_status_str(st));
		return CTL_FAILED;
	}
	if (ipc_reader_init(r, *body, len) != IPC_OK) {
		ctl_error("%s: authd's reply is malformed", cmd);
		free(*body);
		return CTL_FAILED;
	}
	if (r->type == IPC_ERROR_REPLY) {
		if (ipc_get_u64(r, &code) == IPC_OK &&
		    ipc_get_str(r, &text, &len) == IPC_OK &&
		    ipc_get_end(r) == IPC_OK)
			ctl_error("%s: authd refused: %.*s (code %llu)", cmd,
			    (int)len, text, (unsigned long long)code);
		else
			ctl_error("%s: authd's reply is malformed", cmd);
		ipc_reader_done(r);
		free(*body);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/*
 * Sends a ban request and prints authd's IPC_BAN_REPLY: the message on
 * stdout when ok, else as the error.
 */
static int
admin_ban_request(struct admin *a, const char *cmd, struct ipc_writer *w)
{
	struct ipc_reader r;
	const char *message;
	size_t len;
	char *body;
	bool ok;
	int status;

	if (admin_request(a, cmd, w, &body, &r) != CTL_OK)
		return CTL_EXIT_FAIL;
	if (r.type != IPC_BAN_REPLY || ipc_get_bool(&r, &ok) != IPC_OK ||
	    ipc_get_str(&r, &message, &len) != IPC_OK ||
	    ipc_get_end(&r) != IPC_OK) {
		ctl_error("%s: unexpected reply %s from authd", cmd,
		    ipc_type_str(r.type));
		status = CTL_EXIT_FAIL;
	} else if (ok) {
		ctl_print_text(stdout, message, len);
		putchar('\n');
		status = CTL_EXIT_OK;
	} else {
		fprintf(stderr, "flytrapctl: %s: ", cmd);
		ctl_print_text(stderr, message, len);
		fputc('\n', stderr);
		status = CTL_EXIT_FAIL;
	}
	ipc_reader_done(&r);
	free(body);
	return status;
}

static void
admin_init(struct admin *a)
{
	memset(a, 0, sizeof(*a));
	a->timeout_s = ADMIN_DEFAULT_TIMEOUT;
	a->reason = "";
}

/*
 * Reads the options of one command (`opts`) and checks that exactly
 * `nargs` arguments follow, at argv[optind]. Returns -1 when all is well,
 * else the exit status (usage printed, or --help).
 */
static int
admin_parse(int argc, char **argv, const struct option *opts, struct admin *a,
    const char *synopsis, const char *what, int nargs)
{
	int ch, r;

	admin_init(a);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return admin_usage(CTL_EXIT_OK, synopsis, what);
		if ((r = admin_option(a, ch, optarg)) < 0)
			return CTL_EXIT_USAGE;
		if (r == 0)
			return admin_usage(CTL_EXIT_USAGE, synopsis, what);
	}
	if (argc - optind != nargs)
		return admin_usage(CTL_EXIT_USAGE, synopsis, what);
	return -1;
}

/* ---- ban ------------------------------------------------------------------ */

static const char ban_synopsis[] =
    "ban SUBJECT [--for DURATION] [--reason TEXT] [--admin-socket PATH]";
static const char ban_what[] =
    "Asks authd to ban SUBJECT: an IP (192.0.2.1, 2001:db8::1), a CIDR\n"
    "range (192.0.2.0/24) or an address (0x and 40 hex digits), for\n"
    "DURATION (seconds, or with a unit: 90s, 15m, 2h, 7d) or, without\n"
    "--for, until lifted. The ban replaces any ban of that subject,\n"
    "closes its live sessions, is kept in authd's bans file and goes\n"
    "on-chain as a Banned alert.";

int
ctl_ban(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"for", required_argument, NULL, ADMIN_OPT_FOR},
	    {"reason", required_argument, NULL, ADMIN_OPT_REASON},
	    {"admin-socket", required_argument, NULL, ADMIN_OPT_SOCKET},
	    {"config", required_argument, NULL, ADMIN_OPT_CONFIG},
	    {"timeout", required_argument, NULL, ADMIN_OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ipc_writer w;
	struct admin a;
	int r;

	if ((r = admin_parse(
		 argc, argv, opts, &a, ban_synopsis, ban_what, 1)) >= 0)
		return r;
	ipc_msg_begin(&w, IPC_BAN_ADD, 1);
	ipc_put_str(&w, argv[optind], strlen(argv[optind]));
	ipc_put_u64(&w, a.seconds);
	ipc_put_str(&w, a.reason, strlen(a.reason));
	return admin_ban_request(&a, "ban", &w);
}

/* ---- unban ---------------------------------------------------------------- */

static const char unban_synopsis[] = "unban SUBJECT [--admin-socket PATH]";
static const char unban_what[] =
    "Asks authd to lift the ban of exactly SUBJECT (as `flytrapctl bans`\n"
    "lists it: an IP, a range, an address or an ip-hmac), whatever its\n"
    "origin. An IP's failure count starts over too. Lifting an IP inside\n"
    "a banned range does not lift the range.";

int
ctl_unban(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"admin-socket", required_argument, NULL, ADMIN_OPT_SOCKET},
	    {"config", required_argument, NULL, ADMIN_OPT_CONFIG},
	    {"timeout", required_argument, NULL, ADMIN_OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ipc_writer w;
	struct admin a;
	int r;

	if ((r = admin_parse(
		 argc, argv, opts, &a, unban_synopsis, unban_what, 1)) >= 0)
		return r;
	ipc_msg_begin(&w, IPC_BAN_REMOVE, 1);
	ipc_put_str(&w, argv[optind], strlen(argv[optind]));
	return admin_ban_request(&a, "unban", &w);
}

/* ---- bans and authd-status ------------------------------------------------ */

/* Asks for a JSON string (IPC_BAN_LIST / IPC_AUTHD_STATUS); malloc'd. */
static char *
admin_json_request(struct admin *a, const char *cmd, enum ipc_type type,
    enum ipc_type reply, json_type want)
{
	struct ipc_writer w;
	struct ipc_reader r;
	const char *text;
	char *body, *out = NULL;
	size_t len;
	json_t *v;

	ipc_msg_begin(&w, type, 1);
	if (admin_request(a, cmd, &w, &body, &r) != CTL_OK)
		return NULL;
	if (r.type != reply || ipc_get_str(&r, &text, &len) != IPC_OK ||
	    ipc_get_end(&r) != IPC_OK) {
		ctl_error("%s: unexpected reply %s from authd", cmd,
		    ipc_type_str(r.type));
	} else if ((v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL)) ==
		NULL ||
	    json_typeof(v) != want) {
		json_decref(v);
		ctl_error("%s: authd's answer is not a JSON %s", cmd,
		    want == JSON_ARRAY ? "array" : "object");
	} else {
		json_decref(v);
		if ((out = malloc(len + 1)) == NULL) {
			ctl_error("%s: out of memory", cmd);
		} else {
			memcpy(out, text, len);
			out[len] = '\0';
		}
	}
	ipc_reader_done(&r);
	free(body);
	return out;
}

/* "2026-11-23T12:00:00Z", or "until lifted" for 0. */
static void
admin_until_text(json_int_t t, char *out, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&s, &tm) == NULL)
		snprintf(out, len, "until lifted");
	else
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
admin_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "?";
}

/* The table of `flytrapctl bans`. */
static void
admin_print_bans(json_t *list)
{
	json_t *o;
	size_t i, width = strlen("SUBJECT");
	char until[32];

	if (json_array_size(list) == 0) {
		printf("no bans in force\n");
		return;
	}
	json_array_foreach(list, i, o)
	{
		size_t n = strlen(admin_str(o, "subject"));

		if (n > width)
			width = n;
	}
	printf("%-*s  %-7s  %-6s  %-20s  %s\n", (int)width, "SUBJECT", "KIND",
	    "ORIGIN", "UNTIL", "REASON");
	json_array_foreach(list, i, o)
	{
		const char *reason = admin_str(o, "reason");

		admin_until_text(
		    json_integer_value(json_object_get(o, "until")), until,
		    sizeof(until));
		printf("%-*s  %-7s  %-6s  %-20s  ", (int)width,
		    admin_str(o, "subject"), admin_str(o, "kind"),
		    admin_str(o, "origin"), until);
		ctl_print_str(reason);
		putchar('\n');
	}
}

static const char bans_synopsis[] = "bans [--json] [--admin-socket PATH]";
static const char bans_what[] =
    "Lists the bans in force at authd: subject, kind (ip, range, address,\n"
    "ip-hmac), origin (auto: counted failures; manual: flytrapctl ban;\n"
    "chain: another node's alert), end (UTC) and reason. With --json,\n"
    "authd's array as is: {subject, kind, origin, reason, since, until,\n"
    "bans} with times in Unix seconds (until 0: until lifted).";

int
ctl_bans(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, ADMIN_OPT_JSON},
	    {"admin-socket", required_argument, NULL, ADMIN_OPT_SOCKET},
	    {"config", required_argument, NULL, ADMIN_OPT_CONFIG},
	    {"timeout", required_argument, NULL, ADMIN_OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct admin a;
	json_t *list;
	char *text;
	int r;

	if ((r = admin_parse(
		 argc, argv, opts, &a, bans_synopsis, bans_what, 0)) >= 0)
		return r;
	text = admin_json_request(
	    &a, "bans", IPC_BAN_LIST, IPC_BAN_LIST_REPLY, JSON_ARRAY);
	if (text == NULL)
		return CTL_EXIT_FAIL;
	if (a.json) {
		printf("%s\n", text);
	} else {
		list = json_loads(text, 0, NULL);
		admin_print_bans(list);
		json_decref(list);
	}
	free(text);
	return CTL_EXIT_OK;
}

static const char status_synopsis[] = "authd-status [--admin-socket PATH]";
static const char status_what[] =
    "Prints authd's figures as one JSON object: signature checks and\n"
    "verdicts, connection checks, strikes, bans in force by origin,\n"
    "alerts sent to chaind, the GeoIP database and the chain ban sync.";

int
ctl_authd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, ADMIN_OPT_JSON},
	    {"admin-socket", required_argument, NULL, ADMIN_OPT_SOCKET},
	    {"config", required_argument, NULL, ADMIN_OPT_CONFIG},
	    {"timeout", required_argument, NULL, ADMIN_OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct admin a;
	char *text;
	int r;

	if ((r = admin_parse(
		 argc, argv, opts, &a, status_synopsis, status_what, 0)) >= 0)
		return r;
	text = admin_json_request(&a, "authd-status", IPC_AUTHD_STATUS,
	    IPC_AUTHD_STATUS_REPLY, JSON_OBJECT);
	if (text == NULL)
		return CTL_EXIT_FAIL;
	printf("%s\n", text);
	free(text);
	return CTL_EXIT_OK;
}
