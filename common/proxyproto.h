/*
 * PROXY protocol header parser (versions 1 and 2): what a load balancer in
 * front of proxyd says about the client before the client's own bytes.
 */
#ifndef FLYTRAP_PROXYPROTO_H
#define FLYTRAP_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

/* Bits of the `versions` mask: the header versions a listener accepts. */
#define PROXYPROTO_V1 0x1u
#define PROXYPROTO_V2 0x2u

/* A v1 header is one text line of at most 107 bytes, CRLF included. */
#define PROXYPROTO_V1_MAX 107
/* A v2 header's fixed part: signature, version/command, family, length. */
#define PROXYPROTO_V2_FIXED 16
/*
 * The longest v2 address block plus TLVs we accept. The format allows
 * 65535; a load balancer's addresses and a few TLVs need far less, and an
 * unauthenticated peer may not make us buffer more.
 */
#define PROXYPROTO_V2_MAX_BLOCK 1024
/* The most bytes a caller may have to buffer before the parser decides. */
#define PROXYPROTO_MAX_HEADER (PROXYPROTO_V2_FIXED + PROXYPROTO_V2_MAX_BLOCK)

enum proxyproto_status {
	PROXYPROTO_NEED_MORE, /* a valid start of a header: call again */
	PROXYPROTO_OK, /* a whole, valid header; see the result */
	PROXYPROTO_ERROR, /* not a header we accept; result.error says why */
};

struct proxyproto_result {
	size_t consumed; /* header length; the client's bytes follow it */
	/*
	 * No address: v2 LOCAL (the balancer's own health check), v1 UNKNOWN
	 * or v2 UNSPEC. The socket's own peer is the client then.
	 */
	bool local;
	int version; /* 1 or 2 */
	struct netaddr src; /* the client, when !local */
	uint16_t src_port;
	struct netaddr dst; /* the address the client connected to */
	uint16_t dst_port;
	const char *error; /* static text naming the broken rule, on ERROR */
};

/*
 * Parses the PROXY protocol header at the start of (buf, len), of a
 * version allowed by `versions` (PROXYPROTO_V1 | PROXYPROTO_V2).
 *
 * Returns PROXYPROTO_OK with *out filled when the whole header is in the
 * buffer (bytes after out->consumed are not looked at);
 * PROXYPROTO_NEED_MORE while every byte so far may still begin a valid
 * header (call again with the same bytes and more); PROXYPROTO_ERROR with
 * out->error set as soon as the bytes seen prove the header bad. Never
 * NEED_MORE once len >= PROXYPROTO_MAX_HEADER.
 *
 * v1 is read strictly: "PROXY TCP4|TCP6 src dst sport dport\r\n" with
 * single spaces, addresses of the named family (a TCP6 line may carry an
 * IPv4-mapped address, which becomes the IPv4 address), decimal ports
 * 0-65535 without leading zeros; or "PROXY UNKNOWN", then anything up to
 * CRLF. v2 needs version 2 and command LOCAL or PROXY; PROXY needs family
 * TCP over IPv4, IPv6 or UNSPEC (UDP and Unix sockets are refused), a
 * length that holds the addresses and at most PROXYPROTO_V2_MAX_BLOCK,
 * and TLVs that tile the rest exactly (the SSL TLV's sub-TLVs too); their
 * contents are not interpreted. For LOCAL the spec says to discard the
 * block, family included, so only its length is checked.
 *
 * Never reads outside (buf, len); allocates nothing.
 */
enum proxyproto_status proxyproto_parse(const uint8_t *buf, size_t len,
    unsigned versions, struct proxyproto_result *out)
    __attribute__((warn_unused_result));

#endif
