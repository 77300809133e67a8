/*
 * The configuration table and loader (config.c): defaults, every type,
 * range and syntax errors with their exact file:line messages, and
 * config_print's output loading back to the same settings.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static char dir[] = "/tmp/flytrap-test-config.XXXXXX";
static char path[sizeof(dir) + 32];
static char err[512];

static int
make_dir(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/flytrap.conf", dir);
	return 0;
}

static int
remove_dir(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void
write_file(const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads content; returns the status, with the message in err. */
static enum config_status
load_text(struct flytrap_config *cfg, const char *content)
{
	write_file(content);
	return config_load(cfg, path, false, err, sizeof(err));
}

/* Loads content, which must fail with st and "<path>:<message>". */
static void
assert_load_error(
    const char *content, enum config_status st, const char *message)
{
	struct flytrap_config cfg;
	char expect[sizeof(path) + 256];

	assert_int_equal(load_text(&cfg, content), st);
	snprintf(expect, sizeof(expect), "%s:%s", path, message);
	assert_string_equal(err, expect);
	/* A failed load leaves nothing to free. */
	assert_null(cfg.global.realm);
	assert_null(cfg.proxyd.listen);
	config_free(&cfg);
}

static void
assert_defaults(const struct flytrap_config *cfg)
{
	assert_string_equal(cfg->global.realm, "");
	assert_string_equal(cfg->global.runtime_dir, "/run/flytrap");
	assert_string_equal(cfg->global.log_level, "info");
	assert_string_equal(cfg->proxyd.listen, "0.0.0.0:1883");
	assert_string_equal(cfg->proxyd.broker, "127.0.0.1:1884");
	assert_string_equal(cfg->proxyd.broker_username, "");
	assert_string_equal(cfg->proxyd.broker_password, "");
	assert_int_equal(cfg->proxyd.connect_timeout_ms, 10000);
	assert_int_equal(cfg->proxyd.auth_timeout_ms, 2000);
	assert_int_equal(cfg->proxyd.max_packet_size, 1048576);
	assert_int_equal(cfg->proxyd.max_sessions, 10000);
	assert_int_equal(cfg->proxyd.buffer_limit, 262144);
	assert_true(cfg->proxyd.forward_username);
	assert_int_equal(cfg->authd.token_skew_s, 30);
	assert_false(cfg->authd.static_tokens);
	assert_int_equal(cfg->authd.replay_cache_size, 1000000);
	assert_int_equal(cfg->authd.challenge_lifetime_s, 30);
	assert_int_equal(cfg->authd.max_pending_challenges, 100000);
}

/* ---- The table ------------------------------------------------------------ */

static void
test_table(void **state)
{
	size_t count = 0;

	(void)state;
	for (const struct config_option *a = config_options; a->name != NULL;
	     a++, count++) {
		assert_non_null(a->section);
		assert_non_null(a->default_value);
		assert_non_null(a->doc);
		assert_true(strlen(a->doc) > 10);
		assert_null(strchr(a->doc, '\n'));
		assert_true(a->offset < sizeof(struct flytrap_config));
		if (a->type == CONFIG_INT) {
			long long def = strtoll(a->default_value, NULL, 10);
			assert_true(a->min <= def && def <= a->max);
		}
		for (const struct config_option *b = a + 1; b->name != NULL;
		     b++) {
			assert_false(strcmp(a->section, b->section) == 0 &&
			    strcmp(a->name, b->name) == 0);
			assert_int_not_equal(a->offset, b->offset);
		}
	}
	assert_int_equal(count, 57);
}

static void
test_defaults(void **state)
{
	struct flytrap_config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_defaults(&cfg);
	config_free(&cfg);
	assert_null(cfg.global.realm);
	config_free(&cfg); /* twice is harmless */

	/* A file with only comments and blank lines changes nothing. */
	assert_int_equal(
	    load_text(&cfg, "# nothing\n; here\n\n[proxyd]\n"), CONFIG_OK);
	assert_string_equal(err, "");
	assert_defaults(&cfg);
	config_free(&cfg);
	assert_int_equal(load_text(&cfg, ""), CONFIG_OK);
	assert_defaults(&cfg);
	config_free(&cfg);
}

static void
test_missing_file(void **state)
{
	struct flytrap_config cfg;
	char missing[sizeof(dir) + 32], expect[sizeof(missing) + 64];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nope.conf", dir);
	assert_int_equal(
	    config_load(&cfg, missing, true, err, sizeof(err)), CONFIG_OK);
	assert_defaults(&cfg);
	config_free(&cfg);
	assert_int_equal(
	    config_load(&cfg, missing, false, err, sizeof(err)), CONFIG_ERR_IO);
	snprintf(
	    expect, sizeof(expect), "%s: No such file or directory", missing);
	assert_string_equal(err, expect);
	config_free(&cfg);
	/* A directory is not "missing", even when that is allowed. */
	assert_int_equal(
	    config_load(&cfg, dir, true, err, sizeof(err)), CONFIG_ERR_IO);
	config_free(&cfg);
}

/* ---- Values ---------------------------------------------------------------- */

static void
test_every_type(void **state)
{
	struct flytrap_config cfg;

	(void)state;
	assert_int_equal(load_text(&cfg,
			     "# FlyTrap\n"
			     "[global]\n"
			     "realm = my-deployment\n"
			     "runtime_dir=/tmp/ft\n"
			     "log_level = debug\n"
			     "\n"
			     "[proxyd]\n"
			     "listen = 0.0.0.0:1883, [::]:1883\n"
			     "broker_password = p#ss;word ; a comment\n"
			     "connect_timeout_ms = 100\n"
			     "max_packet_size = 268435460\n"
			     "forward_username = OFF\n"
			     "  buffer_limit = 4096\n"
			     "[authd]\n"
			     "static_tokens = Yes\n"
			     "token_skew_s : 86400\n"),
	    CONFIG_OK);
	assert_string_equal(cfg.global.realm, "my-deployment");
	assert_string_equal(cfg.global.runtime_dir, "/tmp/ft");
	assert_string_equal(cfg.global.log_level, "debug");
	assert_string_equal(cfg.proxyd.listen, "0.0.0.0:1883, [::]:1883");
	assert_string_equal(cfg.proxyd.broker_password, "p#ss;word");
	assert_string_equal(cfg.proxyd.broker, "127.0.0.1:1884");
	assert_int_equal(cfg.proxyd.connect_timeout_ms, 100);
	assert_int_equal(cfg.proxyd.max_packet_size, 268435460);
	assert_false(cfg.proxyd.forward_username);
	/* Indented: a key of its own, not a continuation of forward_username */
	assert_int_equal(cfg.proxyd.buffer_limit, 4096);
	assert_true(cfg.authd.static_tokens);
	assert_int_equal(cfg.authd.token_skew_s, 86400);
	config_free(&cfg);
}

static void
test_bools(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {{"true", true}, {"TRUE", true}, {"yes", true},
	    {"On", true}, {"1", true}, {"false", false}, {"False", false},
	    {"no", false}, {"OFF", false}, {"0", false}};
	struct flytrap_config cfg;
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[authd]\nstatic_tokens = %s\n",
		    cases[i].text);
		assert_int_equal(load_text(&cfg, text), CONFIG_OK);
		assert_int_equal(cfg.authd.static_tokens, cases[i].value);
		config_free(&cfg);
	}
	static const char *const bad[] = {
	    "", "2", "y", "n", "truee", "enabled", "t", "-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[authd]\nstatic_tokens = %s\n",
		    bad[i]);
		assert_load_error(text, CONFIG_ERR_VALUE,
		    "2: 'static_tokens' must be true or false (or yes/no, "
		    "on/off, 1/0)");
	}
}

static void
test_int_ranges(void **state)
{
	static const char *const bad[] = {"63", "268435461", "-64", "", "0x40",
	    "64k", "+64", "1e3", "6 4", "99999999999999999999999",
	    "-9223372036854775809", "9223372036854775807"};
	struct flytrap_config cfg;
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[proxyd]\nmax_packet_size = %s\n",
		    bad[i]);
		assert_load_error(text, CONFIG_ERR_VALUE,
		    "2: 'max_packet_size' must be an integer between 64 and "
		    "268435460");
	}
	assert_int_equal(
	    load_text(&cfg, "[proxyd]\nmax_packet_size = 64\n"), CONFIG_OK);
	assert_int_equal(cfg.proxyd.max_packet_size, 64);
	config_free(&cfg);
	assert_int_equal(
	    load_text(&cfg, "[proxyd]\nmax_packet_size = 0064\n"), CONFIG_OK);
	assert_int_equal(cfg.proxyd.max_packet_size, 64);
	config_free(&cfg);
	assert_load_error("[authd]\n\nchallenge_lifetime_s = 0\n",
	    CONFIG_ERR_VALUE,
	    "3: 'challenge_lifetime_s' must be an integer between 1 and 3600");
	assert_load_error("[authd]\nreplay_cache_size = 100000001\n",
	    CONFIG_ERR_VALUE,
	    "2: 'replay_cache_size' must be an integer between 1000 and "
	    "100000000");
}

static void
test_log_level(void **state)
{
	struct flytrap_config cfg;
	enum log_level level;

	(void)state;
	assert_int_equal(
	    load_text(&cfg, "[global]\nlog_level = warn\n"), CONFIG_OK);
	assert_true(log_level_parse(cfg.global.log_level, &level));
	assert_int_equal(level, LOG_LEVEL_WARN);
	config_free(&cfg);
	assert_load_error("[global]\nlog_level = verbose\n", CONFIG_ERR_VALUE,
	    "2: 'log_level' must be one of error, warn, info, debug");
}

/* ---- Errors ---------------------------------------------------------------- */

static void
test_unknown(void **state)
{
	(void)state;
	assert_load_error("[proxy]\nlisten = 1.2.3.4:1\n", CONFIG_ERR_UNKNOWN,
	    "1: unknown section [proxy]");
	/* Even an empty one, on its own line. */
	assert_load_error("[proxyd]\nlisten = x\n[chains]\n\n",
	    CONFIG_ERR_UNKNOWN, "3: unknown section [chains]");
	assert_load_error("[ proxyd ]\n", CONFIG_ERR_UNKNOWN,
	    "1: unknown section [ proxyd ]");
	assert_load_error("# c\n[proxyd]\nlisten = x\nlistn = y\n",
	    CONFIG_ERR_UNKNOWN, "4: unknown key 'listn' in [proxyd]");
	/* Keys belong to one section only. */
	assert_load_error("[authd]\nlisten = x\n", CONFIG_ERR_UNKNOWN,
	    "2: unknown key 'listen' in [authd]");
	assert_load_error("[proxyd]\nLISTEN = x\n", CONFIG_ERR_UNKNOWN,
	    "2: unknown key 'LISTEN' in [proxyd]");
	assert_load_error("; top\nrealm = x\n[global]\n", CONFIG_ERR_SYNTAX,
	    "2: key 'realm' outside any section");
}

static void
test_duplicates(void **state)
{
	struct flytrap_config cfg;

	(void)state;
	assert_load_error("[proxyd]\nlisten = a\nbroker = b\nlisten = c\n",
	    CONFIG_ERR_DUPLICATE, "4: key 'listen' given twice");
	/* Also across two [proxyd] blocks. */
	assert_load_error("[proxyd]\nlisten = a\n[authd]\n[proxyd]\nlisten = "
			  "c\n",
	    CONFIG_ERR_DUPLICATE, "5: key 'listen' given twice");
	/* A section may be reopened for other keys. */
	assert_int_equal(load_text(&cfg,
			     "[proxyd]\nlisten = a\n[authd]\n"
			     "[proxyd]\nbroker = b\n"),
	    CONFIG_OK);
	assert_string_equal(cfg.proxyd.listen, "a");
	assert_string_equal(cfg.proxyd.broker, "b");
	config_free(&cfg);
}

static void
test_syntax(void **state)
{
	char text[512];

	(void)state;
	assert_load_error("[proxyd\n", CONFIG_ERR_SYNTAX, "1: syntax error");
	assert_load_error("[proxyd]\n\njust some words\n", CONFIG_ERR_SYNTAX,
	    "3: syntax error");
	/* Only the first error is reported. */
	assert_load_error("[proxyd]\nmax_sessions = 0\nbad line\n[x]\n",
	    CONFIG_ERR_VALUE,
	    "2: 'max_sessions' must be an integer between 1 and 1000000");
	/* Lines inih would split are refused, not cut. */
	memset(text, 0, sizeof(text));
	strcpy(text, "[global]\nrealm = ");
	memset(text + strlen(text), 'r', 300);
	strcat(text, "\n");
	write_file(text);
	struct flytrap_config cfg;
	assert_int_equal(config_load(&cfg, path, false, err, sizeof(err)),
	    CONFIG_ERR_SYNTAX);
	assert_non_null(strstr(err, ":2: line longer than "));
	config_free(&cfg);
}

static void
test_error_buffer(void **state)
{
	struct flytrap_config cfg;
	char small[8];

	(void)state;
	write_file("[x]\n");
	assert_int_equal(config_load(&cfg, path, false, small, sizeof(small)),
	    CONFIG_ERR_UNKNOWN);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(
	    config_load(&cfg, path, false, NULL, 0), CONFIG_ERR_UNKNOWN);
}

/* ---- Printing ---------------------------------------------------------------- */

static void
assert_same_config(
    const struct flytrap_config *a, const struct flytrap_config *b)
{
	for (const struct config_option *opt = config_options;
	     opt->name != NULL; opt++) {
		const char *fa = (const char *)a + opt->offset;
		const char *fb = (const char *)b + opt->offset;
		switch (opt->type) {
		case CONFIG_STRING:
			assert_string_equal(*(char *const *)(const void *)fa,
			    *(char *const *)(const void *)fb);
			break;
		case CONFIG_INT:
			assert_int_equal(*(const long long *)(const void *)fa,
			    *(const long long *)(const void *)fb);
			break;
		case CONFIG_BOOL:
			assert_int_equal(*(const bool *)(const void *)fa,
			    *(const bool *)(const void *)fb);
			break;
		}
	}
}

/* Prints cfg to the test file and loads it back into out. */
static void
print_and_load(const struct flytrap_config *cfg, struct flytrap_config *out)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	if (config_load(out, path, false, err, sizeof(err)) != CONFIG_OK)
		fail_msg("config_print output does not load: %s", err);
}

static void
test_print_round_trip(void **state)
{
	struct flytrap_config cfg, again;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	(void)state;
	config_defaults(&cfg);
	print_and_load(&cfg, &again);
	assert_same_config(&cfg, &again);
	config_free(&again);
	config_free(&cfg);

	assert_int_equal(load_text(&cfg,
			     "[global]\nrealm = 0xabc\nlog_level = error\n"
			     "[proxyd]\nlisten = a:1,b:2\n"
			     "broker_username = user name\n"
			     "broker_password =;starts with a semicolon\n"
			     "max_sessions = 1\nforward_username = no\n"
			     "[authd]\nstatic_tokens = on\n"
			     "max_pending_challenges = 10000000\n"),
	    CONFIG_OK);
	assert_string_equal(
	    cfg.proxyd.broker_password, ";starts with a semicolon");
	print_and_load(&cfg, &again);
	assert_same_config(&cfg, &again);
	config_free(&again);

	/* Every option appears, after its doc line, in its section. */
	mem = open_memstream(&text, &len);
	assert_non_null(mem);
	config_print(&cfg, mem);
	assert_int_equal(fclose(mem), 0);
	assert_non_null(strstr(text, "\n[proxyd]\n"));
	assert_non_null(strstr(text, "\nmax_sessions = 1\n"));
	assert_non_null(strstr(text, "\nforward_username = false\n"));
	assert_non_null(strstr(text, "\nstatic_tokens = true\n"));
	for (const struct config_option *opt = config_options;
	     opt->name != NULL; opt++) {
		char doc[256];
		snprintf(doc, sizeof(doc), "# %s\n%s =", opt->doc, opt->name);
		assert_non_null(strstr(text, doc));
	}
	free(text);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_every_type),
	    cmocka_unit_test(test_bools),
	    cmocka_unit_test(test_int_ranges),
	    cmocka_unit_test(test_log_level),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_error_buffer),
	    cmocka_unit_test(test_print_round_trip),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
