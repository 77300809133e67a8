/*
 * MQTT v3.1.1 and v5.0 decoding: one function per packet type, each reading
 * a framed body through bounds-checked readers into views of that body.
 */
#include <string.h>

#include "mqtt.h"

/*
 * A body being read. Every reader checks that its bytes are there before
 * touching them (len - pos >= n, which cannot overflow) and reports
 * MQTT_MALFORMED otherwise.
 */
struct reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static size_t
rd_left(const struct reader *r)
{
	return r->len - r->pos;
}

static enum mqtt_result
rd_u8(struct reader *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return MQTT_MALFORMED;
	*v = r->buf[r->pos++];
	return MQTT_OK;
}

static enum mqtt_result
rd_u16(struct reader *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return MQTT_MALFORMED;
	*v = (uint16_t)(r->buf[r->pos] << 8 | r->buf[r->pos + 1]);
	r->pos += 2;
	return MQTT_OK;
}

/* A Packet Identifier, which may not be 0 ([MQTT-2.3.1-1]). */
static enum mqtt_result
rd_packet_id(struct reader *r, uint16_t *v)
{
	if (rd_u16(r, v) != MQTT_OK || *v == 0)
		return MQTT_MALFORMED;
	return MQTT_OK;
}

/* Binary Data: a two-byte length and that many bytes. */
static enum mqtt_result
rd_binary(struct reader *r, struct mqtt_bytes *out)
{
	uint16_t len;

	if (rd_u16(r, &len) != MQTT_OK || rd_left(r) < len)
		return MQTT_MALFORMED;
	out->data = r->buf + r->pos;
	out->len = len;
	r->pos += len;
	return MQTT_OK;
}

/* A UTF-8 Encoded String: Binary Data that must also be valid UTF-8. */
static enum mqtt_result
rd_string(struct reader *r, struct mqtt_bytes *out)
{
	if (rd_binary(r, out) != MQTT_OK ||
	    !mqtt_utf8_valid(out->data, out->len))
		return MQTT_MALFORMED;
	return MQTT_OK;
}

/* Everything left in the body (a PUBLISH payload, a SUBSCRIBE list). */
static void
rd_rest(struct reader *r, struct mqtt_bytes *out)
{
	out->data = r->buf + r->pos;
	out->len = rd_left(r);
	r->pos = r->len;
}

/* A v5 property block: its length, then the properties, validated. */
static enum mqtt_result
rd_props(struct reader *r, uint8_t context, struct mqtt_props *out)
{
	uint32_t len;
	size_t used;

	/* Cut short and non-minimal are both malformed inside a body. */
	if (mqtt_varint_decode(r->buf + r->pos, rd_left(r), &len, &used) !=
	    MQTT_OK)
		return MQTT_MALFORMED;
	r->pos += used;
	if (rd_left(r) < len)
		return MQTT_MALFORMED;
	out->data = r->buf + r->pos;
	out->len = len;
	r->pos += len;
	return mqtt_props_validate(out, context);
}

/* Leftover bytes after the last field are an error. */
static enum mqtt_result
rd_end(const struct reader *r)
{
	return rd_left(r) == 0 ? MQTT_OK : MQTT_MALFORMED;
}

#define TRY(expr)                                                              \
	do {                                                                   \
		enum mqtt_result try_rc_ = (expr);                             \
		if (try_rc_ != MQTT_OK)                                        \
			return try_rc_;                                        \
	} while (0)

/* Whether `code` is one of the n codes in `set`. */
static bool
code_in(uint8_t code, const uint8_t *set, size_t n)
{
	return memchr(set, code, n) != NULL;
}

#define CODE_IN(code, set) code_in((code), (set), sizeof(set))

/* ---- Reason codes each packet may carry (v5 spec 2.4 and 3.x.2.1) ----- */

static const uint8_t connack_codes[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84,
    0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a,
    0x9b, 0x9c, 0x9d, 0x9f};
static const uint8_t puback_codes[] = {
    0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}; /* and PUBREC */
static const uint8_t pubrel_codes[] = {0x00, 0x92}; /* and PUBCOMP */
static const uint8_t suback_codes[] = {
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2};
static const uint8_t suback_codes_v311[] = {0x00, 0x01, 0x02, 0x80};
static const uint8_t unsuback_codes[] = {
    0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91};
static const uint8_t disconnect_codes[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83,
    0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
    0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2};
static const uint8_t auth_codes[] = {0x00, 0x18, 0x19};

/*
 * Throughout: a value outside the set the spec allows for that field is a
 * Protocol Error, as Mosquitto treats bad reason codes; a structure that
 * cannot be read, or a reserved bit set, is Malformed.
 */

/* ---- CONNECT ------------------------------------------------------------ */

#define CONNECT_RESERVED 0x01
#define CONNECT_CLEAN_START 0x02
#define CONNECT_WILL 0x04
#define CONNECT_WILL_QOS(f) (((f) >> 3) & 0x03)
#define CONNECT_WILL_RETAIN 0x20
#define CONNECT_PASSWORD 0x40
#define CONNECT_USERNAME 0x80

/*
 * The Protocol Name and Level: MQTT_OK for "MQTT" 4 or 5; MQTT_BAD_VERSION
 * for a level we do not speak, including v3.1's "MQIsdp" (the Server may
 * answer with a CONNACK, [MQTT-3.1.2-2]); MQTT_PROTOCOL_ERROR for any other
 * name, which is not MQTT at all ([MQTT-3.1.2-1]: just disconnect).
 */
static enum mqtt_result
decode_protocol(struct reader *r, struct mqtt_connect *c)
{
	struct mqtt_bytes name;

	TRY(rd_binary(r, &name));
	TRY(rd_u8(r, &c->version));
	if (name.len == 4 && memcmp(name.data, "MQTT", 4) == 0) {
		if (c->version != MQTT_V311 && c->version != MQTT_V5)
			return MQTT_BAD_VERSION;
		return MQTT_OK;
	}
	if (name.len == 6 && memcmp(name.data, "MQIsdp", 6) == 0)
		return MQTT_BAD_VERSION;
	return MQTT_PROTOCOL_ERROR;
}

/*
 * A Will Topic, or a PUBLISH Topic Name apart from the empty case, which
 * depends on the version and Topic Alias: bad UTF-8 is malformed, wildcards
 * make it invalid ([MQTT-3.3.2-2]).
 */
static enum mqtt_result
rd_topic_name(struct reader *r, struct mqtt_bytes *topic)
{
	TRY(rd_string(r, topic));
	if (memchr(topic->data, '+', topic->len) != NULL ||
	    memchr(topic->data, '#', topic->len) != NULL)
		return MQTT_TOPIC_INVALID;
	return MQTT_OK;
}

/*
 * An empty Topic Name: v3.1.1 forbids it outright ([MQTT-4.7.3-1]); v5
 * allows it only with a Topic Alias ([MQTT-3.3.2-1] and 3.3.2.3.4).
 */
static enum mqtt_result
empty_topic_result(uint8_t version)
{
	return version == MQTT_V5 ? MQTT_PROTOCOL_ERROR : MQTT_MALFORMED;
}

static enum mqtt_result
decode_connect(struct reader *r, struct mqtt_connect *c)
{
	uint8_t flags;

	TRY(decode_protocol(r, c));
	TRY(rd_u8(r, &flags));
	if (flags & CONNECT_RESERVED)
		return MQTT_MALFORMED; /* [MQTT-3.1.2-3] */
	c->clean_start = (flags & CONNECT_CLEAN_START) != 0;
	c->will_flag = (flags & CONNECT_WILL) != 0;
	c->will_qos = CONNECT_WILL_QOS(flags);
	c->will_retain = (flags & CONNECT_WILL_RETAIN) != 0;
	c->has_password = (flags & CONNECT_PASSWORD) != 0;
	c->has_username = (flags & CONNECT_USERNAME) != 0;
	if (c->will_qos == 3)
		return MQTT_MALFORMED; /* [MQTT-3.1.2-14] */
	if (!c->will_flag && (c->will_qos != 0 || c->will_retain))
		return MQTT_MALFORMED; /* [MQTT-3.1.2-13], [MQTT-3.1.2-15] */
	if (c->version == MQTT_V311 && c->has_password && !c->has_username)
		return MQTT_MALFORMED; /* [MQTT-3.1.2-22] */
	TRY(rd_u16(r, &c->keep_alive));
	if (c->version == MQTT_V5)
		TRY(rd_props(r, MQTT_CONNECT, &c->props));

	TRY(rd_string(r, &c->client_id)); /* [MQTT-3.1.3-4] */
	if (c->will_flag) {
		if (c->version == MQTT_V5)
			TRY(rd_props(r, MQTT_PROPS_WILL, &c->will_props));
		TRY(rd_topic_name(r, &c->will_topic));
		if (c->will_topic.len == 0)
			return empty_topic_result(c->version);
		TRY(rd_binary(r, &c->will_payload));
	}
	if (c->has_username)
		TRY(rd_string(r, &c->username)); /* [MQTT-3.1.3-11] */
	if (c->has_password)
		TRY(rd_binary(r, &c->password));
	return rd_end(r);
}

/* ---- CONNACK ------------------------------------------------------------ */

static enum mqtt_result
decode_connack(uint8_t version, struct reader *r, struct mqtt_connack *c)
{
	uint8_t ack_flags;

	TRY(rd_u8(r, &ack_flags));
	if (ack_flags & 0xfe)
		return MQTT_MALFORMED; /* [MQTT-3.2.2-1] reserved bits */
	c->session_present = ack_flags & 0x01;
	TRY(rd_u8(r, &c->reason));
	if (version == MQTT_V5) {
		if (!CODE_IN(c->reason, connack_codes))
			return MQTT_PROTOCOL_ERROR;
		TRY(rd_props(r, MQTT_CONNACK, &c->props));
	} else if (c->reason > MQTT_V311_NOT_AUTHORIZED) {
		return MQTT_PROTOCOL_ERROR; /* 6-255 reserved */
	}
	/* [MQTT-3.2.2-4] (v3.1.1), [MQTT-3.2.2-6] (v5) */
	if (c->reason != 0 && c->session_present)
		return MQTT_PROTOCOL_ERROR;
	return rd_end(r);
}

/* ---- PUBLISH ------------------------------------------------------------ */

#define PUBLISH_DUP 0x08
#define PUBLISH_QOS(f) (((f) >> 1) & 0x03)
#define PUBLISH_RETAIN 0x01

static enum mqtt_result
decode_publish(
    uint8_t version, uint8_t flags, struct reader *r, struct mqtt_publish *p)
{
	struct mqtt_prop alias;

	p->qos = PUBLISH_QOS(flags);
	p->dup = (flags & PUBLISH_DUP) != 0;
	p->retain = (flags & PUBLISH_RETAIN) != 0;
	if (p->qos == 3)
		return MQTT_MALFORMED; /* [MQTT-3.3.1-4] */
	if (p->dup && p->qos == 0)
		return MQTT_MALFORMED; /* [MQTT-3.3.1-2] */
	TRY(rd_topic_name(r, &p->topic));
	if (p->qos > 0)
		TRY(rd_packet_id(r, &p->packet_id));
	if (version == MQTT_V5)
		TRY(rd_props(r, MQTT_PUBLISH, &p->props));
	if (p->topic.len == 0 &&
	    (version != MQTT_V5 ||
		!mqtt_props_find(&p->props, MQTT_PROP_TOPIC_ALIAS, &alias)))
		return empty_topic_result(version);
	rd_rest(r, &p->payload);
	return MQTT_OK;
}

/* ---- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------ */

static enum mqtt_result
decode_ack(uint8_t version, uint8_t type, struct reader *r, struct mqtt_ack *a)
{
	bool rel = type == MQTT_PUBREL || type == MQTT_PUBCOMP;

	TRY(rd_packet_id(r, &a->packet_id));
	if (version != MQTT_V5)
		return rd_end(r);
	/* 3.4.2.1: reason code and properties may be left out, in turn. */
	a->wire_form = (uint8_t)(r->len < 4 ? r->len : 4);
	if (rd_left(r) == 0)
		return MQTT_OK;
	TRY(rd_u8(r, &a->reason));
	if (rel ? !CODE_IN(a->reason, pubrel_codes)
		: !CODE_IN(a->reason, puback_codes))
		return MQTT_PROTOCOL_ERROR;
	if (rd_left(r) == 0)
		return MQTT_OK;
	TRY(rd_props(r, type, &a->props));
	return rd_end(r);
}

/* ---- SUBSCRIBE and UNSUBSCRIBE ------------------------------------------ */

#define SUB_QOS(o) ((o)&0x03)
#define SUB_NO_LOCAL 0x04
#define SUB_RETAIN_HANDLING(o) (((o) >> 4) & 0x03)

/* A filter in a SUBSCRIBE or UNSUBSCRIBE, by the version's rules. */
static bool
filter_valid(uint8_t version, const struct mqtt_bytes *f)
{
	if (version == MQTT_V5)
		return mqtt_topic_filter_valid(f->data, f->len);
	return mqtt_topic_filter_valid_v311(f->data, f->len);
}

/* A Subscription Options byte (v5 3.8.3.1, v3.1.1 3.8.3). */
static enum mqtt_result
check_sub_options(
    uint8_t version, uint8_t opts, const struct mqtt_bytes *filter)
{
	if (version != MQTT_V5) {
		/* [MQTT-3.8.3-4]: reserved bits, or QoS 3 */
		if ((opts & 0xfc) != 0 || SUB_QOS(opts) == 3)
			return MQTT_MALFORMED;
		return MQTT_OK;
	}
	if ((opts & 0xc0) != 0)
		return MQTT_MALFORMED; /* [MQTT-3.8.3-5] */
	if (SUB_QOS(opts) == 3 || SUB_RETAIN_HANDLING(opts) == 3)
		return MQTT_PROTOCOL_ERROR; /* 3.8.3.1 */
	if ((opts & SUB_NO_LOCAL) && filter->len >= 7 &&
	    memcmp(filter->data, "$share/", 7) == 0)
		return MQTT_PROTOCOL_ERROR; /* [MQTT-3.8.3-4] */
	return MQTT_OK;
}

/*
 * The payload of a SUBSCRIBE (has_options) or UNSUBSCRIBE: one or more
 * filters ([MQTT-3.8.3-3], [MQTT-3.10.3-2]), each valid.
 */
static enum mqtt_result
decode_filter_list(uint8_t version, bool has_options, struct reader *r,
    struct mqtt_subscribe *s)
{
	struct mqtt_bytes filter;
	uint8_t opts;

	s->list.data = r->buf + r->pos;
	s->list.len = rd_left(r);
	if (s->list.len == 0)
		return MQTT_PROTOCOL_ERROR;
	while (rd_left(r) > 0) {
		TRY(rd_binary(r, &filter));
		/* Mosquitto treats a bad filter as Malformed. */
		if (!filter_valid(version, &filter))
			return MQTT_MALFORMED;
		if (has_options) {
			TRY(rd_u8(r, &opts));
			TRY(check_sub_options(version, opts, &filter));
		}
		s->count++;
	}
	return MQTT_OK;
}

static enum mqtt_result
decode_subscribe(
    uint8_t version, uint8_t type, struct reader *r, struct mqtt_subscribe *s)
{
	TRY(rd_packet_id(r, &s->packet_id));
	if (version == MQTT_V5)
		TRY(rd_props(r, type, &s->props));
	return decode_filter_list(version, type == MQTT_SUBSCRIBE, r, s);
}

/* ---- SUBACK and UNSUBACK ------------------------------------------------ */

static enum mqtt_result
decode_suback(
    uint8_t version, uint8_t type, struct reader *r, struct mqtt_suback *s)
{
	const uint8_t *set;
	size_t set_len, i;

	TRY(rd_packet_id(r, &s->packet_id));
	if (version != MQTT_V5) {
		/* A v3.1.1 UNSUBACK is the packet identifier alone. */
		if (type == MQTT_UNSUBACK)
			return rd_end(r);
		set = suback_codes_v311;
		set_len = sizeof(suback_codes_v311);
	} else {
		TRY(rd_props(r, type, &s->props));
		set = type == MQTT_SUBACK ? suback_codes : unsuback_codes;
		set_len = type == MQTT_SUBACK ? sizeof(suback_codes)
					      : sizeof(unsuback_codes);
	}
	rd_rest(r, &s->reasons);
	/* One code per filter, and a SUBSCRIBE has at least one. */
	if (s->reasons.len == 0)
		return MQTT_PROTOCOL_ERROR;
	for (i = 0; i < s->reasons.len; i++)
		if (!code_in(s->reasons.data[i], set, set_len))
			return MQTT_PROTOCOL_ERROR; /* [MQTT-3.9.3-2] */
	return MQTT_OK;
}

/* ---- DISCONNECT and AUTH ------------------------------------------------ */

static enum mqtt_result
decode_disconnect(
    uint8_t version, struct reader *r, struct mqtt_reason_packet *d)
{
	if (version != MQTT_V5)
		return rd_end(r); /* [MQTT-3.14.1-1]: nothing in v3.1.1 */
	/* 3.14.2: both may be left out, or only the properties. */
	d->wire_form = (uint8_t)(r->len < 2 ? r->len : 2);
	if (rd_left(r) == 0)
		return MQTT_OK;
	TRY(rd_u8(r, &d->reason));
	if (!CODE_IN(d->reason, disconnect_codes))
		return MQTT_PROTOCOL_ERROR;
	if (rd_left(r) == 0)
		return MQTT_OK;
	TRY(rd_props(r, MQTT_DISCONNECT, &d->props));
	return rd_end(r);
}

static enum mqtt_result
decode_auth(struct reader *r, struct mqtt_reason_packet *a)
{
	struct mqtt_prop method;

	/*
	 * 3.15.2: reason code and properties are left out together or not
	 * at all; unlike DISCONNECT there is no reason-only form.
	 */
	a->wire_form = (uint8_t)(r->len < 2 ? r->len : 2);
	if (rd_left(r) == 0)
		return MQTT_OK;
	TRY(rd_u8(r, &a->reason));
	if (!CODE_IN(a->reason, auth_codes))
		return MQTT_PROTOCOL_ERROR;
	TRY(rd_props(r, MQTT_AUTH, &a->props));
	/* 3.15.2.2.2: the Authentication Method may not be left out. */
	if (!mqtt_props_find(&a->props, MQTT_PROP_AUTH_METHOD, &method))
		return MQTT_PROTOCOL_ERROR;
	return rd_end(r);
}

/* ---- Dispatch ----------------------------------------------------------- */

/* [MQTT-2.2.2-1], [MQTT-2.2.2-2]: flags fixed for all but PUBLISH. */
static bool
fixed_flags_valid(uint8_t type, uint8_t flags)
{
	switch (type) {
	case MQTT_PUBLISH:
		return true;
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return flags == 0x02;
	default:
		return flags == 0x00;
	}
}

enum mqtt_result
mqtt_decode(uint8_t version, const struct mqtt_fixed_header *hdr,
    const uint8_t *body, struct mqtt_packet *out)
{
	struct reader r = {body, hdr->remaining, 0};
	uint8_t type = hdr->type;

	memset(out, 0, sizeof(*out));
	out->type = type;
	out->flags = hdr->flags;
	if (type < MQTT_CONNECT || type > MQTT_AUTH || hdr->flags > 0x0f)
		return MQTT_MALFORMED;
	/* [MQTT-3.1.0-1] CONNECT first; [MQTT-3.1.0-2] and only once. */
	if ((version == 0) != (type == MQTT_CONNECT))
		return MQTT_PROTOCOL_ERROR;
	if (version != 0 && version != MQTT_V311 && version != MQTT_V5)
		return MQTT_PROTOCOL_ERROR; /* not a session we could have */
	/* AUTH is reserved in v3.1.1 ([MQTT-2.2.1] table 2.1). */
	if (type == MQTT_AUTH && version != MQTT_V5)
		return MQTT_PROTOCOL_ERROR;
	if (!fixed_flags_valid(type, hdr->flags))
		return MQTT_MALFORMED;

	switch (type) {
	case MQTT_CONNECT:
		return decode_connect(&r, &out->u.connect);
	case MQTT_CONNACK:
		return decode_connack(version, &r, &out->u.connack);
	case MQTT_PUBLISH:
		return decode_publish(version, hdr->flags, &r, &out->u.publish);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		return decode_ack(version, type, &r, &out->u.ack);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		return decode_subscribe(version, type, &r, &out->u.subscribe);
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		return decode_suback(version, type, &r, &out->u.suback);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		return rd_end(&r); /* [MQTT-3.12], [MQTT-3.13]: no body */
	case MQTT_DISCONNECT:
		return decode_disconnect(version, &r, &out->u.reason);
	case MQTT_AUTH:
		return decode_auth(&r, &out->u.reason);
	}
	return MQTT_MALFORMED;
}

/* ---- Filter lists ------------------------------------------------------- */

void
mqtt_list_iter_init(struct mqtt_list_iter *it, const struct mqtt_subscribe *sub,
    bool has_options)
{
	it->has_options = has_options;
	if (sub->list.data == NULL) {
		it->pos = it->end = NULL;
		return;
	}
	it->pos = sub->list.data;
	it->end = sub->list.data + sub->list.len;
}

bool
mqtt_list_next(
    struct mqtt_list_iter *it, struct mqtt_bytes *filter, uint8_t *options)
{
	size_t left, need, len;

	if (it->pos == NULL || it->pos >= it->end)
		return false;
	left = (size_t)(it->end - it->pos);
	/*
	 * Validated lists always parse; on anything else stop for good,
	 * leaving pos != end.
	 */
	if (left < 2)
		goto bad;
	len = (size_t)it->pos[0] << 8 | it->pos[1];
	need = 2 + len + (it->has_options ? 1 : 0);
	if (left < need)
		goto bad;
	filter->data = it->pos + 2;
	filter->len = len;
	if (options != NULL)
		*options = it->has_options ? it->pos[2 + len] : 0;
	it->pos += need;
	return true;
bad:
	it->pos = NULL; /* and pos != end tells the caller */
	return false;
}
