/*
 * JSON-RPC 2.0 without I/O: request bodies, strict validation of a node's
 * response, and the readers for Ethereum's hex encodings. No libcurl here,
 * so programs that only read hex do not link it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "rpc.h"
#include "rpc_internal.h"

const char *
rpc_status_str(enum rpc_status st)
{
	switch (st) {
	case RPC_OK:
		return "ok";
	case RPC_ERR_TRANSPORT:
		return "transport error";
	case RPC_ERR_HTTP:
		return "HTTP error status";
	case RPC_ERR_TIMEOUT:
		return "timeout";
	case RPC_ERR_TOO_LARGE:
		return "response too large";
	case RPC_ERR_BAD_JSON:
		return "malformed JSON";
	case RPC_ERR_TOO_DEEP:
		return "JSON nested too deep";
	case RPC_ERR_BAD_RESPONSE:
		return "not a JSON-RPC 2.0 response";
	case RPC_ERR_ID_MISMATCH:
		return "response id mismatch";
	case RPC_ERR_JSONRPC:
		return "JSON-RPC error";
	case RPC_ERR_INVALID:
		return "invalid argument";
	case RPC_ERR_BUSY:
		return "too many calls queued";
	case RPC_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown status";
}

/* ---- Errors ------------------------------------------------------------- */

void
rpc_error_clear(struct rpc_error *err)
{
	if (err == NULL)
		return;
	json_decref(err->data);
	memset(err, 0, sizeof(*err));
}

/*
 * Copies text from the node into err->message: at most the buffer's size
 * minus one byte, cut on a UTF-8 character boundary, with control
 * characters replaced so that a hostile message cannot forge log lines.
 */
void
rpc_error_set_message(struct rpc_error *err, const char *s, size_t len)
{
	size_t n = len;

	if (err == NULL)
		return;
	if (n > RPC_ERROR_MESSAGE_SIZE - 1) {
		n = RPC_ERROR_MESSAGE_SIZE - 1;
		/* s[n] is the first byte left out: not inside a character. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		err->message[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	err->message[n] = '\0';
}

void
rpc_error_setf(struct rpc_error *err, const char *fmt, ...)
{
	char buf[RPC_ERROR_MESSAGE_SIZE];
	va_list ap;
	int n;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	rpc_error_set_message(
	    err, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* ---- Requests ----------------------------------------------------------- */

bool
rpc_request_ok(const char *method, const json_t *params)
{
	size_t len;

	if (method == NULL || (len = strlen(method)) == 0 ||
	    len > RPC_MAX_METHOD_LEN)
		return false;
	return params == NULL || json_is_array(params) ||
	    json_is_object(params);
}

char *
rpc_request_encode(uint64_t id, const char *method, json_t *params)
{
	json_t *req, *m;
	char *out;

	if ((m = json_string(method)) == NULL)
		return NULL;
	if ((req = json_object()) == NULL) {
		json_decref(m);
		return NULL;
	}
	if (json_object_set_new(req, "jsonrpc", json_string("2.0")) != 0 ||
	    json_object_set_new(req, "id", json_integer((json_int_t)id)) != 0 ||
	    json_object_set_new(req, "method", m) != 0 ||
	    json_object_set_new(req, "params",
		params != NULL ? json_incref(params) : json_array()) != 0) {
		json_decref(req);
		return NULL;
	}
	out = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	return out;
}

/* ---- Responses ---------------------------------------------------------- */

/*
 * True if no array or object in body is nested more than max_depth deep.
 * Runs before the parser, on any bytes: brackets inside strings (escapes
 * honoured) do not count, and malformed text is left to the parser.
 */
static bool
rpc_depth_ok(const char *body, size_t len, unsigned max_depth)
{
	unsigned depth = 0;
	bool in_string = false, escaped = false;

	for (size_t i = 0; i < len; i++) {
		char ch = body[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (ch == '\\')
				escaped = true;
			else if (ch == '"')
				in_string = false;
			continue;
		}
		switch (ch) {
		case '"':
			in_string = true;
			break;
		case '[':
		case '{':
			if (++depth > max_depth)
				return false;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return true;
}

/* Fills err from a valid error object {code: integer, message: string}. */
static enum rpc_status
rpc_error_object(json_t *eo, struct rpc_error *err)
{
	json_t *code = json_object_get(eo, "code");
	json_t *msg = json_object_get(eo, "message");
	json_t *data = json_object_get(eo, "data");

	if (!json_is_integer(code) || !json_is_string(msg)) {
		rpc_error_setf(err,
		    "error object without integer code and "
		    "string message");
		return RPC_ERR_BAD_RESPONSE;
	}
	if (err != NULL) {
		err->code = (int64_t)json_integer_value(code);
		rpc_error_set_message(
		    err, json_string_value(msg), json_string_length(msg));
		err->data = data != NULL ? json_incref(data) : NULL;
	}
	return RPC_ERR_JSONRPC;
}

enum rpc_status
rpc_response_parse(const char *body, size_t len, uint64_t id,
    unsigned max_depth, json_t **result, struct rpc_error *err)
{
	json_error_t jerr;
	json_t *doc, *version, *rid, *res, *eo;
	enum rpc_status st;

	*result = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (!rpc_depth_ok(body, len, max_depth)) {
		rpc_error_setf(err, "JSON nested deeper than %u", max_depth);
		return RPC_ERR_TOO_DEEP;
	}
	doc = json_loadb(
	    body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		rpc_error_setf(
		    err, "bad JSON at byte %d: %s", jerr.position, jerr.text);
		return RPC_ERR_BAD_JSON;
	}
	if (!json_is_object(doc)) {
		rpc_error_setf(err, "response is not a JSON object");
		st = RPC_ERR_BAD_RESPONSE;
		goto out;
	}
	version = json_object_get(doc, "jsonrpc");
	if (!json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0") != 0) {
		rpc_error_setf(err, "response without \"jsonrpc\": \"2.0\"");
		st = RPC_ERR_BAD_RESPONSE;
		goto out;
	}
	res = json_object_get(doc, "result");
	eo = json_object_get(doc, "error");
	if ((res == NULL) == (eo == NULL)) {
		rpc_error_setf(err,
		    "response must have exactly one of "
		    "\"result\" and \"error\"");
		st = RPC_ERR_BAD_RESPONSE;
		goto out;
	}
	if (eo != NULL && !json_is_object(eo)) {
		rpc_error_setf(err, "\"error\" is not an object");
		st = RPC_ERR_BAD_RESPONSE;
		goto out;
	}
	rid = json_object_get(doc, "id");
	if (!(json_is_integer(rid) && json_integer_value(rid) >= 0 &&
		(uint64_t)json_integer_value(rid) == id) &&
	    !(eo != NULL && json_is_null(rid))) {
		rpc_error_setf(
		    err, "response id is not %llu", (unsigned long long)id);
		st = RPC_ERR_ID_MISMATCH;
		goto out;
	}
	if (eo != NULL) {
		st = rpc_error_object(eo, err);
		goto out;
	}
	*result = json_incref(res);
	st = RPC_OK;
out:
	json_decref(doc);
	return st;
}

/* ---- Hex encodings ------------------------------------------------------ */

/* 0..15 for a hex digit of either case, -1 for anything else. */
static int
rpc_hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * The digits of a quantity: "0x" then 1..max_digits hex digits without a
 * leading zero (except "0x0"). Sets *digits and *n; false otherwise.
 */
static bool
rpc_quantity_digits(
    const json_t *v, size_t max_digits, const char **digits, size_t *n)
{
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len < 3 || s[0] != '0' || s[1] != 'x')
		return false;
	s += 2;
	len -= 2;
	if (len > max_digits || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (rpc_hex_digit(s[i]) < 0)
			return false;
	*digits = s;
	*n = len;
	return true;
}

bool
rpc_result_u64(const json_t *v, uint64_t *out)
{
	const char *s;
	size_t n;
	uint64_t x = 0;

	if (!rpc_quantity_digits(v, 16, &s, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		x = (x << 4) | (uint64_t)rpc_hex_digit(s[i]);
	*out = x;
	return true;
}

bool
rpc_result_u256(const json_t *v, uint8_t out[32])
{
	const char *s;
	size_t n;

	if (!rpc_quantity_digits(v, 64, &s, &n))
		return false;
	memset(out, 0, 32);
	/* Digit i from the right is nibble i of the big-endian number. */
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)rpc_hex_digit(s[n - 1 - i]);

		out[31 - i / 2] |= (uint8_t)(i % 2 == 0 ? d : d << 4);
	}
	return true;
}

bool
rpc_result_bytes(const json_t *v, size_t max_len, uint8_t **data, size_t *len)
{
	const char *s;
	size_t slen, n;
	uint8_t *buf;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	slen = json_string_length(v);
	if (slen < 2 || s[0] != '0' || s[1] != 'x' || slen % 2 != 0)
		return false;
	n = (slen - 2) / 2;
	if (n > max_len)
		return false;
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return false;
	if (!hex_decode_exact(s, slen, buf, n)) {
		free(buf);
		return false;
	}
	*data = buf;
	*len = n;
	return true;
}

char *
rpc_hex_u64(uint64_t v, char buf[RPC_HEX_U64_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;
	size_t i = 2;

	buf[0] = '0';
	buf[1] = 'x';
	while (shift > 0 && ((v >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		buf[i++] = digits[(v >> shift) & 0xf];
	buf[i] = '\0';
	return buf;
}
