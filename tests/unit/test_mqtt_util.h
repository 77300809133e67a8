/*
 * Helpers shared by the MQTT codec tests (test_mqtt*.c): test vectors
 * written as hex with 'quoted text', decoding and round-trip checks.
 */
#ifndef FLYTRAP_TEST_MQTT_UTIL_H
#define FLYTRAP_TEST_MQTT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mqtt.h"

/* Big enough for every vector written as text. */
#define VEC_MAX 1024

struct vec {
	uint8_t version; /* session version to decode with; 0: a CONNECT */
	const char *name;
	const char *hex;
};

/*
 * Parses a vector: pairs of hex digits, with whitespace anywhere between
 * pairs, and 'text' copied byte for byte. Fails the test on a bad vector.
 */
static inline size_t
vec_parse(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned int v;

	while (*s != '\0') {
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			s++;
		} else if (*s == '\'') {
			for (s++; *s != '\'' && *s != '\0'; s++) {
				if (n >= cap)
					fail_msg("vector too long");
				out[n++] = (uint8_t)*s;
			}
			if (*s != '\'')
				fail_msg("unterminated text in vector");
			s++;
		} else {
			if (sscanf(s, "%2x", &v) != 1 || s[1] == '\0' ||
			    s[1] == ' ' || n >= cap)
				fail_msg("bad hex in vector at \"%s\"", s);
			out[n++] = (uint8_t)v;
			s += 2;
		}
	}
	return n;
}

/*
 * Frames and decodes one whole packet. The body is copied into a heap
 * block of exactly `remaining` bytes, so a sanitizer build catches any read
 * past it; the copy lives until the next call (views in *p point into it).
 */
static inline enum mqtt_result
test_decode(uint8_t version, const uint8_t *pkt, size_t len,
    struct mqtt_fixed_header *hdr, struct mqtt_packet *p)
{
	static uint8_t *body;
	enum mqtt_result rc;

	memset(hdr, 0, sizeof(*hdr));
	rc = mqtt_frame(pkt, len, UINT32_MAX, hdr);
	if (rc != MQTT_OK)
		return rc;
	if ((size_t)hdr->header_len + hdr->remaining != len)
		fail_msg("vector length %zu but the header says %zu", len,
		    (size_t)hdr->header_len + hdr->remaining);
	free(body);
	body = malloc(hdr->remaining > 0 ? hdr->remaining : 1);
	assert_non_null(body);
	memcpy(body, pkt + hdr->header_len, hdr->remaining);
	return mqtt_decode(version, hdr, body, p);
}

static inline enum mqtt_result
decode_bytes(uint8_t version, const uint8_t *pkt, size_t len)
{
	struct mqtt_fixed_header hdr;
	struct mqtt_packet p;

	return test_decode(version, pkt, len, &hdr, &p);
}

/* Decoding the vector gives `want`; else fails naming the vector. */
static inline void
decode_expect_at(uint8_t version, const char *hex, enum mqtt_result want,
    const char *file, int line)
{
	uint8_t buf[VEC_MAX];
	size_t len = vec_parse(hex, buf, sizeof(buf));
	enum mqtt_result got = decode_bytes(version, buf, len);

	if (got != want)
		fail_msg("%s:%d: v%u \"%s\": got %s, want %s", file, line,
		    version, hex, mqtt_result_str(got), mqtt_result_str(want));
}

#define decode_expect(version, hex, want)                                      \
	decode_expect_at((version), (hex), (want), __FILE__, __LINE__)

/*
 * A decoded packet re-encodes to exactly its bytes; every smaller buffer
 * gives MQTT_NO_SPACE and nothing is written past its capacity.
 */
static inline void
roundtrip_bytes(
    uint8_t version, const char *name, const uint8_t *pkt, size_t len)
{
	struct mqtt_fixed_header hdr;
	struct mqtt_packet p;
	enum mqtt_result rc;
	uint8_t *out;
	size_t out_len, cap, i, step;

	rc = test_decode(version, pkt, len, &hdr, &p);
	if (rc != MQTT_OK)
		fail_msg("%s: decode: %s", name, mqtt_result_str(rc));
	if (version == 0)
		version = p.u.connect.version;
	out = malloc(len + 16);
	assert_non_null(out);
	memset(out, 0xa5, len + 16);
	out_len = 0;
	rc = mqtt_encode(version, &p, out, len + 16, &out_len);
	if (rc != MQTT_OK)
		fail_msg("%s: encode: %s", name, mqtt_result_str(rc));
	if (out_len != len || memcmp(out, pkt, len) != 0)
		fail_msg("%s: re-encoded to different bytes", name);
	for (i = len; i < len + 16; i++)
		assert_int_equal(out[i], 0xa5);

	step = len > 512 ? len / 97 + 1 : 1;
	for (cap = 0; cap < len;
	     cap += (cap < 64 || cap + 64 > len) ? 1 : step) {
		memset(out, 0xa5, len + 16);
		rc = mqtt_encode(version, &p, out, cap, &out_len);
		if (rc != MQTT_NO_SPACE)
			fail_msg(
			    "%s: cap %zu: %s", name, cap, mqtt_result_str(rc));
		for (i = cap; i < len + 16; i++)
			if (out[i] != 0xa5)
				fail_msg("%s: cap %zu: wrote byte %zu", name,
				    cap, i);
	}
	free(out);
}

static inline void
roundtrip_vec(const struct vec *v)
{
	uint8_t buf[VEC_MAX];
	size_t len = vec_parse(v->hex, buf, sizeof(buf));

	roundtrip_bytes(v->version, v->name, buf, len);
}

/*
 * Valid packets of every type in both versions, many with properties of
 * every type. Generated with their lengths computed, then checked by hand.
 */
static inline const struct vec *
valid_vectors(size_t *n)
{
	static const struct vec v[] = {
	    /* ---- CONNECT */
	    {0, "v311 CONNECT minimal, empty client id",
		"10 0c 0004 'MQTT' 04 02 003c 0000"},
	    {0, "v311 CONNECT will qos1 retain, username, password",
		"10 21 0004 'MQTT' 04 ee 000a 0003 'cid' 0003 'w/t' 0003 "
		"'bye' 0001 'u' 0003 00ff70"},
	    {0, "v311 CONNECT will qos2, username only, no clean",
		"10 21 0004 'MQTT' 04 94 0000 0008 'client-1' 0003 'a/b' "
		"0000 0004 'user'"},
	    {0, "v311 CONNECT UTF-8 client id",
		"10 15 0004 'MQTT' 04 02 ffff 0009 c3a9e282acf09f9880"},
	    {0, "v5 CONNECT minimal", "10 0d 0004 'MQTT' 05 02 003c 00 0000"},
	    {0,
		"v5 CONNECT all connect and will properties, password without "
		"username",
		"10 9a01 0004 'MQTT' 05 76 0e10 37 1100000078 210010 "
		"2700001000 220005 1901 1700 26 0001 'k' 0001 'v' 26 0001 "
		"'k' 0002 'v2' 15 000b 'SCRAM-SHA-1' 16 0003 010203 0003 "
		"'cid' 39 1800000005 0101 020000003c 03 000a 'text/plain' "
		"08 0006 'resp/t' 09 0002 abcd 26 0002 'wk' 0002 'wv' 26 "
		"0002 'wk' 0002 'wv' 000a 'will/topic' 0003 000102 0006 "
		"736563726574"},
	    {0, "v5 CONNECT username and password, empty will props",
		"10 25 0004 'MQTT' 05 c6 001e 06 26 0001 'a' 0000 0002 "
		"'id' 00 0001 't' 0000 0004 'name' 0002 'pw'"},
	    /* ---- CONNACK */
	    {4, "v311 CONNACK accepted", "20 02 00 00"},
	    {4, "v311 CONNACK session present", "20 02 01 00"},
	    {4, "v311 CONNACK not authorised", "20 02 00 05"},
	    {5, "v5 CONNACK minimal", "20 03 00 00 00"},
	    {5, "v5 CONNACK refused 0x87", "20 08 00 87 05 1f 0002 'no'"},
	    {5, "v5 CONNACK all connack properties",
		"20 5d 01 00 5a 11ffffffff 210064 2401 2500 2710000004 12 "
		"0006 'auto-1' 22000a 1f 0007 'welcome' 26 0001 'k' 0001 "
		"'v' 2801 2900 2a01 13001e 1a 0004 'resp' 1c 000a "
		"'other:1883' 15 0001 'M' 16 0001 00 26 0001 'k' 0001 'v'"},
	    /* ---- PUBLISH */
	    {4, "v311 PUBLISH qos0", "30 07 0003 'a/b' 'hi'"},
	    {4, "v311 PUBLISH qos0 retain, empty payload", "31 03 0001 'a'"},
	    {4, "v311 PUBLISH qos1 dup", "3a 0d 0005 'x/y/z' 1234 00 01 02 ff"},
	    {4, "v311 PUBLISH qos2 retain dup",
		"3d 11 0006 '$SYS/t' ffff 'payload'"},
	    {5, "v5 PUBLISH qos0 no props", "30 08 0003 'a/b' 00 'hi'"},
	    {5, "v5 PUBLISH qos1 all publish properties, two subscription ids",
		"32 51 0003 't/1' 0007 42 0101 0200000e10 230001 08 0008 "
		"'reply/to' 09 0002 0102 26 0001 'u' 0001 'v' 0b 01 0b "
		"ffffff7f 03 0010 'application/json' 26 0001 'u' 0001 'v' "
		"'{\"a\":1}'"},
	    {5, "v5 PUBLISH empty topic with topic alias",
		"34 09 0000 0100 03 230007 'x'"},
	    /* ---- PUBACK */
	    {4, "v311 PUBACK", "40 02 0001"},
	    {5, "v5 PUBACK short form (remaining 2)", "40 02 ffff"},
	    {5, "v5 PUBACK reason 0, empty props (remaining 4)",
		"40 04 0102 00 00"},
	    {5, "v5 PUBACK reason 0 only (remaining 3)", "40 03 0102 00"},
	    /* ---- PUBREC */
	    {4, "v311 PUBREC", "50 02 0001"},
	    {5, "v5 PUBREC short form (remaining 2)", "50 02 ffff"},
	    {5, "v5 PUBREC reason 0, empty props (remaining 4)",
		"50 04 0102 00 00"},
	    {5, "v5 PUBREC reason 0 only (remaining 3)", "50 03 0102 00"},
	    /* ---- PUBREL */
	    {4, "v311 PUBREL", "62 02 0001"},
	    {5, "v5 PUBREL short form (remaining 2)", "62 02 ffff"},
	    {5, "v5 PUBREL reason 0, empty props (remaining 4)",
		"62 04 0102 00 00"},
	    {5, "v5 PUBREL reason 0 only (remaining 3)", "62 03 0102 00"},
	    /* ---- PUBCOMP */
	    {4, "v311 PUBCOMP", "70 02 0001"},
	    {5, "v5 PUBCOMP short form (remaining 2)", "70 02 ffff"},
	    {5, "v5 PUBCOMP reason 0, empty props (remaining 4)",
		"70 04 0102 00 00"},
	    {5, "v5 PUBCOMP reason 0 only (remaining 3)", "70 03 0102 00"},
	    /* ---- PUBACK */
	    {5, "v5 PUBACK no matching subscribers (remaining 3)",
		"40 03 0005 10"},
	    {5, "v5 PUBACK 0x97 with props",
		"40 1a 0005 97 16 1f 0005 'quota' 26 0001 'a' 0001 'b' 26 "
		"0001 'a' 0001 'b'"},
	    /* ---- PUBREC */
	    {5, "v5 PUBREC 0x80 empty props", "50 04 0005 80 00"},
	    /* ---- PUBREL */
	    {5, "v5 PUBREL 0x92 (remaining 3)", "62 03 0009 92"},
	    /* ---- PUBCOMP */
	    {5, "v5 PUBCOMP 0x92 with reason string",
		"70 0b 0009 92 07 1f 0004 'gone'"},
	    /* ---- SUBSCRIBE */
	    {4, "v311 SUBSCRIBE one filter", "82 08 0001 0003 'a/b' 00"},
	    {4, "v311 SUBSCRIBE wildcards, qos 0-2, $share is plain text",
		"82 2a 1234 0001 '#' 01 0005 '+/x/+' 02 0003 'a/#' 00 "
		"000a '$share/+/x' 01 0006 '$share' 00"},
	    {5, "v5 SUBSCRIBE options and properties",
		"82 2b 0002 0b 0b 808001 26 0001 'k' 0001 'v' 0003 'a/+' "
		"2d 000c '$share/g/a/#' 1a 0001 '#' 00 0001 '/' 06"},
	    {5, "v5 SUBSCRIBE shared subscription",
		"82 14 0003 00 000e '$share/group/+' 01"},
	    /* ---- SUBACK */
	    {4, "v311 SUBACK", "90 06 0001 00 01 02 80"},
	    {5, "v5 SUBACK all codes",
		"90 1a 0002 0b 1f 0001 'r' 26 0001 'x' 0001 'y' 00 01 02 "
		"80 83 87 8f 91 97 9e a1 a2"},
	    {5, "v5 SUBACK no props", "90 04 0002 00 01"},
	    /* ---- UNSUBSCRIBE */
	    {4, "v311 UNSUBSCRIBE",
		"a2 14 0001 0003 'a/b' 0001 '#' 0008 '$share/x'"},
	    {5, "v5 UNSUBSCRIBE with user property",
		"a2 1b 0001 07 26 0001 'k' 0001 'v' 0003 'a/+' 000a "
		"'$share/g/#'"},
	    /* ---- UNSUBACK */
	    {4, "v311 UNSUBACK", "b0 02 0001"},
	    {5, "v5 UNSUBACK all codes", "b0 0a 0001 00 00 11 80 83 87 8f 91"},
	    {5, "v5 UNSUBACK with props",
		"b0 0f 0001 0b 1f 0001 'x' 26 0001 'a' 0001 'b' 00"},
	    /* ---- PINGREQ */
	    {4, "v311 PINGREQ", "c0 00"},
	    /* ---- PINGRESP */
	    {4, "v311 PINGRESP", "d0 00"},
	    /* ---- PINGREQ */
	    {5, "v5 PINGREQ", "c0 00"},
	    /* ---- PINGRESP */
	    {5, "v5 PINGRESP", "d0 00"},
	    /* ---- DISCONNECT */
	    {4, "v311 DISCONNECT", "e0 00"},
	    {5, "v5 DISCONNECT short form (remaining 0)", "e0 00"},
	    {5, "v5 DISCONNECT reason only (remaining 1)", "e0 01 04"},
	    {5, "v5 DISCONNECT reason 0 only (remaining 1)", "e0 01 00"},
	    {5, "v5 DISCONNECT reason 0, empty props", "e0 02 00 00"},
	    {5, "v5 DISCONNECT all disconnect properties",
		"e0 25 9c 23 1100000000 1f 0005 'moved' 1c 0005 'other' "
		"26 0001 'k' 0001 'v' 26 0001 'k' 0001 'v'"},
	    /* ---- AUTH */
	    {5, "v5 AUTH short form (remaining 0)", "f0 00"},
	    {5, "v5 AUTH continue",
		"f0 20 18 1e 15 000b 'SCRAM-SHA-1' 16 0002 0001 1f 0001 "
		"'r' 26 0001 'k' 0001 'v'"},
	    {5, "v5 AUTH re-authenticate", "f0 06 19 04 15 0001 'X'"},
	    {5, "v5 AUTH success with method", "f0 06 00 04 15 0001 'X'"},
	};

	*n = sizeof(v) / sizeof(v[0]);
	return v;
}

/* A deterministic generator for mutation tests (xorshift64*). */
static inline uint64_t
test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
