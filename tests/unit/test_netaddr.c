/*
 * IP addresses and ranges (netaddr.c): parsing and canonical text, the
 * folding of IPv4-mapped IPv6, CIDR ranges at their bit boundaries, range
 * lists as the configuration writes them, special address space, and
 * socket addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "netaddr.h"

static struct netaddr
addr(const char *s)
{
	struct netaddr a;

	if (!netaddr_parse(s, strlen(s), &a))
		fail_msg("\"%s\" should parse as an address", s);
	return a;
}

static struct netrange
range(const char *s)
{
	struct netrange r;

	if (!netrange_parse(s, strlen(s), &r))
		fail_msg("\"%s\" should parse as a range", s);
	return r;
}

static bool
parses(const char *s, size_t len)
{
	struct netaddr a;

	return netaddr_parse(s, len, &a);
}

static bool
range_parses(const char *s)
{
	struct netrange r;

	return netrange_parse(s, strlen(s), &r);
}

/* Parses `in` and checks that it prints as `canonical`, which reparses
 * to the same address. */
static void
check_round_trip(const char *in, int family, const char *canonical)
{
	struct netaddr a = addr(in), again;
	char text[NETADDR_STRLEN];

	if (a.family != family)
		fail_msg(
		    "\"%s\": family %d, expected %d", in, a.family, family);
	netaddr_format(&a, text);
	if (strcmp(text, canonical) != 0)
		fail_msg("\"%s\" prints as \"%s\", expected \"%s\"", in, text,
		    canonical);
	again = addr(text);
	assert_true(netaddr_equal(&a, &again));
}

/* ---- Addresses ----------------------------------------------------------- */

static void
test_parse_ipv4(void **state)
{
	static const uint8_t doc[4] = {192, 0, 2, 1};
	struct netaddr a = addr("192.0.2.1");

	(void)state;
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, doc, 4);
	check_round_trip("192.0.2.1", AF_INET, "192.0.2.1");
	check_round_trip("0.0.0.0", AF_INET, "0.0.0.0");
	check_round_trip("255.255.255.255", AF_INET, "255.255.255.255");
	check_round_trip("10.0.0.1", AF_INET, "10.0.0.1");
}

static void
test_parse_ipv6(void **state)
{
	(void)state;
	check_round_trip("2001:db8::1", AF_INET6, "2001:db8::1");
	check_round_trip("::", AF_INET6, "::");
	check_round_trip("::1", AF_INET6, "::1");
	check_round_trip("fe80::1", AF_INET6, "fe80::1");
	/* Canonical text: lower case, no leading zeros, longest zero run. */
	check_round_trip("2001:DB8::A", AF_INET6, "2001:db8::a");
	check_round_trip(
	    "2001:0db8:0000:0000:0000:0000:0000:0001", AF_INET6, "2001:db8::1");
	check_round_trip("2001:db8:0:0:1:0:0:1", AF_INET6, "2001:db8::1:0:0:1");
	/* The longest text form there is: 45 characters. */
	check_round_trip("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

/* One client, one spelling: ::ffff:a.b.c.d is a.b.c.d. */
static void
test_parse_v4_mapped(void **state)
{
	struct netaddr plain = addr("192.0.2.1");
	struct netaddr mapped = addr("::ffff:192.0.2.1");
	struct netaddr hex = addr("::FFFF:c000:0201");
	struct netaddr full = addr("0:0:0:0:0:ffff:192.0.2.1");

	(void)state;
	assert_true(netaddr_equal(&plain, &mapped));
	assert_true(netaddr_equal(&plain, &hex));
	assert_true(netaddr_equal(&plain, &full));
	check_round_trip("::ffff:192.0.2.1", AF_INET, "192.0.2.1");
	check_round_trip("::ffff:0.0.0.0", AF_INET, "0.0.0.0");
	/* Near misses stay IPv6: IPv4-compatible, NAT64, ::fffe:. */
	check_round_trip("::192.0.2.1", AF_INET6, "::192.0.2.1");
	check_round_trip("64:ff9b::192.0.2.1", AF_INET6, "64:ff9b::c000:201");
	check_round_trip("::fffe:c000:201", AF_INET6, "::fffe:c000:201");
	check_round_trip("1::ffff:c000:201", AF_INET6, "1::ffff:c000:201");
}

static void
test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "1.2.3",
	    "1.2.3.4.5",
	    "256.1.1.1",
	    "1.2.3.256",
	    "1.2.3.-4",
	    "1..2.3",
	    "1.2.3.4.",
	    /* Not octal, not ambiguous: no leading zeros. */
	    "01.2.3.4",
	    " 1.2.3.4",
	    "1.2.3.4 ",
	    "1.2.3.4/32",
	    "localhost",
	    "0x7f000001",
	    "2130706433",
	    "2001:db8:::1",
	    "1::2::3",
	    "gggg::1",
	    "2001:db8::12345",
	    "1:2:3:4:5:6:7:8:9",
	    "fe80::1%eth0",
	    "[::1]",
	    "::ffff:256.0.0.1",
	    /* 46 characters: longer than any address. */
	    "0000:0000:0000:0000:0000:0000:0000:0000:000000",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
	};
	char overlong[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parses(bad[i], strlen(bad[i])))
			fail_msg("\"%s\" should not parse", bad[i]);
	/* An embedded NUL is refused: the length says where text ends. */
	assert_false(parses("1.2.3.4\0", 8));
	assert_false(parses("1.2\0.3.4", 8));
	assert_false(parses("::1\0", 4));
	/* Only len bytes count; no NUL is needed after them. */
	assert_true(parses("192.0.2.1junk", 9));
	assert_true(parses("2001:db8::1]", 11));
	assert_false(parses("192.0.2.1", 0));
	memset(overlong, '1', sizeof(overlong));
	assert_false(parses(overlong, sizeof(overlong)));
	memcpy(overlong, "1.1.1.1", 7);
	assert_false(parses(overlong, sizeof(overlong)));
}

static void
test_equal(void **state)
{
	struct netaddr v4 = addr("10.0.0.0");
	struct netaddr v6 = addr("a00::");
	struct netaddr a = addr("2001:db8::1"), b = addr("2001:db8::1");

	(void)state;
	/* Same leading bytes, different families. */
	assert_int_equal(v6.bytes[0], 10);
	assert_false(netaddr_equal(&v4, &v6));
	assert_false(netaddr_equal(&v6, &v4));
	assert_true(netaddr_equal(&a, &b));
	b = addr("2001:db8::2");
	assert_false(netaddr_equal(&a, &b));
}

static void
test_format_unknown_family(void **state)
{
	struct netaddr a;
	char text[NETADDR_STRLEN];

	(void)state;
	memset(&a, 0, sizeof(a));
	netaddr_format(&a, text);
	assert_string_equal(text, "?");
}

/* ---- Special address space ----------------------------------------------- */

static void
test_is_special(void **state)
{
	static const char *const special[] = {
	    "0.0.0.0", "0.255.255.255", /* this network */
	    "127.0.0.1", "127.255.255.255", /* loopback */
	    "10.0.0.0", "10.255.255.255", /* private */
	    "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255",
	    "100.64.0.0", "100.127.255.255", /* CGNAT, 100.64.0.0/10 */
	    "169.254.0.0", "169.254.255.255", /* link-local */
	    "224.0.0.1", "239.255.255.255", /* multicast */
	    "240.0.0.1", "255.255.255.255", /* reserved, broadcast */
	    "::ffff:10.1.2.3", /* mapped private is private */
	    "::", "::1", /* unspecified, loopback */
	    "fc00::", "fd12:3456:789a::1", /* unique local, fc00::/7 */
	    "fe80::1", "febf:ffff::1", /* link-local, fe80::/10 */
	    "ff02::1", "ff0e::1", /* multicast */
	};
	static const char *const public[] = {
	    "1.1.1.1",
	    "8.8.8.8",
	    "81.2.69.160",
	    "9.255.255.255",
	    "11.0.0.0", /* around 10/8 */
	    "126.255.255.255",
	    "128.0.0.0", /* around 127/8 */
	    "172.15.255.255",
	    "172.32.0.0", /* around 172.16/12 */
	    "192.167.255.255",
	    "192.169.0.0", /* around 192.168/16 */
	    "100.63.255.255",
	    "100.128.0.0", /* around 100.64/10 */
	    "169.253.255.255",
	    "169.255.0.0", /* around 169.254/16 */
	    "223.255.255.255", /* below multicast */
	    "1.0.0.0",
	    "2001:4860:4860::8888",
	    "2a00:1450:4001::1",
	    "::2",
	    "fbff:ffff::1",
	    "fe00::1",
	    "fec0::1",
	    "feff::1",
	};
	struct netaddr a;

	(void)state;
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		a = addr(special[i]);
		if (!netaddr_is_special(&a))
			fail_msg("%s should be special", special[i]);
	}
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
		a = addr(public[i]);
		if (netaddr_is_special(&a))
			fail_msg("%s should be public", public[i]);
	}
}

/* ---- Socket addresses ---------------------------------------------------- */

static void
test_from_sockaddr(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un un;
	struct netaddr a, want;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1883);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	assert_true(netaddr_from_sockaddr(
	    (const struct sockaddr *)&sin, sizeof(sin), &a));
	want = addr("192.0.2.1");
	assert_true(netaddr_equal(&a, &want));
	/* Too short for its family. */
	assert_false(netaddr_from_sockaddr(
	    (const struct sockaddr *)&sin, sizeof(sin) - 1, &a));

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(8883);
	sin6.sin6_scope_id = 3; /* neither kept nor in the way */
	assert_int_equal(
	    inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
	assert_true(netaddr_from_sockaddr(
	    (const struct sockaddr *)&sin6, sizeof(sin6), &a));
	want = addr("2001:db8::1");
	assert_int_equal(a.family, AF_INET6);
	assert_true(netaddr_equal(&a, &want));
	assert_false(netaddr_from_sockaddr(
	    (const struct sockaddr *)&sin6, sizeof(sin6) - 1, &a));

	/* What a dual-stack listener sees for an IPv4 client. */
	assert_int_equal(
	    inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr), 1);
	assert_true(netaddr_from_sockaddr(
	    (const struct sockaddr *)&sin6, sizeof(sin6), &a));
	want = addr("192.0.2.1");
	assert_int_equal(a.family, AF_INET);
	assert_true(netaddr_equal(&a, &want));

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_false(netaddr_from_sockaddr(
	    (const struct sockaddr *)&un, sizeof(un), &a));
}

/* ---- Ranges -------------------------------------------------------------- */

static void
check_range(const char *in, const char *base, unsigned prefix)
{
	struct netrange r = range(in);
	struct netaddr want = addr(base);

	if (!netaddr_equal(&r.addr, &want) || r.prefix != prefix)
		fail_msg("\"%s\" should be %s/%u", in, base, prefix);
}

static void
test_range_parse(void **state)
{
	static const char *const bad[] = {
	    /* Host bits set: a typo, not a silent widening. */
	    "10.1.2.3/8",
	    "192.0.2.1/24",
	    "192.0.2.1/31",
	    "2001:db8::1/64",
	    "2001:db8::1/127",
	    "1.0.0.0/0",
	    "::1/0",
	    /* Prefix longer than the family. */
	    "10.0.0.0/33",
	    "10.0.0.0/64",
	    "::/129",
	    "10.0.0.0/4294967304", /* 2^32 + 8 */
	    "10.0.0.0/99999999999999999999",
	    /* Not a prefix. */
	    "10.0.0.0/",
	    "10.0.0.0/-8",
	    "10.0.0.0/+8",
	    "10.0.0.0/ 8",
	    "10.0.0.0/8 ",
	    "10.0.0.0 /8",
	    "10.0.0.0/0x8",
	    "10.0.0.0/8/8",
	    "/8",
	    "",
	    "bogus/8",
	    /* A mapped range must stay inside ::ffff:0:0/96. */
	    "::ffff:10.0.0.0/95",
	    "::ffff:10.0.0.0/8",
	    "::ffff:10.0.0.0/129",
	    "::ffff:10.0.0.0/100",
	};

	(void)state;
	check_range("10.0.0.0/8", "10.0.0.0", 8);
	check_range("192.0.2.1", "192.0.2.1", 32);
	check_range("192.0.2.1/32", "192.0.2.1", 32);
	check_range("0.0.0.0/0", "0.0.0.0", 0);
	check_range("2001:db8::/32", "2001:db8::", 32);
	check_range("2001:db8::1", "2001:db8::1", 128);
	check_range("2001:db8::1/128", "2001:db8::1", 128);
	check_range("::/0", "::", 0);
	check_range("192.0.2.128/25", "192.0.2.128", 25);
	/* ::ffff:10.0.0.0/104 is 10.0.0.0/8 and nothing else. */
	check_range("::ffff:10.0.0.0/104", "10.0.0.0", 8);
	check_range("::ffff:a00:0/104", "10.0.0.0", 8);
	check_range("::ffff:10.0.0.1", "10.0.0.1", 32);
	check_range("::ffff:10.0.0.1/128", "10.0.0.1", 32);
	check_range("::ffff:0.0.0.0/96", "0.0.0.0", 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (range_parses(bad[i]))
			fail_msg("\"%s\" should not parse as a range", bad[i]);
	/* Only len bytes count. */
	{
		struct netrange r;

		assert_true(netrange_parse("10.0.0.0/8junk", 10, &r));
		assert_int_equal(r.prefix, 8);
		assert_false(netrange_parse("10.0.0.0/8\0", 11, &r));
	}
}

static void
check_range_format(const char *in, const char *out)
{
	struct netrange r = range(in);
	char text[NETADDR_STRLEN];

	netrange_format(&r, text);
	if (strcmp(text, out) != 0)
		fail_msg(
		    "\"%s\" prints as \"%s\", expected \"%s\"", in, text, out);
}

static void
test_range_format(void **state)
{
	(void)state;
	check_range_format("10.0.0.0/8", "10.0.0.0/8");
	check_range_format("0.0.0.0/0", "0.0.0.0/0");
	check_range_format("192.0.2.1/32", "192.0.2.1");
	check_range_format("2001:DB8::/32", "2001:db8::/32");
	check_range_format("2001:db8::1/128", "2001:db8::1");
	check_range_format("::/0", "::/0");
	check_range_format("::ffff:10.0.0.0/104", "10.0.0.0/8");
	/* The widest text there is still fits. */
	check_range_format("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
}

/* A range and the addresses just inside and just outside its ends. */
struct contains_vector {
	const char *range;
	const char *in[4];
	const char *out[4];
};

static void
test_range_contains(void **state)
{
	static const struct contains_vector v[] = {
	    {"192.0.2.0/24", {"192.0.2.0", "192.0.2.255", "192.0.2.77"},
		{"192.0.1.255", "192.0.3.0", "193.0.2.0"}},
	    {"192.0.2.128/25", {"192.0.2.128", "192.0.2.255"},
		{"192.0.2.127", "192.0.3.0", "192.0.2.0"}},
	    {"192.0.2.0/25", {"192.0.2.0", "192.0.2.127"},
		{"192.0.2.128", "192.0.1.255"}},
	    {"192.0.2.254/31", {"192.0.2.254", "192.0.2.255"},
		{"192.0.2.253", "192.0.3.0"}},
	    {"192.0.2.1/32", {"192.0.2.1"}, {"192.0.2.0", "192.0.2.2"}},
	    {"10.128.0.0/9", {"10.128.0.0", "10.255.255.255"},
		{"10.127.255.255", "11.0.0.0"}},
	    {"0.0.0.0/0", {"0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4"},
		{"::", "::1", "2001:db8::1"}},
	    {"2001:db8:1::/48",
		{"2001:db8:1::", "2001:db8:1:ffff:ffff:ffff:ffff:ffff",
		    "2001:db8:1:2::3"},
		{"2001:db8:0:ffff:ffff:ffff:ffff:ffff",
		    "2001:db8:2::", "3001:db8:1::"}},
	    {"2001:db8::/127", {"2001:db8::", "2001:db8::1"},
		{"2001:db8::2", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"}},
	    {"2001:db8::1/128", {"2001:db8::1"}, {"2001:db8::", "2001:db8::2"}},
	    {"2001:db8:8000::/33", {"2001:db8:8000::", "2001:db8:ffff::1"},
		{"2001:db8:7fff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"}},
	    /* ::/0 is every IPv6 address, and mapped ones are IPv4. */
	    {"::/0", {"::", "2001:db8::1", "ffff::"},
		{"0.0.0.0", "::ffff:192.0.2.1", "192.0.2.1"}},
	    {"::ffff:0.0.0.0/96", {"192.0.2.1", "0.0.0.0"}, {"::", "::1"}},
	    {"::ffff:10.0.0.0/104", {"10.0.0.0", "10.255.255.255"},
		{"11.0.0.0", "::ffff:a00:0:0"}},
	    /* Family mismatch never contains, however the bytes line up. */
	    {"10.0.0.0/8", {"10.0.0.1"}, {"a00::", "a00::1", "::a00:1"}},
	    {"a00::/8", {"a00::1"}, {"10.0.0.1", "10.255.255.255"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct netrange r = range(v[i].range);

		for (size_t j = 0; j < 4 && v[i].in[j] != NULL; j++) {
			struct netaddr a = addr(v[i].in[j]);

			if (!netrange_contains(&r, &a))
				fail_msg("%s should contain %s", v[i].range,
				    v[i].in[j]);
		}
		for (size_t j = 0; j < 4 && v[i].out[j] != NULL; j++) {
			struct netaddr a = addr(v[i].out[j]);

			if (netrange_contains(&r, &a))
				fail_msg("%s should not contain %s", v[i].range,
				    v[i].out[j]);
		}
	}
}

/* Every prefix length: the range of .../p around an address holds it, and
 * flipping the first host bit keeps it in, the last network bit out. */
static void
test_range_contains_every_prefix(void **state)
{
	struct netaddr base[2] = {addr("203.0.113.77"),
	    addr("2001:db8:a5a5:5a5a:1234:5678:9abc:def0")};

	(void)state;
	for (size_t f = 0; f < 2; f++) {
		unsigned total = base[f].family == AF_INET ? 32 : 128;

		for (unsigned p = 0; p <= total; p++) {
			struct netrange r;
			struct netaddr a = base[f];

			r.addr = base[f];
			r.prefix = (uint8_t)p;
			for (unsigned bit = p; bit < total; bit++)
				r.addr.bytes[bit / 8] &=
				    (uint8_t) ~(0x80 >> (bit % 8));
			assert_true(netrange_contains(&r, &a));
			if (p < total) {
				a.bytes[p / 8] ^= (uint8_t)(0x80 >> (p % 8));
				assert_true(netrange_contains(&r, &a));
				a = base[f];
			}
			if (p > 0) {
				a.bytes[(p - 1) / 8] ^=
				    (uint8_t)(0x80 >> ((p - 1) % 8));
				assert_false(netrange_contains(&r, &a));
			}
		}
	}
}

/* ---- Range lists --------------------------------------------------------- */

static void
test_list_parse(void **state)
{
	struct netrange *list;
	size_t n;
	char err[256];
	struct netaddr a;

	(void)state;
	assert_true(
	    netrange_list_parse("10.0.0.0/8, 192.168.0.0/16 ,2001:db8::/32",
		&list, &n, err, sizeof(err)));
	assert_int_equal(n, 3);
	assert_int_equal(list[0].prefix, 8);
	assert_int_equal(list[1].prefix, 16);
	assert_int_equal(list[2].prefix, 32);
	a = addr("192.168.7.7");
	assert_true(netrange_list_contains(list, n, &a));
	a = addr("2001:db8::99");
	assert_true(netrange_list_contains(list, n, &a));
	a = addr("172.16.0.1");
	assert_false(netrange_list_contains(list, n, &a));
	free(list);

	/* Empty items, tabs and spaces around them are nothing. */
	assert_true(netrange_list_parse(
	    " ,\t, 10.0.0.1 ,,\t::1\t, ", &list, &n, err, sizeof(err)));
	assert_int_equal(n, 2);
	assert_int_equal(list[0].prefix, 32);
	assert_int_equal(list[1].prefix, 128);
	free(list);

	/* An empty list is a list, and contains nothing. */
	assert_true(netrange_list_parse("", &list, &n, err, sizeof(err)));
	assert_null(list);
	assert_int_equal(n, 0);
	assert_false(netrange_list_contains(list, n, &a));
	assert_true(netrange_list_parse(" , ", &list, &n, err, sizeof(err)));
	assert_null(list);
	assert_int_equal(n, 0);
}

static void
check_list_error(const char *spec, const char *item)
{
	struct netrange *list = (struct netrange *)1;
	size_t n = 99;
	char err[256] = "";

	if (netrange_list_parse(spec, &list, &n, err, sizeof(err)))
		fail_msg("\"%s\" should not parse", spec);
	assert_null(list);
	assert_int_equal(n, 0);
	if (strstr(err, item) == NULL)
		fail_msg(
		    "error for \"%s\" should name \"%s\": %s", spec, item, err);
}

static void
test_list_errors(void **state)
{
	char err[16];
	struct netrange *list;
	size_t n;
	char long_item[200];

	(void)state;
	check_list_error("10.0.0.0/8, bogus, 192.168.0.0/16", "'bogus'");
	check_list_error("10.1.2.3/8", "'10.1.2.3/8'");
	check_list_error("10.0.0.0/8,10.0.0.0 /8", "'10.0.0.0 /8'");
	check_list_error("192.168.0.0/16, ::/129", "'::/129'");
	check_list_error("1.2.3.4;5.6.7.8", "'1.2.3.4;5.6.7.8'");

	/* A long item is named by its start; the message stays bounded. */
	memset(long_item, 'x', sizeof(long_item) - 1);
	long_item[sizeof(long_item) - 1] = '\0';
	check_list_error(long_item, "xxxxxxxxxxxxxxxxxxxx");

	/* A small error buffer gets a truncated, terminated message. */
	assert_false(netrange_list_parse("nope", &list, &n, err, sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ipv4),
	    cmocka_unit_test(test_parse_ipv6),
	    cmocka_unit_test(test_parse_v4_mapped),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_format_unknown_family),
	    cmocka_unit_test(test_is_special),
	    cmocka_unit_test(test_from_sockaddr),
	    cmocka_unit_test(test_range_parse),
	    cmocka_unit_test(test_range_format),
	    cmocka_unit_test(test_range_contains),
	    cmocka_unit_test(test_range_contains_every_prefix),
	    cmocka_unit_test(test_list_parse),
	    cmocka_unit_test(test_list_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
