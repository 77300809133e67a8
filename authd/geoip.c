/*
 * Country lookups in a MaxMind DB file (see geoip.h). The file is mapped
 * once at open; a lookup walks the search tree and reads at most three
 * fields of one record, allocating nothing.
 */
#include "geoip.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <maxminddb.h>

#include "log.h"

/* "<database_type>, built YYYY-MM-DD": the type is cut to fit. */
#define GEOIP_DESCRIBE_LEN 128

struct geoip {
	MMDB_s mmdb;
	char description[GEOIP_DESCRIBE_LEN];
	/* Lookups the file could not answer (corrupt tree or data). */
	unsigned long lookup_errors;
};

/*
 * Where each schema keeps the country, in the order they are tried. The
 * first field present in a record decides: a present but malformed code
 * makes the address unknown rather than falling through to another field.
 */
static const char *const geoip_country_paths[][3] = {
    {"country", "iso_code", NULL}, /* GeoIP2 / GeoLite2 */
    {"registered_country", "iso_code", NULL}, /* GeoIP2, no country */
    {"country_code", NULL, NULL}, /* DB-IP / ip-location-db */
};

static const uint8_t geoip_v4_mapped_prefix[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct geoip *
geoip_open(const char *path, char *err, size_t errlen)
{
	struct geoip *g;
	struct tm tm;
	time_t built;
	int rc, saved_errno;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	errno = 0;
	rc = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb);
	saved_errno = errno;
	if (rc != MMDB_SUCCESS) {
		/* libmaxminddb's own text for a failed open(2) hides why. */
		if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) &&
		    saved_errno != 0)
			snprintf(err, errlen, "%s: %s (%s)", path,
			    MMDB_strerror(rc), strerror(saved_errno));
		else
			snprintf(
			    err, errlen, "%s: %s", path, MMDB_strerror(rc));
		free(g);
		return NULL;
	}
	/*
	 * Metadata cannot tell whether records follow either schema; a
	 * database with neither simply answers "unknown" for every address.
	 * A nameless database type is as far as a sanity check can go.
	 */
	if (g->mmdb.metadata.database_type == NULL ||
	    g->mmdb.metadata.database_type[0] == '\0') {
		snprintf(err, errlen, "%s: MaxMind DB without a database_type",
		    path);
		MMDB_close(&g->mmdb);
		free(g);
		return NULL;
	}
	built = (time_t)g->mmdb.metadata.build_epoch;
	if (gmtime_r(&built, &tm) != NULL)
		snprintf(g->description, sizeof(g->description),
		    "%.80s, built %04d-%02d-%02d",
		    g->mmdb.metadata.database_type, tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday);
	else
		snprintf(g->description, sizeof(g->description),
		    "%.80s, built at an unknown date",
		    g->mmdb.metadata.database_type);
	return g;
}

void
geoip_close(struct geoip *g)
{
	if (g == NULL)
		return;
	MMDB_close(&g->mmdb);
	free(g);
}

const char *
geoip_describe(const struct geoip *g)
{
	return g->description;
}

/* Logs the first lookup error of a database and every 1000th after it. */
static void
geoip_lookup_failed(struct geoip *g, const char *what, int rc)
{
	if (g->lookup_errors++ % 1000 == 0)
		log_warn("geoip: %s: %s: %s (lookup error #%lu)",
		    g->mmdb.filename, what, MMDB_strerror(rc),
		    g->lookup_errors);
}

/*
 * True with cc set when the utf8 string in data is a two-letter code;
 * letters are upper-cased ("de" is "DE"), anything else is refused.
 */
static bool
geoip_code_from_entry(const MMDB_entry_data_s *data, char cc[3])
{
	char code[3];

	if (data->type != MMDB_DATA_TYPE_UTF8_STRING || data->data_size != 2)
		return false;
	for (size_t i = 0; i < 2; i++) {
		char c = data->utf8_string[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return false;
		code[i] = c;
	}
	code[2] = '\0';
	memcpy(cc, code, sizeof(code));
	return true;
}

bool
geoip_country(struct geoip *g, const struct netaddr *a, char cc[3])
{
	struct netaddr addr = *a;
	struct sockaddr_storage ss;
	MMDB_lookup_result_s found;
	MMDB_entry_data_s data;
	size_t i;
	int rc;

	cc[0] = '\0';
	/* netaddr_parse already folds ::ffff:a.b.c.d; a hand-built one may
	 * not, and the special-space check below must see the IPv4 form. */
	if (addr.family == AF_INET6 &&
	    memcmp(addr.bytes, geoip_v4_mapped_prefix,
		sizeof(geoip_v4_mapped_prefix)) == 0) {
		addr.family = AF_INET;
		memmove(addr.bytes, addr.bytes + 12, 4);
		memset(addr.bytes + 4, 0, sizeof(addr.bytes) - 4);
	}
	if (addr.family != AF_INET && addr.family != AF_INET6)
		return false;
	if (netaddr_is_special(&addr))
		return false;

	memset(&ss, 0, sizeof(ss));
	if (addr.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, addr.bytes, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, addr.bytes, 16);
	}
	/* An AF_INET address in an IPv6 database is looked up under ::/96,
	 * where MaxMind DB files keep the IPv4 space. */
	found = MMDB_lookup_sockaddr(&g->mmdb, (struct sockaddr *)&ss, &rc);
	if (rc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return false; /* an IPv4-only file knows no IPv6 address */
	if (rc != MMDB_SUCCESS) {
		geoip_lookup_failed(g, "search tree", rc);
		return false;
	}
	if (!found.found_entry)
		return false;

	for (i = 0;
	     i < sizeof(geoip_country_paths) / sizeof(geoip_country_paths[0]);
	     i++) {
		rc = MMDB_aget_value(
		    &found.entry, &data, geoip_country_paths[i]);
		/* A record of another shape (e.g. "country" is not a map)
		 * simply lacks this field. */
		if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
			continue;
		if (rc != MMDB_SUCCESS) {
			geoip_lookup_failed(g, "record", rc);
			return false;
		}
		if (!data.has_data)
			continue;
		return geoip_code_from_entry(&data, cc);
	}
	return false;
}
