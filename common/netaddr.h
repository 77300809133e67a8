/*
 * IP addresses and CIDR ranges as bans, trusted load balancers and GeoIP
 * see them. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4
 * address it maps, so one client never has two spellings.
 */
#ifndef FLYTRAP_NETADDR_H
#define FLYTRAP_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for the text form of any address or range, with its NUL. */
#define NETADDR_STRLEN 52

struct netaddr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
};

struct netrange {
	struct netaddr addr; /* host bits are zero */
	uint8_t prefix; /* 0..32 (IPv4) or 0..128 (IPv6) */
};

/* Parses "192.0.2.1" or "2001:db8::1" (len bytes, no NUL needed). */
bool netaddr_parse(const char *s, size_t len, struct netaddr *out);
/* From a socket address; false for families other than IPv4/IPv6. */
bool netaddr_from_sockaddr(
    const struct sockaddr *sa, socklen_t len, struct netaddr *out);
/* Canonical text ("192.0.2.1", "2001:db8::1"). */
void netaddr_format(const struct netaddr *a, char out[NETADDR_STRLEN]);
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);
/* Loopback, private, link-local, unique-local and other non-public space. */
bool netaddr_is_special(const struct netaddr *a);

/*
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (a range of
 * one). A range with host bits set is refused, so "10.1.2.3/8" is an
 * error rather than silently 10.0.0.0/8.
 */
bool netrange_parse(const char *s, size_t len, struct netrange *out);
bool netrange_contains(const struct netrange *r, const struct netaddr *a);
/* "192.0.2.0/24"; a range of one address prints as the bare address. */
void netrange_format(const struct netrange *r, char out[NETADDR_STRLEN]);

/*
 * Parses a comma-separated list of ranges (spaces around items allowed)
 * into a malloc'ed array. On error returns false with a message naming
 * the bad item in err; *out is then NULL.
 */
bool netrange_list_parse(const char *spec, struct netrange **out, size_t *n,
    char *err, size_t errlen);
bool netrange_list_contains(
    const struct netrange *list, size_t n, const struct netaddr *a);

#endif
