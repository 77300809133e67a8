/*
 * IP addresses and CIDR ranges: parsing, canonical text, containment.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void
netaddr_set6(struct netaddr *out, const uint8_t b[16])
{
	memset(out, 0, sizeof(*out));
	if (memcmp(b, v4_mapped, sizeof(v4_mapped)) == 0) {
		out->family = AF_INET;
		memcpy(out->bytes, b + 12, 4);
	} else {
		out->family = AF_INET6;
		memcpy(out->bytes, b, 16);
	}
}

bool
netaddr_parse(const char *s, size_t len, struct netaddr *out)
{
	char text[INET6_ADDRSTRLEN];
	uint8_t b[16];

	if (len == 0 || len >= sizeof(text) || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, b) == 1) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->bytes, b, 4);
		return true;
	}
	if (inet_pton(AF_INET6, text, b) == 1) {
		netaddr_set6(out, b);
		return true;
	}
	return false;
}

bool
netaddr_from_sockaddr(
    const struct sockaddr *sa, socklen_t len, struct netaddr *out)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->bytes, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		netaddr_set6(out, in6->sin6_addr.s6_addr);
		return true;
	}
	return false;
}

void
netaddr_format(const struct netaddr *a, char out[NETADDR_STRLEN])
{
	if (inet_ntop(a->family, a->bytes, out, NETADDR_STRLEN) == NULL)
		snprintf(out, NETADDR_STRLEN, "?");
}

bool
netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && memcmp(a->bytes, b->bytes, n) == 0;
}

bool
netaddr_is_special(const struct netaddr *a)
{
	const uint8_t *b = a->bytes;

	if (a->family == AF_INET) {
		return b[0] == 0 || b[0] == 10 || b[0] == 127 ||
		    (b[0] == 100 && (b[1] & 0xc0) == 64) || /* CGNAT */
		    (b[0] == 169 && b[1] == 254) ||
		    (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		    (b[0] == 192 && b[1] == 168) || b[0] >= 224;
	}
	/* ::, ::1, fc00::/7, fe80::/10, ff00::/8 */
	if ((b[0] & 0xfe) == 0xfc || b[0] == 0xff ||
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
		return true;
	for (size_t i = 0; i < 15; i++)
		if (b[i] != 0)
			return false;
	return b[15] <= 1;
}

/* True when every bit of `a` from bit `prefix` on is zero. */
static bool
host_bits_zero(const struct netaddr *a, unsigned prefix)
{
	unsigned total = a->family == AF_INET ? 32 : 128;

	for (unsigned bit = prefix; bit < total; bit++)
		if (a->bytes[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

bool
netrange_parse(const char *s, size_t len, struct netrange *out)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	unsigned total, prefix = 0;

	if (!netaddr_parse(s, alen, &out->addr))
		return false;
	total = out->addr.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		out->prefix = (uint8_t)total;
		return true;
	}
	if (slash + 1 == s + len)
		return false;
	for (const char *p = slash + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9')
			return false;
		prefix = prefix * 10 + (unsigned)(*p - '0');
		if (prefix > 128)
			return false;
	}
	/* An IPv4-mapped range: "::ffff:10.0.0.0/104" is 10.0.0.0/8. */
	if (out->addr.family == AF_INET && memchr(s, ':', alen) != NULL) {
		if (prefix < 96)
			return false;
		prefix -= 96;
	}
	if (prefix > total || !host_bits_zero(&out->addr, prefix))
		return false;
	out->prefix = (uint8_t)prefix;
	return true;
}

bool
netrange_contains(const struct netrange *r, const struct netaddr *a)
{
	unsigned full = r->prefix / 8, rest = r->prefix % 8;

	if (r->addr.family != a->family)
		return false;
	if (memcmp(r->addr.bytes, a->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((r->addr.bytes[full] ^ a->bytes[full]) &
		   (uint8_t)(0xff << (8 - rest))) == 0;
}

void
netrange_format(const struct netrange *r, char out[NETADDR_STRLEN])
{
	unsigned total = r->addr.family == AF_INET ? 32 : 128;
	size_t n;

	netaddr_format(&r->addr, out);
	if (r->prefix == total)
		return;
	n = strlen(out);
	snprintf(out + n, NETADDR_STRLEN - n, "/%u", r->prefix);
}

bool
netrange_list_parse(const char *spec, struct netrange **out, size_t *n,
    char *err, size_t errlen)
{
	struct netrange *list = NULL;
	size_t count = 0;
	const char *p = spec;

	*out = NULL;
	*n = 0;
	while (*p != '\0') {
		const char *start, *end;
		struct netrange *grown;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (grown == NULL) {
			snprintf(err, errlen, "out of memory");
			free(list);
			return false;
		}
		list = grown;
		if (!netrange_parse(
			start, (size_t)(end - start), &list[count])) {
			snprintf(err, errlen,
			    "bad address or range '%.*s' (want a.b.c.d, "
			    "a.b.c.d/n or an IPv6 form, host bits zero)",
			    (int)(end - start > 60 ? 60 : end - start), start);
			free(list);
			return false;
		}
		count++;
	}
	*out = list;
	*n = count;
	return true;
}

bool
netrange_list_contains(
    const struct netrange *list, size_t n, const struct netaddr *a)
{
	for (size_t i = 0; i < n; i++)
		if (netrange_contains(&list[i], a))
			return true;
	return false;
}
