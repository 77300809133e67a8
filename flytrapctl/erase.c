/*
 * flytrapctl erase SUBJECT: forgets a person's address or IP where FlyTrap
 * keeps it off the chain — chaind's alert rows (IPC_ERASE on wallet.sock)
 * and reportd's access records (IPC_REPORT_QUERY "erase" on
 * reportd-admin.sock) — and lists what stays on the public chain, which
 * nobody can erase (docs/AUDIT.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chain.h"
#include "config.h"
#include "eth.h"
#include "flytrapctl.h"
#include "ipc.h"
#include "netaddr.h"

#define ERASE_WALLET_SOCKET "wallet.sock"
#define ERASE_REPORTD_SOCKET "reportd-admin.sock"
#define ERASE_DEFAULT_TIMEOUT 30.0

enum erase_opt {
	ERASE_OPT_WALLET = 0x400,
	ERASE_OPT_REPORTD,
	ERASE_OPT_CONFIG,
	ERASE_OPT_TIMEOUT,
	ERASE_OPT_JSON,
};

static const char erase_help[] =
    "usage: flytrapctl erase SUBJECT [--wallet-socket PATH]\n"
    "       [--reportd-socket PATH] [--config FILE] [--timeout SECONDS] "
    "[--json]\n"
    "Forgets SUBJECT, an address (0x and 40 hex digits) or an IP, where\n"
    "FlyTrap keeps it off the chain: chaind's alert rows naming it, and,\n"
    "for an address, reportd's access records. Then lists what stays on\n"
    "the public chain about it (events naming the address, summaries\n"
    "listing it, alerts naming the IP's keyed hash or the IP): that cannot\n"
    "be erased. Exits 1 unless both daemons erased.\n\n"
    "  --wallet-socket PATH   chaind's wallet socket; else\n"
    "                         $FLYTRAP_WALLET_SOCKET, else\n"
    "                         <runtime_dir>/" ERASE_WALLET_SOCKET "\n"
    "  --reportd-socket PATH  reportd's admin socket; else\n"
    "                         $FLYTRAP_REPORTD_ADMIN_SOCKET, else\n"
    "                         <runtime_dir>/" ERASE_REPORTD_SOCKET "\n"
    "  --config FILE          where runtime_dir is read (default\n"
    "                         $FLYTRAP_CONFIG, else " FLYTRAP_CONFIG_PATH ")\n"
    "  --timeout SECONDS      wait at most this long for each (default "
    "30)\n"
    "  --json                 one JSON object: {chaind, reportd}\n";

struct erase {
	const char *wallet, *reportd, *config;
	double timeout_s;
	bool json;
	char wallet_path[512], reportd_path[512];
};

/* Decides both socket paths (reading the configuration if needed). */
static bool
erase_paths(struct erase *e)
{
	return ctl_socket_path(e->wallet, "FLYTRAP_WALLET_SOCKET", e->config,
		   ERASE_WALLET_SOCKET, e->wallet_path,
		   sizeof(e->wallet_path)) &&
	    ctl_socket_path(e->reportd, "FLYTRAP_REPORTD_ADMIN_SOCKET",
		e->config, ERASE_REPORTD_SOCKET, e->reportd_path,
		sizeof(e->reportd_path));
}

static void
print_error(const char *what, const json_t *answer)
{
	const char *s = json_string_value(json_object_get(answer, "error"));

	fprintf(stderr, "flytrapctl: erase: %s: ", what);
	if (s != NULL)
		ctl_print_text(stderr, s, strlen(s));
	fputc('\n', stderr);
}

/* chaind's answer, for people. */
static void
erase_print_chaind(const json_t *o)
{
	const json_t *items = json_object_get(o, "remains_on_chain"), *it;
	json_int_t total =
	    json_integer_value(json_object_get(o, "remains_total"));
	size_t i;

	printf("chaind: removed %" JSON_INTEGER_FORMAT " local alert row(s) "
	       "about ",
	    json_integer_value(
		json_object_get(json_object_get(o, "removed"), "alert_rows")));
	ctl_print_str(json_string_value(json_object_get(o, "subject")));
	putchar('\n');
	if (json_is_string(json_object_get(o, "note"))) {
		printf("  note: ");
		ctl_print_str(json_string_value(json_object_get(o, "note")));
		putchar('\n');
	}
	printf("remains on the public chain (cannot be erased): "
	       "%" JSON_INTEGER_FORMAT " event(s)%s\n",
	    total, total ? ":" : "");
	json_array_foreach(items, i, it)
	{
		printf("  #%" JSON_INTEGER_FORMAT " ",
		    json_integer_value(json_object_get(it, "id")));
		ctl_print_str(json_string_value(json_object_get(it, "action")));
		printf(" ");
		ctl_print_str(json_string_value(json_object_get(it, "topic")));
		printf(" (");
		ctl_print_str(json_string_value(json_object_get(it, "why")));
		printf("), block %" JSON_INTEGER_FORMAT ", tx ",
		    json_integer_value(json_object_get(it, "block")));
		ctl_print_str(json_string_value(json_object_get(it, "tx")));
		putchar('\n');
	}
	if ((json_int_t)json_array_size(items) < total)
		printf("  ... and %" JSON_INTEGER_FORMAT " more (see "
		       "`flytrapctl audit events --address`)\n",
		    total - (json_int_t)json_array_size(items));
}

int
ctl_erase(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"wallet-socket", required_argument, NULL, ERASE_OPT_WALLET},
	    {"reportd-socket", required_argument, NULL, ERASE_OPT_REPORTD},
	    {"config", required_argument, NULL, ERASE_OPT_CONFIG},
	    {"timeout", required_argument, NULL, ERASE_OPT_TIMEOUT},
	    {"json", no_argument, NULL, ERASE_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct erase e;
	struct ipc_writer w;
	enum ctl_query_status qs;
	json_t *chaind = NULL, *reportd = NULL, *out;
	uint8_t addr[ETH_ADDRESS_LEN];
	char address[ETH_ADDRESS_HEX_SIZE], *text;
	struct netaddr ip;
	const char *subject;
	bool ok, is_address, failed = false;
	int ch;

	memset(&e, 0, sizeof(e));
	e.timeout_s = ERASE_DEFAULT_TIMEOUT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(erase_help, stdout);
			return CTL_EXIT_OK;
		case ERASE_OPT_WALLET:
			e.wallet = optarg;
			break;
		case ERASE_OPT_REPORTD:
			e.reportd = optarg;
			break;
		case ERASE_OPT_CONFIG:
			e.config = optarg;
			break;
		case ERASE_OPT_TIMEOUT:
			if (!ctl_timeout_parse(optarg, &e.timeout_s))
				return CTL_EXIT_USAGE;
			break;
		case ERASE_OPT_JSON:
			e.json = true;
			break;
		default:
			fputs(erase_help, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(erase_help, stderr);
		return CTL_EXIT_USAGE;
	}
	subject = argv[optind];
	is_address = eth_address_parse(subject, strlen(subject), addr);
	if (!is_address && !netaddr_parse(subject, strlen(subject), &ip)) {
		ctl_error("erase: '%s' is neither an address (0x and 40 hex "
			  "digits) nor an IP address",
		    subject);
		return CTL_EXIT_USAGE;
	}
	if (!erase_paths(&e))
		return CTL_EXIT_FAIL;

	/* chaind: the alert rows, and what stays on-chain. */
	ipc_msg_begin(&w, IPC_ERASE, 1);
	ipc_put_str(&w, subject, strlen(subject));
	qs = ctl_query_socket("erase", "chaind", e.wallet_path, e.timeout_s, &w,
	    IPC_ERASE_REPLY, &ok, &chaind);
	if (qs == CTL_QUERY_UNREACHABLE) {
		ctl_error("erase: chaind not reachable on %s (%s): its records "
			  "were not erased (chaind has this socket only with "
			  "a keystore; give --wallet-socket PATH or set "
			  "FLYTRAP_WALLET_SOCKET)",
		    e.wallet_path, strerror(errno));
		failed = true;
	} else if (qs != CTL_QUERY_OK) {
		failed = true;
	} else if (!ok) {
		print_error("chaind", chaind);
		failed = true;
		json_decref(chaind);
		chaind = NULL;
	} else if (!e.json) {
		erase_print_chaind(chaind);
	}

	/* reportd keeps addresses only, never IPs. */
	if (is_address) {
		eth_address_hex(addr, address);
		if ((out = json_pack("{s:s}", "address", address)) == NULL ||
		    (text = json_dumps(out, JSON_COMPACT)) == NULL) {
			ctl_error("out of memory");
			return CTL_EXIT_FAIL;
		}
		json_decref(out);
		ipc_msg_begin(&w, IPC_REPORT_QUERY, 1);
		ipc_put_str(&w, "erase", 5);
		ipc_put_str(&w, text, strlen(text));
		free(text);
		qs = ctl_query_socket("erase", "reportd", e.reportd_path,
		    e.timeout_s, &w, IPC_REPORT_QUERY_REPLY, &ok, &reportd);
		if (qs == CTL_QUERY_UNREACHABLE) {
			ctl_error("erase: reportd not reachable: its records "
				  "were not erased (%s: %s)",
			    e.reportd_path, strerror(errno));
			failed = true;
		} else if (qs != CTL_QUERY_OK) {
			failed = true;
		} else if (!ok) {
			print_error("reportd", reportd);
			failed = true;
			json_decref(reportd);
			reportd = NULL;
		} else if (!e.json) {
			printf("reportd: erased %" JSON_INTEGER_FORMAT
			       " access record(s) of %s\n",
			    json_integer_value(
				json_object_get(reportd, "erased")),
			    address);
		}
	} else if (!e.json) {
		printf("reportd: keeps no IPs, nothing to erase there\n");
	}
	if (e.json) {
		out = json_pack("{s:o, s:o}", "chaind",
		    chaind ? json_incref(chaind) : json_null(), "reportd",
		    reportd ? json_incref(reportd) : json_null());
		if (out != NULL &&
		    (text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS)) !=
			NULL) {
			printf("%s\n", text);
			free(text);
		}
		json_decref(out);
	}
	json_decref(chaind);
	json_decref(reportd);
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
