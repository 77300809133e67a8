/*
 * MQTT v5 properties (spec 2.2.2): the table of identifiers with their type
 * and the packets that may carry them, validation, iteration and building.
 */
#include <string.h>

#include "mqtt.h"

enum prop_type {
	PT_NONE = 0, /* not a property identifier */
	PT_BYTE,
	PT_U16,
	PT_U32,
	PT_VARINT,
	PT_STRING,
	PT_BINARY,
	PT_PAIR,
};

/* Contexts are packet types, bit 0 (MQTT_PROPS_WILL) is Will Properties. */
#define CTX(t) (1u << (t))
#define CTX_WILL CTX(MQTT_PROPS_WILL)
#define CTX_ALL_ACKS                                                           \
	(CTX(MQTT_CONNACK) | CTX(MQTT_PUBACK) | CTX(MQTT_PUBREC) |             \
	    CTX(MQTT_PUBREL) | CTX(MQTT_PUBCOMP) | CTX(MQTT_SUBACK) |          \
	    CTX(MQTT_UNSUBACK) | CTX(MQTT_DISCONNECT) | CTX(MQTT_AUTH))
#define CTX_EVERYWHERE 0xffffu

struct prop_info {
	uint8_t type;
	uint16_t contexts;
};

/* Spec 2.2.2.2, table 2-4. */
static const struct prop_info prop_table[] = {
    [MQTT_PROP_PAYLOAD_FORMAT] = {PT_BYTE, CTX(MQTT_PUBLISH) | CTX_WILL},
    [MQTT_PROP_MESSAGE_EXPIRY] = {PT_U32, CTX(MQTT_PUBLISH) | CTX_WILL},
    [MQTT_PROP_CONTENT_TYPE] = {PT_STRING, CTX(MQTT_PUBLISH) | CTX_WILL},
    [MQTT_PROP_RESPONSE_TOPIC] = {PT_STRING, CTX(MQTT_PUBLISH) | CTX_WILL},
    [MQTT_PROP_CORRELATION_DATA] = {PT_BINARY, CTX(MQTT_PUBLISH) | CTX_WILL},
    [MQTT_PROP_SUBSCRIPTION_ID] = {PT_VARINT,
	CTX(MQTT_PUBLISH) | CTX(MQTT_SUBSCRIBE)},
    [MQTT_PROP_SESSION_EXPIRY] = {PT_U32,
	CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_DISCONNECT)},
    [MQTT_PROP_ASSIGNED_CLIENT_ID] = {PT_STRING, CTX(MQTT_CONNACK)},
    [MQTT_PROP_SERVER_KEEP_ALIVE] = {PT_U16, CTX(MQTT_CONNACK)},
    [MQTT_PROP_AUTH_METHOD] = {PT_STRING,
	CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_AUTH)},
    [MQTT_PROP_AUTH_DATA] = {PT_BINARY,
	CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_AUTH)},
    [MQTT_PROP_REQUEST_PROBLEM_INFO] = {PT_BYTE, CTX(MQTT_CONNECT)},
    [MQTT_PROP_WILL_DELAY] = {PT_U32, CTX_WILL},
    [MQTT_PROP_REQUEST_RESPONSE_INFO] = {PT_BYTE, CTX(MQTT_CONNECT)},
    [MQTT_PROP_RESPONSE_INFO] = {PT_STRING, CTX(MQTT_CONNACK)},
    [MQTT_PROP_SERVER_REFERENCE] = {PT_STRING,
	CTX(MQTT_CONNACK) | CTX(MQTT_DISCONNECT)},
    [MQTT_PROP_REASON_STRING] = {PT_STRING, CTX_ALL_ACKS},
    [MQTT_PROP_RECEIVE_MAXIMUM] = {PT_U16,
	CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK)},
    [MQTT_PROP_TOPIC_ALIAS_MAXIMUM] = {PT_U16,
	CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK)},
    [MQTT_PROP_TOPIC_ALIAS] = {PT_U16, CTX(MQTT_PUBLISH)},
    [MQTT_PROP_MAXIMUM_QOS] = {PT_BYTE, CTX(MQTT_CONNACK)},
    [MQTT_PROP_RETAIN_AVAILABLE] = {PT_BYTE, CTX(MQTT_CONNACK)},
    [MQTT_PROP_USER_PROPERTY] = {PT_PAIR, CTX_EVERYWHERE},
    [MQTT_PROP_MAXIMUM_PACKET_SIZE] = {PT_U32,
	CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK)},
    [MQTT_PROP_WILDCARD_SUB_AVAILABLE] = {PT_BYTE, CTX(MQTT_CONNACK)},
    [MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE] = {PT_BYTE, CTX(MQTT_CONNACK)},
    [MQTT_PROP_SHARED_SUB_AVAILABLE] = {PT_BYTE, CTX(MQTT_CONNACK)},
};

#define PROP_TABLE_LEN (sizeof(prop_table) / sizeof(prop_table[0]))

/* The type of property `id`, PT_NONE for an unknown identifier. */
static enum prop_type
prop_type_of(uint8_t id)
{
	if (id >= PROP_TABLE_LEN)
		return PT_NONE;
	return (enum prop_type)prop_table[id].type;
}

static uint32_t
get_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Reads a two-byte length and that many bytes at p[*n], never past left;
 * false if they are not all there.
 */
static bool
read_counted(const uint8_t *p, size_t left, size_t *n, struct mqtt_bytes *out)
{
	size_t len;

	if (left - *n < 2)
		return false;
	len = get_be(p + *n, 2);
	*n += 2;
	if (left - *n < len)
		return false;
	out->data = p + *n;
	out->len = len;
	*n += len;
	return true;
}

/*
 * Parses the property at the start of (p, left) into *out and sets *used.
 * Checks only its shape: MQTT_MALFORMED for an unknown identifier, a value
 * cut short or a non-minimal varint.
 */
static enum mqtt_result
prop_parse(const uint8_t *p, size_t left, struct mqtt_prop *out, size_t *used)
{
	static const uint8_t fixed_size[] = {
	    [PT_BYTE] = 1, [PT_U16] = 2, [PT_U32] = 4};
	enum prop_type type;
	size_t n = 1, vused;

	memset(out, 0, sizeof(*out));
	if (left < 1)
		return MQTT_MALFORMED;
	/*
	 * The identifier is a Variable Byte Integer, but every defined one
	 * fits in a single byte; any other first byte is unknown.
	 */
	out->id = p[0];
	type = prop_type_of(p[0]);
	switch (type) {
	case PT_NONE:
		return MQTT_MALFORMED;
	case PT_BYTE:
	case PT_U16:
	case PT_U32:
		if (left - n < fixed_size[type])
			return MQTT_MALFORMED;
		out->num = get_be(p + n, fixed_size[type]);
		n += fixed_size[type];
		break;
	case PT_VARINT:
		/* Cut short or not minimal: both malformed here. */
		if (mqtt_varint_decode(p + n, left - n, &out->num, &vused) !=
		    MQTT_OK)
			return MQTT_MALFORMED;
		n += vused;
		break;
	case PT_STRING:
	case PT_BINARY:
		if (!read_counted(p, left, &n, &out->str))
			return MQTT_MALFORMED;
		break;
	case PT_PAIR:
		if (!read_counted(p, left, &n, &out->str) ||
		    !read_counted(p, left, &n, &out->value))
			return MQTT_MALFORMED;
		break;
	}
	*used = n;
	return MQTT_OK;
}

/* Value rules of spec 3.x: MQTT_PROTOCOL_ERROR when `pr` breaks one. */
static enum mqtt_result
prop_value_valid(const struct mqtt_prop *pr)
{
	switch (pr->id) {
	case MQTT_PROP_PAYLOAD_FORMAT:
	case MQTT_PROP_REQUEST_PROBLEM_INFO:
	case MQTT_PROP_REQUEST_RESPONSE_INFO:
	case MQTT_PROP_MAXIMUM_QOS:
	case MQTT_PROP_RETAIN_AVAILABLE:
	case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
	case MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE:
	case MQTT_PROP_SHARED_SUB_AVAILABLE:
		/* Every Byte property is a 0/1 flag. */
		if (pr->num > 1)
			return MQTT_PROTOCOL_ERROR;
		break;
	case MQTT_PROP_RECEIVE_MAXIMUM:
	case MQTT_PROP_MAXIMUM_PACKET_SIZE:
	case MQTT_PROP_TOPIC_ALIAS:
	case MQTT_PROP_SUBSCRIPTION_ID:
		/* [MQTT-3.3.2-8] alias 0; 3.1.2.11.3/6, 3.8.2.1.2 */
		if (pr->num == 0)
			return MQTT_PROTOCOL_ERROR;
		break;
	case MQTT_PROP_RESPONSE_TOPIC:
		/* [MQTT-3.3.2-14] a Topic Name: no wildcards */
		if (!mqtt_topic_name_valid(pr->str.data, pr->str.len))
			return MQTT_PROTOCOL_ERROR;
		break;
	default:
		break;
	}
	return MQTT_OK;
}

enum mqtt_result
mqtt_props_validate(const struct mqtt_props *props, uint8_t context)
{
	enum mqtt_result rc;
	struct mqtt_prop pr;
	uint64_t seen = 0, bit;
	size_t pos = 0, used;
	enum prop_type type;

	if (context > 15)
		return MQTT_MALFORMED;
	while (pos < props->len) {
		rc =
		    prop_parse(props->data + pos, props->len - pos, &pr, &used);
		if (rc != MQTT_OK)
			return rc;
		pos += used;
		/*
		 * Spec 2.2.2.2: an identifier not valid for its packet type
		 * is a Malformed Packet (Mosquitto says Protocol Error).
		 */
		if ((prop_table[pr.id].contexts & CTX(context)) == 0)
			return MQTT_MALFORMED;
		type = prop_type_of(pr.id);
		if ((type == PT_STRING || type == PT_PAIR) &&
		    !mqtt_utf8_valid(pr.str.data, pr.str.len))
			return MQTT_MALFORMED;
		if (type == PT_PAIR &&
		    !mqtt_utf8_valid(pr.value.data, pr.value.len))
			return MQTT_MALFORMED;
		/*
		 * "It is a Protocol Error to include X more than once", for
		 * all but User Property and a PUBLISH's Subscription
		 * Identifiers (one per matching subscription).
		 */
		bit = (uint64_t)1 << pr.id;
		if ((seen & bit) != 0 && pr.id != MQTT_PROP_USER_PROPERTY &&
		    !(pr.id == MQTT_PROP_SUBSCRIPTION_ID &&
			context == MQTT_PUBLISH))
			return MQTT_PROTOCOL_ERROR;
		seen |= bit;
		rc = prop_value_valid(&pr);
		if (rc != MQTT_OK)
			return rc;
	}
	/* 3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3 */
	if ((seen & ((uint64_t)1 << MQTT_PROP_AUTH_DATA)) != 0 &&
	    (seen & ((uint64_t)1 << MQTT_PROP_AUTH_METHOD)) == 0)
		return MQTT_PROTOCOL_ERROR;
	return MQTT_OK;
}

/* ---- Iteration ---------------------------------------------------------- */

void
mqtt_props_iter_init(struct mqtt_prop_iter *it, const struct mqtt_props *props)
{
	if (props->data == NULL) {
		it->pos = it->end = NULL;
		return;
	}
	it->pos = props->data;
	it->end = props->data + props->len;
}

bool
mqtt_props_next(struct mqtt_prop_iter *it, struct mqtt_prop *out)
{
	size_t used;

	if (it->pos == NULL || it->pos >= it->end)
		return false;
	/*
	 * Validated blocks always parse; on anything else stop for good,
	 * leaving pos != end.
	 */
	if (prop_parse(it->pos, (size_t)(it->end - it->pos), out, &used) !=
	    MQTT_OK) {
		it->pos = NULL;
		return false;
	}
	it->pos += used;
	return true;
}

bool
mqtt_props_find(
    const struct mqtt_props *props, uint8_t id, struct mqtt_prop *out)
{
	struct mqtt_prop_iter it;

	mqtt_props_iter_init(&it, props);
	while (mqtt_props_next(&it, out))
		if (out->id == id)
			return true;
	return false;
}

/* ---- Building ----------------------------------------------------------- */

void
mqtt_props_builder_init(struct mqtt_prop_builder *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = buf == NULL ? 0 : cap;
	b->len = 0;
	b->overflow = false;
}

/*
 * Room for one property of n bytes with identifier `id` of type `type`, its
 * identifier written; NULL (and the builder failed) if there is none or the
 * identifier is not of that type. All or nothing, so a failed add leaves no
 * half-written property behind.
 */
static uint8_t *
builder_reserve(
    struct mqtt_prop_builder *b, uint8_t id, enum prop_type type, size_t n)
{
	uint8_t *p;

	if (b->overflow || prop_type_of(id) != type ||
	    n + 1 > b->cap - b->len) {
		b->overflow = true;
		return NULL;
	}
	p = b->buf + b->len;
	p[0] = id;
	b->len += n + 1;
	return p + 1;
}

static uint8_t *
put_be(uint8_t *p, uint32_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return p + n;
}

static uint8_t *
put_counted(uint8_t *p, const void *data, size_t len)
{
	p = put_be(p, (uint32_t)len, 2);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

void
mqtt_props_add_u8(struct mqtt_prop_builder *b, uint8_t id, uint8_t v)
{
	uint8_t *p = builder_reserve(b, id, PT_BYTE, 1);

	if (p != NULL)
		put_be(p, v, 1);
}

void
mqtt_props_add_u16(struct mqtt_prop_builder *b, uint8_t id, uint16_t v)
{
	uint8_t *p = builder_reserve(b, id, PT_U16, 2);

	if (p != NULL)
		put_be(p, v, 2);
}

void
mqtt_props_add_u32(struct mqtt_prop_builder *b, uint8_t id, uint32_t v)
{
	uint8_t *p = builder_reserve(b, id, PT_U32, 4);

	if (p != NULL)
		put_be(p, v, 4);
}

void
mqtt_props_add_varint(struct mqtt_prop_builder *b, uint8_t id, uint32_t v)
{
	size_t n = mqtt_varint_size(v);
	uint8_t *p;

	if (n == 0) {
		b->overflow = true;
		return;
	}
	p = builder_reserve(b, id, PT_VARINT, n);
	if (p != NULL)
		mqtt_varint_encode(v, p);
}

void
mqtt_props_add_bytes(
    struct mqtt_prop_builder *b, uint8_t id, const void *data, size_t len)
{
	enum prop_type type = prop_type_of(id);
	uint8_t *p;

	if (len > UINT16_MAX || (type != PT_STRING && type != PT_BINARY)) {
		b->overflow = true;
		return;
	}
	p = builder_reserve(b, id, type, 2 + len);
	if (p != NULL)
		put_counted(p, data, len);
}

void
mqtt_props_add_user(struct mqtt_prop_builder *b, const void *name,
    size_t name_len, const void *value, size_t value_len)
{
	uint8_t *p;

	if (name_len > UINT16_MAX || value_len > UINT16_MAX) {
		b->overflow = true;
		return;
	}
	p = builder_reserve(
	    b, MQTT_PROP_USER_PROPERTY, PT_PAIR, 4 + name_len + value_len);
	if (p != NULL) {
		p = put_counted(p, name, name_len);
		put_counted(p, value, value_len);
	}
}

void
mqtt_props_add_prop(struct mqtt_prop_builder *b, const struct mqtt_prop *p)
{
	switch (prop_type_of(p->id)) {
	case PT_BYTE:
		if (p->num > UINT8_MAX)
			break;
		mqtt_props_add_u8(b, p->id, (uint8_t)p->num);
		return;
	case PT_U16:
		if (p->num > UINT16_MAX)
			break;
		mqtt_props_add_u16(b, p->id, (uint16_t)p->num);
		return;
	case PT_U32:
		mqtt_props_add_u32(b, p->id, p->num);
		return;
	case PT_VARINT:
		mqtt_props_add_varint(b, p->id, p->num);
		return;
	case PT_STRING:
	case PT_BINARY:
		mqtt_props_add_bytes(b, p->id, p->str.data, p->str.len);
		return;
	case PT_PAIR:
		mqtt_props_add_user(
		    b, p->str.data, p->str.len, p->value.data, p->value.len);
		return;
	case PT_NONE:
		break;
	}
	b->overflow = true;
}

enum mqtt_result
mqtt_props_builder_finish(struct mqtt_prop_builder *b, struct mqtt_props *out)
{
	if (b->overflow) {
		out->data = NULL;
		out->len = 0;
		return MQTT_NO_SPACE;
	}
	out->data = b->buf;
	out->len = b->len;
	return MQTT_OK;
}
