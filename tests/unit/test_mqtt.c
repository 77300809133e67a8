/*
 * MQTT codec tests: framing, Variable Byte Integers, UTF-8 and topic rules,
 * round trips of every packet type, decoded fields, encoding and building.
 */
#include "test_mqtt_util.h"

/* ---- Framing and Variable Byte Integers -------------------------------- */

static void
frame_expect(const char *hex, uint32_t max, enum mqtt_result want)
{
	uint8_t buf[VEC_MAX];
	size_t len = vec_parse(hex, buf, sizeof(buf));
	struct mqtt_fixed_header hdr;
	enum mqtt_result got = mqtt_frame(buf, len, max, &hdr);

	if (got != want)
		fail_msg("frame \"%s\" max %u: got %s, want %s", hex, max,
		    mqtt_result_str(got), mqtt_result_str(want));
}

static void
test_frame_lengths(void **state)
{
	/* Every length class at its boundaries, header only. */
	static const struct {
		const char *hex;
		uint32_t remaining;
		uint8_t header_len;
	} ok[] = {
	    {"30 00", 0, 2},
	    {"30 7f", 127, 2},
	    {"30 80 01", 128, 3},
	    {"30 ff 7f", 16383, 3},
	    {"30 80 80 01", 16384, 4},
	    {"30 ff ff 7f", 2097151, 4},
	    {"30 80 80 80 01", 2097152, 5},
	    {"30 ff ff ff 7f", 268435455, 5},
	};
	struct mqtt_fixed_header hdr;
	uint8_t buf[8];
	size_t i, len;

	(void)state;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		len = vec_parse(ok[i].hex, buf, sizeof(buf));
		memset(&hdr, 0, sizeof(hdr));
		/* Header alone: the length is known, the body is not. */
		assert_int_equal(mqtt_frame(buf, len, UINT32_MAX, &hdr),
		    ok[i].remaining == 0 ? MQTT_OK : MQTT_INCOMPLETE);
		assert_int_equal(hdr.type, MQTT_PUBLISH);
		assert_int_equal(hdr.flags, 0);
		assert_int_equal(hdr.remaining, ok[i].remaining);
		assert_int_equal(hdr.header_len, ok[i].header_len);
		/* Every shorter prefix of the header is incomplete. */
		while (--len > 0)
			assert_int_equal(mqtt_frame(buf, len, UINT32_MAX, &hdr),
			    MQTT_INCOMPLETE);
	}
	assert_int_equal(mqtt_frame(buf, 0, UINT32_MAX, &hdr), MQTT_INCOMPLETE);

	/* [MQTT-1.5.5-1] a 5-byte length, even before the 5th byte */
	frame_expect("30 80 80 80 80 01", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 ff ff ff ff 7f", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 ff ff ff ff", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 80 80 80 80", UINT32_MAX, MQTT_MALFORMED);
	/* [MQTT-1.5.5-1] non-minimal encodings */
	frame_expect("30 80 00", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 81 00", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 80 80 00", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 ff ff 00", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("30 80 80 80 00", UINT32_MAX, MQTT_MALFORMED);
	/* [MQTT-2.2.1] packet type 0 is reserved, known from byte 1 */
	frame_expect("00", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("00 00", UINT32_MAX, MQTT_MALFORMED);
	frame_expect("0f 00", UINT32_MAX, MQTT_MALFORMED);
	/* Still waiting for length bytes */
	frame_expect("30", UINT32_MAX, MQTT_INCOMPLETE);
	frame_expect("30 80", UINT32_MAX, MQTT_INCOMPLETE);
	frame_expect("30 80 80 80", UINT32_MAX, MQTT_INCOMPLETE);
	/* The whole packet present, and more after it */
	frame_expect("c0 00 d0 00", UINT32_MAX, MQTT_OK);
	frame_expect("30 03 0001 'a' 30", UINT32_MAX, MQTT_OK);
	frame_expect("30 04 0001 'a'", UINT32_MAX, MQTT_INCOMPLETE);
}

static void
test_frame_too_large(void **state)
{
	(void)state;
	/* Header and remaining together against the limit, before the body */
	frame_expect("30 0a", 12, MQTT_INCOMPLETE);
	frame_expect("30 0a", 11, MQTT_TOO_LARGE);
	frame_expect("30 e8 07", 1003, MQTT_INCOMPLETE);
	frame_expect("30 e8 07", 1002, MQTT_TOO_LARGE);
	frame_expect("30 ff ff ff 7f", 1000, MQTT_TOO_LARGE);
	frame_expect("30 ff ff ff 7f", 268435460, MQTT_INCOMPLETE);
	frame_expect("30 ff ff ff 7f", 268435459, MQTT_TOO_LARGE);
	frame_expect("c0 00", 2, MQTT_OK);
	frame_expect("c0 00", 1, MQTT_TOO_LARGE);
	frame_expect("c0 00", 0, MQTT_TOO_LARGE);
	/* A malformed length stays malformed whatever the limit */
	frame_expect("30 80 80 80 80 01", 10, MQTT_MALFORMED);
	frame_expect("30 80 00", 1, MQTT_MALFORMED);
}

static void
test_varint(void **state)
{
	static const uint32_t values[] = {
	    0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455};
	uint8_t buf[8], b2[8];
	uint32_t v;
	size_t i, n, used;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		memset(buf, 0xee, sizeof(buf));
		n = mqtt_varint_encode(values[i], buf);
		assert_int_equal(n, mqtt_varint_size(values[i]));
		assert_int_equal(n,
		    values[i] < 128           ? 1
			: values[i] < 16384   ? 2
			: values[i] < 2097152 ? 3
					      : 4);
		assert_int_equal(buf[n], 0xee);
		assert_int_equal(
		    mqtt_varint_decode(buf, n, &v, &used), MQTT_OK);
		assert_int_equal(v, values[i]);
		assert_int_equal(used, n);
		if (n > 1) {
			assert_int_equal(
			    mqtt_varint_decode(buf, n - 1, &v, &used),
			    MQTT_INCOMPLETE);
			/* The same value padded out is not minimal. */
			memcpy(b2, buf, n);
			b2[n - 1] |= 0x80;
			b2[n] = 0x00;
			assert_int_equal(
			    mqtt_varint_decode(b2, n + 1, &v, &used),
			    MQTT_MALFORMED);
		}
	}
	assert_int_equal(mqtt_varint_size(268435456), 0);
	assert_int_equal(mqtt_varint_size(UINT32_MAX), 0);
	assert_int_equal(mqtt_varint_encode(268435456, buf), 0);
	/* Example encodings from spec table 1.5.5 */
	n = mqtt_varint_encode(321, buf);
	assert_int_equal(n, 2);
	assert_int_equal(buf[0], 0xc1);
	assert_int_equal(buf[1], 0x02);
	assert_int_equal(
	    mqtt_varint_decode(buf, 0, &v, &used), MQTT_INCOMPLETE);
	buf[0] = 0x80;
	buf[1] = 0x00;
	assert_int_equal(mqtt_varint_decode(buf, 2, &v, &used), MQTT_MALFORMED);
}

/* ---- UTF-8 and topics --------------------------------------------------- */

static bool
utf8_hex(const char *hex)
{
	uint8_t buf[64];
	size_t len = vec_parse(hex, buf, sizeof(buf));

	return mqtt_utf8_valid(buf, len);
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_hex(""));
	assert_true(utf8_hex("'hello/world'"));
	assert_true(utf8_hex("7f"));
	assert_true(utf8_hex("c2 80")); /* U+0080 */
	assert_true(utf8_hex("df bf")); /* U+07FF */
	assert_true(utf8_hex("e0 a0 80")); /* U+0800 */
	assert_true(utf8_hex("ed 9f bf")); /* U+D7FF */
	assert_true(utf8_hex("ee 80 80")); /* U+E000 */
	assert_true(utf8_hex("ef bb bf")); /* BOM, [MQTT-1.5.4-3] kept */
	assert_true(utf8_hex("ef bf bf")); /* U+FFFF noncharacter: MAY */
	assert_true(utf8_hex("f0 90 80 80")); /* U+10000 */
	assert_true(utf8_hex("f4 8f bf bf")); /* U+10FFFF */
	assert_true(utf8_hex("01 1f")); /* controls: SHOULD NOT only */
	assert_true(utf8_hex("'a' c3 a9 'b' e2 82 ac f0 9f 98 80"));

	/* [MQTT-1.5.4-2] U+0000, anywhere */
	assert_false(utf8_hex("00"));
	assert_false(utf8_hex("'ab' 00 'cd'"));
	/* overlong forms */
	assert_false(utf8_hex("c0 80")); /* U+0000 in two bytes */
	assert_false(utf8_hex("c0 af"));
	assert_false(utf8_hex("c1 bf"));
	assert_false(utf8_hex("e0 80 80"));
	assert_false(utf8_hex("e0 9f bf"));
	assert_false(utf8_hex("f0 80 80 80"));
	assert_false(utf8_hex("f0 8f bf bf"));
	/* [MQTT-1.5.4-1] surrogates U+D800..U+DFFF */
	assert_false(utf8_hex("ed a0 80"));
	assert_false(utf8_hex("ed af bf"));
	assert_false(utf8_hex("ed b0 80"));
	assert_false(utf8_hex("ed bf bf"));
	assert_false(utf8_hex("ed a0 bd ed b8 80")); /* a CESU-8 pair */
	/* beyond U+10FFFF */
	assert_false(utf8_hex("f4 90 80 80"));
	assert_false(utf8_hex("f5 80 80 80"));
	assert_false(utf8_hex("f7 bf bf bf"));
	assert_false(utf8_hex("f8 88 80 80 80"));
	assert_false(utf8_hex("fc 84 80 80 80 80"));
	assert_false(utf8_hex("fe"));
	assert_false(utf8_hex("ff"));
	/* truncated sequences, at the end and in the middle */
	assert_false(utf8_hex("c3"));
	assert_false(utf8_hex("e2 82"));
	assert_false(utf8_hex("f0 9f 98"));
	assert_false(utf8_hex("'a' e2 82"));
	assert_false(utf8_hex("c3 'a'"));
	assert_false(utf8_hex("e2 82 'a'"));
	assert_false(utf8_hex("f0 9f 98 'a'"));
	/* stray and wrong continuation bytes */
	assert_false(utf8_hex("80"));
	assert_false(utf8_hex("bf"));
	assert_false(utf8_hex("'a' 80 'b'"));
	assert_false(utf8_hex("c3 28"));
	assert_false(utf8_hex("c3 c3"));
	assert_false(utf8_hex("e2 28 a1"));
	assert_false(utf8_hex("e2 82 28"));
	assert_false(utf8_hex("f0 28 8c bc"));
	assert_false(utf8_hex("f0 90 28 bc"));
	assert_false(utf8_hex("f0 90 8c 28"));
}

static bool
name_ok(const char *s)
{
	return mqtt_topic_name_valid((const uint8_t *)s, strlen(s));
}

static bool
filter_ok(const char *s)
{
	return mqtt_topic_filter_valid((const uint8_t *)s, strlen(s));
}

static bool
filter311_ok(const char *s)
{
	return mqtt_topic_filter_valid_v311((const uint8_t *)s, strlen(s));
}

static void
test_topic_names(void **state)
{
	(void)state;
	assert_true(name_ok("a"));
	assert_true(name_ok("a/b/c"));
	assert_true(name_ok("/"));
	assert_true(name_ok("//"));
	assert_true(name_ok(" "));
	assert_true(name_ok("$SYS/broker"));
	assert_true(name_ok("$share/x/y"));
	assert_true(name_ok("caf\xc3\xa9"));
	assert_false(name_ok("")); /* [MQTT-4.7.3-1] */
	assert_false(name_ok("+")); /* [MQTT-3.3.2-2] */
	assert_false(name_ok("#"));
	assert_false(name_ok("a/+/b"));
	assert_false(name_ok("a/#"));
	assert_false(name_ok("a+b"));
	assert_false(name_ok("a#"));
	assert_false(name_ok("caf\xc3"));
	assert_false(mqtt_topic_name_valid((const uint8_t *)"a\0b", 3));
}

static void
test_topic_filters(void **state)
{
	static const char *const both_ok[] = {"#", "+", "a", "a/b", "a/#",
	    "a/+", "+/+", "+/#", "/+", "+/", "/#", "a//b", "//", "/",
	    "sport/tennis/+/#", "$SYS/#", "$share", "$sharex/+", "a/+/c/+/e/#"};
	/* [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1] */
	static const char *const both_bad[] = {"", "a#", "#a", "a/b#", "a/#/b",
	    "#/", "##", "#/#", "a+", "+a", "a/b+", "a/+b/c", "++", "+#",
	    "$share/#/a/#/b", "caf\xc3"};
	/* [MQTT-4.8.2-1], [MQTT-4.8.2-2]: v5 only, plain text in v3.1.1 */
	static const char *const share_ok[] = {"$share/g/a", "$share/g/#",
	    "$share/g/+/x", "$share/g//", "$share/g/a/#", "$share/group/a"};
	static const char *const share_bad_v5_ok_v311[] = {"$share/",
	    "$share/g", "$share/g/", "$share//a", "$share/+/a", "$share/+",
	    "$share//"};
	static const char *const share_bad_both[] = {"$share/#/a",
	    "$share/g#/a", "$share/g+/a", "$share/g/a#", "$share/g/#/a"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(both_ok) / sizeof(both_ok[0]); i++) {
		if (!filter_ok(both_ok[i]) || !filter311_ok(both_ok[i]))
			fail_msg("\"%s\" should be valid", both_ok[i]);
	}
	for (i = 0; i < sizeof(both_bad) / sizeof(both_bad[0]); i++) {
		if (filter_ok(both_bad[i]) || filter311_ok(both_bad[i]))
			fail_msg("\"%s\" should be invalid", both_bad[i]);
	}
	for (i = 0; i < sizeof(share_ok) / sizeof(share_ok[0]); i++) {
		if (!filter_ok(share_ok[i]) || !filter311_ok(share_ok[i]))
			fail_msg("\"%s\" should be valid", share_ok[i]);
	}
	for (i = 0;
	     i < sizeof(share_bad_v5_ok_v311) / sizeof(share_bad_v5_ok_v311[0]);
	     i++) {
		if (filter_ok(share_bad_v5_ok_v311[i]))
			fail_msg("\"%s\" should be invalid in v5",
			    share_bad_v5_ok_v311[i]);
		if (!filter311_ok(share_bad_v5_ok_v311[i]))
			fail_msg("\"%s\" should be valid in v3.1.1",
			    share_bad_v5_ok_v311[i]);
	}
	for (i = 0; i < sizeof(share_bad_both) / sizeof(share_bad_both[0]);
	     i++) {
		if (filter_ok(share_bad_both[i]) ||
		    filter311_ok(share_bad_both[i]))
			fail_msg("\"%s\" should be invalid", share_bad_both[i]);
	}
	assert_false(
	    mqtt_topic_filter_valid((const uint8_t *)"$share/g/a\0", 11));
}

/* ---- Names -------------------------------------------------------------- */

static void
test_result_reason_and_names(void **state)
{
	enum mqtt_result r, s;

	(void)state;
	assert_int_equal(mqtt_result_reason(MQTT_OK), 0x00);
	assert_int_equal(mqtt_result_reason(MQTT_MALFORMED), 0x81);
	assert_int_equal(mqtt_result_reason(MQTT_PROTOCOL_ERROR), 0x82);
	assert_int_equal(mqtt_result_reason(MQTT_BAD_VERSION), 0x84);
	assert_int_equal(mqtt_result_reason(MQTT_TOPIC_INVALID), 0x90);
	assert_int_equal(mqtt_result_reason(MQTT_TOO_LARGE), 0x95);
	assert_int_equal(mqtt_result_reason(MQTT_INCOMPLETE), 0x80);
	assert_int_equal(mqtt_result_reason(MQTT_NO_SPACE), 0x80);
	for (r = MQTT_OK; r <= MQTT_NO_SPACE; r++) {
		assert_non_null(mqtt_result_str(r));
		for (s = MQTT_OK; s < r; s++)
			assert_string_not_equal(
			    mqtt_result_str(r), mqtt_result_str(s));
	}
	assert_string_equal(mqtt_packet_name(MQTT_CONNECT), "CONNECT");
	assert_string_equal(mqtt_packet_name(MQTT_PUBREL), "PUBREL");
	assert_string_equal(mqtt_packet_name(MQTT_UNSUBACK), "UNSUBACK");
	assert_string_equal(mqtt_packet_name(MQTT_AUTH), "AUTH");
	assert_string_equal(mqtt_packet_name(0), "?");
	assert_string_equal(mqtt_packet_name(16), "?");
	assert_string_equal(mqtt_packet_name(255), "?");
}

/* ---- Round trips -------------------------------------------------------- */

static void
test_roundtrip_vectors(void **state)
{
	const struct vec *v;
	size_t n, i;

	(void)state;
	v = valid_vectors(&n);
	assert_true(n > 60);
	for (i = 0; i < n; i++)
		roundtrip_vec(&v[i]);
}

/* A PUBLISH with a payload of `size` bytes, for every length class. */
static void
big_publish_roundtrip(uint8_t version, size_t payload)
{
	size_t body = 2 + 3 + (version == MQTT_V5 ? 1 : 0) + payload;
	uint8_t *pkt = malloc(body + 5);
	size_t n;

	assert_non_null(pkt);
	pkt[0] = 0x30;
	n = 1 + mqtt_varint_encode((uint32_t)body, pkt + 1);
	memcpy(pkt + n,
	    "\x00\x03"
	    "big",
	    5);
	n += 5;
	if (version == MQTT_V5)
		pkt[n++] = 0x00;
	memset(pkt + n, 0x5a, payload);
	roundtrip_bytes(version, "big PUBLISH", pkt, n + payload);
	free(pkt);
}

static void
test_roundtrip_big_publish(void **state)
{
	(void)state;
	big_publish_roundtrip(MQTT_V311, 0);
	big_publish_roundtrip(MQTT_V311, 122); /* remaining 127 */
	big_publish_roundtrip(MQTT_V311, 123); /* remaining 128 */
	big_publish_roundtrip(MQTT_V5, 16383 - 6);
	big_publish_roundtrip(MQTT_V5, 16384 - 6);
	big_publish_roundtrip(MQTT_V311, 2097152 - 5);
}

/* ---- Decoded fields ----------------------------------------------------- */

/* Decodes the named valid vector into *p, which must succeed. */
static void
decode_named(const char *name, struct mqtt_packet *p)
{
	static uint8_t buf[VEC_MAX];
	const struct vec *v;
	struct mqtt_fixed_header hdr;
	size_t n, i, len;

	v = valid_vectors(&n);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].name, name) != 0)
			continue;
		len = vec_parse(v[i].hex, buf, sizeof(buf));
		assert_int_equal(
		    test_decode(v[i].version, buf, len, &hdr, p), MQTT_OK);
		return;
	}
	fail_msg("no vector \"%s\"", name);
}

static void
assert_bytes(const struct mqtt_bytes *b, const char *want, size_t len)
{
	assert_int_equal(b->len, len);
	if (len > 0)
		assert_memory_equal(b->data, want, len);
}

#define assert_str(b, s) assert_bytes((b), (s), sizeof(s) - 1)

static void
test_fields_connect(void **state)
{
	struct mqtt_packet p;
	struct mqtt_connect *c = &p.u.connect;
	struct mqtt_prop_iter it;
	struct mqtt_prop pr;
	size_t n;

	(void)state;
	decode_named("v311 CONNECT will qos1 retain, username, password", &p);
	assert_int_equal(p.type, MQTT_CONNECT);
	assert_int_equal(p.flags, 0);
	assert_int_equal(c->version, MQTT_V311);
	assert_true(c->clean_start);
	assert_true(c->will_flag);
	assert_int_equal(c->will_qos, 1);
	assert_true(c->will_retain);
	assert_true(c->has_username);
	assert_true(c->has_password);
	assert_int_equal(c->keep_alive, 10);
	assert_str(&c->client_id, "cid");
	assert_str(&c->will_topic, "w/t");
	assert_str(&c->will_payload, "bye");
	assert_str(&c->username, "u");
	assert_str(&c->password, "\x00\xffp");
	assert_int_equal(c->props.len, 0);
	assert_int_equal(c->will_props.len, 0);

	decode_named("v311 CONNECT will qos2, username only, no clean", &p);
	assert_false(c->clean_start);
	assert_int_equal(c->will_qos, 2);
	assert_false(c->will_retain);
	assert_true(c->has_username);
	assert_false(c->has_password);
	assert_int_equal(c->will_payload.len, 0);
	assert_int_equal(c->password.len, 0);

	decode_named("v311 CONNECT minimal, empty client id", &p);
	assert_int_equal(c->client_id.len, 0);
	assert_false(c->will_flag);
	assert_false(c->has_username);

	decode_named("v5 CONNECT all connect and will properties, password "
		     "without username",
	    &p);
	assert_int_equal(c->version, MQTT_V5);
	assert_false(c->has_username);
	assert_true(c->has_password);
	assert_int_equal(c->will_qos, 2);
	assert_true(c->will_retain);
	assert_int_equal(c->keep_alive, 3600);
	assert_str(&c->client_id, "cid");
	assert_str(&c->will_topic, "will/topic");
	assert_str(&c->will_payload, "\x00\x01\x02");
	assert_str(&c->password, "secret");
	assert_true(mqtt_props_find(&c->props, MQTT_PROP_SESSION_EXPIRY, &pr));
	assert_int_equal(pr.num, 120);
	assert_true(mqtt_props_find(&c->props, MQTT_PROP_RECEIVE_MAXIMUM, &pr));
	assert_int_equal(pr.num, 16);
	assert_true(
	    mqtt_props_find(&c->props, MQTT_PROP_MAXIMUM_PACKET_SIZE, &pr));
	assert_int_equal(pr.num, 4096);
	assert_true(mqtt_props_find(&c->props, MQTT_PROP_AUTH_METHOD, &pr));
	assert_str(&pr.str, "SCRAM-SHA-1");
	assert_true(mqtt_props_find(&c->props, MQTT_PROP_AUTH_DATA, &pr));
	assert_str(&pr.str, "\x01\x02\x03");
	assert_true(
	    mqtt_props_find(&c->props, MQTT_PROP_REQUEST_PROBLEM_INFO, &pr));
	assert_int_equal(pr.num, 0);
	assert_false(mqtt_props_find(&c->props, MQTT_PROP_WILL_DELAY, &pr));
	assert_true(mqtt_props_find(&c->will_props, MQTT_PROP_WILL_DELAY, &pr));
	assert_int_equal(pr.num, 5);
	assert_true(
	    mqtt_props_find(&c->will_props, MQTT_PROP_CORRELATION_DATA, &pr));
	assert_str(&pr.str, "\xab\xcd");
	/* Both user properties, in order, with names and values */
	mqtt_props_iter_init(&it, &c->props);
	n = 0;
	while (mqtt_props_next(&it, &pr)) {
		if (pr.id != MQTT_PROP_USER_PROPERTY)
			continue;
		assert_str(&pr.str, "k");
		if (n++ == 0)
			assert_str(&pr.value, "v");
		else
			assert_str(&pr.value, "v2");
	}
	assert_int_equal(n, 2);
	mqtt_props_iter_init(&it, &c->props);
	for (n = 0; mqtt_props_next(&it, &pr); n++)
		;
	assert_int_equal(n, 10);
	mqtt_props_iter_init(&it, &c->will_props);
	for (n = 0; mqtt_props_next(&it, &pr); n++)
		;
	assert_int_equal(n, 8);
}

static void
test_fields_connack(void **state)
{
	struct mqtt_packet p;
	struct mqtt_prop pr;

	(void)state;
	decode_named("v311 CONNACK session present", &p);
	assert_true(p.u.connack.session_present);
	assert_int_equal(p.u.connack.reason, 0);
	decode_named("v311 CONNACK not authorised", &p);
	assert_false(p.u.connack.session_present);
	assert_int_equal(p.u.connack.reason, MQTT_V311_NOT_AUTHORIZED);
	decode_named("v5 CONNACK all connack properties", &p);
	assert_true(p.u.connack.session_present);
	assert_true(
	    mqtt_props_find(&p.u.connack.props, MQTT_PROP_SESSION_EXPIRY, &pr));
	assert_int_equal(pr.num, 0xffffffffu);
	assert_true(
	    mqtt_props_find(&p.u.connack.props, MQTT_PROP_MAXIMUM_QOS, &pr));
	assert_int_equal(pr.num, 1);
	assert_true(mqtt_props_find(
	    &p.u.connack.props, MQTT_PROP_SERVER_KEEP_ALIVE, &pr));
	assert_int_equal(pr.num, 30);
	assert_true(mqtt_props_find(
	    &p.u.connack.props, MQTT_PROP_ASSIGNED_CLIENT_ID, &pr));
	assert_str(&pr.str, "auto-1");
	assert_true(mqtt_props_find(
	    &p.u.connack.props, MQTT_PROP_SHARED_SUB_AVAILABLE, &pr));
	assert_int_equal(pr.num, 1);
}

static void
test_fields_publish(void **state)
{
	struct mqtt_packet p;
	struct mqtt_publish *pub = &p.u.publish;
	struct mqtt_prop_iter it;
	struct mqtt_prop pr;
	uint32_t ids[4];
	size_t n = 0;

	(void)state;
	decode_named("v311 PUBLISH qos0", &p);
	assert_int_equal(pub->qos, 0);
	assert_false(pub->dup);
	assert_false(pub->retain);
	assert_int_equal(pub->packet_id, 0);
	assert_str(&pub->topic, "a/b");
	assert_str(&pub->payload, "hi");

	decode_named("v311 PUBLISH qos2 retain dup", &p);
	assert_int_equal(p.flags, 0x0d);
	assert_int_equal(pub->qos, 2);
	assert_true(pub->dup);
	assert_true(pub->retain);
	assert_int_equal(pub->packet_id, 0xffff);
	assert_str(&pub->topic, "$SYS/t");
	assert_str(&pub->payload, "payload");

	decode_named("v311 PUBLISH qos0 retain, empty payload", &p);
	assert_true(pub->retain);
	assert_int_equal(pub->payload.len, 0);

	decode_named("v5 PUBLISH qos1 all publish properties, two "
		     "subscription ids",
	    &p);
	assert_int_equal(pub->qos, 1);
	assert_int_equal(pub->packet_id, 7);
	assert_str(&pub->payload, "{\"a\":1}");
	mqtt_props_iter_init(&it, &pub->props);
	while (mqtt_props_next(&it, &pr))
		if (pr.id == MQTT_PROP_SUBSCRIPTION_ID && n < 4)
			ids[n++] = pr.num;
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 268435455);
	assert_true(
	    mqtt_props_find(&pub->props, MQTT_PROP_MESSAGE_EXPIRY, &pr));
	assert_int_equal(pr.num, 3600);
	assert_true(
	    mqtt_props_find(&pub->props, MQTT_PROP_RESPONSE_TOPIC, &pr));
	assert_str(&pr.str, "reply/to");

	decode_named("v5 PUBLISH empty topic with topic alias", &p);
	assert_int_equal(pub->qos, 2);
	assert_int_equal(pub->packet_id, 0x0100);
	assert_int_equal(pub->topic.len, 0);
	assert_true(mqtt_props_find(&pub->props, MQTT_PROP_TOPIC_ALIAS, &pr));
	assert_int_equal(pr.num, 7);
}

static void
test_fields_acks(void **state)
{
	struct mqtt_packet p;
	struct mqtt_prop pr;

	(void)state;
	decode_named("v311 PUBREL", &p);
	assert_int_equal(p.type, MQTT_PUBREL);
	assert_int_equal(p.flags, 0x02);
	assert_int_equal(p.u.ack.packet_id, 1);
	assert_int_equal(p.u.ack.reason, 0);
	assert_int_equal(p.u.ack.wire_form, 0);

	decode_named("v5 PUBACK short form (remaining 2)", &p);
	assert_int_equal(p.u.ack.packet_id, 0xffff);
	assert_int_equal(p.u.ack.reason, 0);
	assert_int_equal(p.u.ack.props.len, 0);
	assert_int_equal(p.u.ack.wire_form, 2);
	decode_named("v5 PUBACK reason 0 only (remaining 3)", &p);
	assert_int_equal(p.u.ack.packet_id, 0x0102);
	assert_int_equal(p.u.ack.wire_form, 3);
	decode_named("v5 PUBACK reason 0, empty props (remaining 4)", &p);
	assert_int_equal(p.u.ack.wire_form, 4);
	decode_named("v5 PUBACK no matching subscribers (remaining 3)", &p);
	assert_int_equal(p.u.ack.reason, 0x10);
	decode_named("v5 PUBACK 0x97 with props", &p);
	assert_int_equal(p.u.ack.reason, MQTT_RC_QUOTA_EXCEEDED);
	assert_int_equal(p.u.ack.wire_form, 4);
	assert_true(
	    mqtt_props_find(&p.u.ack.props, MQTT_PROP_REASON_STRING, &pr));
	assert_str(&pr.str, "quota");
	decode_named("v5 PUBCOMP 0x92 with reason string", &p);
	assert_int_equal(p.type, MQTT_PUBCOMP);
	assert_int_equal(p.u.ack.packet_id, 9);
	assert_int_equal(p.u.ack.reason, 0x92);
}

static void
test_fields_subscribe(void **state)
{
	struct mqtt_packet p;
	struct mqtt_list_iter it;
	struct mqtt_bytes f;
	struct mqtt_prop pr;
	uint8_t opts;
	static const struct {
		const char *filter;
		uint8_t opts;
	} want[] = {
	    {"a/+", 0x2d}, {"$share/g/a/#", 0x1a}, {"#", 0x00}, {"/", 0x06}};
	size_t n = 0;

	(void)state;
	decode_named("v5 SUBSCRIBE options and properties", &p);
	assert_int_equal(p.type, MQTT_SUBSCRIBE);
	assert_int_equal(p.u.subscribe.packet_id, 2);
	assert_int_equal(p.u.subscribe.count, 4);
	assert_true(mqtt_props_find(
	    &p.u.subscribe.props, MQTT_PROP_SUBSCRIPTION_ID, &pr));
	assert_int_equal(pr.num, 16384);
	mqtt_list_iter_init(&it, &p.u.subscribe, true);
	while (mqtt_list_next(&it, &f, &opts)) {
		assert_true(n < 4);
		assert_bytes(&f, want[n].filter, strlen(want[n].filter));
		assert_int_equal(opts, want[n].opts);
		n++;
	}
	assert_int_equal(n, 4);
	assert_false(mqtt_list_next(&it, &f, &opts));

	decode_named("v311 UNSUBSCRIBE", &p);
	assert_int_equal(p.u.subscribe.count, 3);
	mqtt_list_iter_init(&it, &p.u.subscribe, false);
	assert_true(mqtt_list_next(&it, &f, &opts));
	assert_str(&f, "a/b");
	assert_int_equal(opts, 0);
	assert_true(mqtt_list_next(&it, &f, NULL));
	assert_str(&f, "#");
	assert_true(mqtt_list_next(&it, &f, NULL));
	assert_str(&f, "$share/x");
	assert_false(mqtt_list_next(&it, &f, NULL));

	decode_named(
	    "v311 SUBSCRIBE wildcards, qos 0-2, $share is plain text", &p);
	assert_int_equal(p.u.subscribe.packet_id, 0x1234);
	assert_int_equal(p.u.subscribe.count, 5);
}

static void
test_fields_suback_disconnect_auth(void **state)
{
	struct mqtt_packet p;
	struct mqtt_prop pr;

	(void)state;
	decode_named("v311 SUBACK", &p);
	assert_str(&p.u.suback.reasons, "\x00\x01\x02\x80");
	decode_named("v311 UNSUBACK", &p);
	assert_int_equal(p.u.suback.packet_id, 1);
	assert_int_equal(p.u.suback.reasons.len, 0);
	decode_named("v5 UNSUBACK all codes", &p);
	assert_str(&p.u.suback.reasons, "\x00\x11\x80\x83\x87\x8f\x91");

	decode_named("v5 DISCONNECT short form (remaining 0)", &p);
	assert_int_equal(p.u.reason.reason, 0);
	assert_int_equal(p.u.reason.wire_form, 0);
	decode_named("v5 DISCONNECT reason only (remaining 1)", &p);
	assert_int_equal(p.u.reason.reason, 4);
	assert_int_equal(p.u.reason.wire_form, 1);
	decode_named("v5 DISCONNECT all disconnect properties", &p);
	assert_int_equal(p.u.reason.reason, 0x9c);
	assert_int_equal(p.u.reason.wire_form, 2);
	assert_true(mqtt_props_find(
	    &p.u.reason.props, MQTT_PROP_SERVER_REFERENCE, &pr));
	assert_str(&pr.str, "other");

	decode_named("v5 AUTH continue", &p);
	assert_int_equal(p.type, MQTT_AUTH);
	assert_int_equal(p.u.reason.reason, MQTT_RC_CONTINUE_AUTH);
	assert_true(
	    mqtt_props_find(&p.u.reason.props, MQTT_PROP_AUTH_DATA, &pr));
	assert_str(&pr.str, "\x00\x01");
}

/* ---- Encoding from scratch ---------------------------------------------- */

/* Encodes p and compares with the vector, then decodes it back. */
static void
encode_expect_at(uint8_t version, const struct mqtt_packet *p, const char *hex,
    const char *file, int line)
{
	uint8_t want[VEC_MAX], out[VEC_MAX];
	size_t want_len = vec_parse(hex, want, sizeof(want)), len = 0;
	enum mqtt_result rc = mqtt_encode(version, p, out, sizeof(out), &len);

	if (rc != MQTT_OK)
		fail_msg("%s:%d: encode: %s", file, line, mqtt_result_str(rc));
	if (len != want_len || memcmp(out, want, len) != 0)
		fail_msg(
		    "%s:%d: encoded bytes differ from \"%s\"", file, line, hex);
	assert_int_equal(
	    decode_bytes(p->type == MQTT_CONNECT ? 0 : version, out, len),
	    MQTT_OK);
}

#define encode_expect(version, p, hex)                                         \
	encode_expect_at((version), (p), (hex), __FILE__, __LINE__)

static void
encode_rc_expect_at(uint8_t version, const struct mqtt_packet *p,
    enum mqtt_result want, const char *file, int line)
{
	uint8_t out[VEC_MAX];
	size_t len = 0;
	enum mqtt_result rc = mqtt_encode(version, p, out, sizeof(out), &len);

	if (rc != want)
		fail_msg("%s:%d: encode gave %s, want %s", file, line,
		    mqtt_result_str(rc), mqtt_result_str(want));
}

/* Encodes p and compares with the vector, without decoding it back. */
static void
encode_bytes_expect(
    uint8_t version, const struct mqtt_packet *p, const char *hex)
{
	uint8_t want[VEC_MAX], out[VEC_MAX];
	size_t want_len = vec_parse(hex, want, sizeof(want)), len = 0;

	assert_int_equal(
	    mqtt_encode(version, p, out, sizeof(out), &len), MQTT_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, len);
}

#define encode_rc_expect(version, p, want)                                     \
	encode_rc_expect_at((version), (p), (want), __FILE__, __LINE__)

#define BYTES(s) ((struct mqtt_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static void
test_encode_connect(void **state)
{
	struct mqtt_packet p = {.type = MQTT_CONNECT};
	struct mqtt_connect *c = &p.u.connect;

	(void)state;
	c->version = MQTT_V311;
	c->clean_start = true;
	c->keep_alive = 60;
	c->client_id = BYTES("id");
	encode_expect(0, &p, "10 0e 0004 'MQTT' 04 02 003c 0002 'id'");
	/* `version` is not consulted for a CONNECT */
	encode_expect(MQTT_V5, &p, "10 0e 0004 'MQTT' 04 02 003c 0002 'id'");
	c->version = MQTT_V5;
	c->will_flag = true;
	c->will_qos = 1;
	c->will_topic = BYTES("w");
	c->will_payload = BYTES("");
	c->has_username = true;
	c->username = BYTES("u");
	encode_expect(0, &p,
	    "10 18 0004 'MQTT' 05 8e 003c 00 0002 'id' 00 0001 'w' 0000 "
	    "0001 'u'");

	/* What cannot be encoded */
	c->version = 3;
	encode_rc_expect(0, &p, MQTT_MALFORMED);
	c->version = MQTT_V5;
	c->will_qos = 3;
	encode_rc_expect(0, &p, MQTT_MALFORMED);
	c->will_qos = 1;
	c->will_flag = false;
	encode_rc_expect(0, &p, MQTT_MALFORMED); /* will qos, no will */
	c->will_qos = 0;
	c->will_retain = true;
	encode_rc_expect(0, &p, MQTT_MALFORMED);
	c->will_retain = false;
	c->version = MQTT_V311;
	c->has_username = false;
	c->has_password = true;
	encode_rc_expect(0, &p, MQTT_MALFORMED); /* [MQTT-3.1.2-22] */
	c->version = MQTT_V5;
	encode_expect(0, &p, "10 11 0004 'MQTT' 05 42 003c 00 0002 'id' 0000");
	c->version = MQTT_V311;
	c->has_password = false;
	c->props = (struct mqtt_props){(const uint8_t *)"\x17\x01", 2};
	encode_rc_expect(0, &p, MQTT_MALFORMED); /* v3.1.1 has no props */
	c->version = MQTT_V5;
	encode_expect(0, &p, "10 11 0004 'MQTT' 05 02 003c 02 1701 0002 'id'");
	c->props = (struct mqtt_props){(const uint8_t *)"\x17\x02", 2};
	encode_rc_expect(0, &p, MQTT_PROTOCOL_ERROR);
}

static void
test_encode_short_forms(void **state)
{
	struct mqtt_packet p = {.type = MQTT_PUBACK};
	uint8_t props[] = {0x1f, 0x00, 0x01, 'x'};

	(void)state;
	p.u.ack.packet_id = 5;
	encode_expect(MQTT_V5, &p, "40 02 0005");
	encode_expect(MQTT_V311, &p, "40 02 0005");
	p.u.ack.wire_form = 3;
	encode_expect(MQTT_V5, &p, "40 03 0005 00");
	p.u.ack.wire_form = 4;
	encode_expect(MQTT_V5, &p, "40 04 0005 00 00");
	p.u.ack.wire_form = 200; /* capped at the full form */
	encode_expect(MQTT_V5, &p, "40 04 0005 00 00");
	encode_expect(MQTT_V311, &p, "40 02 0005"); /* no forms in v3.1.1 */
	p.u.ack.wire_form = 0;
	p.u.ack.reason = 0x10;
	encode_expect(MQTT_V5, &p, "40 03 0005 10");
	/* A recorded short form never drops a reason or properties */
	p.u.ack.wire_form = 2;
	encode_expect(MQTT_V5, &p, "40 03 0005 10");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.u.ack.props = (struct mqtt_props){props, sizeof(props)};
	encode_expect(MQTT_V5, &p, "40 08 0005 10 04 1f 0001 'x'");
	p.u.ack.reason = 0;
	p.u.ack.wire_form = 0;
	encode_expect(MQTT_V5, &p, "40 08 0005 00 04 1f 0001 'x'");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.type = MQTT_PUBREL;
	encode_expect(MQTT_V5, &p, "62 08 0005 00 04 1f 0001 'x'");
	p.u.ack.packet_id = 0;
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);

	memset(&p, 0, sizeof(p));
	p.type = MQTT_DISCONNECT;
	encode_expect(MQTT_V5, &p, "e0 00");
	encode_expect(MQTT_V311, &p, "e0 00");
	p.u.reason.wire_form = 1;
	encode_expect(MQTT_V5, &p, "e0 01 00");
	p.u.reason.wire_form = 2;
	encode_expect(MQTT_V5, &p, "e0 02 00 00");
	p.u.reason.wire_form = 0;
	p.u.reason.reason = 0x8e;
	encode_expect(MQTT_V5, &p, "e0 01 8e");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.u.reason.props = (struct mqtt_props){props, sizeof(props)};
	encode_expect(MQTT_V5, &p, "e0 06 8e 04 1f 0001 'x'");

	/* AUTH has no reason-only form */
	memset(&p, 0, sizeof(p));
	p.type = MQTT_AUTH;
	encode_expect(MQTT_V5, &p, "f0 00");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.u.reason.props =
	    (struct mqtt_props){(const uint8_t *)"\x15\x00\x01M", 4};
	p.u.reason.reason = 0x18;
	encode_expect(MQTT_V5, &p, "f0 06 18 04 15 0001 'M'");
	/* A reason alone still takes the full form (it lacks a method, which
	 * the peer will call a protocol error, but it is not malformed) */
	p.u.reason.props = (struct mqtt_props){NULL, 0};
	encode_bytes_expect(MQTT_V5, &p, "f0 02 18 00");
	p.u.reason.reason = 0;
	p.u.reason.wire_form = 1;
	encode_bytes_expect(MQTT_V5, &p, "f0 02 00 00");
}

static void
test_encode_packets(void **state)
{
	struct mqtt_packet p;
	static const uint8_t list[] = {
	    0, 3, 'a', '/', '#', 0x01, 0, 1, '+', 0x02};

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.topic = BYTES("t");
	p.u.publish.payload = BYTES("xyz");
	encode_expect(MQTT_V311, &p, "30 06 0001 't' 'xyz'");
	encode_expect(MQTT_V5, &p, "30 07 0001 't' 00 'xyz'");
	p.u.publish.retain = true;
	p.u.publish.qos = 2;
	p.u.publish.dup = true;
	p.u.publish.packet_id = 0x0a0b;
	encode_expect(MQTT_V311, &p, "3d 08 0001 't' 0a0b 'xyz'");
	p.u.publish.packet_id = 0;
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED); /* [MQTT-2.3.1-1] */
	p.u.publish.packet_id = 1;
	p.u.publish.qos = 3;
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.u.publish.qos = 0;
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED); /* DUP on QoS 0 */
	p.u.publish.dup = false;
	encode_expect(MQTT_V311, &p, "31 06 0001 't' 'xyz'");
	/* Subscription Identifiers may repeat in a PUBLISH */
	p.u.publish.props =
	    (struct mqtt_props){(const uint8_t *)"\x0b\x01\x0b\x02", 4};
	encode_expect(MQTT_V5, &p, "31 0b 0001 't' 04 0b01 0b02 'xyz'");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);

	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBSCRIBE;
	p.u.subscribe.packet_id = 3;
	p.u.subscribe.list = (struct mqtt_bytes){list, sizeof(list)};
	encode_expect(MQTT_V311, &p, "82 0c 0003 0003 'a/#' 01 0001 '+' 02");
	encode_expect(MQTT_V5, &p, "82 0d 0003 00 0003 'a/#' 01 0001 '+' 02");
	p.type = MQTT_UNSUBSCRIBE;
	/* The same bytes are no list of bare filters */
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.u.subscribe.list = (struct mqtt_bytes){list, 5};
	encode_expect(MQTT_V311, &p, "a2 07 0003 0003 'a/#'");
	p.u.subscribe.list = (struct mqtt_bytes){list, 4};
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	p.u.subscribe.list = (struct mqtt_bytes){NULL, 0};
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED); /* [MQTT-3.10.3-2] */

	memset(&p, 0, sizeof(p));
	p.type = MQTT_SUBACK;
	p.u.suback.packet_id = 3;
	p.u.suback.reasons = BYTES("\x01\x80");
	encode_expect(MQTT_V311, &p, "90 04 0003 01 80");
	encode_expect(MQTT_V5, &p, "90 05 0003 00 01 80");
	p.type = MQTT_UNSUBACK;
	p.u.suback.reasons = BYTES("\x11\x80");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
	encode_expect(MQTT_V5, &p, "b0 05 0003 00 11 80");
	p.u.suback.reasons = (struct mqtt_bytes){NULL, 0};
	encode_expect(MQTT_V311, &p, "b0 02 0003");
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNACK;
	p.u.connack.session_present = true;
	encode_expect(MQTT_V311, &p, "20 02 01 00");
	encode_expect(MQTT_V5, &p, "20 03 01 00 00");
	p.type = MQTT_PINGREQ;
	encode_expect(MQTT_V311, &p, "c0 00");
	p.type = MQTT_PINGRESP;
	encode_expect(MQTT_V5, &p, "d0 00");

	/* Packet types and versions that do not exist */
	p.type = 0;
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);
	p.type = 16;
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);
	p.type = MQTT_PINGREQ;
	encode_rc_expect(0, &p, MQTT_MALFORMED);
	encode_rc_expect(3, &p, MQTT_MALFORMED);
	encode_rc_expect(6, &p, MQTT_MALFORMED);
}

static void
test_encode_limits(void **state)
{
	struct mqtt_packet p;
	uint8_t *big, out[64];
	size_t len = 0;

	(void)state;
	big = calloc(1, 70000);
	assert_non_null(big);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.u.publish.topic = (struct mqtt_bytes){big, 65536};
	assert_int_equal(
	    mqtt_encode(MQTT_V311, &p, out, sizeof(out), &len), MQTT_MALFORMED);
	/* 65,535 fits the string; the buffer is what is too small */
	p.u.publish.topic = (struct mqtt_bytes){big, 65535};
	assert_int_equal(
	    mqtt_encode(MQTT_V311, &p, out, sizeof(out), &len), MQTT_NO_SPACE);
	assert_int_equal(
	    mqtt_encode(MQTT_V311, &p, NULL, 0, &len), MQTT_NO_SPACE);

	/* Remaining Length over 268,435,455: refused before any copy */
	p.u.publish.topic = BYTES("t");
	p.u.publish.payload =
	    (struct mqtt_bytes){big, MQTT_MAX_REMAINING - 3 + 1};
	assert_int_equal(
	    mqtt_encode(MQTT_V311, &p, out, sizeof(out), &len), MQTT_MALFORMED);
	p.u.publish.payload = (struct mqtt_bytes){big, SIZE_MAX};
	assert_int_equal(
	    mqtt_encode(MQTT_V311, &p, out, sizeof(out), &len), MQTT_MALFORMED);
	p.u.publish.payload = (struct mqtt_bytes){big, MQTT_MAX_REMAINING - 3};
	assert_int_equal(
	    mqtt_encode(MQTT_V311, &p, out, sizeof(out), &len), MQTT_NO_SPACE);

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	p.u.connect.version = MQTT_V5;
	p.u.connect.has_password = true;
	p.u.connect.password = (struct mqtt_bytes){big, 65536};
	assert_int_equal(
	    mqtt_encode(0, &p, out, sizeof(out), &len), MQTT_MALFORMED);
	p.u.connect.password = (struct mqtt_bytes){big, 0};
	p.u.connect.client_id = (struct mqtt_bytes){big, 70000};
	assert_int_equal(
	    mqtt_encode(0, &p, out, sizeof(out), &len), MQTT_MALFORMED);
	free(big);
}

static void
test_encode_bad_props(void **state)
{
	struct mqtt_packet p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNACK;
	/* Unknown identifier; not allowed in CONNACK; cut short */
	p.u.connack.props = (struct mqtt_props){(const uint8_t *)"\x7f\x00", 2};
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);
	p.u.connack.props =
	    (struct mqtt_props){(const uint8_t *)"\x23\x00\x01", 3};
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);
	p.u.connack.props = (struct mqtt_props){(const uint8_t *)"\x13\x00", 2};
	encode_rc_expect(MQTT_V5, &p, MQTT_MALFORMED);
	/* Duplicate; bad value; data without method */
	p.u.connack.props =
	    (struct mqtt_props){(const uint8_t *)"\x24\x00\x24\x01", 4};
	encode_rc_expect(MQTT_V5, &p, MQTT_PROTOCOL_ERROR);
	p.u.connack.props = (struct mqtt_props){(const uint8_t *)"\x24\x02", 2};
	encode_rc_expect(MQTT_V5, &p, MQTT_PROTOCOL_ERROR);
	p.u.connack.props =
	    (struct mqtt_props){(const uint8_t *)"\x16\x00\x00", 3};
	encode_rc_expect(MQTT_V5, &p, MQTT_PROTOCOL_ERROR);
	p.u.connack.props = (struct mqtt_props){(const uint8_t *)"\x24\x01", 2};
	encode_expect(MQTT_V5, &p, "20 05 00 00 02 2401");
	encode_rc_expect(MQTT_V311, &p, MQTT_MALFORMED);
}

/* ---- Property builder and iteration ------------------------------------- */

static void
test_builder(void **state)
{
	uint8_t buf[128];
	struct mqtt_prop_builder b;
	struct mqtt_props props;
	struct mqtt_prop_iter it;
	struct mqtt_prop pr;
	uint8_t want[128];
	size_t want_len, cap;

	(void)state;
	want_len =
	    vec_parse("0101 1300 1e 2700010000 0b ffffff7f "
		      "03 0004 'text' 09 0002 00ff 26 0001 'k' 0002 'vv'",
		want, sizeof(want));
	for (cap = 0; cap <= want_len; cap++) {
		memset(buf, 0xcc, sizeof(buf));
		mqtt_props_builder_init(&b, buf, cap);
		mqtt_props_add_u8(&b, MQTT_PROP_PAYLOAD_FORMAT, 1);
		mqtt_props_add_u16(&b, MQTT_PROP_SERVER_KEEP_ALIVE, 30);
		mqtt_props_add_u32(&b, MQTT_PROP_MAXIMUM_PACKET_SIZE, 65536);
		mqtt_props_add_varint(&b, MQTT_PROP_SUBSCRIPTION_ID, 268435455);
		mqtt_props_add_bytes(&b, MQTT_PROP_CONTENT_TYPE, "text", 4);
		mqtt_props_add_bytes(
		    &b, MQTT_PROP_CORRELATION_DATA, "\x00\xff", 2);
		mqtt_props_add_user(&b, "k", 1, "vv", 2);
		if (cap < want_len) {
			assert_int_equal(mqtt_props_builder_finish(&b, &props),
			    MQTT_NO_SPACE);
			assert_true(b.len <= cap);
			assert_int_equal(buf[cap], 0xcc);
			continue;
		}
		assert_int_equal(
		    mqtt_props_builder_finish(&b, &props), MQTT_OK);
		assert_int_equal(props.len, want_len);
		assert_memory_equal(props.data, want, want_len);
	}

	/* Iterating gives back each value */
	mqtt_props_iter_init(&it, &props);
	assert_true(mqtt_props_next(&it, &pr));
	assert_int_equal(pr.id, MQTT_PROP_PAYLOAD_FORMAT);
	assert_int_equal(pr.num, 1);
	assert_true(mqtt_props_next(&it, &pr));
	assert_int_equal(pr.num, 30);
	assert_true(mqtt_props_next(&it, &pr));
	assert_int_equal(pr.num, 65536);
	assert_true(mqtt_props_next(&it, &pr));
	assert_int_equal(pr.num, 268435455);
	assert_true(mqtt_props_next(&it, &pr));
	assert_str(&pr.str, "text");
	assert_true(mqtt_props_next(&it, &pr));
	assert_str(&pr.str, "\x00\xff");
	assert_true(mqtt_props_next(&it, &pr));
	assert_int_equal(pr.id, MQTT_PROP_USER_PROPERTY);
	assert_str(&pr.str, "k");
	assert_str(&pr.value, "vv");
	assert_false(mqtt_props_next(&it, &pr));
	assert_false(mqtt_props_find(&props, MQTT_PROP_TOPIC_ALIAS, &pr));
	assert_true(mqtt_props_find(&props, MQTT_PROP_USER_PROPERTY, &pr));

	/* An empty block */
	mqtt_props_builder_init(&b, NULL, 0);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_OK);
	assert_int_equal(props.len, 0);
	mqtt_props_iter_init(&it, &props);
	assert_false(mqtt_props_next(&it, &pr));
	assert_false(mqtt_props_find(&props, MQTT_PROP_USER_PROPERTY, &pr));
}

static void
test_builder_refuses(void **state)
{
	static uint8_t big[65536], room[70000];
	uint8_t buf[128];
	struct mqtt_prop_builder b;
	struct mqtt_props props;
	struct mqtt_prop pr;

	(void)state;
	/* An identifier of another type, or none at all */
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_u8(&b, MQTT_PROP_TOPIC_ALIAS, 1);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_u16(&b, 0x7f, 1);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_bytes(&b, MQTT_PROP_USER_PROPERTY, "x", 1);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_u32(&b, MQTT_PROP_SUBSCRIPTION_ID, 1);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	/* Values that do not fit their encoding */
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_varint(&b, MQTT_PROP_SUBSCRIPTION_ID, 268435456);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	/* Strings over 65,535 bytes, with room enough to hold them */
	mqtt_props_builder_init(&b, room, sizeof(room));
	mqtt_props_add_bytes(&b, MQTT_PROP_REASON_STRING, big, 65536);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	mqtt_props_builder_init(&b, room, sizeof(room));
	mqtt_props_add_bytes(&b, MQTT_PROP_CORRELATION_DATA, big, 65536);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	mqtt_props_builder_init(&b, room, sizeof(room));
	mqtt_props_add_user(&b, "k", 1, big, 65536);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	mqtt_props_builder_init(&b, room, sizeof(room));
	mqtt_props_add_user(&b, big, 65536, "v", 1);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	/* 65,535 is fine */
	mqtt_props_builder_init(&b, room, sizeof(room));
	mqtt_props_add_bytes(&b, MQTT_PROP_REASON_STRING, big, 65535);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_OK);
	assert_int_equal(props.len, 3 + 65535);
	memset(&pr, 0, sizeof(pr));
	pr.id = MQTT_PROP_MAXIMUM_QOS;
	pr.num = 256;
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_prop(&b, &pr);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	pr.id = 0;
	pr.num = 0;
	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_add_prop(&b, &pr);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
	/* The failure sticks: later adds that would fit change nothing */
	mqtt_props_builder_init(&b, buf, 2);
	mqtt_props_add_u16(&b, MQTT_PROP_TOPIC_ALIAS, 1);
	mqtt_props_add_u8(&b, MQTT_PROP_MAXIMUM_QOS, 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(mqtt_props_builder_finish(&b, &props), MQTT_NO_SPACE);
}

/* Copying every decoded property with add_prop rebuilds the block. */
static void
copy_props_expect_same(const struct mqtt_props *src)
{
	uint8_t buf[VEC_MAX];
	struct mqtt_prop_builder b;
	struct mqtt_prop_iter it;
	struct mqtt_props out;
	struct mqtt_prop pr;

	mqtt_props_builder_init(&b, buf, sizeof(buf));
	mqtt_props_iter_init(&it, src);
	while (mqtt_props_next(&it, &pr))
		mqtt_props_add_prop(&b, &pr);
	assert_int_equal(mqtt_props_builder_finish(&b, &out), MQTT_OK);
	assert_int_equal(out.len, src->len);
	if (out.len > 0)
		assert_memory_equal(out.data, src->data, out.len);
}

static void
test_builder_copies_decoded(void **state)
{
	struct mqtt_packet p;

	(void)state;
	decode_named("v5 CONNECT all connect and will properties, password "
		     "without username",
	    &p);
	copy_props_expect_same(&p.u.connect.props);
	copy_props_expect_same(&p.u.connect.will_props);
	decode_named("v5 CONNACK all connack properties", &p);
	copy_props_expect_same(&p.u.connack.props);
	decode_named("v5 PUBLISH qos1 all publish properties, two "
		     "subscription ids",
	    &p);
	copy_props_expect_same(&p.u.publish.props);
	decode_named("v5 SUBSCRIBE options and properties", &p);
	copy_props_expect_same(&p.u.subscribe.props);
	decode_named("v5 AUTH continue", &p);
	copy_props_expect_same(&p.u.reason.props);
}

static void
test_iter_stops_on_garbage(void **state)
{
	/* Blocks not from the decoder: iteration stops, never overreads */
	static const char *const bad[] = {"7f", "01", "02 0000", "03 00",
	    "03 0002 'a'", "0b 80", "0b 80 80 80 80 01", "26 0001 'k'",
	    "26 0001 'k' 00", "0101 ff"};
	uint8_t buf[32];
	struct mqtt_props props;
	struct mqtt_prop_iter it;
	struct mqtt_prop pr;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		props.len = vec_parse(bad[i], buf, sizeof(buf));
		/* Exact-size heap copy, for sanitizer builds */
		props.data = malloc(props.len);
		assert_non_null(props.data);
		memcpy((uint8_t *)props.data, buf, props.len);
		mqtt_props_iter_init(&it, &props);
		for (n = 0; mqtt_props_next(&it, &pr); n++)
			;
		assert_int_equal(n, i == sizeof(bad) / sizeof(bad[0]) - 1);
		assert_false(mqtt_props_next(&it, &pr));
		assert_int_not_equal(
		    mqtt_props_validate(&props, MQTT_PUBLISH), MQTT_OK);
		free((uint8_t *)props.data);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_lengths),
	    cmocka_unit_test(test_frame_too_large),
	    cmocka_unit_test(test_varint),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_topic_names),
	    cmocka_unit_test(test_topic_filters),
	    cmocka_unit_test(test_result_reason_and_names),
	    cmocka_unit_test(test_roundtrip_vectors),
	    cmocka_unit_test(test_roundtrip_big_publish),
	    cmocka_unit_test(test_fields_connect),
	    cmocka_unit_test(test_fields_connack),
	    cmocka_unit_test(test_fields_publish),
	    cmocka_unit_test(test_fields_acks),
	    cmocka_unit_test(test_fields_subscribe),
	    cmocka_unit_test(test_fields_suback_disconnect_auth),
	    cmocka_unit_test(test_encode_connect),
	    cmocka_unit_test(test_encode_short_forms),
	    cmocka_unit_test(test_encode_packets),
	    cmocka_unit_test(test_encode_limits),
	    cmocka_unit_test(test_encode_bad_props),
	    cmocka_unit_test(test_builder),
	    cmocka_unit_test(test_builder_refuses),
	    cmocka_unit_test(test_builder_copies_decoded),
	    cmocka_unit_test(test_iter_stops_on_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
