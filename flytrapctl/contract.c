/*
 * The FlyTrap contract's views as C structs (topic, access, fee, credit,
 * reporters, the list of names), call-data helpers, and the command-line
 * forms of its arguments (country lists, pub/sub).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "abi.h"
#include "chain.h"
#include "flytrapctl.h"

void
ctl_enc_begin(struct abi_enc *e, const char *signature)
{
	uint8_t selector[ABI_SELECTOR_LEN];

	abi_selector(signature, selector);
	abi_enc_begin(e, selector);
}

enum ctl_status
ctl_enc_finish(struct abi_enc *e, uint8_t **out, size_t *len)
{
	enum abi_status st = abi_enc_finish(e, out, len);

	if (st != ABI_OK) {
		ctl_error("cannot encode the call: %s", abi_status_str(st));
		return CTL_FAILED;
	}
	return CTL_OK;
}

enum ctl_status
ctl_send_call(struct ctl_chain *c, struct abi_enc *e, const uint8_t *value,
    struct ctl_receipt *rc)
{
	struct ctl_tx_request req;
	enum ctl_status st;
	uint8_t *data;

	memset(&req, 0, sizeof(req));
	if (ctl_enc_finish(e, &data, &req.data_len) != CTL_OK)
		return CTL_FAILED;
	req.data = data;
	if (value != NULL)
		memcpy(req.value, value, 32);
	st = ctl_send(c, &req, rc);
	free(data);
	return st;
}

/* Calls a view with finished call data (freed here). */
static enum ctl_status
ctl_view(struct ctl_chain *c, const char *what, struct abi_enc *e,
    uint8_t **ret, size_t *ret_len)
{
	enum ctl_status st;
	uint8_t *data;
	size_t len;

	if (ctl_enc_finish(e, &data, &len) != CTL_OK)
		return CTL_FAILED;
	st = ctl_call(c, what, data, len, ret, ret_len);
	free(data);
	return st;
}

/*
 * Takes a reader's result: the decoder keeps its first error and every
 * later read repeats it, so ctl_view_end checks them all at once.
 */
static void
ctl_dec(enum abi_status st)
{
	(void)st;
}

/* Checks the end of a view's answer; reports a malformed one. */
static enum ctl_status
ctl_view_end(const char *what, struct abi_dec *d)
{
	enum abi_status st = abi_dec_end(d);

	if (st != ABI_OK) {
		ctl_error("%s: the contract's answer is malformed (%s): is "
			  "--contract a FlyTrap contract?",
		    what, abi_status_str(st));
		return CTL_FAILED;
	}
	return CTL_OK;
}

enum ctl_status
ctl_read_topic(struct ctl_chain *c, const char *name, struct ctl_topic *t)
{
	struct abi_enc e;
	struct abi_dec d;
	enum ctl_status st;
	uint8_t *ret;
	size_t len;

	memset(t, 0, sizeof(*t));
	ctl_enc_begin(&e, "topic(string)");
	abi_enc_string(&e, name, strlen(name));
	if (ctl_view(c, "topic()", &e, &ret, &len) != CTL_OK)
		return CTL_FAILED;
	abi_dec_init(&d, ret, len);
	ctl_dec(abi_dec_bool(&d, &t->exists));
	ctl_dec(abi_dec_address(&d, t->owner));
	ctl_dec(abi_dec_bool(&d, &t->sensitive));
	ctl_dec(abi_dec_bool(&d, &t->self_service));
	ctl_dec(abi_dec_uint_n(&d, 128, t->pub_price));
	ctl_dec(abi_dec_uint_n(&d, 128, t->sub_price));
	ctl_dec(abi_dec_uint64(&d, &t->period));
	ctl_dec(abi_dec_bytes2_array(
	    &d, t->countries, CTL_MAX_COUNTRIES, &t->ncountries));
	ctl_dec(abi_dec_uint64(&d, &t->block));
	st = ctl_view_end("topic()", &d);
	free(ret);
	return st;
}

enum ctl_status
ctl_need_topic(struct ctl_chain *c, const char *name, struct ctl_topic *t)
{
	if (ctl_read_topic(c, name, t) != CTL_OK)
		return CTL_FAILED;
	if (!t->exists) {
		ctl_error("unknown topic '%s' (create it with 'flytrapctl "
			  "topic add')",
		    name);
		return CTL_FAILED;
	}
	return CTL_OK;
}

enum ctl_status
ctl_read_access(struct ctl_chain *c, const char *name,
    const uint8_t who[ETH_ADDRESS_LEN], struct ctl_access *a)
{
	uint8_t countries[2 * CTL_MAX_COUNTRIES];
	struct abi_enc e;
	struct abi_dec d;
	enum ctl_status st;
	size_t len, n;
	uint8_t *ret;
	bool sensitive;

	memset(a, 0, sizeof(*a));
	ctl_enc_begin(&e, "access(string,address)");
	abi_enc_string(&e, name, strlen(name));
	abi_enc_address(&e, who);
	if (ctl_view(c, "access()", &e, &ret, &len) != CTL_OK)
		return CTL_FAILED;
	abi_dec_init(&d, ret, len);
	ctl_dec(abi_dec_bool(&d, &a->exists));
	ctl_dec(abi_dec_uint64(&d, &a->pub_expiry));
	ctl_dec(abi_dec_uint64(&d, &a->sub_expiry));
	ctl_dec(abi_dec_bool(&d, &sensitive));
	ctl_dec(abi_dec_bytes2_array(&d, countries, CTL_MAX_COUNTRIES, &n));
	ctl_dec(abi_dec_uint64(&d, &a->block));
	st = ctl_view_end("access()", &d);
	free(ret);
	return st;
}

/* A view without arguments, or with one address, returning one uint. */
static enum ctl_status
ctl_read_uint(struct ctl_chain *c, const char *signature, const uint8_t *who,
    unsigned bits, uint8_t out[32])
{
	struct abi_enc e;
	struct abi_dec d;
	enum ctl_status st;
	uint8_t *ret;
	size_t len;

	ctl_enc_begin(&e, signature);
	if (who != NULL)
		abi_enc_address(&e, who);
	if (ctl_view(c, signature, &e, &ret, &len) != CTL_OK)
		return CTL_FAILED;
	abi_dec_init(&d, ret, len);
	ctl_dec(abi_dec_uint_n(&d, bits, out));
	st = ctl_view_end(signature, &d);
	free(ret);
	return st;
}

enum ctl_status
ctl_read_fee(struct ctl_chain *c, uint8_t fee[32])
{
	return ctl_read_uint(c, "fee()", NULL, 96, fee);
}

enum ctl_status
ctl_read_credit(
    struct ctl_chain *c, const uint8_t who[ETH_ADDRESS_LEN], uint8_t credit[32])
{
	return ctl_read_uint(c, "credit(address)", who, 256, credit);
}

enum ctl_status
ctl_read_is_reporter(
    struct ctl_chain *c, const uint8_t who[ETH_ADDRESS_LEN], bool *yes)
{
	uint8_t v[32];

	if (ctl_read_uint(c, "isReporter(address)", who, 8, v) != CTL_OK)
		return CTL_FAILED;
	if (v[31] > 1) {
		ctl_error("isReporter(): the contract's answer is not a bool");
		return CTL_FAILED;
	}
	*yes = v[31] == 1;
	return CTL_OK;
}

enum ctl_status
ctl_read_topic_count(struct ctl_chain *c, uint64_t *count)
{
	uint8_t v[32];

	if (ctl_read_uint(c, "topicCount()", NULL, 32, v) != CTL_OK)
		return CTL_FAILED;
	*count = (uint64_t)v[28] << 24 | (uint64_t)v[29] << 16 |
	    (uint64_t)v[30] << 8 | v[31];
	return CTL_OK;
}

enum ctl_status
ctl_read_topic_name_at(
    struct ctl_chain *c, uint64_t index, char **name, size_t *name_len)
{
	struct abi_enc e;
	struct abi_dec d;
	const char *s;
	uint8_t *ret;
	size_t len;

	*name = NULL;
	ctl_enc_begin(&e, "topicNameAt(uint256)");
	abi_enc_uint(&e, index);
	if (ctl_view(c, "topicNameAt()", &e, &ret, &len) != CTL_OK)
		return CTL_FAILED;
	abi_dec_init(&d, ret, len);
	ctl_dec(abi_dec_string(&d, &s, name_len));
	if (ctl_view_end("topicNameAt()", &d) != CTL_OK) {
		free(ret);
		return CTL_FAILED;
	}
	if ((*name = malloc(*name_len + 1)) == NULL) {
		free(ret);
		ctl_error("out of memory");
		return CTL_FAILED;
	}
	memcpy(*name, s, *name_len);
	(*name)[*name_len] = '\0';
	free(ret);
	return CTL_OK;
}

/* ---- Arguments ----------------------------------------------------------- */

/* The 27 member states of the European Union, as "EU" expands. */
static const char ctl_eu[] = "ATBEBGCYCZDEDKEEESFIFRGRHRHUIEITLTLULVMTNLPLPT"
			     "ROSESISK";

enum ctl_status
ctl_countries_parse(
    const char *s, uint8_t codes[2 * CTL_MAX_COUNTRIES], size_t *count)
{
	const char *p = s, *end;
	size_t n = 0, len, add;
	char code[2];

	*count = 0;
	if (*s == '\0' || strcasecmp(s, "any") == 0)
		return CTL_OK;
	for (;;) {
		while (*p == ' ')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len != 2 || !isalpha((unsigned char)p[0]) ||
		    !isalpha((unsigned char)p[1])) {
			ctl_error("--countries: '%.*s' is not a country code "
				  "(ISO 3166 alpha-2, such as DE; EU for the "
				  "27 member states)",
			    (int)len, p);
			return CTL_FAILED;
		}
		code[0] = (char)toupper((unsigned char)p[0]);
		code[1] = (char)toupper((unsigned char)p[1]);
		add = code[0] == 'E' && code[1] == 'U' ? 27 : 1;
		if (n + add > CTL_MAX_COUNTRIES) {
			ctl_error("--countries: more than %d codes",
			    CTL_MAX_COUNTRIES);
			return CTL_FAILED;
		}
		if (add == 27)
			memcpy(codes + 2 * n, ctl_eu, 54);
		else
			memcpy(codes + 2 * n, code, 2);
		n += add;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*count = n;
	return CTL_OK;
}

void
ctl_countries_text(const uint8_t *codes, size_t count, char *out)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (i > 0)
			*out++ = ',';
		*out++ = (char)codes[2 * i];
		*out++ = (char)codes[2 * i + 1];
	}
	*out = '\0';
}

bool
ctl_countries_are_eu(const uint8_t *codes, size_t count)
{
	return count == 27 && memcmp(codes, ctl_eu, 54) == 0;
}

enum ctl_status
ctl_right_arg(const char *s, bool *publish)
{
	if (strcmp(s, "pub") == 0 || strcmp(s, "publish") == 0)
		*publish = true;
	else if (strcmp(s, "sub") == 0 || strcmp(s, "subscribe") == 0)
		*publish = false;
	else {
		ctl_error("'%s': expected pub or sub", s);
		return CTL_FAILED;
	}
	return CTL_OK;
}
