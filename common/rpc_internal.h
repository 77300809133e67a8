/*
 * Shared between the JSON-RPC client's files (rpc.c, rpc_easy.c,
 * rpc_client.c) and nothing else: settings, one libcurl transfer's setup
 * and the mapping of its outcome to an rpc_status.
 */
#ifndef FLYTRAP_RPC_INTERNAL_H
#define FLYTRAP_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "rpc.h"

/* struct rpc_options with the defaults applied and the strings copied. */
struct rpc_settings {
	char *url;
	long timeout_ms;
	size_t max_response;
	unsigned max_in_flight;
	unsigned max_queued;
	unsigned max_depth;
	char *ca_file;
	bool insecure;
	char *user_agent;
	struct curl_slist *headers; /* the request headers every call sends */
};

/*
 * Validates url and opts (NULL: defaults) into s. Returns RPC_OK,
 * RPC_ERR_INVALID (logged: another scheme than http/https, an option out
 * of range) or RPC_ERR_NOMEM; s needs rpc_settings_free only on RPC_OK.
 */
enum rpc_status rpc_settings_init(struct rpc_settings *s, const char *url,
    const struct rpc_options *opts) RPC_WUR;
void rpc_settings_free(struct rpc_settings *s);

/* The most response header bytes we take (curl's own limits vary). */
#define RPC_MAX_HEADER_BYTES (64 * 1024)

/* A response being received: the body capped at max bytes. */
struct rpc_body {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	size_t header_bytes;
	bool too_large; /* the body's cap was hit: transfer aborted */
	bool head_too_large; /* RPC_MAX_HEADER_BYTES hit: transfer aborted */
	bool nomem;
};

/*
 * A POST of request (which must outlive the transfer) to s->url, with the
 * response going to body and curl's error text to errbuf
 * (CURL_ERROR_SIZE bytes), timing out after timeout_ms. NULL if libcurl
 * refuses (out of memory).
 */
CURL *rpc_easy_new(const struct rpc_settings *s, const char *request,
    struct rpc_body *body, char *errbuf, long timeout_ms);

/*
 * The outcome of a finished transfer for the request with `id`: curl's
 * result, the HTTP status, then the body's envelope (rpc_response_parse).
 * On RPC_OK *result is a new reference; otherwise err says why (release
 * with rpc_error_clear).
 */
enum rpc_status rpc_easy_outcome(CURL *easy, CURLcode res,
    const struct rpc_body *body, const char *errbuf, uint64_t id,
    unsigned max_depth, json_t **result, struct rpc_error *err) RPC_WUR;

/* The longest method name rpc_call accepts. */
#define RPC_MAX_METHOD_LEN 255

/*
 * True if method is 1..RPC_MAX_METHOD_LEN bytes and params is NULL, an
 * array or an object.
 */
bool rpc_request_ok(const char *method, const json_t *params);

/* err->message from node text / from a format (err may be NULL). */
void rpc_error_set_message(struct rpc_error *err, const char *s, size_t len);
void rpc_error_setf(struct rpc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
