/*
 * flytrapctl audit who|holders|why|events|summaries|alerts|topics|status:
 * chaind's audit queries (IPC_AUDIT_QUERY on its status socket; the
 * kinds are docs/AUDIT.md's), printed for people or as chaind's JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chain.h"
#include "flytrapctl.h"
#include "ipc.h"
#include "ipc_sync.h"

/* Seconds to wait for chaind unless --timeout says otherwise. */
#define QUERY_DEFAULT_TIMEOUT 10.0

/* getopt_long codes of the query options (after the shared ones). */
enum query_opt {
	QUERY_OPT_TOPIC = 0x300,
	QUERY_OPT_ADDRESS,
	QUERY_OPT_ACTION,
	QUERY_OPT_FROM,
	QUERY_OPT_TO,
	QUERY_OPT_AT,
	QUERY_OPT_LIMIT,
	QUERY_OPT_AFTER,
};

/* Which options each kind takes, as bits of (1 << (opt - QUERY_OPT_TOPIC)). */
#define Q(o) (1u << ((o)-QUERY_OPT_TOPIC))
#define Q_PAGE (Q(QUERY_OPT_LIMIT) | Q(QUERY_OPT_AFTER))
#define Q_RANGE (Q(QUERY_OPT_FROM) | Q(QUERY_OPT_TO))

static const struct query_kind {
	const char *name;
	const char *positional; /* "TOPIC", "ADDRESS TOPIC" or NULL */
	unsigned options;
	const char *what;
} query_kinds[] = {
    {"who", "TOPIC", Q_RANGE | Q_PAGE,
	"The summaries of TOPIC (its exact name, as reportd wrote it) whose\n"
	"period overlaps --from..--to, with the publishers and subscribers\n"
	"they list, one page at a time."},
    {"holders", "ENTRY", Q(QUERY_OPT_AT),
	"Who held publish and subscribe rights on the topic entry ENTRY (its\n"
	"exact name, e.g. 'sensors/#') at --at (default now): replayed from\n"
	"the grants, purchases and revocations, with who granted each, why,\n"
	"whether it was paid and until when."},
    {"why", "ADDRESS TOPIC", Q(QUERY_OPT_AT),
	"Why ADDRESS may (or may not) publish or subscribe to TOPIC at --at\n"
	"(default now): every entry covering TOPIC, the right each gives, and\n"
	"the history of grants and revocations behind them."},
    {"events", NULL,
	Q(QUERY_OPT_TOPIC) | Q(QUERY_OPT_ADDRESS) | Q(QUERY_OPT_ACTION) |
	    Q_RANGE | Q_PAGE,
	"The contract's events matching every filter given: --topic (an\n"
	"entry's exact name), --address (as source or target), --action\n"
	"(names or numbers, comma-separated) and the time range."},
    {"summaries", NULL, Q(QUERY_OPT_TOPIC) | Q_RANGE | Q_PAGE,
	"Summary events (by time) with their Merkle roots and periods."},
    {"alerts", NULL,
	Q(QUERY_OPT_ACTION) | Q(QUERY_OPT_ADDRESS) | Q_RANGE | Q_PAGE,
	"Banned and WrongCountry alerts (--action Banned or WrongCountry;\n"
	"--address: the client's address)."},
    {"topics", NULL, Q_PAGE,
	"Every topic entry: owner, creation, and its settings as last read\n"
	"from the contract."},
    {"status", NULL, 0,
	"The node, the contract, and how far chaind's copy of the chain\n"
	"reaches."},
    {NULL, NULL, 0, NULL},
};

static const struct {
	int opt;
	const char *name; /* the option, and the query's parameter */
	const char *param;
} query_params[] = {
    {QUERY_OPT_TOPIC, "topic", "topic"},
    {QUERY_OPT_ADDRESS, "address", "address"},
    {QUERY_OPT_ACTION, "action", "action"},
    {QUERY_OPT_FROM, "from", "from"},
    {QUERY_OPT_TO, "to", "to"},
    {QUERY_OPT_AT, "at", "at"},
    {QUERY_OPT_LIMIT, "limit", "limit"},
    {QUERY_OPT_AFTER, "after", "after"},
};

static int
query_usage(const struct query_kind *k, int status)
{
	FILE *out = status == CTL_EXIT_OK ? stdout : stderr;
	size_t i;

	fprintf(out, "usage: flytrapctl audit %s%s%s", k->name,
	    k->positional ? " " : "", k->positional ? k->positional : "");
	for (i = 0; i < sizeof(query_params) / sizeof(query_params[0]); i++)
		if (k->options & Q(query_params[i].opt))
			fprintf(out, " [--%s %s]", query_params[i].name,
			    query_params[i].opt == QUERY_OPT_FROM ||
				    query_params[i].opt == QUERY_OPT_TO ||
				    query_params[i].opt == QUERY_OPT_AT
				? "TIME"
				: query_params[i].opt == QUERY_OPT_LIMIT ? "N"
				: query_params[i].opt == QUERY_OPT_AFTER ? "ID"
									 : "X");
	fprintf(out,
	    " [--json]\n%s\n\n"
	    "TIME is Unix seconds, 'now', or a UTC date: 2025-01-31,\n"
	    "2025-01-31T12:00, 2025-01-31T12:00:00Z. Lists come in pages of\n"
	    "--limit (1-1000, default 100); the next page is --after the\n"
	    "`next` id a page ends with.\n\n"
	    "  --status-socket PATH  chaind's status socket (default\n"
	    "                        $FLYTRAP_STATUS_SOCKET, "
	    "else " CTL_DEFAULT_STATUS_SOCKET ")\n"
	    "  --timeout SECONDS     wait at most this long (default 10)\n"
	    "  --json                print chaind's answer as is (one JSON "
	    "line)\n",
	    k->what);
	return status;
}

/* ---- Talking to a daemon ------------------------------------------------- */

enum ctl_query_status
ctl_query_socket(const char *cmd, const char *daemon, const char *path,
    double timeout_s, struct ipc_writer *w, enum ipc_type reply, bool *ok,
    json_t **answer)
{
	struct ipc_reader r;
	const char *text;
	enum ipc_status st;
	uint64_t code;
	size_t len;
	char *body;
	int saved;

	*answer = NULL;
	st = ipc_request_sync(path, w, timeout_s, &body, &len);
	switch (st) {
	case IPC_OK:
		break;
	case IPC_ERR_DISCONNECTED:
		if (errno != ECONNRESET)
			return CTL_QUERY_UNREACHABLE; /* errno says why */
		ctl_error("%s: %s closed the connection to %s without "
			  "answering (another IPC version, or a socket "
			  "without this request?)",
		    cmd, daemon, path);
		return CTL_QUERY_FAILED;
	case IPC_ERR_TIMEOUT:
		ctl_error("%s: %s did not answer on %s within %.0f s", cmd,
		    daemon, path, timeout_s);
		return CTL_QUERY_FAILED;
	case IPC_ERR_VERSION:
		ctl_error("%s: %s speaks another IPC version than this "
			  "flytrapctl (%d): are both from the same build?",
		    cmd, daemon, IPC_VERSION);
		return CTL_QUERY_FAILED;
	default:
		saved = errno;
		ctl_error("%s: %s: %s", cmd, path, ipc_status_str(st));
		errno = saved;
		return CTL_QUERY_FAILED;
	}
	if (ipc_reader_init(&r, body, len) != IPC_OK) {
		ctl_error("%s: %s's reply is malformed", cmd, daemon);
		free(body);
		return CTL_QUERY_FAILED;
	}
	if (r.type == IPC_ERROR_REPLY && ipc_get_u64(&r, &code) == IPC_OK &&
	    ipc_get_str(&r, &text, &len) == IPC_OK &&
	    ipc_get_end(&r) == IPC_OK) {
		ctl_error("%s: %s refused: %.*s (code %llu)", cmd, daemon,
		    (int)len, text, (unsigned long long)code);
	} else if (r.type != reply || ipc_get_bool(&r, ok) != IPC_OK ||
	    ipc_get_str(&r, &text, &len) != IPC_OK ||
	    ipc_get_end(&r) != IPC_OK) {
		ctl_error("%s: unexpected reply %s from %s", cmd,
		    ipc_type_str(r.type), daemon);
	} else if (!json_is_object(*answer = json_loadb(text, len,
				       JSON_REJECT_DUPLICATES, NULL))) {
		json_decref(*answer);
		*answer = NULL;
		ctl_error("%s: %s's answer is not a JSON object", cmd, daemon);
	}
	ipc_reader_done(&r);
	free(body);
	return *answer != NULL ? CTL_QUERY_OK : CTL_QUERY_FAILED;
}

/* ---- Times ----------------------------------------------------------------- */

bool
ctl_time_parse(const char *s, uint64_t *out)
{
	struct tm tm;
	const char *end;
	time_t t;

	if (strcmp(s, "now") == 0) {
		*out = (uint64_t)time(NULL);
		return true;
	}
	if (ctl_u64_parse(s, out))
		return *out <= (uint64_t)INT64_MAX;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return false;
	if (*end == 'T' || *end == ' ') {
		const char *p = end + 1;

		if ((end = strptime(p, "%H:%M:%S", &tm)) == NULL &&
		    (end = strptime(p, "%H:%M", &tm)) == NULL)
			return false;
	}
	if (*end == 'Z')
		end++;
	if (*end != '\0' || (t = timegm(&tm)) < 0)
		return false;
	*out = (uint64_t)t;
	return true;
}

/* ---- Printing for people -------------------------------------------------- */

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static uint64_t
num(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* "2025-01-31 12:00:00 UTC" of a Unix time. */
static const char *
when(uint64_t t)
{
	static char buf[40];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > (uint64_t)INT32_MAX * 1000 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, sizeof(buf), "%" PRIu64, t);
		return buf;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static void
print_until(const json_t *until)
{
	if (json_is_string(until))
		ctl_print_str(json_string_value(until));
	else if (json_is_integer(until))
		printf("%s", when((uint64_t)json_integer_value(until)));
	else
		printf("unknown");
}

/* "grant", "purchase, paid 100 wei" or "join (free)". */
static void
print_how(const json_t *g)
{
	const char *via = str(g, "via");

	ctl_print_str(via);
	if (json_is_true(json_object_get(g, "paid"))) {
		printf(", paid ");
		ctl_print_str(str(g, "price_wei"));
		printf(" wei");
	} else if (strcmp(via, "join") == 0) {
		printf(", free");
	}
}

static void
print_list(const char *label, const json_t *arr, uint64_t more)
{
	const json_t *v;
	size_t i;

	printf("%s:", label);
	if (json_array_size(arr) == 0 && more == 0)
		printf(" none");
	json_array_foreach(arr, i, v)
	{
		printf("%s", i ? ", " : " ");
		ctl_print_str(json_string_value(v));
	}
	if (more > 0)
		printf(" (+%" PRIu64 " more)", more);
	putchar('\n');
}

static void
print_event(const json_t *e)
{
	printf("#%" PRIu64 "  %s  ", num(e, "id"), when(num(e, "time")));
	ctl_print_str(str(e, "action"));
	printf("  ");
	ctl_print_str(str(e, "topic"));
	printf("  %s -> %s", str(e, "source"), str(e, "target"));
	if (str(e, "reason")[0] != '\0') {
		printf("  \"");
		ctl_print_str(str(e, "reason"));
		putchar('"');
	}
	printf("\n      block %" PRIu64 ", tx %s\n", num(e, "block"),
	    str(e, "tx"));
}

static void
print_grants(const char *label, const json_t *arr)
{
	const json_t *g;
	size_t i;

	printf("%s (%zu):%s\n", label, json_array_size(arr),
	    json_array_size(arr) ? "" : " none");
	json_array_foreach(arr, i, g)
	{
		printf("  %s  granted by %s at %s (", str(g, "address"),
		    str(g, "granted_by"), when(num(g, "time")));
		print_how(g);
		printf(") until ");
		print_until(json_object_get(g, "until"));
		printf("\n    reason \"");
		ctl_print_str(str(g, "reason"));
		printf("\", block %" PRIu64 ", tx %s\n", num(g, "block"),
		    str(g, "tx"));
	}
}

static void
print_summary(const json_t *s)
{
	printf("#%" PRIu64 "  ", num(s, "id"));
	ctl_print_str(str(s, "topic"));
	if (json_is_integer(json_object_get(s, "period_start"))) {
		printf("  period %s", when(num(s, "period_start")));
		printf(" .. %s\n", when(num(s, "period_end")));
	} else {
		printf("  (no SummaryRoot)\n");
	}
	if (json_object_get(s, "publishers") != NULL) {
		printf("    ");
		print_list("publishers", json_object_get(s, "publishers"),
		    num(s, "more_publishers"));
		printf("    ");
		print_list("subscribers", json_object_get(s, "subscribers"),
		    num(s, "more_subscribers"));
		printf("    records: %" PRIu64 "\n", num(s, "records"));
	} else {
		printf("    reason \"");
		ctl_print_str(str(s, "reason"));
		printf("\"\n");
	}
	printf("    root %s, reporter %s, block %" PRIu64 ", tx %s\n",
	    json_is_string(json_object_get(s, "root")) ? str(s, "root") : "-",
	    str(s, "reporter"), num(s, "block"), str(s, "tx"));
}

static void
print_topic(const json_t *t)
{
	const json_t *set = json_object_get(t, "settings"), *c;
	size_t i;

	ctl_print_str(str(t, "name"));
	printf("\n    owner %s, created %s (block %" PRIu64 ")\n",
	    str(t, "owner"), when(num(json_object_get(t, "created"), "time")),
	    num(json_object_get(t, "created"), "block"));
	if (!json_is_object(set)) {
		printf("    settings not read from the contract yet\n");
		return;
	}
	printf("    sensitive %s, self-service %s, prices pub %s sub %s wei, "
	       "period %" PRIu64 " s, countries",
	    json_is_true(json_object_get(set, "sensitive")) ? "yes" : "no",
	    json_is_true(json_object_get(set, "self_service")) ? "open"
							       : "closed",
	    str(set, "pub_price_wei"), str(set, "sub_price_wei"),
	    num(set, "period"));
	if (json_array_size(json_object_get(set, "countries")) == 0)
		printf(" any");
	json_array_foreach(json_object_get(set, "countries"), i, c)
	    printf("%s%s", i ? "," : " ", json_string_value(c));
	printf("%s\n",
	    json_is_true(json_object_get(set, "pending"))
		? " (a newer change is being read)"
		: "");
}

static void
print_why(const json_t *o)
{
	const json_t *e, *g;
	size_t i;

	printf("%s on ", str(o, "address"));
	ctl_print_str(str(o, "topic"));
	printf(" at %s: may publish: %s, may subscribe: %s\n",
	    when(num(o, "at")),
	    json_is_true(json_object_get(o, "may_publish")) ? "yes" : "no",
	    json_is_true(json_object_get(o, "may_subscribe")) ? "yes" : "no");
	printf("entries covering it:%s\n",
	    json_array_size(json_object_get(o, "entries")) ? "" : " none");
	json_array_foreach(json_object_get(o, "entries"), i, e)
	{
		static const char *const rights[] = {"publish", "subscribe"};

		printf("  ");
		ctl_print_str(str(e, "entry"));
		putchar('\n');
		for (size_t r = 0; r < 2; r++) {
			g = json_object_get(e, rights[r]);
			printf("    %s: ", rights[r]);
			if (!json_is_object(g)) {
				printf("no\n");
				continue;
			}
			printf("until ");
			print_until(json_object_get(g, "until"));
			printf(" (");
			print_how(g);
			printf(" by %s at %s, \"", str(g, "by"),
			    when(num(g, "time")));
			ctl_print_str(str(g, "reason"));
			printf("\")\n");
		}
	}
	printf("history:%s\n",
	    json_array_size(json_object_get(o, "events")) ? "" : " none");
	json_array_foreach(json_object_get(o, "events"), i, e)
	{
		printf("  %s  ", when(num(e, "time")));
		ctl_print_str(str(e, "action"));
		printf(" on ");
		ctl_print_str(str(e, "entry"));
		printf(" by %s \"", str(e, "by"));
		ctl_print_str(str(e, "reason"));
		printf("\"");
		if (json_object_get(e, "via") != NULL) {
			printf(" (");
			print_how(e);
			printf(")");
		}
		printf(", block %" PRIu64 ", tx %s\n", num(e, "block"),
		    str(e, "tx"));
	}
}

/* Prints an answer of kind k for people. */
static void
query_print(const char *kind, const json_t *o)
{
	const json_t *v, *item;
	const char *key;
	size_t i;

	if (strcmp(kind, "status") == 0) {
		json_object_foreach((json_t *)o, key, v)
		{
			printf("%s: ", key);
			if (json_is_string(v))
				ctl_print_str(json_string_value(v));
			else if (json_is_integer(v))
				printf("%" JSON_INTEGER_FORMAT,
				    json_integer_value(v));
			else if (json_is_boolean(v))
				printf("%s", json_is_true(v) ? "yes" : "no");
			else
				printf("-");
			putchar('\n');
		}
		return;
	}
	if (strcmp(kind, "holders") == 0) {
		printf("entry ");
		ctl_print_str(str(o, "topic"));
		printf(" at %s\n", when(num(o, "at")));
		print_grants("publishers", json_object_get(o, "publishers"));
		print_grants("subscribers", json_object_get(o, "subscribers"));
		return;
	}
	if (strcmp(kind, "why") == 0) {
		print_why(o);
		return;
	}
	if (strcmp(kind, "who") == 0) {
		ctl_print_str(str(o, "topic"));
		printf(", %s", when(num(o, "from")));
		printf(" .. %s:\n",
		    json_is_integer(json_object_get(o, "to"))
			? when(num(o, "to"))
			: "now");
		printf("  ");
		print_list("publishers", json_object_get(o, "publishers"),
		    num(o, "more_publishers"));
		printf("  ");
		print_list("subscribers", json_object_get(o, "subscribers"),
		    num(o, "more_subscribers"));
		printf("  records: %" PRIu64 "\n", num(o, "records"));
	}
	v = json_object_get(o, strcmp(kind, "who") == 0 ? "summaries" : kind);
	if (json_array_size(v) == 0)
		printf("(none)\n");
	json_array_foreach(v, i, item)
	{
		if (strcmp(kind, "topics") == 0)
			print_topic(item);
		else if (strcmp(kind, "summaries") == 0 ||
		    strcmp(kind, "who") == 0)
			print_summary(item);
		else
			print_event(item);
	}
	if (json_is_integer(json_object_get(o, "next")))
		printf("more: --after %" JSON_INTEGER_FORMAT "\n",
		    json_integer_value(json_object_get(o, "next")));
}

/* ---- The command ----------------------------------------------------------- */

int
ctl_audit_query(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"topic", required_argument, NULL, QUERY_OPT_TOPIC},
	    {"address", required_argument, NULL, QUERY_OPT_ADDRESS},
	    {"action", required_argument, NULL, QUERY_OPT_ACTION},
	    {"from", required_argument, NULL, QUERY_OPT_FROM},
	    {"to", required_argument, NULL, QUERY_OPT_TO},
	    {"at", required_argument, NULL, QUERY_OPT_AT},
	    {"limit", required_argument, NULL, QUERY_OPT_LIMIT},
	    {"after", required_argument, NULL, QUERY_OPT_AFTER},
	    {"status-socket", required_argument, NULL, CTL_OPT_STATUS_SOCKET},
	    {"timeout", required_argument, NULL, CTL_OPT_TIMEOUT},
	    {"json", no_argument, NULL, CTL_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct query_kind *k;
	struct ipc_writer w;
	struct ctl_chain c;
	enum ctl_opt_result r;
	enum ctl_query_status qs;
	bool timeout_given = false, ok = false;
	json_t *params, *answer = NULL;
	char *text, kindcmd[64];
	uint64_t t;
	size_t i;
	int ch, status;

	for (k = query_kinds; k->name != NULL; k++)
		if (strcmp(k->name, argv[0]) == 0)
			break;
	if (k->name == NULL) {
		ctl_error("audit: '%s' is not a query of chaind", argv[0]);
		return CTL_EXIT_USAGE;
	}
	snprintf(kindcmd, sizeof(kindcmd), "audit %s", k->name);
	if ((params = json_object()) == NULL) {
		ctl_error("out of memory");
		return CTL_EXIT_FAIL;
	}
	ctl_chain_init(&c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			json_decref(params);
			return query_usage(k, CTL_EXIT_OK);
		}
		if (ch >= QUERY_OPT_TOPIC && ch <= QUERY_OPT_AFTER) {
			const char *name = NULL;

			for (i = 0;
			     i < sizeof(query_params) / sizeof(query_params[0]);
			     i++)
				if (query_params[i].opt == ch)
					name = query_params[i].param;
			if (!(k->options & Q(ch))) {
				ctl_error("%s: --%s is not one of its options",
				    kindcmd, name);
				json_decref(params);
				return query_usage(k, CTL_EXIT_USAGE);
			}
			if (ch == QUERY_OPT_FROM || ch == QUERY_OPT_TO ||
			    ch == QUERY_OPT_AT) {
				if (!ctl_time_parse(optarg, &t)) {
					ctl_error("--%s: '%s' is not a time "
						  "(Unix seconds, 'now', or "
						  "a UTC date like "
						  "2025-01-31T12:00:00Z)",
					    name, optarg);
					json_decref(params);
					return CTL_EXIT_USAGE;
				}
				json_object_set_new(
				    params, name, json_integer((json_int_t)t));
			} else {
				/* chaind judges the rest and says why. */
				json_object_set_new(
				    params, name, json_string(optarg));
			}
			continue;
		}
		if (ch == CTL_OPT_TIMEOUT)
			timeout_given = true;
		if ((r = ctl_chain_option(&c, ch, optarg)) != CTL_OPT_TAKEN) {
			json_decref(params);
			return r == CTL_OPT_BAD
			    ? CTL_EXIT_USAGE
			    : query_usage(k, CTL_EXIT_USAGE);
		}
	}
	/* Positional arguments: TOPIC, or ADDRESS TOPIC. */
	if (k->positional == NULL) {
		if (optind != argc) {
			json_decref(params);
			return query_usage(k, CTL_EXIT_USAGE);
		}
	} else if (strchr(k->positional, ' ') != NULL) {
		if (argc - optind != 2) {
			json_decref(params);
			return query_usage(k, CTL_EXIT_USAGE);
		}
		json_object_set_new(
		    params, "address", json_string(argv[optind]));
		json_object_set_new(
		    params, "topic", json_string(argv[optind + 1]));
	} else {
		if (argc - optind != 1) {
			json_decref(params);
			return query_usage(k, CTL_EXIT_USAGE);
		}
		json_object_set_new(params, "topic", json_string(argv[optind]));
	}
	if (!timeout_given)
		c.timeout_s = QUERY_DEFAULT_TIMEOUT;
	if ((text = json_dumps(params, JSON_COMPACT)) == NULL) {
		/* A text argument that is not UTF-8 cannot be sent. */
		ctl_error("%s: the arguments are not UTF-8 text", kindcmd);
		json_decref(params);
		return CTL_EXIT_USAGE;
	}
	json_decref(params);
	ipc_msg_begin(&w, IPC_AUDIT_QUERY, 1);
	ipc_put_str(&w, k->name, strlen(k->name));
	ipc_put_str(&w, text, strlen(text));
	free(text);
	qs = ctl_query_socket(kindcmd, "chaind", c.status_socket, c.timeout_s,
	    &w, IPC_AUDIT_QUERY_REPLY, &ok, &answer);
	if (qs == CTL_QUERY_UNREACHABLE) {
		ctl_error("%s: cannot connect to chaind's status socket %s: %s "
			  "(is chaind running? give --status-socket PATH or "
			  "set FLYTRAP_STATUS_SOCKET)",
		    kindcmd, c.status_socket, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if (qs != CTL_QUERY_OK)
		return CTL_EXIT_FAIL;
	if (!ok) {
		fprintf(stderr, "flytrapctl: %s: ", kindcmd);
		for (text = (char *)str(answer, "error"); *text != '\0'; text++)
			fputc(
			    (unsigned char)*text < 0x20 ? '?' : *text, stderr);
		fputc('\n', stderr);
		status = CTL_EXIT_FAIL;
	} else {
		if (c.json) {
			if ((text = json_dumps(answer,
				 JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
				json_decref(answer);
				ctl_error("out of memory");
				return CTL_EXIT_FAIL;
			}
			printf("%s\n", text);
			free(text);
		} else {
			query_print(k->name, answer);
		}
		status = CTL_EXIT_OK;
	}
	json_decref(answer);
	return status;
}
