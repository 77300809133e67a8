/*
 * chaind's read-only HTTP server ([chaind] http_listen, libmicrohttpd):
 * the audit API (GET /api/v1/<kind>), /metrics, and the auditor's page
 * from [chaind] web_root. It runs on chaind's libev loop, not in a thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "audit.h"
#include "chaind.h"
#include "log.h"

/*
 * Why on the loop: audit_query and the metrics read chaind's state and
 * sqlite connection, which only the loop's thread may touch. MHD runs in
 * its "external" epoll mode: its epoll descriptor is one ev_io watcher,
 * MHD_get_timeout() one ev_timer, and MHD_run() does the work of both.
 * An audit query reads along sqlite indexes and answers a bounded page
 * (holders and why replay one entry's grants), so answering it on the
 * loop delays proxyd's permission answers by milliseconds; the HTTP side
 * holds no lock and shares nothing with another thread.
 */

/* Bytes MHD may use per connection: the request line and headers. */
#define HTTP_MEMORY_LIMIT (32 * 1024)
#define HTTP_MAX_CONNECTIONS 64
#define HTTP_MAX_PER_IP 16
/* Seconds an idle connection stays open. */
#define HTTP_IDLE_TIMEOUT_S 15
/* Query parameters per API request. */
#define HTTP_MAX_PARAMS 32
/* Static files: path length, one name's length, and the largest file. */
#define HTTP_PATH_MAX 256
#define HTTP_NAME_MAX 100
#define HTTP_FILE_MAX (16 * 1024 * 1024)

#define HTTP_API_PREFIX "/api/v1/"
#define HTTP_CSP                                                               \
	"default-src 'self'; base-uri 'none'; form-action 'self'; "            \
	"frame-ancestors 'none'"

/* The audit kinds the HTTP API serves (docs/AUDIT.md); others are 404. */
static const char *const http_kinds[] = {
    "status",
    "topics",
    "holders",
    "who",
    "why",
    "events",
    "summaries",
    "alerts",
};

static const struct {
	const char *ext;
	const char *type;
} http_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
};

static struct {
	struct chaind *cd;
	struct MHD_Daemon *mhd;
	ev_io io;
	ev_timer timer;
} http;

/* ---- Responses --------------------------------------------------------- */

/* Headers every answer carries: nothing is framed, sniffed or cached. */
static void
http_common_headers(struct MHD_Response *r)
{
	if (MHD_add_response_header(r, "Content-Security-Policy", HTTP_CSP) !=
		MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") !=
		MHD_YES ||
	    MHD_add_response_header(r, "X-Frame-Options", "DENY") != MHD_YES ||
	    MHD_add_response_header(r, "Referrer-Policy", "no-referrer") !=
		MHD_YES)
		fatalx("out of memory");
}

/* Queues `r` (consumed) with `status`; what MHD_queue_response returns. */
static enum MHD_Result
http_send(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r,
    const char *type, const char *cache)
{
	enum MHD_Result ret;

	http_common_headers(r);
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) !=
		MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache) !=
		MHD_YES)
		fatalx("out of memory");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A JSON answer; takes a reference of o. */
static enum MHD_Result
http_send_json(struct MHD_Connection *conn, unsigned status, json_t *o)
{
	struct MHD_Response *r;
	char *text;

	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	json_decref(o);
	r = MHD_create_response_from_buffer(
	    strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		fatalx("out of memory");
	return http_send(conn, status, r, "application/json", "no-store");
}

/* {"error": why}; a why that is not UTF-8 (cut from a request) is replaced. */
static enum MHD_Result
http_send_error(struct MHD_Connection *conn, unsigned status, const char *why)
{
	json_t *text = json_string(why);

	if (text == NULL)
		text = json_string("bad request");
	return http_send_json(conn, status, json_pack("{s:o}", "error", text));
}

static enum MHD_Result
http_send_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(
	    strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		fatalx("out of memory");
	return http_send(
	    conn, status, r, "text/plain; charset=utf-8", "no-store");
}

/* ---- The audit API ----------------------------------------------------- */

struct http_params {
	json_t *o;
	const char *error; /* the first thing wrong, or NULL */
	char error_buf[160];
};

/*
 * Each query parameter becomes a string member of the parameters object
 * (audit_query takes numbers as strings too). One given empty counts as
 * absent, as HTML forms send the fields left blank.
 */
static enum MHD_Result
http_on_param(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_len, const char *value, size_t value_len)
{
	struct http_params *p = cls;
	json_t *v;

	(void)kind;
	if (key_len == 0 || strlen(key) != key_len ||
	    (value != NULL && strlen(value) != value_len)) {
		p->error = "a parameter contains a NUL byte";
		return MHD_NO;
	}
	if (value == NULL || value_len == 0)
		return MHD_YES;
	if (json_object_size(p->o) == HTTP_MAX_PARAMS) {
		p->error = "too many parameters";
		return MHD_NO;
	}
	if (json_object_get(p->o, key) != NULL) {
		snprintf(p->error_buf, sizeof(p->error_buf),
		    "parameter '%.64s' given twice", key);
		p->error = p->error_buf;
		return MHD_NO;
	}
	if ((v = json_stringn(value, value_len)) == NULL ||
	    json_object_set_new(p->o, key, v) != 0) {
		p->error = "a parameter is not UTF-8";
		return MHD_NO;
	}
	return MHD_YES;
}

/*
 * The node's URL as the API shows it: scheme, host and port only. A
 * provider's URL often carries an API key in its path or user part, and
 * the API is for anyone who can reach it.
 */
static void
http_public_node(json_t *answer)
{
	json_t *node = json_object_get(answer, "node");
	const char *url, *host, *end, *at;
	char out[300];
	size_t scheme_len;

	if (!json_is_string(node))
		return;
	url = json_string_value(node);
	out[0] = '\0';
	if ((host = strstr(url, "://")) != NULL) {
		scheme_len = (size_t)(host - url);
		host += 3;
		end = host + strcspn(host, "/?#");
		for (at = host; at < end; at++)
			if (*at == '@')
				host = at + 1;
		if (scheme_len <= 16 && (size_t)(end - host) < 256)
			snprintf(out, sizeof(out), "%.*s://%.*s",
			    (int)scheme_len, url, (int)(end - host), host);
	}
	if ((node = json_string(out)) == NULL)
		node = json_string("");
	json_object_set_new(answer, "node", node);
}

static enum MHD_Result
http_api(struct MHD_Connection *conn, const char *kind)
{
	struct http_params p;
	char err[512];
	json_t *answer;
	size_t i;

	for (i = 0; i < sizeof(http_kinds) / sizeof(http_kinds[0]); i++)
		if (strcmp(kind, http_kinds[i]) == 0)
			break;
	if (i == sizeof(http_kinds) / sizeof(http_kinds[0]))
		return http_send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
	memset(&p, 0, sizeof(p));
	if ((p.o = json_object()) == NULL)
		fatalx("out of memory");
	(void)MHD_get_connection_values_n(
	    conn, MHD_GET_ARGUMENT_KIND, http_on_param, &p);
	if (p.error != NULL) {
		json_decref(p.o);
		return http_send_error(conn, MHD_HTTP_BAD_REQUEST, p.error);
	}
	err[0] = '\0';
	answer = audit_query(http.cd, kind, p.o, err, sizeof(err));
	json_decref(p.o);
	if (answer == NULL) {
		log_debug("http: %s: %s", kind, err);
		return http_send_error(conn, MHD_HTTP_BAD_REQUEST,
		    err[0] != '\0' ? err : "bad request");
	}
	if (strcmp(kind, "status") == 0)
		http_public_node(answer);
	return http_send_json(conn, MHD_HTTP_OK, answer);
}

static enum MHD_Result
http_metrics(struct MHD_Connection *conn)
{
	struct MHD_Response *r;
	size_t len;
	char *text;

	text = metrics_render(http.cd, &len);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		fatalx("out of memory");
	return http_send(conn, MHD_HTTP_OK, r,
	    "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

/* ---- The page ---------------------------------------------------------- */

/*
 * Checks a static path ("/", "/app.js", "/img/logo.svg") and gives the
 * file's path relative to web_root and its content type. Every name must
 * be plain ([A-Za-z0-9._-], not starting with a dot), so "..", hidden
 * files and empty names are refused, however they were escaped.
 */
static bool
http_static_path(const char *url, char *rel, size_t rellen, const char **type)
{
	const char *name, *p, *ext;
	size_t i, n;

	if (strcmp(url, "/") == 0)
		url = "/index.html";
	n = strlen(url);
	if (url[0] != '/' || n > HTTP_PATH_MAX || n >= rellen)
		return false;
	for (name = url + 1;; name = p + 1) {
		p = strchr(name, '/');
		n = p != NULL ? (size_t)(p - name) : strlen(name);
		if (n == 0 || n > HTTP_NAME_MAX || name[0] == '.')
			return false;
		for (i = 0; i < n; i++) {
			char c = name[i];

			if (!((c >= 'a' && c <= 'z') ||
				(c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '.' ||
				c == '_' || c == '-'))
				return false;
		}
		if (p == NULL)
			break;
	}
	if ((ext = strrchr(url, '.')) == NULL)
		return false;
	for (i = 0; i < sizeof(http_types) / sizeof(http_types[0]); i++) {
		if (strcmp(ext, http_types[i].ext) == 0) {
			*type = http_types[i].type;
			memcpy(rel, url + 1, strlen(url));
			return true;
		}
	}
	return false;
}

static enum MHD_Result
http_static(struct MHD_Connection *conn, const char *url)
{
	const char *root = http.cd->cfg->chaind.web_root, *type;
	char rel[HTTP_PATH_MAX + 1], path[4096];
	struct MHD_Response *r;
	struct stat sb;
	int fd;

	if (!http_static_path(url, rel, sizeof(rel), &type) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >=
		sizeof(path))
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > HTTP_FILE_MAX) {
		close(fd);
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	if ((r = MHD_create_response_from_fd((size_t)sb.st_size, fd)) == NULL)
		fatalx("out of memory");
	return http_send(conn, MHD_HTTP_OK, r, type, "no-cache");
}

/* ---- Requests ---------------------------------------------------------- */

static enum MHD_Result
http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	log_debug("http: %s %.200s", method, url);
	/* Answered before any body is read; MHD then closes the connection. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		static const char body[] = "{\"error\":\"method not allowed\"}";

		r = MHD_create_response_from_buffer(
		    sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
		if (r == NULL ||
		    MHD_add_response_header(
			r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
			fatalx("out of memory");
		return http_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r,
		    "application/json", "no-store");
	}
	if (strncmp(url, HTTP_API_PREFIX, strlen(HTTP_API_PREFIX)) == 0)
		ret = http_api(conn, url + strlen(HTTP_API_PREFIX));
	else if (strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0)
		ret = http_send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
	else if (strcmp(url, "/metrics") == 0)
		ret = http_metrics(conn);
	else
		ret = http_static(conn, url);
	return ret;
}

static int
http_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes %HH in the path and the query, in place, except %00: a NUL
 * would cut the path short of what the checks saw ("/index.html%00.js"),
 * so it stays as the three characters, which no file name may contain.
 * Returns the new length.
 */
static size_t
http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *out = s;
	const char *in = s;
	int hi, lo;

	(void)cls;
	(void)conn;
	while (*in != '\0') {
		if (in[0] == '%' && (hi = http_hex_digit(in[1])) >= 0 &&
		    (lo = http_hex_digit(in[2])) >= 0 && (hi | lo) != 0) {
			*out++ = (char)(hi * 16 + lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* ---- The loop ---------------------------------------------------------- */

/* Arms the timer for MHD's next deadline (0: work is pending now). */
static void
http_rearm(void)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct ev_loop *loop = http.cd->loop;

	ev_timer_stop(loop, &http.timer);
	if (MHD_get_timeout(http.mhd, &ms) != MHD_YES)
		return;
	if (ms > 60000)
		ms = 60000;
	ev_timer_set(&http.timer, (double)ms / 1000.0, 0.);
	ev_timer_start(loop, &http.timer);
}

static void
http_run(void)
{
	if (MHD_run(http.mhd) != MHD_YES)
		log_warn("http: MHD_run failed");
	http_rearm();
}

static void
http_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	http_run();
}

static void
http_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	http_run();
}

__attribute__((format(printf, 2, 0))) static void
http_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_warn("http: %s", line);
}

/*
 * Binds "host:port" ("127.0.0.1:8780", "[::1]:8780", "localhost:8780":
 * the first address the name resolves to). Any failure is fatal: an
 * operator who configured the API wants to know at start that it is not
 * there.
 */
static int
http_bind(const char *spec)
{
	struct addrinfo hints, *res;
	const char *host = spec, *port;
	char name[256];
	size_t host_len;
	int fd, rc, one = 1;

	if (spec[0] == '[') {
		host = spec + 1;
		if ((port = strstr(host, "]:")) == NULL)
			goto bad;
		host_len = (size_t)(port - host);
		port += 2;
	} else {
		if ((port = strrchr(spec, ':')) == NULL)
			goto bad;
		host_len = (size_t)(port - host);
		port++;
	}
	if (host_len == 0 || host_len >= sizeof(name) || *port == '\0' ||
	    strspn(port, "0123456789") != strlen(port))
		goto bad;
	memcpy(name, host, host_len);
	name[host_len] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(name, port, &hints, &res)) != 0)
		fatalx("[chaind] http_listen %s: %s", spec, gai_strerror(rc));
	fd = socket(
	    res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("[chaind] http_listen %s: socket", spec);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		(void)setsockopt(
		    fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0)
		fatalx("[chaind] http_listen %s: %s", spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
bad:
	fatalx("[chaind] http_listen '%s': not a host:port "
	       "(127.0.0.1:8780, [::1]:8780; empty: off)",
	    spec);
}

void
http_open(struct chaind *cd)
{
	const char *spec = cd->cfg->chaind.http_listen;
	const union MHD_DaemonInfo *info;
	struct stat sb;
	int fd;

	http.cd = cd;
	if (spec[0] == '\0') {
		log_info("HTTP API off ([chaind] http_listen is empty)");
		return;
	}
	fd = http_bind(spec);
	http.mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL,
	    NULL, http_on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, http_on_mhd_log, NULL, MHD_OPTION_END);
	if (http.mhd == NULL)
		fatalx("[chaind] http_listen %s: cannot start the HTTP server",
		    spec);
	info = MHD_get_daemon_info(http.mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0)
		fatalx("the HTTP server has no epoll descriptor");
	ev_io_init(&http.io, http_on_io, info->epoll_fd, EV_READ);
	ev_io_start(cd->loop, &http.io);
	ev_timer_init(&http.timer, http_on_timer, 0., 0.);
	http_rearm();
	if (stat(cd->cfg->chaind.web_root, &sb) != 0 || !S_ISDIR(sb.st_mode))
		log_warn("[chaind] web_root %s is not a directory: the API "
			 "and /metrics answer, the page does not",
		    cd->cfg->chaind.web_root);
	log_info("HTTP API, /metrics and the page (%s) on http://%s/",
	    cd->cfg->chaind.web_root, spec);
}

void
http_close(struct chaind *cd)
{
	if (http.mhd == NULL)
		return;
	ev_io_stop(cd->loop, &http.io);
	ev_timer_stop(cd->loop, &http.timer);
	MHD_stop_daemon(http.mhd);
	http.mhd = NULL;
}
