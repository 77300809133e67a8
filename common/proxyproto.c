/*
 * PROXY protocol header parser, versions 1 (text) and 2 (binary), after
 * haproxy's proxy-protocol.txt. Every check runs on whatever prefix has
 * arrived, so a bad header is refused at the first byte that proves it.
 */
#include <netinet/in.h>
#include <string.h>

#include "proxyproto.h"

static const uint8_t v1_signature[] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const uint8_t v2_signature[] = {
    '\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};

static enum proxyproto_status
proxyproto_fail(struct proxyproto_result *out, const char *why)
{
	out->error = why;
	return PROXYPROTO_ERROR;
}

/* True when the bytes present agree with the start of `sig`. */
static bool
signature_prefix(const uint8_t *buf, size_t len, const uint8_t *sig, size_t n)
{
	return memcmp(buf, sig, len < n ? len : n) == 0;
}

/* ---- Version 1 ----------------------------------------------------------- */

enum v1_field {
	V1_PROTOCOL,
	V1_SRC,
	V1_DST,
	V1_SRC_PORT,
	V1_DST_PORT,
};

enum v1_protocol {
	V1_TCP4,
	V1_TCP6,
	V1_UNKNOWN,
};

static const char *const v1_protocol_names[] = {
    [V1_TCP4] = "TCP4",
    [V1_TCP6] = "TCP6",
    [V1_UNKNOWN] = "UNKNOWN",
};

/*
 * Checks the protocol word s[0..n). `final` means a space or CR ended it;
 * otherwise it only has to begin one of the names. Returns NULL or why not.
 */
static const char *
v1_check_protocol(const char *s, size_t n, bool final, enum v1_protocol *proto)
{
	for (size_t i = 0;
	     i < sizeof(v1_protocol_names) / sizeof(v1_protocol_names[0]);
	     i++) {
		const char *name = v1_protocol_names[i];
		size_t name_len = strlen(name);

		if (n > name_len || memcmp(s, name, n) != 0)
			continue;
		if (!final)
			return NULL;
		if (n == name_len) {
			*proto = (enum v1_protocol)i;
			return NULL;
		}
	}
	return "v1 protocol is not TCP4, TCP6 or UNKNOWN";
}

/*
 * Checks an address: its characters and length as they arrive, then, once
 * final, that it parses as the family the protocol names.
 */
static const char *
v1_check_address(enum v1_protocol proto, const char *s, size_t n, bool final,
    struct netaddr *addr)
{
	/* The longest IPv6 text: 6 groups, then an embedded IPv4 address. */
	size_t max = proto == V1_TCP4 ? 15 : 45;
	bool has_colon = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= '0' && c <= '9') || c == '.';

		if (proto == V1_TCP6)
			ok = ok || c == ':' || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F');
		if (!ok)
			return proto == V1_TCP4
			    ? "v1 TCP4 address has a character no IPv4 "
			      "address has"
			    : "v1 TCP6 address has a character no IPv6 "
			      "address has";
		has_colon = has_colon || c == ':';
	}
	if (n > max)
		return "v1 address is too long";
	if (!final)
		return NULL;
	if (!netaddr_parse(s, n, addr))
		return proto == V1_TCP4 ? "v1 TCP4 address is not IPv4"
					: "v1 TCP6 address is not IPv6";
	/* Only the IPv6 text form has a colon; "TCP6 192.0.2.1" is a lie. */
	if (proto == V1_TCP6 && !has_colon)
		return "v1 TCP6 address is not IPv6";
	return NULL;
}

/* Checks a port: decimal, no leading zero, at most 65535. */
static const char *
v1_check_port(const char *s, size_t n, bool final, uint16_t *port)
{
	uint32_t value = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return "v1 port is not a decimal number";
		if (i == 1 && s[0] == '0')
			return "v1 port has a leading zero";
		value = value * 10 + (uint32_t)(s[i] - '0');
		if (value > 65535)
			return "v1 port is over 65535";
	}
	if (final)
		*port = (uint16_t)value;
	return NULL;
}

static const char *
v1_check_field(enum v1_field field, enum v1_protocol *proto, const char *s,
    size_t n, bool final, struct proxyproto_result *out)
{
	if (n == 0 && final)
		return "v1 field is empty (fields take exactly one space)";
	switch (field) {
	case V1_PROTOCOL:
		return v1_check_protocol(s, n, final, proto);
	case V1_SRC:
		return v1_check_address(*proto, s, n, final, &out->src);
	case V1_DST:
		return v1_check_address(*proto, s, n, final, &out->dst);
	case V1_SRC_PORT:
		return v1_check_port(s, n, final, &out->src_port);
	case V1_DST_PORT:
		return v1_check_port(s, n, final, &out->dst_port);
	}
	return "v1 has more than six fields";
}

/*
 * Checks the fields after "PROXY " in line[0..n); `ended` means a CR
 * followed them. Fields are checked as far as they have arrived.
 */
static const char *
v1_check_fields(
    const char *line, size_t n, bool ended, struct proxyproto_result *out)
{
	/* Set by the protocol field once final, before any field needs it. */
	enum v1_protocol proto = V1_UNKNOWN;
	size_t start = 0;

	for (unsigned field = V1_PROTOCOL;; field++) {
		size_t stop = start;
		bool final;
		const char *why;

		while (stop < n && line[stop] != ' ')
			stop++;
		final = stop < n || ended;
		if (field > V1_DST_PORT)
			return "v1 has text after the destination port";
		why = v1_check_field((enum v1_field)field, &proto, line + start,
		    stop - start, final, out);
		if (why != NULL)
			return why;
		/* UNKNOWN: the spec says to ignore the rest of the line. */
		if (field == V1_PROTOCOL && final && proto == V1_UNKNOWN) {
			out->local = true;
			return NULL;
		}
		if (stop == n)
			return ended && field != V1_DST_PORT
			    ? "v1 line ends before the destination port"
			    : NULL;
		start = stop + 1;
	}
}

static enum proxyproto_status
v1_parse(const uint8_t *buf, size_t len, struct proxyproto_result *out)
{
	/* The CR can be no later than this, leaving room for the LF. */
	size_t last_cr = PROXYPROTO_V1_MAX - 2;
	size_t scan = len < last_cr + 1 ? len : last_cr + 1;
	size_t end = 0;
	bool ended, complete = false;
	const char *why;

	if (len < sizeof(v1_signature))
		return PROXYPROTO_NEED_MORE;
	while (end < scan && buf[end] != '\r' && buf[end] != '\n')
		end++;
	ended = end < scan;
	if (!ended && scan > last_cr)
		return proxyproto_fail(out, "v1 line over 107 bytes");
	if (ended && buf[end] == '\n')
		return proxyproto_fail(out, "v1 line ends in LF, not CRLF");
	if (ended && end + 1 < len) {
		if (buf[end + 1] != '\n')
			return proxyproto_fail(out, "v1 CR not followed by LF");
		complete = true;
	}
	why = v1_check_fields((const char *)buf + sizeof(v1_signature),
	    end - sizeof(v1_signature), ended, out);
	if (why != NULL)
		return proxyproto_fail(out, why);
	if (!complete)
		return PROXYPROTO_NEED_MORE;
	out->consumed = end + 2;
	out->version = 1;
	return PROXYPROTO_OK;
}

/* ---- Version 2 ----------------------------------------------------------- */

/* Offsets in the fixed part, after the 12-byte signature. */
#define V2_VERSION_COMMAND 12 /* version (high nibble), command (low) */
#define V2_FAMILY 13 /* address family (high), transport (low) */
#define V2_LENGTH 14 /* u16, big-endian: bytes after the fixed part */

#define V2_VERSION 2
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1

#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4 0x11
#define V2_FAM_UDP4 0x12
#define V2_FAM_TCP6 0x21
#define V2_FAM_UDP6 0x22
#define V2_FAM_UNIX_STREAM 0x31
#define V2_FAM_UNIX_DGRAM 0x32

/* The address block of each family: two addresses, then two ports. */
#define V2_ADDR_LEN_TCP4 (4 + 4 + 2 + 2)
#define V2_ADDR_LEN_TCP6 (16 + 16 + 2 + 2)

#define V2_TLV_HEADER 3 /* type, u16 length */
#define V2_TYPE_SSL 0x20
/* PP2_TYPE_SSL's value: client flags (u8), verify result (u32), sub-TLVs. */
#define V2_SSL_HEADER 5

static uint16_t
read_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Checks that TLVs tile tlv[0..total) exactly, looking only at the first
 * `avail` bytes (the rest has not arrived). The SSL TLV's sub-TLVs are
 * checked the same way once the whole TLV is present; `nested` stops the
 * descent there. Returns NULL or why not.
 */
static const char *
v2_check_tlvs(const uint8_t *tlv, size_t avail, size_t total, bool nested)
{
	size_t pos = 0;

	while (pos < total) {
		size_t n;

		if (total - pos < V2_TLV_HEADER)
			return "v2 TLV header cut short by the length";
		if (avail < pos + V2_TLV_HEADER)
			return NULL;
		n = read_u16(tlv + pos + 1);
		if (n > total - pos - V2_TLV_HEADER)
			return "v2 TLV runs past the end of the header";
		if (!nested && tlv[pos] == V2_TYPE_SSL) {
			const char *why;

			if (n < V2_SSL_HEADER)
				return "v2 SSL TLV shorter than its fixed part";
			if (avail >= pos + V2_TLV_HEADER + n) {
				why = v2_check_tlvs(
				    tlv + pos + V2_TLV_HEADER + V2_SSL_HEADER,
				    n - V2_SSL_HEADER, n - V2_SSL_HEADER, true);
				if (why != NULL)
					return why;
			}
		}
		pos += V2_TLV_HEADER + n;
	}
	return NULL;
}

/* The address block the family needs, or why the family is refused. */
static const char *
v2_address_length(uint8_t family, size_t *addr_len)
{
	switch (family) {
	case V2_FAM_UNSPEC:
		*addr_len = 0;
		return NULL;
	case V2_FAM_TCP4:
		*addr_len = V2_ADDR_LEN_TCP4;
		return NULL;
	case V2_FAM_TCP6:
		*addr_len = V2_ADDR_LEN_TCP6;
		return NULL;
	case V2_FAM_UDP4:
	case V2_FAM_UDP6:
		return "v2 UDP is not accepted (MQTT runs over TCP)";
	case V2_FAM_UNIX_STREAM:
	case V2_FAM_UNIX_DGRAM:
		return "v2 Unix socket addresses are not accepted";
	}
	return "v2 unknown address family or transport";
}

static void
v2_read_addresses(
    const uint8_t *block, uint8_t family, struct proxyproto_result *out)
{
	if (family == V2_FAM_TCP4) {
		out->src.family = AF_INET;
		memcpy(out->src.bytes, block, 4);
		out->dst.family = AF_INET;
		memcpy(out->dst.bytes, block + 4, 4);
		out->src_port = read_u16(block + 8);
		out->dst_port = read_u16(block + 10);
	} else {
		struct sockaddr_in6 sin6;

		/* Through a sockaddr so that IPv4-mapped becomes IPv4. */
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, block, 16);
		(void)netaddr_from_sockaddr(
		    (const struct sockaddr *)&sin6, sizeof(sin6), &out->src);
		memcpy(&sin6.sin6_addr, block + 16, 16);
		(void)netaddr_from_sockaddr(
		    (const struct sockaddr *)&sin6, sizeof(sin6), &out->dst);
		out->src_port = read_u16(block + 32);
		out->dst_port = read_u16(block + 34);
	}
}

static enum proxyproto_status
v2_parse(const uint8_t *buf, size_t len, struct proxyproto_result *out)
{
	const uint8_t *block = buf + PROXYPROTO_V2_FIXED;
	size_t block_len, addr_len = 0, avail;
	uint8_t command;
	const char *why;

	if (len <= V2_VERSION_COMMAND)
		return PROXYPROTO_NEED_MORE;
	if (buf[V2_VERSION_COMMAND] >> 4 != V2_VERSION)
		return proxyproto_fail(out, "v2 version nibble is not 2");
	command = buf[V2_VERSION_COMMAND] & 0x0f;
	if (command != V2_CMD_LOCAL && command != V2_CMD_PROXY)
		return proxyproto_fail(
		    out, "v2 command is neither LOCAL nor PROXY");
	if (len <= V2_FAMILY)
		return PROXYPROTO_NEED_MORE;
	if (command == V2_CMD_PROXY) {
		why = v2_address_length(buf[V2_FAMILY], &addr_len);
		if (why != NULL)
			return proxyproto_fail(out, why);
	}
	if (len < PROXYPROTO_V2_FIXED)
		return PROXYPROTO_NEED_MORE;
	block_len = read_u16(buf + V2_LENGTH);
	if (block_len > PROXYPROTO_V2_MAX_BLOCK)
		return proxyproto_fail(out, "v2 header longer than we accept");
	if (block_len < addr_len)
		return proxyproto_fail(
		    out, "v2 length too short for the family's addresses");
	avail = len - PROXYPROTO_V2_FIXED;
	if (avail > block_len)
		avail = block_len;
	if (command == V2_CMD_PROXY) {
		why = v2_check_tlvs(block + addr_len,
		    avail > addr_len ? avail - addr_len : 0,
		    block_len - addr_len, false);
		if (why != NULL)
			return proxyproto_fail(out, why);
	}
	if (avail < block_len)
		return PROXYPROTO_NEED_MORE;
	if (command == V2_CMD_LOCAL || buf[V2_FAMILY] == V2_FAM_UNSPEC)
		out->local = true;
	else
		v2_read_addresses(block, buf[V2_FAMILY], out);
	out->consumed = PROXYPROTO_V2_FIXED + block_len;
	out->version = 2;
	return PROXYPROTO_OK;
}

/* ---- Entry point --------------------------------------------------------- */

enum proxyproto_status
proxyproto_parse(const uint8_t *buf, size_t len, unsigned versions,
    struct proxyproto_result *out)
{
	bool v1, v2;

	memset(out, 0, sizeof(*out));
	if ((versions & (PROXYPROTO_V1 | PROXYPROTO_V2)) == 0)
		return proxyproto_fail(
		    out, "no PROXY protocol version enabled");
	if (len == 0)
		return PROXYPROTO_NEED_MORE;
	v1 = signature_prefix(buf, len, v1_signature, sizeof(v1_signature));
	v2 = signature_prefix(buf, len, v2_signature, sizeof(v2_signature));
	if (v1 && (versions & PROXYPROTO_V1))
		return v1_parse(buf, len, out);
	if (v2 && (versions & PROXYPROTO_V2))
		return v2_parse(buf, len, out);
	if (v1)
		return proxyproto_fail(
		    out, "PROXY v1 header, only v2 accepted");
	if (v2)
		return proxyproto_fail(
		    out, "PROXY v2 header, only v1 accepted");
	return proxyproto_fail(out, "not a PROXY protocol header");
}
