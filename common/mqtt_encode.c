/*
 * MQTT v3.1.1 and v5.0 encoding into caller-provided buffers: one function
 * per packet type, run once to size the packet and once to write it.
 */
#include <string.h>

#include "mqtt.h"

/*
 * Output being produced. With buf == NULL it only counts, so each packet's
 * layout is written down once and sizes cannot disagree with what is
 * written. The first failure sticks in rc; later writes are then no-ops.
 */
struct writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	enum mqtt_result rc;
};

static void
wr_fail(struct writer *w, enum mqtt_result rc)
{
	if (w->rc == MQTT_OK)
		w->rc = rc;
}

static void
wr_bytes(struct writer *w, const void *data, size_t n)
{
	if (w->rc != MQTT_OK)
		return;
	/* Bounded by the Remaining Length limit, so len cannot wrap. */
	if (n > MQTT_MAX_REMAINING || w->len > MQTT_MAX_REMAINING - n) {
		wr_fail(w, MQTT_MALFORMED);
		return;
	}
	if (w->buf != NULL) {
		if (n > w->cap - w->len) {
			wr_fail(w, MQTT_NO_SPACE);
			return;
		}
		if (n > 0)
			memcpy(w->buf + w->len, data, n);
	}
	w->len += n;
}

static void
wr_u8(struct writer *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void
wr_u16(struct writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	wr_bytes(w, b, 2);
}

static void
wr_varint(struct writer *w, uint32_t v)
{
	uint8_t b[4];
	size_t n = mqtt_varint_encode(v, b);

	if (n == 0)
		wr_fail(w, MQTT_MALFORMED);
	else
		wr_bytes(w, b, n);
}

/* A UTF-8 string or Binary Data: two-byte length, then the bytes. */
static void
wr_counted(struct writer *w, const struct mqtt_bytes *s)
{
	if (s->len > UINT16_MAX) {
		wr_fail(w, MQTT_MALFORMED);
		return;
	}
	wr_u16(w, (uint16_t)s->len);
	wr_bytes(w, s->data, s->len);
}

/*
 * A property block with its length, for a packet of type `context`. v3.1.1
 * has no properties, so a non-empty block cannot be encoded there.
 */
static void
wr_props(struct writer *w, uint8_t version, const struct mqtt_props *props,
    uint8_t context)
{
	enum mqtt_result rc;

	if (version != MQTT_V5) {
		if (props->len != 0)
			wr_fail(w, MQTT_MALFORMED);
		return;
	}
	if (props->len > MQTT_MAX_REMAINING) {
		wr_fail(w, MQTT_MALFORMED);
		return;
	}
	/* Checked in the sizing pass; the writing pass sees the same. */
	if (w->buf == NULL) {
		rc = mqtt_props_validate(props, context);
		if (rc != MQTT_OK)
			wr_fail(w, rc);
	}
	wr_varint(w, (uint32_t)props->len);
	wr_bytes(w, props->data, props->len);
}

static void
wr_check(struct writer *w, bool ok)
{
	if (!ok)
		wr_fail(w, MQTT_MALFORMED);
}

/* ---- One function per packet type --------------------------------------- */

static void
enc_connect(struct writer *w, const struct mqtt_connect *c)
{
	static const struct mqtt_bytes name = {(const uint8_t *)"MQTT", 4};
	uint8_t flags;

	wr_check(w, c->version == MQTT_V311 || c->version == MQTT_V5);
	wr_check(w, c->will_qos <= 2);
	wr_check(w, c->will_flag || (c->will_qos == 0 && !c->will_retain));
	wr_check(
	    w, c->version != MQTT_V311 || c->has_username || !c->has_password);
	flags =
	    (uint8_t)((c->clean_start ? 0x02 : 0) | (c->will_flag ? 0x04 : 0) |
		(c->will_qos << 3) | (c->will_retain ? 0x20 : 0) |
		(c->has_password ? 0x40 : 0) | (c->has_username ? 0x80 : 0));

	wr_counted(w, &name);
	wr_u8(w, c->version);
	wr_u8(w, flags);
	wr_u16(w, c->keep_alive);
	wr_props(w, c->version, &c->props, MQTT_CONNECT);
	wr_counted(w, &c->client_id);
	if (c->will_flag) {
		wr_props(w, c->version, &c->will_props, MQTT_PROPS_WILL);
		wr_counted(w, &c->will_topic);
		wr_counted(w, &c->will_payload);
	}
	if (c->has_username)
		wr_counted(w, &c->username);
	if (c->has_password)
		wr_counted(w, &c->password);
}

static void
enc_connack(struct writer *w, uint8_t version, const struct mqtt_connack *c)
{
	wr_u8(w, c->session_present ? 0x01 : 0x00);
	wr_u8(w, c->reason);
	wr_props(w, version, &c->props, MQTT_CONNACK);
}

static void
enc_publish(struct writer *w, uint8_t version, const struct mqtt_publish *p)
{
	wr_check(w, p->qos <= 2);
	wr_check(w, p->qos > 0 || !p->dup);
	wr_check(w, p->qos == 0 || p->packet_id != 0);
	wr_counted(w, &p->topic);
	if (p->qos > 0)
		wr_u16(w, p->packet_id);
	wr_props(w, version, &p->props, MQTT_PUBLISH);
	wr_bytes(w, p->payload.data, p->payload.len);
}

/*
 * v5 PUBACK, PUBREC, PUBREL, PUBCOMP: the shortest of the forms 2 (packet
 * id), 3 (and reason) and 4 (and properties) that carries the contents, but
 * no shorter than wire_form, so decoded packets come back byte for byte.
 */
static void
enc_ack(
    struct writer *w, uint8_t version, uint8_t type, const struct mqtt_ack *a)
{
	size_t form;

	wr_check(w, a->packet_id != 0);
	wr_u16(w, a->packet_id);
	if (version != MQTT_V5) {
		wr_check(w, a->reason == 0 && a->props.len == 0);
		return;
	}
	form = a->props.len != 0 ? 4 : a->reason != 0 ? 3 : 2;
	if (a->wire_form > form)
		form = a->wire_form > 4 ? 4 : a->wire_form;
	if (form >= 3)
		wr_u8(w, a->reason);
	if (form == 4)
		wr_props(w, version, &a->props, type);
}

static void
enc_subscribe(struct writer *w, uint8_t version, uint8_t type,
    const struct mqtt_subscribe *s)
{
	struct mqtt_list_iter it;
	struct mqtt_bytes filter;

	wr_check(w, s->packet_id != 0);
	wr_check(w, s->list.len != 0);
	if (w->buf == NULL && s->list.len != 0) {
		/* The list is caller-built wire bytes: check its shape. */
		mqtt_list_iter_init(&it, s, type == MQTT_SUBSCRIBE);
		while (mqtt_list_next(&it, &filter, NULL))
			;
		wr_check(w, it.pos == it.end);
	}
	wr_u16(w, s->packet_id);
	wr_props(w, version, &s->props, type);
	wr_bytes(w, s->list.data, s->list.len);
}

static void
enc_suback(struct writer *w, uint8_t version, uint8_t type,
    const struct mqtt_suback *s)
{
	wr_check(w, s->packet_id != 0);
	wr_u16(w, s->packet_id);
	if (version != MQTT_V5 && type == MQTT_UNSUBACK) {
		wr_check(w, s->props.len == 0 && s->reasons.len == 0);
		return;
	}
	wr_check(w, s->reasons.len != 0);
	wr_props(w, version, &s->props, type);
	wr_bytes(w, s->reasons.data, s->reasons.len);
}

/*
 * DISCONNECT and AUTH: forms 0 (nothing), 1 (reason, DISCONNECT only) and 2
 * (reason and properties), chosen as for enc_ack().
 */
static void
enc_reason_packet(struct writer *w, uint8_t version, uint8_t type,
    const struct mqtt_reason_packet *d)
{
	size_t form;

	if (version != MQTT_V5) {
		wr_check(w, d->reason == 0 && d->props.len == 0);
		return;
	}
	form = d->props.len != 0 ? 2 : d->reason != 0 ? 1 : 0;
	if (d->wire_form > form)
		form = d->wire_form > 2 ? 2 : d->wire_form;
	if (type == MQTT_AUTH && form == 1)
		form = 2;
	if (form >= 1)
		wr_u8(w, d->reason);
	if (form == 2)
		wr_props(w, version, &d->props, type);
}

/* Writes the body of `p`, and sets *first to the fixed header's byte 1. */
static void
enc_body(struct writer *w, uint8_t version, const struct mqtt_packet *p,
    uint8_t *first)
{
	uint8_t flags = 0;

	if (p->type == MQTT_CONNECT)
		version = p->u.connect.version;
	else if (version != MQTT_V311 && version != MQTT_V5)
		wr_fail(w, MQTT_MALFORMED);

	switch (p->type) {
	case MQTT_CONNECT:
		enc_connect(w, &p->u.connect);
		break;
	case MQTT_CONNACK:
		enc_connack(w, version, &p->u.connack);
		break;
	case MQTT_PUBLISH:
		flags = (uint8_t)((p->u.publish.dup ? 0x08 : 0) |
		    (p->u.publish.qos & 0x03) << 1 |
		    (p->u.publish.retain ? 0x01 : 0));
		enc_publish(w, version, &p->u.publish);
		break;
	case MQTT_PUBREL:
		flags = 0x02;
		/* FALLTHROUGH */
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
		enc_ack(w, version, p->type, &p->u.ack);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		flags = 0x02;
		enc_subscribe(w, version, p->type, &p->u.subscribe);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		enc_suback(w, version, p->type, &p->u.suback);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		break;
	case MQTT_AUTH:
		wr_check(w, version == MQTT_V5);
		/* FALLTHROUGH */
	case MQTT_DISCONNECT:
		enc_reason_packet(w, version, p->type, &p->u.reason);
		break;
	default:
		wr_fail(w, MQTT_MALFORMED);
		break;
	}
	*first = (uint8_t)(p->type << 4 | flags);
}

enum mqtt_result
mqtt_encode(uint8_t version, const struct mqtt_packet *p, uint8_t *buf,
    size_t cap, size_t *out_len)
{
	struct writer w = {NULL, 0, 0, MQTT_OK};
	size_t remaining, header_len;
	uint8_t first;

	enc_body(&w, version, p, &first);
	if (w.rc != MQTT_OK)
		return w.rc;
	remaining = w.len; /* at most MQTT_MAX_REMAINING: see wr_bytes() */
	header_len = 1 + mqtt_varint_size((uint32_t)remaining);
	if (buf == NULL || cap < header_len + remaining)
		return MQTT_NO_SPACE;

	buf[0] = first;
	mqtt_varint_encode((uint32_t)remaining, buf + 1);
	w = (struct writer){buf + header_len, remaining, 0, MQTT_OK};
	enc_body(&w, version, p, &first);
	if (w.rc != MQTT_OK || w.len != remaining)
		return MQTT_NO_SPACE; /* cannot happen: same code, same input */
	*out_len = header_len + remaining;
	return MQTT_OK;
}
