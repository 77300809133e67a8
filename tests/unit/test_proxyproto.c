/*
 * PROXY protocol parser (proxyproto.c): valid v1 and v2 headers fed whole
 * and byte by byte, a catalogue of malformed ones tagged with the rule each
 * breaks and the byte that proves it, then random mutations of the valid
 * ones. Every parse reads a copy that ends where an unmapped page begins,
 * so reading past `len` crashes the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "netaddr.h"
#include "proxyproto.h"

#define BOTH (PROXYPROTO_V1 | PROXYPROTO_V2)
/* Room for any header the tests build, mutated and grown. */
#define MAX_INPUT 2048

/* A v2 header's first 12 bytes, as hex. */
#define SIG "0d0a0d0a000d0a515549540a "
/* 192.0.2.1:51234 -> 198.51.100.7:1883 */
#define ADDR4 "c0000201 c6336407 c822 075b "
/* [2001:db8::1]:443 -> [2001:db8::2]:8883 */
#define ADDR6                                                                  \
	"20010db8000000000000000000000001 "                                    \
	"20010db8000000000000000000000002 01bb 22b3 "

/* ---- Guarded parsing ----------------------------------------------------- */

static uint8_t *guard_page; /* PROT_NONE: the byte after every input */
static uint8_t *guard_map;
static size_t guard_map_len;

static int
guard_setup(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (MAX_INPUT + page - 1) / page * page;

	(void)state;
	guard_map_len = data + page;
	guard_map = mmap(NULL, guard_map_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_map == MAP_FAILED)
		return -1;
	guard_page = guard_map + data;
	return mprotect(guard_page, page, PROT_NONE);
}

static int
guard_teardown(void **state)
{
	(void)state;
	return munmap(guard_map, guard_map_len);
}

/* Parses a copy of bytes[0..len) that the unmapped page follows. */
static enum proxyproto_status
parse(const uint8_t *bytes, size_t len, unsigned versions,
    struct proxyproto_result *r)
{
	uint8_t *copy = guard_page - len;

	assert_true(len <= MAX_INPUT);
	memmove(copy, bytes, len);
	return proxyproto_parse(copy, len, versions, r);
}

static const char *
status_name(enum proxyproto_status s)
{
	switch (s) {
	case PROXYPROTO_NEED_MORE:
		return "NEED_MORE";
	case PROXYPROTO_OK:
		return "OK";
	case PROXYPROTO_ERROR:
		return "ERROR";
	}
	return "?";
}

/* Decodes hex with spaces between bytes allowed; returns the length. */
static size_t
unhex(const char *hex, uint8_t *out, size_t room)
{
	size_t n = 0;

	for (const char *p = hex; *p != '\0';) {
		unsigned byte;

		if (*p == ' ') {
			p++;
			continue;
		}
		if (sscanf(p, "%2x", &byte) != 1 || p[1] == '\0' || p[1] == ' ')
			fail_msg("bad hex in test vector near \"%s\"", p);
		if (n == room)
			fail_msg("test vector too long");
		out[n++] = (uint8_t)byte;
		p += 2;
	}
	return n;
}

static void
assert_same_result(
    const struct proxyproto_result *a, const struct proxyproto_result *b)
{
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->local, b->local);
	assert_int_equal(a->version, b->version);
	if (a->local)
		return;
	assert_true(netaddr_equal(&a->src, &b->src));
	assert_true(netaddr_equal(&a->dst, &b->dst));
	assert_int_equal(a->src_port, b->src_port);
	assert_int_equal(a->dst_port, b->dst_port);
}

/* ---- Valid headers ------------------------------------------------------- */

/* A header as text (v1) or hex (v2), and what it says. */
struct valid_vector {
	const char *name;
	const char *text;
	const char *hex;
	bool local;
	const char *src;
	uint16_t src_port;
	const char *dst;
	uint16_t dst_port;
};

static const struct valid_vector valid[] = {
    {"v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.7 51234 1883\r\n", NULL, false,
	"192.0.2.1", 51234, "198.51.100.7", 1883},
    {"v1 TCP4 extreme values", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
	NULL, false, "0.0.0.0", 0, "255.255.255.255", 65535},
    {"v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 443 8883\r\n", NULL, false,
	"2001:db8::1", 443, "2001:db8::2", 8883},
    /* Mapped IPv4 is the IPv4 client; hex digits in either case. */
    {"v1 TCP6 IPv4-mapped",
	"PROXY TCP6 ::ffff:192.0.2.1 2001:DB8::2 443 8883\r\n", NULL, false,
	"192.0.2.1", 443, "2001:db8::2", 8883},
    {"v1 TCP6 longest address text",
	"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ::1 "
	"65535 65535\r\n",
	NULL, false, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, "::1",
	65535},
    {"v1 UNKNOWN", "PROXY UNKNOWN\r\n", NULL, true, NULL, 0, NULL, 0},
    /* The spec's worst case: exactly 107 bytes. */
    {"v1 UNKNOWN at 107 bytes",
	"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	NULL, true, NULL, 0, NULL, 0},
    /* After UNKNOWN the receiver ignores everything up to CRLF. */
    {"v1 UNKNOWN with junk", "PROXY UNKNOWN  anything\x01 goes\r\n", NULL, true,
	NULL, 0, NULL, 0},
    {"v2 PROXY TCP4", NULL, SIG "21 11 000c " ADDR4, false, "192.0.2.1", 51234,
	"198.51.100.7", 1883},
    {"v2 PROXY TCP6", NULL, SIG "21 21 0024 " ADDR6, false, "2001:db8::1", 443,
	"2001:db8::2", 8883},
    {"v2 PROXY TCP6 IPv4-mapped", NULL,
	SIG "21 21 0024 00000000000000000000ffffc0000201 "
	    "00000000000000000000ffffc6336407 c822 075b",
	false, "192.0.2.1", 51234, "198.51.100.7", 1883},
    /* ALPN "mqtt", AUTHORITY "broker.example", NOOP, SSL with a version
	 * sub-TLV "1.3". */
    {"v2 PROXY TCP4 with TLVs", NULL,
	SIG "21 11 0035 " ADDR4 "01 0004 6d717474 "
	    "02 000e 62726f6b65722e6578616d706c65 "
	    "04 0000 "
	    "20 000b 01 00000000 21 0003 312e33",
	false, "192.0.2.1", 51234, "198.51.100.7", 1883},
    /* UNIQUE_ID, then NOOP padding. */
    {"v2 PROXY TCP6 with TLVs", NULL,
	SIG "21 21 0031 " ADDR6 "05 0004 deadbeef 04 0003 000000", false,
	"2001:db8::1", 443, "2001:db8::2", 8883},
    {"v2 PROXY UNSPEC", NULL, SIG "21 00 0000", true, NULL, 0, NULL, 0},
    {"v2 PROXY UNSPEC with a TLV", NULL, SIG "21 00 0003 04 0000", true, NULL,
	0, NULL, 0},
    {"v2 LOCAL", NULL, SIG "20 00 0000", true, NULL, 0, NULL, 0},
    /* LOCAL: the spec says to discard the block, family included. */
    {"v2 LOCAL with addresses", NULL, SIG "20 11 000c " ADDR4, true, NULL, 0,
	NULL, 0},
    {"v2 LOCAL with a UDP family", NULL, SIG "20 12 000c " ADDR4, true, NULL, 0,
	NULL, 0},
};

#define N_VALID (sizeof(valid) / sizeof(valid[0]))

static size_t
vector_bytes(const struct valid_vector *v, uint8_t *out, size_t room)
{
	size_t n;

	if (v->hex != NULL)
		return unhex(v->hex, out, room);
	n = strlen(v->text);
	assert_true(n <= room);
	memcpy(out, v->text, n);
	return n;
}

static void
check_valid(
    const struct valid_vector *v, size_t len, const struct proxyproto_result *r)
{
	char text[NETADDR_STRLEN];

	if (r->consumed != len || r->local != v->local ||
	    r->version != (v->hex != NULL ? 2 : 1) || r->error != NULL)
		fail_msg("%s: consumed %zu of %zu, local %d, version %d",
		    v->name, r->consumed, len, r->local, r->version);
	if (v->local)
		return;
	netaddr_format(&r->src, text);
	if (strcmp(text, v->src) != 0)
		fail_msg("%s: source %s, expected %s", v->name, text, v->src);
	netaddr_format(&r->dst, text);
	if (strcmp(text, v->dst) != 0)
		fail_msg(
		    "%s: destination %s, expected %s", v->name, text, v->dst);
	if (r->src_port != v->src_port || r->dst_port != v->dst_port)
		fail_msg("%s: ports %u -> %u, expected %u -> %u", v->name,
		    r->src_port, r->dst_port, v->src_port, v->dst_port);
}

static void
test_valid_headers(void **state)
{
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result r;

	(void)state;
	for (size_t i = 0; i < N_VALID; i++) {
		size_t len = vector_bytes(&valid[i], bytes, sizeof(bytes));
		enum proxyproto_status s = parse(bytes, len, BOTH, &r);

		if (s != PROXYPROTO_OK)
			fail_msg("%s: %s (%s)", valid[i].name, status_name(s),
			    r.error != NULL ? r.error : "");
		check_valid(&valid[i], len, &r);
	}
}

/* Fed one byte more each call, as a socket might deliver it. */
static void
test_byte_by_byte(void **state)
{
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result whole, r;

	(void)state;
	for (size_t i = 0; i < N_VALID; i++) {
		size_t len = vector_bytes(&valid[i], bytes, sizeof(bytes));

		assert_int_equal(
		    parse(bytes, len, BOTH, &whole), PROXYPROTO_OK);
		for (size_t k = 0; k < len; k++) {
			enum proxyproto_status s = parse(bytes, k, BOTH, &r);

			if (s != PROXYPROTO_NEED_MORE)
				fail_msg("%s: %s after %zu of %zu bytes (%s)",
				    valid[i].name, status_name(s), k, len,
				    r.error != NULL ? r.error : "");
		}
		assert_int_equal(parse(bytes, len, BOTH, &r), PROXYPROTO_OK);
		assert_same_result(&whole, &r);
	}
}

/* The client's first bytes follow the header and stay unread. */
static void
test_trailing_bytes_not_consumed(void **state)
{
	static const char *const tails[] = {
	    "\x10\x0e\x00\x04MQTT", /* an MQTT CONNECT */
	    "PROXY TCP4 203.0.113.9 198.51.100.7 1 2\r\n", /* a second header */
	    "\r\n",
	    "\x0d\x0a\x0d\x0a",
	};
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result whole, r;

	(void)state;
	for (size_t i = 0; i < N_VALID; i++) {
		size_t len = vector_bytes(&valid[i], bytes, sizeof(bytes));

		assert_int_equal(
		    parse(bytes, len, BOTH, &whole), PROXYPROTO_OK);
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			size_t tail = strlen(tails[t]);

			memcpy(bytes + len, tails[t], tail);
			assert_int_equal(
			    parse(bytes, len + tail, BOTH, &r), PROXYPROTO_OK);
			assert_int_equal(r.consumed, len);
			assert_same_result(&whole, &r);
		}
	}
}

static void
test_version_mask(void **state)
{
	static const char v1[] =
	    "PROXY TCP4 192.0.2.1 198.51.100.7 51234 1883\r\n";
	uint8_t v2[64];
	size_t v2_len = unhex(SIG "21 11 000c " ADDR4, v2, sizeof(v2));
	struct proxyproto_result r;

	(void)state;
	assert_int_equal(
	    parse((const uint8_t *)v1, strlen(v1), PROXYPROTO_V1, &r),
	    PROXYPROTO_OK);
	assert_int_equal(parse(v2, v2_len, PROXYPROTO_V2, &r), PROXYPROTO_OK);

	/* The wrong version is refused, from its first byte on. */
	for (size_t k = 1; k <= strlen(v1); k++) {
		assert_int_equal(
		    parse((const uint8_t *)v1, k, PROXYPROTO_V2, &r),
		    PROXYPROTO_ERROR);
		assert_non_null(r.error);
	}
	for (size_t k = 1; k <= v2_len; k++) {
		assert_int_equal(
		    parse(v2, k, PROXYPROTO_V1, &r), PROXYPROTO_ERROR);
		assert_non_null(r.error);
	}
	/* An empty mask accepts nothing, not even "wait for more". */
	assert_int_equal(parse(v2, 0, 0, &r), PROXYPROTO_ERROR);
	assert_int_equal(parse(v2, v2_len, 0, &r), PROXYPROTO_ERROR);
	/* Bits beyond v1 and v2 do not matter. */
	assert_int_equal(
	    parse(v2, v2_len, PROXYPROTO_V2 | 0x80u, &r), PROXYPROTO_OK);
	/* Nothing yet is a valid start of anything. */
	assert_int_equal(parse(v2, 0, PROXYPROTO_V1, &r), PROXYPROTO_NEED_MORE);
	assert_int_equal(parse(v2, 0, PROXYPROTO_V2, &r), PROXYPROTO_NEED_MORE);
}

/* A complete-looking v1 line without its CRLF is never accepted. */
static void
test_v1_needs_crlf(void **state)
{
	static const char line[] =
	    "PROXY TCP4 192.0.2.1 198.51.100.7 51234 1883";
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result r;
	size_t len = strlen(line);

	(void)state;
	memcpy(bytes, line, len);
	assert_int_equal(parse(bytes, len, BOTH, &r), PROXYPROTO_NEED_MORE);
	bytes[len] = '\r';
	assert_int_equal(parse(bytes, len + 1, BOTH, &r), PROXYPROTO_NEED_MORE);
	bytes[len + 1] = '\n';
	assert_int_equal(parse(bytes, len + 2, BOTH, &r), PROXYPROTO_OK);
	assert_int_equal(r.consumed, len + 2);
}

/* The length bound: an address block and TLVs of 1024 bytes, not 1025. */
static void
test_v2_length_bound(void **state)
{
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result r;
	size_t head = unhex(SIG "21 11 0400 " ADDR4, bytes, sizeof(bytes));
	size_t noop = PROXYPROTO_V2_MAX_BLOCK - 12 - 3;
	size_t len = head + 3 + noop;

	(void)state;
	assert_int_equal(len, PROXYPROTO_MAX_HEADER);
	bytes[head] = 0x04; /* NOOP */
	bytes[head + 1] = (uint8_t)(noop >> 8);
	bytes[head + 2] = (uint8_t)noop;
	memset(bytes + head + 3, 0xaa, noop);
	assert_int_equal(parse(bytes, len, BOTH, &r), PROXYPROTO_OK);
	assert_int_equal(r.consumed, len);
	assert_int_equal(parse(bytes, len - 1, BOTH, &r), PROXYPROTO_NEED_MORE);

	/* One more byte of NOOP is one more than we accept. */
	bytes[15] = 0x01;
	bytes[head + 2] = (uint8_t)(noop + 1);
	bytes[len] = 0xaa;
	assert_int_equal(parse(bytes, 16, BOTH, &r), PROXYPROTO_ERROR);
	assert_int_equal(parse(bytes, len + 1, BOTH, &r), PROXYPROTO_ERROR);
}

/* ---- Malformed headers --------------------------------------------------- */

/*
 * A bad header, the rule it breaks, and how many bytes prove it: every
 * shorter prefix is NEED_MORE, that one and every longer one ERROR.
 * decided_at 0 means "all of it".
 */
struct bad_vector {
	const char *rule;
	const char *text; /* v1, with its length (it may hold a NUL) */
	size_t text_len;
	const char *hex; /* v2 */
	size_t decided_at;
};

#define TEXT(s) s, sizeof(s) - 1, NULL
#define HEX(s) NULL, 0, s
/* The bytes it takes to prove a v1 line bad, written as that prefix. */
#define AT(s) (sizeof(s) - 1)

#define V1_TCP4_LINE "PROXY TCP4 192.0.2.1 198.51.100.7 51234 1883"
#define X10 "xxxxxxxxxx"

static const struct bad_vector bad[] = {
    /* Signatures */
    {"v1 signature is case-sensitive",
	TEXT("proxy TCP4 192.0.2.1 198.51.100.7 1 2\r\n"), 1},
    {"v1 signature needs a space after PROXY", TEXT("PROXY\r\n"),
	AT("PROXY\r")},
    {"v2 signature, last byte wrong",
	HEX("0d0a0d0a000d0a515549540b 21 11 000c " ADDR4), 12},
    {"v2 signature, sixth byte wrong", HEX("0d0a0d0a000e0a515549540a"), 6},
    {"neither signature", TEXT("GET / HTTP/1.1\r\n"), 1},
    {"an MQTT CONNECT is not a header", TEXT("\x10\x0e\x00\x04MQTT"), 1},

    /* v1 line ending and length */
    {"v1 ends in CRLF, not LF", TEXT(V1_TCP4_LINE "\n"), 0},
    {"v1 CR must be followed by LF", TEXT(V1_TCP4_LINE "\rX"), 0},
    {"v1 CR CR LF", TEXT(V1_TCP4_LINE "\r\r\n"), AT(V1_TCP4_LINE "\r\r")},
    {"v1 no LF inside the line",
	TEXT("PROXY TCP4 192.0.2.1\n198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1\n")},
    {"v1 UNKNOWN ends in CRLF too", TEXT("PROXY UNKNOWN\n"), 0},
    {"v1 at most 107 bytes: no CR in the first 106",
	TEXT("PROXY UNKNOWN " X10 X10 X10 X10 X10 X10 X10 X10 X10 X10), 106},
    {"v1 at most 107 bytes: a 108-byte line",
	TEXT("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n"),
	106},

    /* v1 fields and separators */
    {"v1 single space after PROXY",
	TEXT("PROXY  TCP4 192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY  ")},
    {"v1 single space after the protocol",
	TEXT("PROXY TCP4  192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4  ")},
    {"v1 single space between addresses",
	TEXT("PROXY TCP4 192.0.2.1  198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1  ")},
    {"v1 single space between ports",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 51234  1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 51234  ")},
    {"v1 no space before CRLF", TEXT(V1_TCP4_LINE " \r\n"),
	AT(V1_TCP4_LINE " ")},
    {"v1 nothing after the destination port", TEXT(V1_TCP4_LINE " 80\r\n"),
	AT(V1_TCP4_LINE " ")},
    {"v1 separator is a space, not a tab",
	TEXT("PROXY TCP4\t192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4\t")},
    {"v1 protocol is upper case",
	TEXT("PROXY tcp4 192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY t")},
    {"v1 protocol TCP5",
	TEXT("PROXY TCP5 192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP5")},
    {"v1 protocol UDP4",
	TEXT("PROXY UDP4 192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY UD")},
    {"v1 protocol UNKNOWNX", TEXT("PROXY UNKNOWNX\r\n"), AT("PROXY UNKNOWNX")},
    {"v1 protocol missing", TEXT("PROXY \r\n"), AT("PROXY \r")},
    {"v1 TCP4 needs addresses", TEXT("PROXY TCP4\r\n"), AT("PROXY TCP4\r")},
    {"v1 TCP4 needs a destination port",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 51234\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 51234\r")},

    /* v1 addresses */
    {"v1 IPv4 octet over 255",
	TEXT("PROXY TCP4 256.1.1.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 256.1.1.1 ")},
    {"v1 IPv4 needs four octets",
	TEXT("PROXY TCP4 1.2.3 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 1.2.3 ")},
    {"v1 IPv4 has only four octets",
	TEXT("PROXY TCP4 1.2.3.4.5 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 1.2.3.4.5 ")},
    {"v1 IPv4 octets have no leading zero",
	TEXT("PROXY TCP4 192.0.2.01 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 192.0.2.01 ")},
    {"v1 IPv4 destination needs four octets",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100 51234 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100 ")},
    {"v1 TCP4 with IPv6 text",
	TEXT("PROXY TCP4 2001:db8::1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 2001:")},
    {"v1 TCP4 with IPv4-mapped IPv6 text",
	TEXT("PROXY TCP4 ::ffff:192.0.2.1 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 :")},
    {"v1 TCP6 with IPv4 source",
	TEXT("PROXY TCP6 192.0.2.1 2001:db8::2 443 8883\r\n"),
	AT("PROXY TCP6 192.0.2.1 ")},
    {"v1 TCP6 with IPv4 destination",
	TEXT("PROXY TCP6 2001:db8::1 192.0.2.2 443 8883\r\n"),
	AT("PROXY TCP6 2001:db8::1 192.0.2.2 ")},
    {"v1 IPv6 with two ::",
	TEXT("PROXY TCP6 2001:db8:::1 2001:db8::2 443 8883\r\n"),
	AT("PROXY TCP6 2001:db8:::1 ")},
    {"v1 IPv6 has no zone index",
	TEXT("PROXY TCP6 fe80::1%eth0 2001:db8::2 443 8883\r\n"),
	AT("PROXY TCP6 fe80::1%")},
    {"v1 address, not a host name",
	TEXT("PROXY TCP4 localhost 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 l")},
    {"v1 address with a NUL",
	TEXT("PROXY TCP4 192.0.2.1\0 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1\0")},
    {"v1 IPv4 text at most 15 characters",
	TEXT("PROXY TCP4 0000000000000000 198.51.100.7 51234 1883\r\n"),
	AT("PROXY TCP4 0000000000000000")},
    {"v1 IPv6 text at most 45 characters",
	TEXT("PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0000:00 ::1 1 "
	     "2\r\n"),
	AT("PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0000:0")},

    /* v1 ports */
    {"v1 port at most 65535",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 65536 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 65536")},
    {"v1 port at most 65535 (99999)",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 99999 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 99999")},
    {"v1 port at most five digits",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 123456 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 123456")},
    {"v1 destination port at most 65535",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 1883 65536\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 1883 65536")},
    {"v1 port overflowing 32 bits",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 4294967297 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 429496")},
    {"v1 port has no minus sign",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 -1 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 -")},
    {"v1 port has no plus sign",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 +1 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 +")},
    {"v1 port has no leading zero",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 01883 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 01")},
    {"v1 port zero is one digit",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 00 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 00")},
    {"v1 port is decimal",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 0x50 1883\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 0x")},
    {"v1 port is only digits",
	TEXT("PROXY TCP4 192.0.2.1 198.51.100.7 51234 1883a\r\n"),
	AT("PROXY TCP4 192.0.2.1 198.51.100.7 51234 1883a")},

    /* v2 version and command */
    {"v2 version nibble 1", HEX(SIG "11 11 000c " ADDR4), 13},
    {"v2 version nibble 3", HEX(SIG "31 11 000c " ADDR4), 13},
    {"v2 version nibble 0", HEX(SIG "01 11 000c " ADDR4), 13},
    {"v2 command 2", HEX(SIG "22 11 000c " ADDR4), 13},
    {"v2 command 15", HEX(SIG "2f 11 000c " ADDR4), 13},

    /* v2 families */
    {"v2 UDP over IPv4", HEX(SIG "21 12 000c " ADDR4), 14},
    {"v2 UDP over IPv6", HEX(SIG "21 22 0024 " ADDR6), 14},
    {"v2 Unix stream", HEX(SIG "21 31 00d8"), 14},
    {"v2 Unix datagram", HEX(SIG "21 32 00d8"), 14},
    {"v2 IPv4, unspecified transport", HEX(SIG "21 10 000c " ADDR4), 14},
    {"v2 unspecified family, stream", HEX(SIG "21 01 000c " ADDR4), 14},
    {"v2 transport 3", HEX(SIG "21 13 000c " ADDR4), 14},
    {"v2 family 4", HEX(SIG "21 41 000c " ADDR4), 14},

    /* v2 length */
    {"v2 length under the TCP4 block",
	HEX(SIG "21 11 000b c0000201 c6336407 c822 07"), 16},
    {"v2 length zero for TCP4", HEX(SIG "21 11 0000"), 16},
    {"v2 length under the TCP6 block", HEX(SIG "21 21 0023 " ADDR6), 16},
    {"v2 TCP6 with a TCP4-sized block", HEX(SIG "21 21 000c " ADDR4), 16},
    {"v2 length over 1024", HEX(SIG "21 11 0401 " ADDR4), 16},
    {"v2 length 65535", HEX(SIG "21 11 ffff " ADDR4), 16},
    {"v2 LOCAL length over 1024", HEX(SIG "20 00 0401"), 16},

    /* v2 TLVs */
    {"v2 two bytes cannot hold a TLV header",
	HEX(SIG "21 11 000e " ADDR4 "0400"), 16},
    {"v2 UNSPEC: one byte cannot hold a TLV header", HEX(SIG "21 00 0001 00"),
	16},
    {"v2 TLV overruns the block",
	HEX(SIG "21 11 0013 " ADDR4 "01 0005 6d717474"), 31},
    {"v2 TLV leaves a stray byte",
	HEX(SIG "21 11 0013 " ADDR4 "01 0003 6d7174 74"), 31},
    {"v2 second TLV overruns the block",
	HEX(SIG "21 11 0016 " ADDR4 "01 0004 6d717474 04 0001"), 38},
    {"v2 TLV length 65535", HEX(SIG "21 11 0013 " ADDR4 "04 ffff 00000000"),
	31},
    {"v2 SSL TLV shorter than its fixed part",
	HEX(SIG "21 11 0013 " ADDR4 "20 0004 01000000"), 31},
    {"v2 SSL sub-TLV overruns the SSL TLV",
	HEX(SIG "21 11 001a " ADDR4 "20 000b 01 00000000 21 0004 312e33"), 0},
    {"v2 SSL sub-TLV header cut short",
	HEX(SIG "21 11 0016 " ADDR4 "20 0007 01 00000000 2100"), 0},
};

#define N_BAD (sizeof(bad) / sizeof(bad[0]))

static size_t
bad_bytes(const struct bad_vector *v, uint8_t *out, size_t room)
{
	if (v->hex != NULL)
		return unhex(v->hex, out, room);
	assert_true(v->text_len <= room);
	memcpy(out, v->text, v->text_len);
	return v->text_len;
}

static void
test_malformed_catalogue(void **state)
{
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result r;

	(void)state;
	for (size_t i = 0; i < N_BAD; i++) {
		size_t len = bad_bytes(&bad[i], bytes, sizeof(bytes));
		size_t decided =
		    bad[i].decided_at != 0 ? bad[i].decided_at : len;

		if (decided > len)
			fail_msg("%s: decided_at %zu is past its %zu bytes",
			    bad[i].rule, decided, len);
		for (size_t k = 0; k <= len; k++) {
			enum proxyproto_status want = k < decided
			    ? PROXYPROTO_NEED_MORE
			    : PROXYPROTO_ERROR;
			enum proxyproto_status s = parse(bytes, k, BOTH, &r);

			if (s != want)
				fail_msg("[%s] %s after %zu bytes, expected %s "
					 "(error: %s)",
				    bad[i].rule, status_name(s), k,
				    status_name(want),
				    r.error != NULL ? r.error : "none");
			if (s == PROXYPROTO_ERROR && r.error == NULL)
				fail_msg(
				    "[%s] ERROR without a reason", bad[i].rule);
		}
	}
}

/* Every valid header cut short anywhere asks for more, never more. */
static void
test_truncated_everywhere(void **state)
{
	uint8_t bytes[MAX_INPUT];
	struct proxyproto_result r;

	(void)state;
	for (size_t i = 0; i < N_VALID; i++) {
		size_t len = vector_bytes(&valid[i], bytes, sizeof(bytes));

		for (unsigned versions = 1; versions <= 3; versions++) {
			bool allowed = versions &
			    (valid[i].hex != NULL ? PROXYPROTO_V2
						  : PROXYPROTO_V1);

			for (size_t k = 0; k < len; k++) {
				enum proxyproto_status s =
				    parse(bytes, k, versions, &r);

				if (s == PROXYPROTO_OK ||
				    (allowed && s != PROXYPROTO_NEED_MORE))
					fail_msg(
					    "%s cut to %zu bytes, mask %u: "
					    "%s",
					    valid[i].name, k, versions,
					    status_name(s));
			}
		}
	}
}

/* ---- Random mutations ---------------------------------------------------- */

#define MUTATIONS 100000

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t
rng(void)
{
	/* xorshift64*: fixed seed, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Bytes that sit on the parser's decision points. */
static const uint8_t interesting[] = {0x00, ' ', '\r', '\n', ':', '.', '0', '9',
    'f', 0x0f, 0x10, 0x11, 0x20, 0x21, 0x22, 0x7f, 0x80, 0xff};

static size_t
mutate(uint8_t *b, size_t len)
{
	unsigned rounds = 1 + rng() % 4;

	for (unsigned i = 0; i < rounds; i++) {
		size_t at = len > 0 ? rng() % len : 0;

		switch (rng() % 7) {
		case 0: /* any byte */
			if (len > 0)
				b[at] = (uint8_t)rng();
			break;
		case 1: /* a byte the parser decides on */
			if (len > 0)
				b[at] =
				    interesting[rng() % sizeof(interesting)];
			break;
		case 2: /* insert */
			if (len < MAX_INPUT) {
				memmove(b + at + 1, b + at, len - at);
				b[at] =
				    interesting[rng() % sizeof(interesting)];
				len++;
			}
			break;
		case 3: /* delete */
			if (len > 0) {
				memmove(b + at, b + at + 1, len - at - 1);
				len--;
			}
			break;
		case 4: /* truncate */
			len = at;
			break;
		case 5: /* append random bytes */
			for (unsigned n = rng() % 64; n > 0 && len < MAX_INPUT;
			     n--)
				b[len++] = (uint8_t)rng();
			break;
		case 6: /* a v2 length, or a TLV length, of any value */
			if (len >= 16) {
				size_t pos = rng() % 2 ? 14 : 16 + rng() % 64;

				if (pos + 1 < len) {
					b[pos] = (uint8_t)(rng() % 8);
					b[pos + 1] = (uint8_t)rng();
				}
			}
			break;
		}
	}
	return len;
}

static bool
is_ip_family(int family)
{
	return family == AF_INET || family == AF_INET6;
}

static void
check_mutant(unsigned iteration, const uint8_t *b, size_t len)
{
	unsigned versions = 1 + rng() % 3;
	struct proxyproto_result r, again;
	enum proxyproto_status s = parse(b, len, versions, &r);
	size_t cut = len > 0 ? rng() % len : 0;
	enum proxyproto_status s_cut = parse(b, cut, versions, &again);

	switch (s) {
	case PROXYPROTO_OK:
		if (r.consumed == 0 || r.consumed > len || r.error != NULL ||
		    (r.version != 1 && r.version != 2) ||
		    (r.version == 1 && r.consumed > PROXYPROTO_V1_MAX) ||
		    r.consumed > PROXYPROTO_MAX_HEADER)
			fail_msg("mutation %u: OK with consumed %zu of %zu, "
				 "version %d",
			    iteration, r.consumed, len, r.version);
		if (!r.local &&
		    (!is_ip_family(r.src.family) ||
			!is_ip_family(r.dst.family)))
			fail_msg(
			    "mutation %u: OK without addresses", iteration);
		/* The header alone decides, and is all it takes. */
		assert_int_equal(
		    parse(b, r.consumed, versions, &again), PROXYPROTO_OK);
		assert_same_result(&r, &again);
		assert_int_equal(parse(b, r.consumed - 1, versions, &again),
		    PROXYPROTO_NEED_MORE);
		break;
	case PROXYPROTO_ERROR:
		if (r.error == NULL)
			fail_msg(
			    "mutation %u: ERROR without a reason", iteration);
		break;
	case PROXYPROTO_NEED_MORE:
		if (len >= PROXYPROTO_MAX_HEADER)
			fail_msg("mutation %u: NEED_MORE with %zu bytes",
			    iteration, len);
		break;
	}
	/* A prefix proven bad stays bad; a prefix of a good header waits. */
	if (s_cut == PROXYPROTO_ERROR && s != PROXYPROTO_ERROR)
		fail_msg("mutation %u: ERROR at %zu bytes but %s at %zu",
		    iteration, cut, status_name(s), len);
	if (s_cut == PROXYPROTO_OK && s != PROXYPROTO_OK)
		fail_msg("mutation %u: OK at %zu bytes but %s at %zu",
		    iteration, cut, status_name(s), len);
}

static void
test_random_mutations(void **state)
{
	uint8_t seeds[N_VALID][MAX_INPUT];
	size_t seed_len[N_VALID];
	uint8_t b[MAX_INPUT];

	(void)state;
	for (size_t i = 0; i < N_VALID; i++)
		seed_len[i] = vector_bytes(&valid[i], seeds[i], MAX_INPUT);
	for (unsigned it = 0; it < MUTATIONS; it++) {
		size_t pick = rng() % N_VALID;
		size_t len = seed_len[pick];

		memcpy(b, seeds[pick], len);
		len = mutate(b, len);
		check_mutant(it, b, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_headers),
	    cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_trailing_bytes_not_consumed),
	    cmocka_unit_test(test_version_mask),
	    cmocka_unit_test(test_v1_needs_crlf),
	    cmocka_unit_test(test_v2_length_bound),
	    cmocka_unit_test(test_malformed_catalogue),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_random_mutations),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
