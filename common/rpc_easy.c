/*
 * One JSON-RPC transfer with libcurl: settings, the capped response body,
 * what a finished transfer means, and the blocking rpc_call_sync. The event
 * loop side is rpc_client.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "rpc.h"
#include "rpc_internal.h"

/* Bounds on the options: beyond them a setting is a mistake. */
#define RPC_MAX_RESPONSE_LIMIT ((size_t)1 << 30)
#define RPC_MAX_IN_FLIGHT_LIMIT 1024
#define RPC_MAX_QUEUED_LIMIT (1u << 24)
#define RPC_MAX_URL_LEN 4096

/* ---- Settings ----------------------------------------------------------- */

/*
 * curl_global_init is not thread-safe in every libcurl; the daemons and
 * flytrapctl are single-threaded and reach it only through here.
 */
static bool
rpc_curl_global_init(void)
{
	static bool done;

	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return false;
		done = true;
		if ((curl_version_info(CURLVERSION_NOW)->features &
			CURL_VERSION_ASYNCHDNS) == 0)
			log_warn("rpc: libcurl resolves names synchronously; "
				 "a slow DNS server can stall the event loop");
	}
	return true;
}

static bool
rpc_url_ok(const char *url)
{
	size_t len;

	if (url == NULL)
		return false;
	len = strlen(url);
	if (len > RPC_MAX_URL_LEN)
		return false;
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];

		if (ch <= 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static char *
rpc_strdup_or_null(const char *s, bool *failed)
{
	char *copy;

	if (s == NULL)
		return NULL;
	if ((copy = strdup(s)) == NULL)
		*failed = true;
	return copy;
}

enum rpc_status
rpc_settings_init(
    struct rpc_settings *s, const char *url, const struct rpc_options *opts)
{
	static const struct rpc_options defaults;
	const struct rpc_options *o = opts != NULL ? opts : &defaults;
	bool failed = false;

	memset(s, 0, sizeof(*s));
	if (!rpc_url_ok(url)) {
		log_err("rpc: node URL must be http:// or https:// without "
			"spaces");
		return RPC_ERR_INVALID;
	}
	if (o->max_response_bytes > RPC_MAX_RESPONSE_LIMIT ||
	    o->max_in_flight > RPC_MAX_IN_FLIGHT_LIMIT ||
	    o->max_queued > RPC_MAX_QUEUED_LIMIT ||
	    o->max_depth > RPC_MAX_DEPTH_LIMIT) {
		log_err("rpc: option out of range (max %zu response bytes, "
			"%d in flight, %u queued, depth %d)",
		    RPC_MAX_RESPONSE_LIMIT, RPC_MAX_IN_FLIGHT_LIMIT,
		    RPC_MAX_QUEUED_LIMIT, RPC_MAX_DEPTH_LIMIT);
		return RPC_ERR_INVALID;
	}
	if (!rpc_curl_global_init())
		return RPC_ERR_NOMEM;
	s->timeout_ms =
	    o->timeout_ms != 0 ? (long)o->timeout_ms : RPC_DEFAULT_TIMEOUT_MS;
	s->max_response = o->max_response_bytes != 0 ? o->max_response_bytes
						     : RPC_DEFAULT_MAX_RESPONSE;
	s->max_in_flight = o->max_in_flight != 0 ? o->max_in_flight
						 : RPC_DEFAULT_MAX_IN_FLIGHT;
	s->max_queued =
	    o->max_queued != 0 ? o->max_queued : RPC_DEFAULT_MAX_QUEUED;
	s->max_depth = o->max_depth != 0 ? o->max_depth : RPC_DEFAULT_MAX_DEPTH;
	s->insecure = o->insecure;
	s->url = rpc_strdup_or_null(url, &failed);
	s->ca_file = rpc_strdup_or_null(o->ca_file, &failed);
	s->user_agent = rpc_strdup_or_null(
	    o->user_agent != NULL ? o->user_agent : "flytrap", &failed);
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (s->headers != NULL &&
	    curl_slist_append(s->headers, "Accept: application/json") == NULL)
		failed = true;
	/* No "Expect: 100-continue" round trip for large requests. */
	if (s->headers != NULL &&
	    curl_slist_append(s->headers, "Expect:") == NULL)
		failed = true;
	if (failed || s->headers == NULL) {
		rpc_settings_free(s);
		return RPC_ERR_NOMEM;
	}
	return RPC_OK;
}

void
rpc_settings_free(struct rpc_settings *s)
{
	free(s->url);
	free(s->ca_file);
	free(s->user_agent);
	curl_slist_free_all(s->headers);
	memset(s, 0, sizeof(*s));
}

/* ---- One transfer ------------------------------------------------------- */

/*
 * libcurl's write callback: appends to the body, or aborts the transfer
 * (a short count makes curl fail with CURLE_WRITE_ERROR) as soon as the
 * body would pass its cap, so a hostile node cannot make us buffer more.
 */
static size_t
rpc_body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct rpc_body *b = userdata;
	size_t n = size * nmemb;
	size_t cap;
	char *p;

	if (n > b->max - b->len) {
		b->too_large = true;
		return 0;
	}
	if (n > b->cap - b->len) {
		cap = b->cap != 0 ? b->cap : 4096;
		while (cap < b->len + n)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		if ((p = realloc(b->data, cap)) == NULL) {
			b->nomem = true;
			return 0;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	return n;
}

/*
 * libcurl's header callback: counts the response head (all of it, over
 * redirects and 1xx answers) and aborts past RPC_MAX_HEADER_BYTES.
 */
static size_t
rpc_header_count(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct rpc_body *b = userdata;
	size_t n = size * nmemb;

	(void)ptr;
	if (n > RPC_MAX_HEADER_BYTES - b->header_bytes) {
		b->head_too_large = true;
		return 0;
	}
	b->header_bytes += n;
	return n;
}

#define RPC_SETOPT(e, opt, val)                                                \
	do {                                                                   \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK)                 \
			goto fail;                                             \
	} while (0)

CURL *
rpc_easy_new(const struct rpc_settings *s, const char *request,
    struct rpc_body *body, char *errbuf, long timeout_ms)
{
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	errbuf[0] = '\0';
	body->max = s->max_response;
	RPC_SETOPT(e, CURLOPT_ERRORBUFFER, errbuf);
	RPC_SETOPT(e, CURLOPT_URL, s->url);
	RPC_SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	RPC_SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	RPC_SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	RPC_SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
	RPC_SETOPT(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	RPC_SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	RPC_SETOPT(e, CURLOPT_HTTPHEADER, s->headers);
	RPC_SETOPT(e, CURLOPT_USERAGENT, s->user_agent);
	RPC_SETOPT(e, CURLOPT_POSTFIELDS, request);
	RPC_SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(request));
	/* A declared Content-Length over the cap fails before the body. */
	RPC_SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_response);
	RPC_SETOPT(e, CURLOPT_WRITEFUNCTION, rpc_body_write);
	RPC_SETOPT(e, CURLOPT_WRITEDATA, body);
	RPC_SETOPT(e, CURLOPT_HEADERFUNCTION, rpc_header_count);
	RPC_SETOPT(e, CURLOPT_HEADERDATA, body);
	/* Bytes are counted as they arrive: nothing is decompressed. */
	RPC_SETOPT(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (s->ca_file != NULL)
		RPC_SETOPT(e, CURLOPT_CAINFO, s->ca_file);
	if (s->insecure) {
		RPC_SETOPT(e, CURLOPT_SSL_VERIFYPEER, 0L);
		RPC_SETOPT(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return e;
fail:
	curl_easy_cleanup(e);
	return NULL;
}

enum rpc_status
rpc_easy_outcome(CURL *easy, CURLcode res, const struct rpc_body *body,
    const char *errbuf, uint64_t id, unsigned max_depth, json_t **result,
    struct rpc_error *err)
{
	long http = 0;
	enum rpc_status st;

	*result = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http) != CURLE_OK)
		http = 0;
	switch (res) {
	case CURLE_OK:
		st = RPC_OK;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		st = RPC_ERR_TIMEOUT;
		rpc_error_setf(err, "no answer in time: %s", errbuf);
		break;
	case CURLE_FILESIZE_EXCEEDED:
		st = RPC_ERR_TOO_LARGE;
		rpc_error_setf(err, "response over %zu bytes", body->max);
		break;
	case CURLE_OUT_OF_MEMORY:
		st = RPC_ERR_NOMEM;
		rpc_error_setf(err, "out of memory");
		break;
	case CURLE_WRITE_ERROR:
		if (body->head_too_large) {
			st = RPC_ERR_TOO_LARGE;
			rpc_error_setf(err, "response head over %d bytes",
			    RPC_MAX_HEADER_BYTES);
			break;
		}
		if (body->too_large) {
			st = RPC_ERR_TOO_LARGE;
			rpc_error_setf(
			    err, "response over %zu bytes", body->max);
			break;
		}
		if (body->nomem) {
			st = RPC_ERR_NOMEM;
			rpc_error_setf(err, "out of memory");
			break;
		}
		/* FALLTHROUGH */
	default:
		st = RPC_ERR_TRANSPORT;
		rpc_error_setf(err, "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(res));
		break;
	}
	if (st == RPC_OK && http != 200) {
		st = RPC_ERR_HTTP;
		rpc_error_setf(err, "HTTP status %ld", http);
	}
	if (st == RPC_OK)
		st = rpc_response_parse(body->data != NULL ? body->data : "",
		    body->len, id, max_depth, result, err);
	if (err != NULL)
		err->http_status = http;
	return st;
}

/* ---- Blocking call ------------------------------------------------------ */

enum rpc_status
rpc_call_sync(const char *url, const struct rpc_options *opts,
    const char *method, json_t *params, json_t **result, struct rpc_error *err)
{
	struct rpc_settings s;
	struct rpc_body body;
	char errbuf[CURL_ERROR_SIZE];
	char *request;
	enum rpc_status st;
	CURLcode res;
	CURL *easy;

	*result = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (!rpc_request_ok(method, params)) {
		json_decref(params);
		rpc_error_setf(err, "bad method name or params");
		return RPC_ERR_INVALID;
	}
	if ((st = rpc_settings_init(&s, url, opts)) != RPC_OK) {
		json_decref(params);
		rpc_error_setf(err, "%s", rpc_status_str(st));
		return st;
	}
	request = rpc_request_encode(1, method, params);
	json_decref(params);
	memset(&body, 0, sizeof(body));
	if (request == NULL ||
	    (easy = rpc_easy_new(&s, request, &body, errbuf, s.timeout_ms)) ==
		NULL) {
		free(request);
		rpc_settings_free(&s);
		rpc_error_setf(err, "out of memory");
		return RPC_ERR_NOMEM;
	}
	res = curl_easy_perform(easy);
	st = rpc_easy_outcome(
	    easy, res, &body, errbuf, 1, s.max_depth, result, err);
	curl_easy_cleanup(easy);
	free(body.data);
	free(request);
	rpc_settings_free(&s);
	return st;
}
