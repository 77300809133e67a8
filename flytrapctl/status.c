/*
 * flytrapctl status: asks chaind over its status socket how the chain side
 * is doing (IPC_STATUS) and prints the JSON object it answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chain.h"
#include "flytrapctl.h"
#include "ipc.h"
#include "ipc_sync.h"

/* Seconds to wait for chaind's answer unless --timeout says otherwise. */
#define STATUS_DEFAULT_TIMEOUT 5.0

static const char status_synopsis[] =
    "status [--status-socket PATH] [--timeout SECONDS] [--json]";
static const char status_what[] =
    "Asks chaind for its figures (node, contract, chain head and sync,\n"
    "wallet, cache) over its status socket: PATH, else\n"
    "$FLYTRAP_STATUS_SOCKET, else " CTL_DEFAULT_STATUS_SOCKET ". Prints\n"
    "them one per line, or chaind's JSON object as is with --json.\n"
    "Waits at most 5 seconds unless --timeout says otherwise.";

static int
status_usage(int status)
{
	fprintf(status == CTL_EXIT_OK ? stdout : stderr,
	    "usage: flytrapctl %s\n%s\n", status_synopsis, status_what);
	return status;
}

/* One value, nested objects and arrays indented below their key. */
static void
status_print_value(const json_t *v, int indent)
{
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		putchar('\n');
		json_object_foreach((json_t *)v, key, item)
		{
			printf("%*s", indent, "");
			ctl_print_str(key);
			putchar(':');
			if (!json_is_object(item) && !json_is_array(item))
				putchar(' ');
			status_print_value(item, indent + 2);
		}
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			printf(" (none)\n");
			break;
		}
		putchar('\n');
		json_array_foreach(v, i, item)
		{
			printf("%*s- ", indent, "");
			status_print_value(item, indent + 2);
		}
		break;
	case JSON_STRING:
		ctl_print_str(json_string_value(v));
		putchar('\n');
		break;
	case JSON_INTEGER:
		printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
		break;
	case JSON_REAL:
		printf("%g\n", json_real_value(v));
		break;
	case JSON_TRUE:
		printf("yes\n");
		break;
	case JSON_FALSE:
		printf("no\n");
		break;
	case JSON_NULL:
		printf("-\n");
		break;
	}
}

/* Prints the reply: IPC_STATUS_REPLY (str) or IPC_ERROR_REPLY. */
static int
status_print_reply(const struct ctl_chain *c, const char *body, size_t len)
{
	struct ipc_reader r;
	const char *text;
	json_t *o, *item;
	const char *key;
	uint64_t code;
	size_t tlen;

	if (ipc_reader_init(&r, body, len) != IPC_OK) {
		ctl_error("status: chaind's reply is malformed");
		return CTL_EXIT_FAIL;
	}
	if (r.type == IPC_ERROR_REPLY && ipc_get_u64(&r, &code) == IPC_OK &&
	    ipc_get_str(&r, &text, &tlen) == IPC_OK &&
	    ipc_get_end(&r) == IPC_OK) {
		ctl_error("status: chaind refused: %.*s (code %llu)", (int)tlen,
		    text, (unsigned long long)code);
		ipc_reader_done(&r);
		return CTL_EXIT_FAIL;
	}
	if (r.type != IPC_STATUS_REPLY ||
	    ipc_get_str(&r, &text, &tlen) != IPC_OK ||
	    ipc_get_end(&r) != IPC_OK) {
		ctl_error("status: unexpected reply %s from chaind",
		    ipc_type_str(r.type));
		ipc_reader_done(&r);
		return CTL_EXIT_FAIL;
	}
	o = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		ctl_error("status: chaind's answer is not a JSON object");
		ipc_reader_done(&r);
		return CTL_EXIT_FAIL;
	}
	if (c->json) {
		fwrite(text, 1, tlen, stdout);
		putchar('\n');
	} else {
		json_object_foreach(o, key, item)
		{
			ctl_print_str(key);
			putchar(':');
			if (!json_is_object(item) && !json_is_array(item))
				putchar(' ');
			status_print_value(item, 2);
		}
	}
	json_decref(o);
	ipc_reader_done(&r);
	return CTL_EXIT_OK;
}

int
ctl_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"status-socket", required_argument, NULL, CTL_OPT_STATUS_SOCKET},
	    {"timeout", required_argument, NULL, CTL_OPT_TIMEOUT},
	    {"json", no_argument, NULL, CTL_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ipc_writer w;
	struct ctl_chain c;
	enum ipc_status st;
	bool timeout_given = false;
	enum ctl_opt_result r;
	size_t len;
	char *body;
	int ch, status;

	ctl_chain_init(&c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h')
			return status_usage(CTL_EXIT_OK);
		if (ch == CTL_OPT_TIMEOUT)
			timeout_given = true;
		if ((r = ctl_chain_option(&c, ch, optarg)) != CTL_OPT_TAKEN)
			return r == CTL_OPT_BAD ? CTL_EXIT_USAGE
						: status_usage(CTL_EXIT_USAGE);
	}
	if (optind != argc)
		return status_usage(CTL_EXIT_USAGE);
	if (!timeout_given)
		c.timeout_s = STATUS_DEFAULT_TIMEOUT;

	ipc_msg_begin(&w, IPC_STATUS, 1);
	st = ipc_request_sync(c.status_socket, &w, c.timeout_s, &body, &len);
	switch (st) {
	case IPC_OK:
		break;
	case IPC_ERR_DISCONNECTED:
		if (errno == ECONNRESET)
			ctl_error("status: chaind closed the connection to %s "
				  "without answering (another IPC version?)",
			    c.status_socket);
		else
			ctl_error("status: cannot connect to chaind's status "
				  "socket %s: %s (is chaind running? give "
				  "--status-socket PATH or set "
				  "FLYTRAP_STATUS_SOCKET)",
			    c.status_socket, strerror(errno));
		return CTL_EXIT_FAIL;
	case IPC_ERR_TIMEOUT:
		ctl_error("status: chaind did not answer on %s within %.0f s",
		    c.status_socket, c.timeout_s);
		return CTL_EXIT_FAIL;
	case IPC_ERR_VERSION:
		ctl_error("status: chaind speaks another IPC version than "
			  "this flytrapctl (%d): are both from the same build?",
		    IPC_VERSION);
		return CTL_EXIT_FAIL;
	default:
		ctl_error(
		    "status: %s: %s", c.status_socket, ipc_status_str(st));
		return CTL_EXIT_FAIL;
	}
	status = status_print_reply(&c, body, len);
	free(body);
	return status;
}
