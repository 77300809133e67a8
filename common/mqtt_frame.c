/*
 * MQTT framing: the fixed header, Variable Byte Integers, and the names and
 * reason codes of results and packet types.
 */
#include "mqtt.h"

enum mqtt_result
mqtt_varint_decode(
    const uint8_t *buf, size_t len, uint32_t *value, size_t *used)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < 4; i++) {
		if (i >= len)
			return MQTT_INCOMPLETE;
		v |= (uint32_t)(buf[i] & 0x7f) << (7 * i);
		if ((buf[i] & 0x80) == 0) {
			/* [MQTT-1.5.5-1] minimum number of bytes: a last
			 * byte of 0 after others adds nothing. */
			if (i > 0 && buf[i] == 0)
				return MQTT_MALFORMED;
			*value = v;
			*used = i + 1;
			return MQTT_OK;
		}
	}
	/* A fifth byte would follow: more than 268,435,455. */
	return MQTT_MALFORMED;
}

size_t
mqtt_varint_size(uint32_t v)
{
	if (v < 128)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 2097152)
		return 3;
	if (v <= MQTT_MAX_REMAINING)
		return 4;
	return 0;
}

size_t
mqtt_varint_encode(uint32_t v, uint8_t *out)
{
	size_t n = mqtt_varint_size(v), i;

	for (i = 0; i < n; i++) {
		out[i] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (i + 1 < n)
			out[i] |= 0x80;
	}
	return n;
}

enum mqtt_result
mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet_size,
    struct mqtt_fixed_header *hdr)
{
	enum mqtt_result rc;
	uint32_t remaining;
	size_t used;
	uint64_t total;

	if (len < 1)
		return MQTT_INCOMPLETE;
	if ((buf[0] >> 4) == 0)
		return MQTT_MALFORMED; /* type 0 is reserved */
	rc = mqtt_varint_decode(buf + 1, len - 1, &remaining, &used);
	if (rc != MQTT_OK)
		return rc;
	hdr->type = buf[0] >> 4;
	hdr->flags = buf[0] & 0x0f;
	hdr->remaining = remaining;
	hdr->header_len = (uint8_t)(1 + used);
	/* Judge the size from the length alone, before the body arrives. */
	total = 1 + (uint64_t)used + remaining;
	if (total > max_packet_size)
		return MQTT_TOO_LARGE;
	if (len < total)
		return MQTT_INCOMPLETE;
	return MQTT_OK;
}

uint8_t
mqtt_result_reason(enum mqtt_result r)
{
	switch (r) {
	case MQTT_OK:
		return MQTT_RC_SUCCESS;
	case MQTT_MALFORMED:
		return MQTT_RC_MALFORMED;
	case MQTT_PROTOCOL_ERROR:
		return MQTT_RC_PROTOCOL_ERROR;
	case MQTT_BAD_VERSION:
		return MQTT_RC_UNSUPPORTED_VERSION;
	case MQTT_TOPIC_INVALID:
		return MQTT_RC_TOPIC_INVALID;
	case MQTT_TOO_LARGE:
		return MQTT_RC_PACKET_TOO_LARGE;
	case MQTT_INCOMPLETE:
	case MQTT_NO_SPACE:
		break;
	}
	return MQTT_RC_UNSPECIFIED;
}

const char *
mqtt_result_str(enum mqtt_result r)
{
	switch (r) {
	case MQTT_OK:
		return "ok";
	case MQTT_INCOMPLETE:
		return "incomplete packet";
	case MQTT_MALFORMED:
		return "malformed packet";
	case MQTT_PROTOCOL_ERROR:
		return "protocol error";
	case MQTT_BAD_VERSION:
		return "unsupported protocol version";
	case MQTT_TOPIC_INVALID:
		return "topic name invalid";
	case MQTT_TOO_LARGE:
		return "packet too large";
	case MQTT_NO_SPACE:
		return "output buffer too small";
	}
	return "unknown result";
}

const char *
mqtt_packet_name(uint8_t type)
{
	static const char *const names[16] = {
	    [MQTT_CONNECT] = "CONNECT",
	    [MQTT_CONNACK] = "CONNACK",
	    [MQTT_PUBLISH] = "PUBLISH",
	    [MQTT_PUBACK] = "PUBACK",
	    [MQTT_PUBREC] = "PUBREC",
	    [MQTT_PUBREL] = "PUBREL",
	    [MQTT_PUBCOMP] = "PUBCOMP",
	    [MQTT_SUBSCRIBE] = "SUBSCRIBE",
	    [MQTT_SUBACK] = "SUBACK",
	    [MQTT_UNSUBSCRIBE] = "UNSUBSCRIBE",
	    [MQTT_UNSUBACK] = "UNSUBACK",
	    [MQTT_PINGREQ] = "PINGREQ",
	    [MQTT_PINGRESP] = "PINGRESP",
	    [MQTT_DISCONNECT] = "DISCONNECT",
	    [MQTT_AUTH] = "AUTH",
	};

	if (type >= 16 || names[type] == NULL)
		return "?";
	return names[type];
}
