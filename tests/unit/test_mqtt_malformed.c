/*
 * MQTT codec tests: malformed and forbidden packets, each rejected with the
 * result the spec calls for and tagged with the rule it breaks.
 */
#include "test_mqtt_util.h"

#define M MQTT_MALFORMED
#define P MQTT_PROTOCOL_ERROR
#define OK MQTT_OK
#define TOPIC MQTT_TOPIC_INVALID
#define VERSION MQTT_BAD_VERSION

/* One vector, the session version to decode it with, and the result. */
struct bad {
	uint8_t version;
	const char *hex;
	enum mqtt_result rc;
	const char *rule;
};

static void
run_table(const struct bad *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		decode_expect_at(t[i].version, t[i].hex, t[i].rc, t[i].rule, 0);
}

#define RUN_TABLE(t) run_table((t), sizeof(t) / sizeof((t)[0]))

/* ---- Fixed header ------------------------------------------------------- */

/*
 * A valid body for each type (v3.1.1, v5) and the one flags value allowed,
 * [MQTT-2.2.2-1], [MQTT-2.2.2-2]. Every other flags value is malformed.
 */
static void
test_fixed_header_flags(void **state)
{
	static const struct {
		uint8_t type, flags;
		const char *v311, *v5;
	} types[] = {
	    {MQTT_CONNECT, 0, "0004 'MQTT' 04 02 003c 0000",
		"0004 'MQTT' 05 02 003c 00 0000"},
	    {MQTT_CONNACK, 0, "00 00", "00 00 00"},
	    {MQTT_PUBACK, 0, "0001", "0001"},
	    {MQTT_PUBREC, 0, "0001", "0001"},
	    {MQTT_PUBREL, 2, "0001", "0001"},
	    {MQTT_PUBCOMP, 0, "0001", "0001"},
	    {MQTT_SUBSCRIBE, 2, "0001 0001 'a' 00", "0001 00 0001 'a' 00"},
	    {MQTT_SUBACK, 0, "0001 00", "0001 00 00"},
	    {MQTT_UNSUBSCRIBE, 2, "0001 0001 'a'", "0001 00 0001 'a'"},
	    {MQTT_UNSUBACK, 0, "0001", "0001 00 00"},
	    {MQTT_PINGREQ, 0, "", ""},
	    {MQTT_PINGRESP, 0, "", ""},
	    {MQTT_DISCONNECT, 0, "", ""},
	    {MQTT_AUTH, 0, NULL, ""},
	};
	uint8_t pkt[VEC_MAX];
	size_t i, len, body;
	uint8_t flags, version, v;
	enum mqtt_result got, want;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (v = 0; v < 2; v++) {
			const char *hex = v == 0 ? types[i].v311 : types[i].v5;

			if (hex == NULL)
				continue;
			version = types[i].type == MQTT_CONNECT ? 0
			    : v == 0                            ? MQTT_V311
								: MQTT_V5;
			body = vec_parse(hex, pkt + 2, sizeof(pkt) - 2);
			pkt[1] = (uint8_t)body;
			len = body + 2;
			for (flags = 0; flags < 16; flags++) {
				pkt[0] = (uint8_t)(types[i].type << 4 | flags);
				got = decode_bytes(version, pkt, len);
				want = flags == types[i].flags ? OK : M;
				if (got != want)
					fail_msg("%s v%u flags %x: got %s",
					    mqtt_packet_name(types[i].type),
					    version, flags,
					    mqtt_result_str(got));
			}
		}
	}
}

/* [MQTT-3.3.1-4] QoS 3; [MQTT-3.3.1-2] DUP with QoS 0; all else is fine. */
static void
test_publish_flags(void **state)
{
	uint8_t pkt[16], flags, qos, v;
	size_t len;
	enum mqtt_result want, got;

	(void)state;
	for (v = MQTT_V311; v <= MQTT_V5; v++) {
		for (flags = 0; flags < 16; flags++) {
			qos = (flags >> 1) & 3;
			len = 0;
			pkt[len++] = (uint8_t)(0x30 | flags);
			pkt[len++] = 0; /* patched below */
			memcpy(pkt + len, "\x00\x01t", 3);
			len += 3;
			if (qos > 0) {
				pkt[len++] = 0x12;
				pkt[len++] = 0x34;
			}
			if (v == MQTT_V5)
				pkt[len++] = 0x00;
			pkt[len++] = 'x';
			pkt[1] = (uint8_t)(len - 2);
			want = qos == 3 ? M : (flags & 8) && qos == 0 ? M : OK;
			got = decode_bytes(v, pkt, len);
			if (got != want)
				fail_msg("PUBLISH v%u flags %x: got %s", v,
				    flags, mqtt_result_str(got));
		}
	}
}

/* [MQTT-2.3.1-1] a Packet Identifier may not be 0 */
static void
test_packet_id_zero(void **state)
{
	static const struct bad t[] = {
	    {4, "32 05 0001 'a' 0000", M, "PUBLISH QoS 1"},
	    {4, "34 05 0001 'a' 0000", M, "PUBLISH QoS 2"},
	    {5, "3a 06 0001 'a' 0000 00", M, "v5 PUBLISH QoS 1 DUP"},
	    {4, "40 02 0000", M, "PUBACK"},
	    {4, "50 02 0000", M, "PUBREC"},
	    {4, "62 02 0000", M, "PUBREL"},
	    {4, "70 02 0000", M, "PUBCOMP"},
	    {5, "40 02 0000", M, "v5 PUBACK short"},
	    {5, "50 03 0000 00", M, "v5 PUBREC"},
	    {5, "62 04 0000 00 00", M, "v5 PUBREL"},
	    {5, "70 04 0000 92 00", M, "v5 PUBCOMP"},
	    {4, "82 06 0000 0001 'a' 00", M, "SUBSCRIBE"},
	    {5, "82 07 0000 00 0001 'a' 00", M, "v5 SUBSCRIBE"},
	    {4, "a2 05 0000 0001 'a'", M, "UNSUBSCRIBE"},
	    {5, "a2 06 0000 00 0001 'a'", M, "v5 UNSUBSCRIBE"},
	    {4, "90 03 0000 00", M, "SUBACK"},
	    {5, "90 04 0000 00 00", M, "v5 SUBACK"},
	    {4, "b0 02 0000", M, "UNSUBACK"},
	    {5, "b0 04 0000 00 00", M, "v5 UNSUBACK"},
	    /* and the same packets with id 1 are fine */
	    {4, "32 05 0001 'a' 0001", OK, "PUBLISH QoS 1, id 1"},
	    {5, "70 04 0001 92 00", OK, "v5 PUBCOMP, id 1"},
	    {4, "b0 02 0001", OK, "UNSUBACK, id 1"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- Session order ------------------------------------------------------ */

static void
test_connect_first_and_once(void **state)
{
	static const struct bad t[] = {
	    /* [MQTT-3.1.0-1] the first packet must be CONNECT */
	    {0, "30 03 0001 'a'", P, "PUBLISH first"},
	    {0, "20 02 00 00", P, "CONNACK first"},
	    {0, "c0 00", P, "PINGREQ first"},
	    {0, "e0 00", P, "DISCONNECT first"},
	    {0, "f0 00", P, "AUTH first"},
	    {0, "82 06 0001 0001 'a' 00", P, "SUBSCRIBE first"},
	    /* [MQTT-3.1.0-2] a second CONNECT is a protocol violation */
	    {4, "10 0c 0004 'MQTT' 04 02 003c 0000", P, "second CONNECT"},
	    {5, "10 0d 0004 'MQTT' 05 02 003c 00 0000", P, "second CONNECT"},
	    {5, "10 0c 0004 'MQTT' 04 02 003c 0000", P, "second CONNECT"},
	    /* a session version that cannot exist */
	    {3, "c0 00", P, "session version 3"},
	    {6, "c0 00", P, "session version 6"},
	    {255, "c0 00", P, "session version 255"},
	    /* AUTH is reserved in v3.1.1 (table 2.1) */
	    {4, "f0 00", P, "v3.1.1 AUTH"},
	    {4, "f0 06 18 04 15 0001 'M'", P, "v3.1.1 AUTH"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- CONNECT ------------------------------------------------------------ */

static void
test_connect_errors(void **state)
{
	static const struct bad t[] = {
	    /* [MQTT-3.1.2-1], [MQTT-3.1.2-2] protocol name and level */
	    {0, "10 0c 0004 'MQTT' 03 02 003c 0000", VERSION, "MQTT level 3"},
	    {0, "10 0c 0004 'MQTT' 06 02 003c 0000", VERSION, "MQTT level 6"},
	    {0, "10 0c 0004 'MQTT' 00 02 003c 0000", VERSION, "MQTT level 0"},
	    {0, "10 0c 0004 'MQTT' 84 02 003c 0000", VERSION, "bridge bit"},
	    {0, "10 0c 0004 'MQTT' ff 02 003c 0000", VERSION, "level 255"},
	    {0, "10 0e 0006 'MQIsdp' 03 02 003c 0000", VERSION, "MQTT 3.1"},
	    {0, "10 0e 0006 'MQIsdp' 04 02 003c 0000", VERSION, "MQIsdp 4"},
	    {0, "10 0c 0004 'MQTX' 04 02 003c 0000", P, "[MQTT-3.1.2-1]"},
	    {0, "10 0c 0004 'mqtt' 04 02 003c 0000", P, "[MQTT-3.1.2-1]"},
	    {0, "10 0b 0003 'MQT' 04 02 003c 0000", P, "[MQTT-3.1.2-1]"},
	    {0, "10 0d 0005 'MQTTX' 04 02 003c 0000", P, "[MQTT-3.1.2-1]"},
	    {0, "10 08 0000 04 02 003c 0000", P, "[MQTT-3.1.2-1] no name"},
	    {0, "10 0c 0004 c080c080 04 02 003c 0000", P, "binary name"},
	    {0, "10 04 0010 'MQ'", M, "name past the end"},
	    {0, "10 06 0004 'MQTT'", M, "no level"},
	    {0, "10 07 0004 'MQTT' 04", M, "no flags"},
	    {0, "10 09 0004 'MQTT' 04 02 00", M, "half a keep alive"},
	    {0, "10 0a 0004 'MQTT' 04 02 003c", M, "no client id"},
	    {0, "10 0a 0004 'MQTT' 05 02 003c", M, "v5 no properties"},
	    {0, "10 0b 0004 'MQTT' 05 02 003c 00", M, "v5 no client id"},
	    {0, "10 0d 0004 'MQTT' 05 02 003c 05 0000", M, "props past end"},
	    {0, "10 0d 0004 'MQTT' 04 02 003c 0000 00", M, "trailing byte"},
	    {0, "10 0e 0004 'MQTT' 04 02 003c 0001 'a' 00", M, "trailing"},
	    /* [MQTT-3.1.2-3] the reserved flag */
	    {0, "10 0c 0004 'MQTT' 04 03 003c 0000", M, "[MQTT-3.1.2-3]"},
	    {0, "10 0c 0004 'MQTT' 04 01 003c 0000", M, "[MQTT-3.1.2-3]"},
	    {0, "10 0d 0004 'MQTT' 05 03 003c 00 0000", M, "[MQTT-3.1.2-3]"},
	    /* [MQTT-3.1.2-14] Will QoS 3 */
	    {0, "10 11 0004 'MQTT' 04 1e 003c 0000 0001 't' 0000", M,
		"[MQTT-3.1.2-14]"},
	    {0, "10 13 0004 'MQTT' 05 1e 003c 00 0000 00 0001 't' 0000", M,
		"[MQTT-3.1.2-14]"},
	    /* [MQTT-3.1.2-13], [MQTT-3.1.2-15] Will QoS/Retain, no Will */
	    {0, "10 0c 0004 'MQTT' 04 0a 003c 0000", M, "[MQTT-3.1.2-13]"},
	    {0, "10 0c 0004 'MQTT' 04 12 003c 0000", M, "[MQTT-3.1.2-13]"},
	    {0, "10 0c 0004 'MQTT' 04 18 003c 0000", M, "[MQTT-3.1.2-13]"},
	    {0, "10 0c 0004 'MQTT' 04 22 003c 0000", M, "[MQTT-3.1.2-15]"},
	    {0, "10 0d 0004 'MQTT' 05 22 003c 00 0000", M, "[MQTT-3.1.2-15]"},
	    /* [MQTT-3.1.2-22] v3.1.1 password needs a username; v5 not */
	    {0, "10 0e 0004 'MQTT' 04 42 003c 0000 0000", M, "[MQTT-3.1.2-22]"},
	    {0, "10 0f 0004 'MQTT' 05 42 003c 00 0000 0000", OK,
		"v5 password alone"},
	    /* Fields the flags promise must be there */
	    {0, "10 0c 0004 'MQTT' 04 06 003c 0000", M, "no will topic"},
	    {0, "10 0f 0004 'MQTT' 04 06 003c 0000 0001 't'", M,
		"no will payload"},
	    {0, "10 0d 0004 'MQTT' 05 06 003c 00 0000", M, "no will props"},
	    {0, "10 0c 0004 'MQTT' 04 82 003c 0000", M, "no username"},
	    {0, "10 0f 0004 'MQTT' 04 c2 003c 0000 0001 'u'", M, "no password"},
	    /* [MQTT-3.3.2-2] Will Topic: a Topic Name, no wildcards */
	    {0, "10 11 0004 'MQTT' 04 06 003c 0000 0001 '#' 0000", TOPIC,
		"will topic #"},
	    {0, "10 13 0004 'MQTT' 04 06 003c 0000 0003 'a/+' 0000", TOPIC,
		"will topic a/+"},
	    {0, "10 15 0004 'MQTT' 05 06 003c 00 0000 00 0003 'a/#' 0000",
		TOPIC, "v5 will topic a/#"},
	    /* [MQTT-4.7.3-1] an empty Will Topic; no Topic Alias in a Will */
	    {0, "10 10 0004 'MQTT' 04 06 003c 0000 0000 0000", M,
		"empty will topic"},
	    {0, "10 12 0004 'MQTT' 05 06 003c 00 0000 00 0000 0000", P,
		"v5 empty will topic"},
	    /* [MQTT-1.5.4] UTF-8 in client id, will topic, username */
	    {0, "10 0e 0004 'MQTT' 04 02 003c 0002 c080", M, "overlong id"},
	    {0, "10 0f 0004 'MQTT' 04 02 003c 0003 eda080", M, "surrogate"},
	    {0, "10 0d 0004 'MQTT' 04 02 003c 0001 00", M, "U+0000 id"},
	    {0, "10 0d 0004 'MQTT' 04 02 003c 0001 c3", M, "truncated id"},
	    {0, "10 10 0004 'MQTT' 04 02 003c 0004 f4908080", M, ">U+10FFFF"},
	    {0, "10 13 0004 'MQTT' 04 06 003c 0000 0003 eda080 0000", M,
		"surrogate will topic"},
	    {0, "10 11 0004 'MQTT' 04 82 003c 0000 0003 eda080", M,
		"surrogate username"},
	    {0, "10 0f 0004 'MQTT' 04 82 003c 0000 0001 00", M,
		"U+0000 username"},
	    /* Password and will payload are binary data: any bytes */
	    {0, "10 14 0004 'MQTT' 04 c2 003c 0000 0001 'u' 0003 eda080", OK,
		"binary password"},
	    {0, "10 14 0004 'MQTT' 04 06 003c 0000 0001 't' 0003 00c0ff", OK,
		"binary will payload"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* On MQTT_BAD_VERSION the level received is there to answer with. */
static void
test_connect_bad_version_level(void **state)
{
	uint8_t buf[VEC_MAX];
	struct mqtt_fixed_header hdr;
	struct mqtt_packet p;
	size_t len;

	(void)state;
	len =
	    vec_parse("10 0e 0006 'MQIsdp' 03 02 003c 0000", buf, sizeof(buf));
	assert_int_equal(test_decode(0, buf, len, &hdr, &p), VERSION);
	assert_int_equal(p.type, MQTT_CONNECT);
	assert_int_equal(p.u.connect.version, 3);
	len = vec_parse("10 0c 0004 'MQTT' 06 02 003c 0000", buf, sizeof(buf));
	assert_int_equal(test_decode(0, buf, len, &hdr, &p), VERSION);
	assert_int_equal(p.u.connect.version, 6);
	assert_int_equal(mqtt_result_reason(VERSION), 0x84);
}

/* ---- CONNACK ------------------------------------------------------------ */

static void
test_connack_errors(void **state)
{
	static const struct bad t[] = {
	    /* [MQTT-3.2.2-1] reserved Connect Acknowledge Flags */
	    {4, "20 02 02 00", M, "[MQTT-3.2.2-1]"},
	    {4, "20 02 80 00", M, "[MQTT-3.2.2-1]"},
	    {4, "20 02 ff 00", M, "[MQTT-3.2.2-1]"},
	    {5, "20 03 02 00 00", M, "[MQTT-3.2.2-1]"},
	    {5, "20 03 fe 00 00", M, "[MQTT-3.2.2-1]"},
	    /* [MQTT-3.2.2-4], [MQTT-3.2.2-6] session present only on success */
	    {4, "20 02 01 01", P, "[MQTT-3.2.2-4]"},
	    {4, "20 02 01 05", P, "[MQTT-3.2.2-4]"},
	    {5, "20 03 01 80 00", P, "[MQTT-3.2.2-6]"},
	    {5, "20 03 01 87 00", P, "[MQTT-3.2.2-6]"},
	    /* Lengths */
	    {4, "20 00", M, "empty"},
	    {4, "20 01 00", M, "no return code"},
	    {4, "20 03 00 00 00", M, "v3.1.1 trailing byte"},
	    {5, "20 02 00 00", M, "v5 no property length"},
	    {5, "20 04 00 00 00 00", M, "v5 trailing byte"},
	    {5, "20 04 00 00 02 24", M, "property past the end"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- PUBLISH ------------------------------------------------------------ */

static void
test_publish_errors(void **state)
{
	static const struct bad t[] = {
	    /* [MQTT-3.3.2-2] no wildcards in a Topic Name */
	    {4, "30 03 0001 '#'", TOPIC, "[MQTT-3.3.2-2] #"},
	    {4, "30 03 0001 '+'", TOPIC, "[MQTT-3.3.2-2] +"},
	    {4, "30 05 0003 'a/+'", TOPIC, "[MQTT-3.3.2-2] a/+"},
	    {4, "30 05 0003 'a+b'", TOPIC, "[MQTT-3.3.2-2] a+b"},
	    {4, "32 07 0003 'a/#' 0001", TOPIC, "[MQTT-3.3.2-2] QoS 1"},
	    {5, "30 04 0001 '#' 00", TOPIC, "[MQTT-3.3.2-2] v5"},
	    {5, "30 0a 0006 '$share' 00 'x'", OK, "$share alone is a name"},
	    /* [MQTT-4.7.3-1] empty topic; v5 only with a Topic Alias */
	    {4, "30 02 0000", M, "[MQTT-4.7.3-1]"},
	    {4, "30 04 0000 'hi'", M, "[MQTT-4.7.3-1]"},
	    {4, "32 04 0000 0001", M, "[MQTT-4.7.3-1] QoS 1"},
	    {5, "30 03 0000 00", P, "v5 empty topic, no alias"},
	    {5, "30 05 0000 02 0101", P, "v5 empty topic, other props"},
	    {5, "30 06 0000 03 230001", OK, "v5 empty topic with alias"},
	    {5, "30 0a 0000 07 0101 26 0000 0000", P, "alias absent"},
	    /* [MQTT-3.3.2-8] Topic Alias 0 */
	    {5, "30 07 0001 'a' 03 230000", P, "[MQTT-3.3.2-8]"},
	    {5, "30 06 0000 03 230000", P, "[MQTT-3.3.2-8] empty topic"},
	    /* [MQTT-3.3.2-14] Response Topic: a Topic Name */
	    {5, "30 0a 0001 'a' 06 08 0003 'r/#'", P, "[MQTT-3.3.2-14]"},
	    {5, "30 07 0001 'a' 03 08 0000", P, "[MQTT-3.3.2-14] empty"},
	    {5, "30 0a 0001 'a' 06 08 0003 'r/t'", OK, "response topic"},
	    /* Structure */
	    {4, "30 00", M, "empty"},
	    {4, "30 01 00", M, "half a topic length"},
	    {4, "30 03 0005 'a'", M, "topic past the end"},
	    {4, "32 03 0001 'a'", M, "no packet id"},
	    {4, "32 04 0001 'a' 00", M, "half a packet id"},
	    {5, "30 03 0001 'a'", M, "v5 no property length"},
	    {5, "30 05 0001 'a' 05 01", M, "properties past the end"},
	    /* [MQTT-1.5.4] UTF-8 in the topic */
	    {4, "30 04 0002 c080", M, "overlong"},
	    {4, "30 05 0003 e08080", M, "overlong 3-byte"},
	    {4, "30 05 0003 eda080", M, "surrogate D800"},
	    {4, "30 05 0003 edbfbf", M, "surrogate DFFF"},
	    {4, "30 03 0001 00", M, "U+0000"},
	    {4, "30 05 0003 'a' 00 'b'", M, "U+0000 inside"},
	    {4, "30 03 0001 c3", M, "truncated 2-byte"},
	    {4, "30 04 0002 e282", M, "truncated 3-byte"},
	    {4, "30 06 0004 f4908080", M, "above U+10FFFF"},
	    {4, "30 03 0001 ff", M, "byte ff"},
	    {4, "30 03 0001 80", M, "stray continuation"},
	    {5, "30 06 0003 eda080 00", M, "v5 surrogate"},
	    /* The payload is not checked, even with Payload Format 1 */
	    {5, "30 07 0001 'a' 02 0101 ff", OK, "payload not UTF-8"},
	    {4, "30 05 0001 'a' 0000", OK, "payload with zeros"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------ */

static void
test_ack_errors(void **state)
{
	static const struct bad t[] = {
	    {4, "40 00", M, "empty"},
	    {4, "40 01 00", M, "half a packet id"},
	    {4, "40 03 0001 00", M, "v3.1.1 is exactly 2 bytes"},
	    {4, "62 04 0001 00 00", M, "v3.1.1 is exactly 2 bytes"},
	    {5, "40 00", M, "v5 empty"},
	    {5, "70 01 00", M, "v5 half a packet id"},
	    {5, "40 05 0001 00 00 00", M, "trailing byte"},
	    {5, "40 05 0001 00 05 1f", M, "properties past the end"},
	    {5, "50 06 0001 00 02 1f00", M, "property cut short"},
	    {5, "62 05 0001 00 80 00", M, "non-minimal property length"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- SUBSCRIBE and UNSUBSCRIBE ------------------------------------------ */

static void
test_subscribe_errors(void **state)
{
	static const struct bad t[] = {
	    /* [MQTT-3.8.3-3] at least one filter */
	    {4, "82 02 0001", P, "[MQTT-3.8.3-3]"},
	    {5, "82 03 0001 00", P, "[MQTT-3.8.3-3] v5"},
	    {5, "82 05 0001 02 2600", M, "user property cut short"},
	    /* [MQTT-3.8.3-4] v3.1.1: reserved option bits, QoS 3 */
	    {4, "82 06 0001 0001 'a' 03", M, "v3.1.1 QoS 3"},
	    {4, "82 06 0001 0001 'a' 04", M, "v3.1.1 bit 2"},
	    {4, "82 06 0001 0001 'a' 08", M, "v3.1.1 bit 3"},
	    {4, "82 06 0001 0001 'a' 10", M, "v3.1.1 bit 4"},
	    {4, "82 06 0001 0001 'a' 20", M, "v3.1.1 bit 5"},
	    {4, "82 06 0001 0001 'a' 40", M, "v3.1.1 bit 6"},
	    {4, "82 06 0001 0001 'a' 80", M, "v3.1.1 bit 7"},
	    {4, "82 06 0001 0001 'a' 02", OK, "v3.1.1 QoS 2"},
	    /* [MQTT-3.8.3-5] v5 reserved bits; 3.8.3.1 QoS 3, RH 3 */
	    {5, "82 07 0001 00 0001 'a' 40", M, "[MQTT-3.8.3-5] bit 6"},
	    {5, "82 07 0001 00 0001 'a' 80", M, "[MQTT-3.8.3-5] bit 7"},
	    {5, "82 07 0001 00 0001 'a' c1", M, "[MQTT-3.8.3-5]"},
	    {5, "82 07 0001 00 0001 'a' 03", P, "v5 QoS 3"},
	    {5, "82 07 0001 00 0001 'a' 30", P, "Retain Handling 3"},
	    {5, "82 07 0001 00 0001 'a' 3f", P, "Retain Handling 3"},
	    {5, "82 07 0001 00 0001 'a' 2e", OK, "RH 2, RAP, NL, QoS 2"},
	    /* [MQTT-3.8.3-4] v5: No Local on a shared subscription */
	    {5, "82 10 0001 00 000a '$share/g/a' 04", P, "[MQTT-3.8.3-4]"},
	    {5, "82 10 0001 00 000a '$share/g/a' 2e", P, "[MQTT-3.8.3-4]"},
	    {5, "82 10 0001 00 000a '$share/g/a' 2a", OK, "shared, no NL"},
	    {4, "82 0f 0001 000a '$share/g/a' 04", M, "v3.1.1 bit 2"},
	    {5, "82 0c 0001 00 0006 '$share' 04", OK, "NL on plain $share"},
	    /* Structure */
	    {4, "82 05 0001 0001 'a'", M, "no options byte"},
	    {4, "82 06 0001 0005 'a' 00", M, "filter past the end"},
	    {4, "82 03 0001 00", M, "half a filter length"},
	    {4, "82 0a 0001 0001 'a' 00 0002 'ab'", M, "second, no options"},
	    /* [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1] filters */
	    {4, "82 05 0001 0000 00", M, "empty filter"},
	    {4, "82 07 0001 0002 'a#' 00", M, "a#"},
	    {4, "82 09 0001 0004 'a/#/' 00", M, "a/#/"},
	    {4, "82 07 0001 0002 '+a' 00", M, "+a"},
	    {4, "82 07 0001 0002 '#+' 00", M, "#+"},
	    {4, "82 0b 0001 0001 'a' 00 0002 'a#' 00", M, "second bad"},
	    {5, "82 08 0001 00 0002 'a#' 00", M, "v5 a#"},
	    {4, "82 07 0001 0002 c080 00", M, "overlong filter"},
	    {4, "82 08 0001 0003 eda080 00", M, "surrogate filter"},
	    {4, "82 06 0001 0001 00 00", M, "U+0000 filter"},
	    /* [MQTT-4.8.2-1], [MQTT-4.8.2-2] shared: v5 rules only */
	    {5, "82 0e 0001 00 0008 '$share/g' 00", M, "no filter"},
	    {5, "82 0f 0001 00 0009 '$share/g/' 00", M, "empty filter"},
	    {5, "82 0f 0001 00 0009 '$share//a' 00", M, "empty share name"},
	    {5, "82 10 0001 00 000a '$share/+/a' 00", M, "+ share name"},
	    {5, "82 11 0001 00 000b '$share/g/a#' 00", M, "bad filter"},
	    {4, "82 0d 0001 0008 '$share/g' 00", OK, "v3.1.1 plain text"},
	    {4, "82 0e 0001 0009 '$share//a' 00", OK, "v3.1.1 plain text"},
	    {4, "82 0f 0001 000a '$share/+/a' 00", OK, "v3.1.1 plain text"},
	};

	(void)state;
	RUN_TABLE(t);
}

static void
test_unsubscribe_errors(void **state)
{
	static const struct bad t[] = {
	    /* [MQTT-3.10.3-2] at least one filter */
	    {4, "a2 02 0001", P, "[MQTT-3.10.3-2]"},
	    {5, "a2 03 0001 00", P, "[MQTT-3.10.3-2] v5"},
	    {4, "a2 04 0001 0000", M, "empty filter"},
	    {4, "a2 06 0001 0002 'a#'", M, "a#"},
	    {4, "a2 05 0001 0003 'a'", M, "filter past the end"},
	    {4, "a2 03 0001 00", M, "half a filter length"},
	    {4, "a2 06 0001 0002 c080", M, "overlong filter"},
	    {5, "a2 0e 0001 00 0009 '$share/g/'", M, "v5 shared, no filter"},
	    {4, "a2 0d 0001 0009 '$share/g/'", OK, "v3.1.1 plain text"},
	    /* Subscription Identifier is for SUBSCRIBE only */
	    {5, "a2 08 0001 02 0b01 0001 'a'", M, "subscription id"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- SUBACK, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH -------------- */

static void
test_other_errors(void **state)
{
	static const struct bad t[] = {
	    /* One reason code per filter, and there was at least one */
	    {4, "90 02 0001", P, "SUBACK without codes"},
	    {5, "90 03 0001 00", P, "v5 SUBACK without codes"},
	    {5, "90 02 0001", M, "v5 SUBACK no property length"},
	    {5, "b0 03 0001 00", P, "v5 UNSUBACK without codes"},
	    {5, "b0 02 0001", M, "v5 UNSUBACK no property length"},
	    {4, "b0 03 0001 00", M, "v3.1.1 UNSUBACK is 2 bytes"},
	    {4, "b0 00", M, "empty UNSUBACK"},
	    /* [MQTT-3.12], [MQTT-3.13] no body */
	    {4, "c0 01 00", M, "PINGREQ with a body"},
	    {4, "d0 01 00", M, "PINGRESP with a body"},
	    {5, "c0 01 00", M, "v5 PINGREQ with a body"},
	    {5, "d0 02 0000", M, "v5 PINGRESP with a body"},
	    /* [MQTT-3.14.1-1] v3.1.1 DISCONNECT has no body */
	    {4, "e0 01 00", M, "v3.1.1 DISCONNECT with a body"},
	    {5, "e0 03 00 00 00", M, "trailing byte"},
	    {5, "e0 02 00 05", M, "properties past the end"},
	    {5, "e0 03 00 01 11", M, "property cut short"},
	    /* 3.15.2: AUTH has no reason-only form, and names its method */
	    {5, "f0 01 18", M, "AUTH reason only"},
	    {5, "f0 01 00", M, "AUTH reason only"},
	    {5, "f0 02 18 00", P, "AUTH without method"},
	    {5, "f0 02 00 00", P, "AUTH without method"},
	    {5, "f0 05 19 03 16 0000", P, "AUTH data without method"},
	    {5, "f0 07 18 04 15 0001 'M' 00", M, "trailing byte"},
	};

	(void)state;
	RUN_TABLE(t);
}

/* ---- Reason codes ------------------------------------------------------- */

/*
 * Every byte as the reason code of a packet: OK exactly for the codes the
 * spec lists for it (v5 2.4 table 2-6 and 3.x.2.1), else Protocol Error.
 */
static void
reason_sweep(uint8_t version, const char *hex, size_t at, const uint8_t *valid,
    size_t n_valid)
{
	uint8_t buf[VEC_MAX];
	size_t len = vec_parse(hex, buf, sizeof(buf));
	enum mqtt_result got, want;
	unsigned int code;

	for (code = 0; code < 256; code++) {
		buf[at] = (uint8_t)code;
		want = memchr(valid, (int)code, n_valid) != NULL ? OK : P;
		got = decode_bytes(version, buf, len);
		if (got != want)
			fail_msg("\"%s\" with code %02x: got %s, want %s", hex,
			    code, mqtt_result_str(got), mqtt_result_str(want));
	}
}

#define SWEEP(version, hex, at, valid)                                         \
	reason_sweep((version), (hex), (at), (valid), sizeof(valid))

static void
test_reason_codes(void **state)
{
	static const uint8_t connack5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84,
	    0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99,
	    0x9a, 0x9b, 0x9c, 0x9d, 0x9f};
	static const uint8_t connack311[] = {0, 1, 2, 3, 4, 5};
	static const uint8_t puback[] = {
	    0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
	static const uint8_t pubrel[] = {0x00, 0x92};
	static const uint8_t suback5[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
	    0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2};
	static const uint8_t suback311[] = {0x00, 0x01, 0x02, 0x80};
	static const uint8_t unsuback5[] = {
	    0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91};
	static const uint8_t disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83,
	    0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96,
	    0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1,
	    0xa2};
	static const uint8_t auth[] = {0x00, 0x18, 0x19};

	(void)state;
	SWEEP(5, "20 03 00 00 00", 3, connack5);
	SWEEP(4, "20 02 00 00", 3, connack311);
	SWEEP(5, "40 03 0001 00", 4, puback);
	SWEEP(5, "40 04 0001 00 00", 4, puback);
	SWEEP(5, "50 03 0001 00", 4, puback);
	SWEEP(5, "50 04 0001 00 00", 4, puback);
	SWEEP(5, "62 03 0001 00", 4, pubrel);
	SWEEP(5, "70 04 0001 00 00", 4, pubrel);
	SWEEP(5, "90 04 0001 00 00", 5, suback5);
	SWEEP(5, "90 05 0001 00 00 00", 6, suback5); /* the second one */
	SWEEP(4, "90 03 0001 00", 4, suback311);
	SWEEP(4, "90 04 0001 00 00", 4, suback311);
	SWEEP(5, "b0 04 0001 00 00", 5, unsuback5);
	SWEEP(5, "e0 01 00", 2, disconnect);
	SWEEP(5, "e0 02 00 00", 2, disconnect);
	SWEEP(5, "f0 06 00 04 15 0001 'M'", 2, auth);
}

/* ---- Properties --------------------------------------------------------- */

#define IN(t) (1u << (t))
#define WILL IN(MQTT_PROPS_WILL)

/*
 * The property table of spec 2.2.2.2, written out again here so that the
 * codec's own table is checked against it: each identifier, a valid value
 * and the packets (or Will Properties) that may carry it.
 */
static const struct {
	uint8_t id;
	const char *prop; /* identifier and a valid value */
	unsigned int allowed;
} spec_props[] = {
    {0x01, "01 01", IN(MQTT_PUBLISH) | WILL},
    {0x02, "02 0000003c", IN(MQTT_PUBLISH) | WILL},
    {0x03, "03 0004 'text'", IN(MQTT_PUBLISH) | WILL},
    {0x08, "08 0003 'a/b'", IN(MQTT_PUBLISH) | WILL},
    {0x09, "09 0002 00ff", IN(MQTT_PUBLISH) | WILL},
    {0x0b, "0b 8001", IN(MQTT_PUBLISH) | IN(MQTT_SUBSCRIBE)},
    {0x11, "11 00000e10",
	IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_DISCONNECT)},
    {0x12, "12 0002 'id'", IN(MQTT_CONNACK)},
    {0x13, "13 003c", IN(MQTT_CONNACK)},
    {0x15, "15 0001 'X'", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_AUTH)},
    {0x16, "16 0001 07", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_AUTH)},
    {0x17, "17 01", IN(MQTT_CONNECT)},
    {0x18, "18 0000000a", WILL},
    {0x19, "19 01", IN(MQTT_CONNECT)},
    {0x1a, "1a 0001 'r'", IN(MQTT_CONNACK)},
    {0x1c, "1c 0001 's'", IN(MQTT_CONNACK) | IN(MQTT_DISCONNECT)},
    {0x1f, "1f 0002 'ok'",
	IN(MQTT_CONNACK) | IN(MQTT_PUBACK) | IN(MQTT_PUBREC) | IN(MQTT_PUBREL) |
	    IN(MQTT_PUBCOMP) | IN(MQTT_SUBACK) | IN(MQTT_UNSUBACK) |
	    IN(MQTT_DISCONNECT) | IN(MQTT_AUTH)},
    {0x21, "21 0010", IN(MQTT_CONNECT) | IN(MQTT_CONNACK)},
    {0x22, "22 0010", IN(MQTT_CONNECT) | IN(MQTT_CONNACK)},
    {0x23, "23 0001", IN(MQTT_PUBLISH)},
    {0x24, "24 00", IN(MQTT_CONNACK)},
    {0x25, "25 01", IN(MQTT_CONNACK)},
    {0x26, "26 0001 'k' 0001 'v'",
	WILL | IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_PUBLISH) |
	    IN(MQTT_PUBACK) | IN(MQTT_PUBREC) | IN(MQTT_PUBREL) |
	    IN(MQTT_PUBCOMP) | IN(MQTT_SUBSCRIBE) | IN(MQTT_SUBACK) |
	    IN(MQTT_UNSUBSCRIBE) | IN(MQTT_UNSUBACK) | IN(MQTT_DISCONNECT) |
	    IN(MQTT_AUTH)},
    {0x27, "27 00010000", IN(MQTT_CONNECT) | IN(MQTT_CONNACK)},
    {0x28, "28 01", IN(MQTT_CONNACK)},
    {0x29, "29 00", IN(MQTT_CONNACK)},
    {0x2a, "2a 01", IN(MQTT_CONNACK)},
};

#define N_SPEC_PROPS (sizeof(spec_props) / sizeof(spec_props[0]))

/* The packets that carry properties, and Will Properties. */
static const uint8_t contexts[] = {MQTT_PROPS_WILL, MQTT_CONNECT, MQTT_CONNACK,
    MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP,
    MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE, MQTT_UNSUBACK,
    MQTT_DISCONNECT, MQTT_AUTH};

#define AUTH_METHOD_HEX "15 0001 'M'"

/*
 * A valid v5 packet of context `ctx` whose property block is `props`
 * (Will Properties for MQTT_PROPS_WILL). Returns its length.
 */
static size_t
packet_with_props(
    uint8_t ctx, const uint8_t *props, size_t plen, uint8_t *out, size_t cap)
{
	uint8_t body[VEC_MAX];
	size_t n = 0, hl;
	const char *before = "", *after = "";
	uint8_t first;

	switch (ctx) {
	case MQTT_PROPS_WILL:
		first = 0x10;
		before = "0004 'MQTT' 05 06 003c 00 0001 'c'";
		after = "0001 't' 0001 'm'";
		break;
	case MQTT_CONNECT:
		first = 0x10;
		before = "0004 'MQTT' 05 02 003c";
		after = "0001 'c'";
		break;
	case MQTT_CONNACK:
		first = 0x20;
		before = "00 00";
		break;
	case MQTT_PUBLISH:
		first = 0x32;
		before = "0001 't' 0001";
		after = "'x'";
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
		first = (uint8_t)(ctx << 4);
		before = "0001 00";
		break;
	case MQTT_PUBREL:
		first = 0x62;
		before = "0001 00";
		break;
	case MQTT_SUBSCRIBE:
		first = 0x82;
		before = "0001";
		after = "0001 't' 00";
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		first = (uint8_t)(ctx << 4);
		before = "0001";
		after = "00";
		break;
	case MQTT_UNSUBSCRIBE:
		first = 0xa2;
		before = "0001";
		after = "0001 't'";
		break;
	case MQTT_DISCONNECT:
		first = 0xe0;
		before = "00";
		break;
	case MQTT_AUTH:
		first = 0xf0;
		before = "18";
		break;
	default:
		fail_msg("no packet for context %u", ctx);
		return 0;
	}
	n += vec_parse(before, body + n, sizeof(body) - n);
	n += mqtt_varint_encode((uint32_t)plen, body + n);
	assert_true(n + plen < sizeof(body));
	memcpy(body + n, props, plen);
	n += plen;
	n += vec_parse(after, body + n, sizeof(body) - n);
	out[0] = first;
	hl = 1 + mqtt_varint_encode((uint32_t)n, out + 1);
	assert_true(hl + n <= cap);
	memcpy(out + hl, body, n);
	return hl + n;
}

static const char *
context_name(uint8_t ctx)
{
	return ctx == MQTT_PROPS_WILL ? "Will" : mqtt_packet_name(ctx);
}

/*
 * Decodes a packet of context `ctx` carrying the property block `props`
 * (raw bytes), and compares the result; one that decodes is round-tripped.
 */
static void
props_bytes_expect(uint8_t ctx, const uint8_t *props, size_t plen,
    enum mqtt_result want, const char *what)
{
	uint8_t pkt[VEC_MAX];
	size_t len = packet_with_props(ctx, props, plen, pkt, sizeof(pkt));
	uint8_t version =
	    ctx == MQTT_CONNECT || ctx == MQTT_PROPS_WILL ? 0 : MQTT_V5;
	enum mqtt_result got = decode_bytes(version, pkt, len);

	if (got != want)
		fail_msg("%s in %s: got %s, want %s", what, context_name(ctx),
		    mqtt_result_str(got), mqtt_result_str(want));
	if (got == OK)
		roundtrip_bytes(version, what, pkt, len);
}

/*
 * The same with the block written as hex. Where the context needs an
 * Authentication Method (AUTH always; Authentication Data anywhere) and
 * allows one, a method is put first unless the block has one itself.
 */
static void
props_expect(uint8_t ctx, const char *hex, enum mqtt_result want)
{
	uint8_t props[VEC_MAX];
	size_t plen = 0;
	bool has_method = strncmp(hex, "15", 2) == 0;
	bool needs = ctx == MQTT_AUTH || strncmp(hex, "16", 2) == 0;

	if (needs && !has_method &&
	    (ctx == MQTT_CONNECT || ctx == MQTT_CONNACK || ctx == MQTT_AUTH))
		plen = vec_parse(AUTH_METHOD_HEX, props, sizeof(props));
	plen += vec_parse(hex, props + plen, sizeof(props) - plen);
	props_bytes_expect(ctx, props, plen, want, hex);
}

/* Spec 2.2.2.2: an identifier not valid for its packet is Malformed. */
static void
test_property_contexts(void **state)
{
	size_t i, c;
	uint8_t ctx;

	(void)state;
	for (i = 0; i < N_SPEC_PROPS; i++) {
		for (c = 0; c < sizeof(contexts); c++) {
			ctx = contexts[c];
			props_expect(ctx, spec_props[i].prop,
			    (spec_props[i].allowed & IN(ctx)) ? OK : M);
		}
	}
}

/*
 * "It is a Protocol Error to include X more than once", for every property
 * but User Property, and Subscription Identifier in a PUBLISH.
 */
static void
test_property_duplicates(void **state)
{
	char hex[256];
	size_t i, c;
	uint8_t ctx, id;
	enum mqtt_result want;

	(void)state;
	for (i = 0; i < N_SPEC_PROPS; i++) {
		id = spec_props[i].id;
		snprintf(hex, sizeof(hex), "%s %s", spec_props[i].prop,
		    spec_props[i].prop);
		for (c = 0; c < sizeof(contexts); c++) {
			ctx = contexts[c];
			if (!(spec_props[i].allowed & IN(ctx)))
				want = M;
			else if (id == MQTT_PROP_USER_PROPERTY ||
			    (id == MQTT_PROP_SUBSCRIPTION_ID &&
				ctx == MQTT_PUBLISH))
				want = OK;
			else
				want = P;
			props_expect(ctx, hex, want);
		}
	}
	/* Three of a kind, and duplicates apart from each other */
	props_expect(MQTT_PUBLISH, "0b01 0b02 0b03", OK);
	props_expect(MQTT_PUBLISH, "0101 0b01 0100", P);
	props_expect(MQTT_CONNACK, "2401 2500 2501", P);
	props_expect(MQTT_AUTH, "15 0001 'M' 1f 0000 15 0001 'M'", P);
	props_expect(MQTT_SUBSCRIBE, "0b01 26 0000 0000 0b01", P);
}

static bool
is_spec_prop(unsigned int id)
{
	size_t i;

	for (i = 0; i < N_SPEC_PROPS; i++)
		if (spec_props[i].id == id)
			return true;
	return false;
}

/* Every byte that is no property identifier is Malformed, everywhere. */
static void
test_property_unknown_ids(void **state)
{
	uint8_t props[4];
	unsigned int id, n = 0;
	size_t c;

	(void)state;
	for (id = 0; id < 256; id++) {
		if (is_spec_prop(id))
			continue;
		n++;
		props[0] = (uint8_t)id;
		props[1] = props[2] = props[3] = 0x01;
		for (c = 0; c < sizeof(contexts); c++) {
			if (contexts[c] == MQTT_AUTH)
				continue; /* needs a method first; below */
			props_bytes_expect(
			    contexts[c], props, 4, M, "unknown identifier");
		}
		/* after a valid property, too */
		{
			char hex[64];

			snprintf(hex, sizeof(hex), "%s %02x 01",
			    AUTH_METHOD_HEX, id);
			props_expect(MQTT_AUTH, hex, M);
		}
	}
	assert_int_equal(n, 256 - N_SPEC_PROPS);
}

/* A property cut short anywhere is Malformed; whole, it is fine. */
static void
test_property_truncated(void **state)
{
	uint8_t prop[64], props[80];
	size_t i, c, len, cut, pre;
	uint8_t ctx = 0;

	(void)state;
	for (i = 0; i < N_SPEC_PROPS; i++) {
		len = vec_parse(spec_props[i].prop, prop, sizeof(prop));
		for (c = 0; c < sizeof(contexts); c++) {
			ctx = contexts[c];
			if (spec_props[i].allowed & IN(ctx))
				break;
		}
		pre = 0;
		if (ctx == MQTT_AUTH || spec_props[i].id == 0x16)
			pre = vec_parse(AUTH_METHOD_HEX, props, sizeof(props));
		for (cut = 1; cut <= len; cut++) {
			memcpy(props + pre, prop, cut);
			props_bytes_expect(ctx, props, pre + cut,
			    cut == len ? OK : M, spec_props[i].prop);
		}
	}
}

/* Values the spec forbids are a Protocol Error (3.1.2.11, 3.2.2.3, ...). */
static void
test_property_values(void **state)
{
	static const struct {
		uint8_t ctx;
		const char *hex;
		enum mqtt_result rc;
	} t[] = {
	    /* Byte properties are 0 or 1 */
	    {MQTT_PUBLISH, "01 00", OK},
	    {MQTT_PUBLISH, "01 02", P},
	    {MQTT_PROPS_WILL, "01 ff", P},
	    {MQTT_CONNECT, "17 00", OK},
	    {MQTT_CONNECT, "17 02", P},
	    {MQTT_CONNECT, "19 00", OK},
	    {MQTT_CONNECT, "19 02", P},
	    {MQTT_CONNACK, "24 01", OK},
	    {MQTT_CONNACK, "24 02", P}, /* Maximum QoS 2 is never sent */
	    {MQTT_CONNACK, "25 02", P},
	    {MQTT_CONNACK, "28 02", P},
	    {MQTT_CONNACK, "29 80", P},
	    {MQTT_CONNACK, "2a 02", P},
	    /* Zero where zero means nothing */
	    {MQTT_CONNECT, "21 0000", P},
	    {MQTT_CONNACK, "21 0000", P},
	    {MQTT_CONNECT, "21 ffff", OK},
	    {MQTT_CONNECT, "27 00000000", P},
	    {MQTT_CONNACK, "27 00000000", P},
	    {MQTT_CONNECT, "27 00000001", OK},
	    {MQTT_PUBLISH, "23 0000", P},
	    {MQTT_PUBLISH, "23 ffff", OK},
	    {MQTT_PUBLISH, "0b 00", P},
	    {MQTT_SUBSCRIBE, "0b 00", P},
	    {MQTT_SUBSCRIBE, "0b ffffff7f", OK}, /* 268,435,455 */
	    {MQTT_CONNECT, "22 0000", OK}, /* no aliases: fine */
	    {MQTT_CONNECT, "11 00000000", OK},
	    {MQTT_CONNACK, "13 0000", OK},
	    /* [MQTT-3.3.2-14] Response Topic is a Topic Name */
	    {MQTT_PUBLISH, "08 0003 'a/+'", P},
	    {MQTT_PUBLISH, "08 0001 '#'", P},
	    {MQTT_PUBLISH, "08 0000", P},
	    {MQTT_PROPS_WILL, "08 0003 'a/#'", P},
	    {MQTT_PROPS_WILL, "08 0003 'a/b'", OK},
	    /* Authentication Data needs an Authentication Method */
	    {MQTT_CONNECT, "15 0001 'M' 16 0000", OK},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		props_expect(t[i].ctx, t[i].hex, t[i].rc);

	/* Data before its method; data without one (props_expect() adds
	 * a method, so these are written out whole) */
	decode_expect(
	    0, "10 14 0004 'MQTT' 05 02 003c 07 160000 15 0001 'M' 0000", OK);
	decode_expect(0, "10 10 0004 'MQTT' 05 02 003c 03 160000 0000", P);
	decode_expect(5, "20 06 00 00 03 160000", P);
	decode_expect(5, "f0 05 18 03 160000", P);
}

/* Lengths and varints inside property blocks. */
static void
test_property_structure(void **state)
{
	static const struct bad t[] = {
	    {5, "30 05 0001 'a' 05 01", M, "block past the end"},
	    {5, "30 06 0001 'a' 03 0101", M, "block one past the end"},
	    {5, "30 04 0001 'a' 80", M, "block length cut short"},
	    {5, "30 06 0001 'a' 8000 'x'", M, "[MQTT-1.5.5-1] block length"},
	    {5, "30 08 0001 'a' 8080808001", M, "5-byte block length"},
	    {5, "30 08 0001 'a' ffffffff7f", M, "5-byte block length"},
	    {5, "30 07 0001 'a' 03 0b8000", M, "[MQTT-1.5.5-1] sub id"},
	    {5, "30 08 0001 'a' 04 0b808000", M, "[MQTT-1.5.5-1] sub id"},
	    {5, "30 0a 0001 'a' 06 0b8080808001", M, "5-byte sub id"},
	    {5, "30 07 0001 'a' 03 0b8001", OK, "sub id 128"},
	    {5, "30 06 0001 'a' 02 0b80", M, "sub id cut short"},
	    /* A block shorter than its last property */
	    {5, "30 09 0001 'a' 02 0200000001", M, "expiry past block"},
	};
	/* Bad UTF-8 in each string property and in both halves of a pair */
	static const char *const bad_utf8[] = {
	    "c080", "eda080", "00", "c3", "f4908080", "80", "'a' 00"};
	static const struct {
		uint8_t ctx;
		const char *prefix;
	} strings[] = {
	    {MQTT_PUBLISH, "03"},
	    {MQTT_PUBLISH, "08"},
	    {MQTT_CONNACK, "12"},
	    {MQTT_CONNECT, "15"},
	    {MQTT_CONNACK, "1a"},
	    {MQTT_DISCONNECT, "1c"},
	    {MQTT_PUBACK, "1f"},
	    {MQTT_SUBACK, "26 0001 'k'"},
	    {MQTT_UNSUBSCRIBE, "26"},
	};
	uint8_t v[16];
	char hex[128];
	size_t i, j, vl;

	(void)state;
	RUN_TABLE(t);
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		for (j = 0; j < sizeof(bad_utf8) / sizeof(bad_utf8[0]); j++) {
			vl = vec_parse(bad_utf8[j], v, sizeof(v));
			if (strcmp(strings[i].prefix, "26") == 0)
				snprintf(hex, sizeof(hex),
				    "26 %04zx %s 0001 'v'", vl, bad_utf8[j]);
			else
				snprintf(hex, sizeof(hex), "%s %04zx %s",
				    strings[i].prefix, vl, bad_utf8[j]);
			props_expect(strings[i].ctx, hex, M);
		}
	}
	/* Binary Data properties take any bytes */
	props_expect(MQTT_PUBLISH, "09 0004 eda08000", OK);
	props_expect(MQTT_CONNECT, "15 0001 'M' 16 0003 c08000", OK);
}

/* ---- Truncation --------------------------------------------------------- */

/*
 * Decodes a valid packet with its body cut to every shorter length r (as
 * if the header had said r), from an exact-size copy. want[r] is the
 * result: 'M' malformed, 'P' protocol error, 'O' OK (which must then
 * re-encode to the cut bytes).
 */
static void
truncate_expect(const char *name, const char *want)
{
	static uint8_t buf[VEC_MAX];
	const struct vec *v;
	struct mqtt_fixed_header hdr, cut;
	struct mqtt_packet p;
	uint8_t *body, out[VEC_MAX];
	size_t n, i, len, r, out_len;
	enum mqtt_result got, expect;

	v = valid_vectors(&n);
	for (i = 0; i < n && strcmp(v[i].name, name) != 0; i++)
		;
	if (i == n)
		fail_msg("no vector \"%s\"", name);
	len = vec_parse(v[i].hex, buf, sizeof(buf));
	assert_int_equal(mqtt_frame(buf, len, UINT32_MAX, &hdr), MQTT_OK);
	if (strlen(want) != hdr.remaining)
		fail_msg("%s: %zu expectations for %u lengths", name,
		    strlen(want), hdr.remaining);
	for (r = 0; r < hdr.remaining; r++) {
		cut = hdr;
		cut.remaining = (uint32_t)r;
		body = malloc(r > 0 ? r : 1);
		assert_non_null(body);
		memcpy(body, buf + hdr.header_len, r);
		got = mqtt_decode(v[i].version, &cut, body, &p);
		expect = want[r] == 'O' ? OK : want[r] == 'P' ? P : M;
		if (got != expect)
			fail_msg("%s cut to %zu: got %s, want %s", name, r,
			    mqtt_result_str(got), mqtt_result_str(expect));
		if (got == OK) {
			assert_int_equal(mqtt_encode(v[i].version, &p, out,
					     sizeof(out), &out_len),
			    OK);
			assert_int_equal(
			    out_len, 1 + mqtt_varint_size((uint32_t)r) + r);
			assert_memory_equal(out + out_len - r, body, r);
		}
		free(body);
	}
}

static void
test_truncation(void **state)
{
	(void)state;
	truncate_expect("v311 CONNECT will qos1 retain, username, password",
	    "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM");
	truncate_expect("v5 CONNECT minimal", "MMMMMMMMMMMMM");
	truncate_expect("v311 CONNACK session present", "MM");
	truncate_expect("v5 CONNACK refused 0x87", "MMMMMMMM");
	truncate_expect("v311 PUBLISH qos1 dup", "MMMMMMMMMOOOO");
	truncate_expect("v5 PUBLISH qos1 all publish properties, two "
			"subscription ids",
	    "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM"
	    "MMMMMMMMMMMMMOOOOOOO");
	truncate_expect("v5 PUBLISH empty topic with topic alias", "MMMMMMMMO");
	truncate_expect("v311 PUBACK", "MM");
	truncate_expect(
	    "v5 PUBACK 0x97 with props", "MMOOMMMMMMMMMMMMMMMMMMMMMM");
	truncate_expect("v311 SUBSCRIBE wildcards, qos 0-2, $share is plain "
			"text",
	    "MMPMMMOMMMMMMMOMMMMMOMMMMMMMMMMMMOMMMMMMMM");
	truncate_expect("v5 SUBSCRIBE options and properties",
	    "MMMMMMMMMMMMMMPMMMMMOMMMMMMMMMMMMMMOMMMOMMM");
	truncate_expect("v311 UNSUBSCRIBE", "MMPMMMMOMMOMMMMMMMMM");
	truncate_expect("v5 SUBACK no props", "MMMP");
	truncate_expect("v5 UNSUBACK all codes", "MMMPOOOOOO");
	truncate_expect("v5 DISCONNECT all disconnect properties",
	    "OOMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM");
	truncate_expect("v5 AUTH continue", "OMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed_header_flags),
	    cmocka_unit_test(test_publish_flags),
	    cmocka_unit_test(test_packet_id_zero),
	    cmocka_unit_test(test_connect_first_and_once),
	    cmocka_unit_test(test_connect_errors),
	    cmocka_unit_test(test_connect_bad_version_level),
	    cmocka_unit_test(test_connack_errors),
	    cmocka_unit_test(test_publish_errors),
	    cmocka_unit_test(test_ack_errors),
	    cmocka_unit_test(test_subscribe_errors),
	    cmocka_unit_test(test_unsubscribe_errors),
	    cmocka_unit_test(test_other_errors),
	    cmocka_unit_test(test_reason_codes),
	    cmocka_unit_test(test_property_contexts),
	    cmocka_unit_test(test_property_duplicates),
	    cmocka_unit_test(test_property_unknown_ids),
	    cmocka_unit_test(test_property_truncated),
	    cmocka_unit_test(test_property_values),
	    cmocka_unit_test(test_property_structure),
	    cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
