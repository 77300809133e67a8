/*
 * MQTT v3.1.1 and v5.0 codec: framing, decoding from (buffer, length) into
 * views of that buffer, and encoding into caller-provided buffers.
 */
#ifndef FLYTRAP_MQTT_H
#define FLYTRAP_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQTT_WUR __attribute__((warn_unused_result))

#define MQTT_V311 4
#define MQTT_V5 5

/* The largest Remaining Length the 4-byte variable byte integer can carry. */
#define MQTT_MAX_REMAINING 268435455u
/* A fixed header is at most 1 type byte and 4 length bytes. */
#define MQTT_MAX_FIXED_HEADER 5

enum mqtt_packet_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
	MQTT_AUTH = 15,
};

/*
 * What a decoder or encoder concluded. MQTT_INCOMPLETE is only returned by
 * mqtt_frame() ("not enough bytes yet", not an error); every other non-OK
 * value means the packet is bad and maps to one v5 reason code through
 * mqtt_result_reason().
 */
enum mqtt_result {
	MQTT_OK = 0,
	MQTT_INCOMPLETE, /* need more bytes */
	MQTT_MALFORMED, /* 0x81 Malformed Packet */
	MQTT_PROTOCOL_ERROR, /* 0x82 Protocol Error */
	MQTT_BAD_VERSION, /* 0x84 Unsupported Protocol Version */
	MQTT_TOPIC_INVALID, /* 0x90 Topic Name invalid */
	MQTT_TOO_LARGE, /* 0x95 Packet too large */
	MQTT_NO_SPACE, /* encoder: output buffer too small */
};

/* v5 reason codes the suite uses by name. */
enum mqtt_reason {
	MQTT_RC_SUCCESS = 0x00,
	MQTT_RC_GRANTED_QOS0 = 0x00,
	MQTT_RC_NORMAL_DISCONNECT = 0x00,
	MQTT_RC_CONTINUE_AUTH = 0x18,
	MQTT_RC_REAUTHENTICATE = 0x19,
	MQTT_RC_UNSPECIFIED = 0x80,
	MQTT_RC_MALFORMED = 0x81,
	MQTT_RC_PROTOCOL_ERROR = 0x82,
	MQTT_RC_IMPLEMENTATION_SPECIFIC = 0x83,
	MQTT_RC_UNSUPPORTED_VERSION = 0x84,
	MQTT_RC_CLIENT_ID_INVALID = 0x85,
	MQTT_RC_BAD_USERNAME_PASSWORD = 0x86,
	MQTT_RC_NOT_AUTHORIZED = 0x87,
	MQTT_RC_SERVER_UNAVAILABLE = 0x88,
	MQTT_RC_SERVER_BUSY = 0x89,
	MQTT_RC_BANNED = 0x8A,
	MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
	MQTT_RC_BAD_AUTH_METHOD = 0x8C,
	MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
	MQTT_RC_TOPIC_INVALID = 0x90,
	MQTT_RC_PACKET_ID_IN_USE = 0x91,
	MQTT_RC_PACKET_TOO_LARGE = 0x95,
	MQTT_RC_QUOTA_EXCEEDED = 0x97,
	MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
};

/* v3.1.1 CONNACK return codes. */
enum mqtt_v311_connack {
	MQTT_V311_ACCEPTED = 0,
	MQTT_V311_BAD_VERSION = 1,
	MQTT_V311_ID_REJECTED = 2,
	MQTT_V311_UNAVAILABLE = 3,
	MQTT_V311_BAD_USERNAME_PASSWORD = 4,
	MQTT_V311_NOT_AUTHORIZED = 5,
};

enum mqtt_property_id {
	MQTT_PROP_PAYLOAD_FORMAT = 0x01,
	MQTT_PROP_MESSAGE_EXPIRY = 0x02,
	MQTT_PROP_CONTENT_TYPE = 0x03,
	MQTT_PROP_RESPONSE_TOPIC = 0x08,
	MQTT_PROP_CORRELATION_DATA = 0x09,
	MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
	MQTT_PROP_SESSION_EXPIRY = 0x11,
	MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
	MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
	MQTT_PROP_AUTH_METHOD = 0x15,
	MQTT_PROP_AUTH_DATA = 0x16,
	MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
	MQTT_PROP_WILL_DELAY = 0x18,
	MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
	MQTT_PROP_RESPONSE_INFO = 0x1A,
	MQTT_PROP_SERVER_REFERENCE = 0x1C,
	MQTT_PROP_REASON_STRING = 0x1F,
	MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
	MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
	MQTT_PROP_TOPIC_ALIAS = 0x23,
	MQTT_PROP_MAXIMUM_QOS = 0x24,
	MQTT_PROP_RETAIN_AVAILABLE = 0x25,
	MQTT_PROP_USER_PROPERTY = 0x26,
	MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
	MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
	MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE = 0x29,
	MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* A view of bytes inside a decoded buffer: a string, binary data or a list. */
struct mqtt_bytes {
	const uint8_t *data;
	size_t len;
};

/*
 * A property block as it stands on the wire, without its length prefix.
 * Blocks produced by the decoder have been validated in full (types, allowed
 * in that packet, no forbidden duplicates, valid UTF-8), so iterating them
 * cannot fail.
 */
struct mqtt_props {
	const uint8_t *data;
	size_t len;
};

/* One property. `num` holds byte, two-byte, four-byte and varint values. */
struct mqtt_prop {
	uint8_t id;
	uint32_t num;
	struct mqtt_bytes str; /* string, binary data, or user property name */
	struct mqtt_bytes value; /* user property value */
};

struct mqtt_prop_iter {
	const uint8_t *pos;
	const uint8_t *end;
};

struct mqtt_fixed_header {
	uint8_t type;
	uint8_t flags;
	uint32_t remaining; /* Remaining Length */
	uint8_t header_len; /* bytes of the fixed header, 2..5 */
};

struct mqtt_connect {
	uint8_t version; /* MQTT_V311 or MQTT_V5 */
	bool clean_start;
	bool will_flag;
	uint8_t will_qos;
	bool will_retain;
	bool has_username;
	bool has_password;
	uint16_t keep_alive;
	struct mqtt_props props;
	struct mqtt_bytes client_id;
	struct mqtt_props will_props;
	struct mqtt_bytes will_topic;
	struct mqtt_bytes will_payload;
	struct mqtt_bytes username;
	struct mqtt_bytes password;
};

struct mqtt_connack {
	bool session_present;
	uint8_t reason; /* v5 reason code, or v3.1.1 return code */
	struct mqtt_props props;
};

struct mqtt_publish {
	uint8_t qos;
	bool dup;
	bool retain;
	struct mqtt_bytes topic;
	uint16_t packet_id; /* 0 when qos == 0 */
	struct mqtt_props props;
	struct mqtt_bytes payload;
};

/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP.
 *
 * `wire_form` lets a v5 packet re-encode to the bytes it was decoded from:
 * the decoder sets it to the Remaining Length capped at 4 (2: packet id
 * only; 3: and reason code; 4: and properties). The encoder uses the
 * shortest form that carries reason and props, but never one shorter than
 * wire_form; 0 (the zeroed default) means plainly the shortest.
 */
struct mqtt_ack {
	uint16_t packet_id;
	uint8_t reason;
	struct mqtt_props props;
	uint8_t wire_form;
};

/*
 * SUBSCRIBE and UNSUBSCRIBE: `list` is the validated payload; walk it with
 * mqtt_topic_list_next(). For SUBSCRIBE each filter carries an options byte.
 */
struct mqtt_subscribe {
	uint16_t packet_id;
	struct mqtt_props props;
	struct mqtt_bytes list;
	size_t count;
};

/* SUBACK and UNSUBACK: one reason code per filter (v3.1.1 UNSUBACK: none). */
struct mqtt_suback {
	uint16_t packet_id;
	struct mqtt_props props;
	struct mqtt_bytes reasons;
};

/*
 * DISCONNECT and AUTH. `wire_form` is as for struct mqtt_ack, with the
 * Remaining Length capped at 2 (0: nothing; 1: reason code, DISCONNECT only;
 * 2: reason code and properties).
 */
struct mqtt_reason_packet {
	uint8_t reason;
	struct mqtt_props props;
	uint8_t wire_form;
};

struct mqtt_packet {
	uint8_t type;
	uint8_t flags;
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_ack ack;
		struct mqtt_subscribe subscribe; /* and UNSUBSCRIBE */
		struct mqtt_suback suback; /* and UNSUBACK */
		struct mqtt_reason_packet reason; /* DISCONNECT, AUTH */
	} u;
};

struct mqtt_list_iter {
	const uint8_t *pos;
	const uint8_t *end;
	bool has_options;
};

/* ---- Decoding ---------------------------------------------------------- */

/*
 * Reads the fixed header at the start of (buf, len). Returns MQTT_OK when
 * the whole packet (header_len + remaining bytes) is in the buffer,
 * MQTT_INCOMPLETE when more bytes are needed, MQTT_TOO_LARGE as soon as the
 * length says the packet exceeds max_packet_size (the whole packet, fixed
 * header included), MQTT_MALFORMED for a 5-byte or non-minimal length or
 * packet type 0. Pass UINT32_MAX for no limit beyond the protocol's own.
 */
enum mqtt_result mqtt_frame(const uint8_t *buf, size_t len,
    uint32_t max_packet_size, struct mqtt_fixed_header *hdr) MQTT_WUR;

/*
 * Decodes one framed packet; `body` points at the `hdr->remaining` bytes
 * after the fixed header. `version` is the session's protocol version, or 0
 * before the CONNECT has been seen (then only CONNECT decodes; anything else
 * is MQTT_PROTOCOL_ERROR). Views in `out` point into `body`. Returns MQTT_OK
 * or the reason the packet is bad; never reads outside (body, remaining).
 * On MQTT_BAD_VERSION from a CONNECT, out->u.connect.version holds the
 * Protocol Level byte received, so the caller can pick the CONNACK format.
 */
enum mqtt_result mqtt_decode(uint8_t version,
    const struct mqtt_fixed_header *hdr, const uint8_t *body,
    struct mqtt_packet *out) MQTT_WUR;

/* Maps a decoder result to the v5 reason code a peer should be told. */
uint8_t mqtt_result_reason(enum mqtt_result r);

/* Human-readable name of a result, for logs. */
const char *mqtt_result_str(enum mqtt_result r);

/* Name of a packet type ("CONNECT"), or "?" */
const char *mqtt_packet_name(uint8_t type);

void mqtt_props_iter_init(
    struct mqtt_prop_iter *it, const struct mqtt_props *props);
/* Next property of a validated block; false at the end. */
bool mqtt_props_next(struct mqtt_prop_iter *it, struct mqtt_prop *out);
/* First property with this id; false if absent. */
bool mqtt_props_find(
    const struct mqtt_props *props, uint8_t id, struct mqtt_prop *out);

void mqtt_list_iter_init(struct mqtt_list_iter *it,
    const struct mqtt_subscribe *sub, bool has_options);
/* Next filter (and its options byte, for SUBSCRIBE); false at the end. */
bool mqtt_list_next(
    struct mqtt_list_iter *it, struct mqtt_bytes *filter, uint8_t *options);

/* ---- Validation helpers (also used by the decoder) ---------------------- */

/* Well-formed UTF-8 with no U+0000, no surrogates, no overlong forms. */
bool mqtt_utf8_valid(const uint8_t *s, size_t len);
/* A topic name: valid UTF-8, non-empty, no '+' or '#'. */
bool mqtt_topic_name_valid(const uint8_t *s, size_t len);
/* A topic filter: wildcards only as whole levels, '#' last; $share rules. */
bool mqtt_topic_filter_valid(const uint8_t *s, size_t len);

/* ---- Encoding ---------------------------------------------------------- */

/*
 * Encodes `p` for protocol `version` into (buf, cap). On MQTT_OK sets
 * *out_len. Returns MQTT_NO_SPACE when cap is too small (nothing useful is
 * left in buf), MQTT_MALFORMED when `p` cannot be encoded (e.g. a string
 * over 65,535 bytes). A packet produced by mqtt_decode() re-encodes to the
 * same bytes. A CONNECT is encoded for p->u.connect.version (`version` is
 * not consulted for it). Property blocks are checked with
 * mqtt_props_validate(); strings are copied as given, not re-validated.
 */
enum mqtt_result mqtt_encode(uint8_t version, const struct mqtt_packet *p,
    uint8_t *buf, size_t cap, size_t *out_len) MQTT_WUR;

/* Builds a property block in a caller-provided buffer. */
struct mqtt_prop_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void mqtt_props_builder_init(
    struct mqtt_prop_builder *b, uint8_t *buf, size_t cap);
void mqtt_props_add_u8(struct mqtt_prop_builder *b, uint8_t id, uint8_t v);
void mqtt_props_add_u16(struct mqtt_prop_builder *b, uint8_t id, uint16_t v);
void mqtt_props_add_u32(struct mqtt_prop_builder *b, uint8_t id, uint32_t v);
void mqtt_props_add_varint(struct mqtt_prop_builder *b, uint8_t id, uint32_t v);
/* UTF-8 string or binary data property. */
void mqtt_props_add_bytes(
    struct mqtt_prop_builder *b, uint8_t id, const void *data, size_t len);
void mqtt_props_add_user(struct mqtt_prop_builder *b, const void *name,
    size_t name_len, const void *value, size_t value_len);
/* Copies one decoded property as it is. */
void mqtt_props_add_prop(
    struct mqtt_prop_builder *b, const struct mqtt_prop *p);
/*
 * The block built so far; MQTT_NO_SPACE if any add overflowed (or could not
 * be represented: a string over 65,535 bytes, a varint over
 * MQTT_MAX_REMAINING, an unknown identifier in mqtt_props_add_prop()).
 */
enum mqtt_result mqtt_props_builder_finish(
    struct mqtt_prop_builder *b, struct mqtt_props *out) MQTT_WUR;

/* ---- Lower-level helpers ------------------------------------------------ */

/*
 * Reads a Variable Byte Integer at the start of (buf, len): MQTT_OK with
 * *value and *used (1..4) set, MQTT_INCOMPLETE if buf ends inside it,
 * MQTT_MALFORMED for a 5-byte or non-minimal encoding.
 */
enum mqtt_result mqtt_varint_decode(
    const uint8_t *buf, size_t len, uint32_t *value, size_t *used) MQTT_WUR;
/*
 * Writes v as a Variable Byte Integer into out (room for 4 bytes); returns
 * the bytes written, or 0 if v exceeds MQTT_MAX_REMAINING.
 */
size_t mqtt_varint_encode(uint32_t v, uint8_t *out);
/* Bytes mqtt_varint_encode() would write for v; 0 if too large. */
size_t mqtt_varint_size(uint32_t v);

/* mqtt_props_validate() context for Will Properties; others are types. */
#define MQTT_PROPS_WILL 0

/*
 * Checks a property block for use in a packet of type `context` (or in
 * a CONNECT's Will Properties with MQTT_PROPS_WILL), as the decoder does.
 * Returns MQTT_MALFORMED for a truncated property, an unknown identifier,
 * one not allowed in this context (spec 2.2.2.2 calls both Malformed) or bad
 * UTF-8; MQTT_PROTOCOL_ERROR for a forbidden duplicate, a value the spec
 * forbids (e.g. Receive Maximum 0, a Response Topic with wildcards), or
 * Authentication Data without an Authentication Method.
 */
enum mqtt_result mqtt_props_validate(
    const struct mqtt_props *props, uint8_t context) MQTT_WUR;

/* A topic filter under v3.1.1 rules, where "$share/" is ordinary text. */
bool mqtt_topic_filter_valid_v311(const uint8_t *s, size_t len);

#endif
