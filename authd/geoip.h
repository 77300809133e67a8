/*
 * The client's country from a MaxMind DB file (libmaxminddb). Both common
 * schemas are read: MaxMind GeoIP2/GeoLite2 (country.iso_code, falling
 * back to registered_country.iso_code) and DB-IP / ip-location-db
 * (country_code).
 */
#ifndef FLYTRAP_GEOIP_H
#define FLYTRAP_GEOIP_H

#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

struct geoip;

/*
 * Opens a database; NULL with a message naming the file and the reason
 * (libmaxminddb's, plus the system's for a file that cannot be read) in
 * err. A file is accepted when libmaxminddb can read its metadata and it
 * names its database_type: whether its records follow either schema only
 * shows at lookup time, where a database with neither answers "unknown".
 */
struct geoip *geoip_open(const char *path, char *err, size_t errlen);
void geoip_close(struct geoip *g);

/*
 * Writes the address's ISO 3166 alpha-2 code (upper case) to cc and
 * returns true; false with cc = "" when the address is not in the
 * database, has no country, or is loopback/private space (never mapped
 * to a country, whatever the file says). The first country field present
 * in the record decides, and only two ASCII letters make a code: "USA" or
 * a number is unknown rather than a reason to try another field. An IPv4
 * address is found in IPv4 and IPv6 databases alike; a lookup the file
 * cannot answer (corrupt tree or record) is unknown and logged.
 */
bool geoip_country(struct geoip *g, const struct netaddr *a, char cc[3]);

/* "DBIP-Country-Lite, built 2026-06-01" for logs and status. */
const char *geoip_describe(const struct geoip *g);

#endif
