/*
 * The JSON-RPC client (rpc.c, rpc_easy.c, rpc_client.c): the envelope and
 * hex readers on their own, then real calls to a real anvil node and to
 * tests/tools/rpc-badserver.py, a node that misbehaves on request. Every
 * test runs under a hard timeout that fails it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_loop.h"

#include "hex.h"
#include "keccak.h"
#include "log.h"
#include "rpc.h"
#include "test_root.h"

/* Per test: the loop's timer fails the test, SIGALRM ends the binary. */
#define TEST_TIMEOUT 30.0
#define TEST_ALARM 60
/* How long anvil and the bad server may take to come up. */
#define START_TIMEOUT 30.0

#define ANVIL_CHAIN_ID 31337
#define ANVIL_ACCOUNT0 "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
/* 10000 ether in wei, anvil's default balance. */
#define ANVIL_BALANCE_HEX "0x21e19e0c9bab2400000"

#define BIG_BODY (50 * 1024 * 1024)

/* ---- Fixture: a loop, a hard timeout, child processes ------------------- */

struct fixture {
	struct ev_loop *loop;
	ev_timer hard_timeout;
	struct rpc_client *client; /* freed by teardown */
	struct rpc_client *client2;
};

static struct fixture F;

/* Children in their own process groups; killed on any exit. */
static volatile pid_t anvil_pid;
static volatile pid_t bad_pid;
static int anvil_port;
static int bad_port;
static char anvil_url[64];
static char bad_url[64];
static char repo_root[PATH_MAX];

static void
kill_children_now(void)
{
	if (anvil_pid > 0)
		kill(-anvil_pid, SIGKILL);
	if (bad_pid > 0)
		kill(-bad_pid, SIGKILL);
}

static void
alarm_handler(int sig)
{
	static const char msg[] = "test_rpc: hard timeout, aborting\n";

	(void)sig;
	kill_children_now();
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static void
hard_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	fail_msg("test did not finish within %.0f s", TEST_TIMEOUT);
}

static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	alarm(TEST_ALARM);
	if ((F.loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		return -1;
	ev_timer_init(&F.hard_timeout, hard_timeout_cb, TEST_TIMEOUT, 0.);
	ev_timer_start(F.loop, &F.hard_timeout);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rpc_client_free(F.client);
	rpc_client_free(F.client2);
	ev_timer_stop(F.loop, &F.hard_timeout);
	ev_loop_destroy(F.loop);
	alarm(0);
	return 0;
}

#define RUN_UNTIL(cond) TEST_RUN_UNTIL(F.loop, cond)

static void
run_for(double seconds)
{
	test_run_for(F.loop, seconds);
}

/* ---- Child processes ---------------------------------------------------- */

static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/*
 * Starts argv in its own process group that dies with us; its stdout goes
 * to *out_fd (a pipe) if out_fd is not NULL, else to /dev/null.
 */
static pid_t
spawn(char *const argv[], int *out_fd)
{
	int pfd[2] = {-1, -1}, nul;
	pid_t pid;

	if (out_fd != NULL && pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((nul = open("/dev/null", O_RDWR)) < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(out_fd != NULL ? pfd[1] : nul, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	if (out_fd != NULL) {
		close(pfd[1]);
		*out_fd = pfd[0];
	}
	return pid;
}

static void
reap(volatile pid_t *pid)
{
	if (*pid > 0) {
		kill(-*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

/* Starts anvil on anvil_port and waits (bounded) until it answers. */
static bool
anvil_start(void)
{
	char bin[PATH_MAX + 64], port[16];
	char *argv[] = {
	    bin, "--silent", "--host", "127.0.0.1", "--port", port, NULL};
	struct rpc_options o = {.timeout_ms = 500};
	double deadline = test_now_mono() + START_TIMEOUT;
	json_t *res;

	snprintf(bin, sizeof(bin), "%s/node_modules/.bin/anvil", repo_root);
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "anvil not found at %s\n", bin);
		return false;
	}
	snprintf(port, sizeof(port), "%d", anvil_port);
	if ((anvil_pid = spawn(argv, NULL)) < 0)
		return false;
	while (test_now_mono() < deadline) {
		if (waitpid(anvil_pid, NULL, WNOHANG) == anvil_pid) {
			fprintf(stderr, "anvil exited at start\n");
			anvil_pid = 0;
			return false;
		}
		if (rpc_call_sync(anvil_url, &o, "eth_chainId", NULL, &res,
			NULL) == RPC_OK) {
			json_decref(res);
			return true;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "anvil did not answer within %.0f s\n", START_TIMEOUT);
	reap(&anvil_pid);
	return false;
}

/* A test's setup when it needs anvil: started once, kept for the rest. */
static int
setup_anvil(void **state)
{
	if (setup(state) != 0)
		return -1;
	if (anvil_pid > 0)
		return 0;
	if (anvil_port == 0) {
		test_find_repo_root(
		    "node_modules/.bin/anvil", repo_root, sizeof(repo_root));
		if ((anvil_port = free_port()) < 0) {
			teardown(state);
			return -1;
		}
		snprintf(anvil_url, sizeof(anvil_url), "http://127.0.0.1:%d/",
		    anvil_port);
	}
	if (!anvil_start()) {
		teardown(state);
		return -1;
	}
	return 0;
}

/* A test's setup when it needs the bad server. */
static int
setup_bad(void **state)
{
	char script[PATH_MAX + 64], line[32];
	char *argv[] = {"/usr/bin/python3", script, NULL};
	struct pollfd pfd;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (setup(state) != 0)
		return -1;
	if (bad_pid > 0)
		return 0;
	test_find_repo_root(
	    "tests/tools/rpc-badserver.py", repo_root, sizeof(repo_root));
	snprintf(script, sizeof(script), "%s/tests/tools/rpc-badserver.py",
	    repo_root);
	if ((bad_pid = spawn(argv, &fd)) < 0) {
		teardown(state);
		return -1;
	}
	/* It prints its port once it listens. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
		if (poll(&pfd, 1, (int)(START_TIMEOUT * 1000)) != 1 ||
		    (n = read(fd, line + got, sizeof(line) - 1 - got)) <= 0) {
			fprintf(stderr, "rpc-badserver.py did not start\n");
			close(fd);
			reap(&bad_pid);
			teardown(state);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	line[got] = '\0';
	bad_port = atoi(line);
	snprintf(bad_url, sizeof(bad_url), "http://127.0.0.1:%d/", bad_port);
	if (bad_port <= 0) {
		reap(&bad_pid);
		teardown(state);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	reap(&anvil_pid);
	reap(&bad_pid);
	return 0;
}

/* ---- Calls -------------------------------------------------------------- */

/* What one callback got (with its own references). */
struct outcome {
	int calls;
	double at; /* when the callback ran */
	enum rpc_status st;
	json_t *result;
	struct rpc_error err;
};

static void
outcome_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct outcome *o = arg;

	o->calls++;
	o->at = test_now_mono();
	o->st = st;
	/* The contract: result exactly on success, err exactly on failure. */
	assert_true((st == RPC_OK) == (result != NULL));
	assert_true((st == RPC_OK) == (err == NULL));
	o->result = result != NULL ? json_incref(result) : NULL;
	if (err != NULL) {
		o->err = *err;
		if (err->data != NULL)
			json_incref(err->data);
	}
}

static void
outcome_clear(struct outcome *o)
{
	json_decref(o->result);
	rpc_error_clear(&o->err);
	memset(o, 0, sizeof(*o));
}

/* One call through c; runs the loop until its callback ran. */
static enum rpc_status
call_wait(
    struct rpc_client *c, const char *method, json_t *params, struct outcome *o)
{
	uint64_t id = 0;

	memset(o, 0, sizeof(*o));
	assert_int_equal(
	    rpc_call(c, method, params, outcome_cb, o, &id), RPC_OK);
	assert_true(id != 0);
	assert_int_equal(o->calls, 0); /* never from inside rpc_call */
	RUN_UNTIL(o->calls > 0);
	assert_int_equal(o->calls, 1);
	return o->st;
}

static struct rpc_client *
client_new(const char *url, const struct rpc_options *o)
{
	struct rpc_client *c = rpc_client_new(F.loop, url, o);

	assert_non_null(c);
	return c;
}

static uint64_t
result_u64(json_t *v)
{
	uint64_t x = 0;

	assert_true(rpc_result_u64(v, &x));
	return x;
}

/* True if s is valid UTF-8 without control characters. */
static bool
clean_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		int extra;

		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p < 0x80)
			extra = 0;
		else if ((*p & 0xe0) == 0xc0)
			extra = 1;
		else if ((*p & 0xf0) == 0xe0)
			extra = 2;
		else if ((*p & 0xf8) == 0xf0)
			extra = 3;
		else
			return false;
		p++;
		for (int i = 0; i < extra; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* ---- Hex readers -------------------------------------------------------- */

static void
test_hex_u64(void **state)
{
	static const struct {
		uint64_t v;
		const char *text;
	} cases[] = {
	    {0, "0x0"},
	    {1, "0x1"},
	    {0xf, "0xf"},
	    {0x10, "0x10"},
	    {31337, "0x7a69"},
	    {0x8000000000000000ull, "0x8000000000000000"},
	    {UINT64_MAX, "0xffffffffffffffff"},
	};
	char buf[RPC_HEX_U64_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *s;
		uint64_t back = 1;

		assert_ptr_equal(rpc_hex_u64(cases[i].v, buf), buf);
		assert_string_equal(buf, cases[i].text);
		/* Round trip through the reader. */
		s = json_string(buf);
		assert_true(rpc_result_u64(s, &back));
		assert_true(back == cases[i].v);
		json_decref(s);
	}
}

static void
test_result_u64(void **state)
{
	static const struct {
		const char *text;
		bool ok;
		uint64_t v;
	} cases[] = {
	    {"0x0", true, 0},
	    {"0x1", true, 1},
	    {"0x7a69", true, 31337},
	    {"0x7A69", true, 31337},
	    {"0xffffffffffffffff", true, UINT64_MAX},
	    {"0x10000000000000000", false, 0}, /* 65 bits */
	    {"0x0ffffffffffffffff", false, 0}, /* leading zero */
	    {"0x00", false, 0},
	    {"0x01", false, 0},
	    {"0x", false, 0},
	    {"0", false, 0},
	    {"", false, 0},
	    {"7a69", false, 0},
	    {"0X7a69", false, 0},
	    {"0x7g", false, 0},
	    {"0x-1", false, 0},
	    {"-0x1", false, 0},
	    {" 0x1", false, 0},
	    {"0x1 ", false, 0},
	    {"0x+1", false, 0},
	};
	json_t *v;
	uint64_t x;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		x = 0xabad1dea;
		v = json_string(cases[i].text);
		assert_non_null(v);
		if (rpc_result_u64(v, &x) != cases[i].ok)
			fail_msg("rpc_result_u64(\"%s\") should be %s",
			    cases[i].text,
			    cases[i].ok ? "accepted" : "refused");
		assert_true(x == (cases[i].ok ? cases[i].v : 0xabad1dea));
		json_decref(v);
	}
	/* Not strings, and a string with a NUL inside. */
	x = 7;
	v = json_integer(5);
	assert_false(rpc_result_u64(v, &x));
	json_decref(v);
	v = json_null();
	assert_false(rpc_result_u64(v, &x));
	json_decref(v);
	assert_false(rpc_result_u64(NULL, &x));
	v = json_stringn("0x1\0"
			 "2",
	    5);
	assert_false(rpc_result_u64(v, &x));
	json_decref(v);
	v = json_pack("[s]", "0x1");
	assert_false(rpc_result_u64(v, &x));
	json_decref(v);
	assert_true(x == 7);
}

static void
test_result_u256(void **state)
{
	uint8_t out[32], want[32];
	char text[80];
	json_t *v;

	(void)state;
	/* anvil's default balance: 10000 ether = 0x21e19e0c9bab2400000. */
	v = json_string(ANVIL_BALANCE_HEX);
	assert_true(rpc_result_u256(v, out));
	memset(want, 0, sizeof(want));
	assert_true(
	    hex_decode_exact("021e19e0c9bab2400000", 20, want + 22, 10));
	assert_memory_equal(out, want, 32);
	json_decref(v);

	v = json_string("0x0");
	memset(out, 0xaa, sizeof(out));
	assert_true(rpc_result_u256(v, out));
	memset(want, 0, sizeof(want));
	assert_memory_equal(out, want, 32);
	json_decref(v);

	v = json_string("0x123");
	assert_true(rpc_result_u256(v, out));
	want[30] = 0x01;
	want[31] = 0x23;
	assert_memory_equal(out, want, 32);
	json_decref(v);

	/* 64 digits is the most; 65 and a leading zero are refused. */
	memset(text, 'f', sizeof(text));
	memcpy(text, "0x", 2);
	text[66] = '\0';
	v = json_string(text);
	assert_true(rpc_result_u256(v, out));
	memset(want, 0xff, sizeof(want));
	assert_memory_equal(out, want, 32);
	json_decref(v);
	text[66] = 'f';
	text[67] = '\0';
	v = json_string(text);
	memset(out, 0x55, sizeof(out));
	assert_false(rpc_result_u256(v, out));
	json_decref(v);
	v = json_string("0x01");
	assert_false(rpc_result_u256(v, out));
	json_decref(v);
	v = json_string("0xz");
	assert_false(rpc_result_u256(v, out));
	json_decref(v);
	v = json_real(1.0);
	assert_false(rpc_result_u256(v, out));
	json_decref(v);
	memset(want, 0x55, sizeof(want));
	assert_memory_equal(out, want, 32); /* untouched on failure */
}

static void
test_result_bytes(void **state)
{
	static const struct {
		const char *text;
		size_t max;
		bool ok;
		const char *hex; /* the bytes, without 0x */
	} cases[] = {
	    {"0x", 0, true, ""},
	    {"0x", 10, true, ""},
	    {"0xdeadbeef", 4, true, "deadbeef"},
	    {"0xDEADbeef", 100, true, "deadbeef"},
	    {"0x00", 1, true, "00"},
	    {"0xdeadbeef", 3, false, NULL}, /* over max_len */
	    {"0xabc", 10, false, NULL}, /* odd */
	    {"0xzz", 10, false, NULL},
	    {"0x0x12", 10, false, NULL},
	    {"deadbeef", 10, false, NULL},
	    {"0Xdeadbeef", 10, false, NULL},
	    {"0", 10, false, NULL},
	    {"", 10, false, NULL},
	    {"0x12 ", 10, false, NULL},
	};
	uint8_t *data, want[16];
	size_t len;
	json_t *v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		data = (uint8_t *)"untouched";
		len = 999;
		v = json_string(cases[i].text);
		if (rpc_result_bytes(v, cases[i].max, &data, &len) !=
		    cases[i].ok)
			fail_msg("rpc_result_bytes(\"%s\", %zu) should be %s",
			    cases[i].text, cases[i].max,
			    cases[i].ok ? "accepted" : "refused");
		if (cases[i].ok) {
			size_t n = strlen(cases[i].hex) / 2;

			assert_non_null(data);
			assert_int_equal(len, n);
			assert_true(
			    hex_decode_exact(cases[i].hex, 2 * n, want, n));
			assert_memory_equal(data, want, n);
			free(data);
		} else {
			assert_string_equal((char *)data, "untouched");
			assert_int_equal(len, 999);
		}
		json_decref(v);
	}
	v = json_stringn("0x12\0"
			 "0",
	    6);
	assert_false(rpc_result_bytes(v, 10, &data, &len));
	json_decref(v);
	v = json_integer(0x12);
	assert_false(rpc_result_bytes(v, 10, &data, &len));
	json_decref(v);
	assert_false(rpc_result_bytes(NULL, 10, &data, &len));
}

/* ---- Envelope ----------------------------------------------------------- */

static void
test_request_encode(void **state)
{
	json_t *params, *back;
	json_error_t jerr;
	char *s;

	(void)state;
	s = rpc_request_encode(7, "eth_chainId", NULL);
	assert_string_equal(s,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"eth_chainId\","
	    "\"params\":[]}");
	free(s);
	params = json_pack("[s,s]", ANVIL_ACCOUNT0, "latest");
	s = rpc_request_encode(UINT64_C(1) << 40, "eth_getBalance", params);
	assert_string_equal(s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1099511627776,\"method\":"
	    "\"eth_getBalance\",\"params\":[\"" ANVIL_ACCOUNT0
	    "\",\"latest\"]}");
	free(s);
	assert_int_equal(params->refcount, 1); /* borrowed, not stolen */
	json_decref(params);
	/* A method with quotes is escaped, not spliced. */
	s = rpc_request_encode(1, "a\",\"id\":2,\"x\":\"", NULL);
	back = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "id")), 1);
	json_decref(back);
	free(s);
}

/* Mosquitto-style: body, id, expected status (and nothing must leak). */
static void
parse_expect(const char *body, uint64_t id, unsigned depth,
    enum rpc_status want, const char *what)
{
	struct rpc_error err;
	json_t *result = (json_t *)1;
	enum rpc_status st;

	st = rpc_response_parse(body, strlen(body), id, depth, &result, &err);
	if (st != want)
		fail_msg("%s: got %s, want %s (%s)", what, rpc_status_str(st),
		    rpc_status_str(want), err.message);
	if (st == RPC_OK) {
		assert_non_null(result);
	} else {
		assert_null(result);
		assert_true(err.message[0] != '\0');
	}
	json_decref(result);
	rpc_error_clear(&err);
}

static void
test_response_parse_table(void **state)
{
	static const struct {
		const char *body;
		enum rpc_status want;
		const char *what;
	} cases[] = {
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"0x1\"}", RPC_OK,
		"plain result"},
	    {"{\"id\":5,\"result\":null,\"jsonrpc\":\"2.0\"}", RPC_OK,
		"null result, any member order"},
	    {" \n{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":[],\"extra\":1}\n ",
		RPC_OK, "white space, unknown member ignored"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32601,"
	     "\"message\":\"Method not found\"}}",
		RPC_ERR_JSONRPC, "error object"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
	     "\"message\":\"Parse error\"}}",
		RPC_ERR_JSONRPC, "error with null id"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":1}",
		RPC_ERR_ID_MISMATCH, "result with null id"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":1}", RPC_ERR_ID_MISMATCH,
		"another id"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":\"5\",\"result\":1}",
		RPC_ERR_ID_MISMATCH, "string id"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5.0,\"result\":1}",
		RPC_ERR_ID_MISMATCH, "real id"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":-5,\"result\":1}",
		RPC_ERR_ID_MISMATCH, "negative id"},
	    {"{\"jsonrpc\":\"2.0\",\"result\":1}", RPC_ERR_ID_MISMATCH,
		"no id"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":{\"code\":1,"
	     "\"message\":\"m\"}}",
		RPC_ERR_ID_MISMATCH, "error for another id"},
	    {"{\"jsonrpc\":\"1.0\",\"id\":5,\"result\":1}",
		RPC_ERR_BAD_RESPONSE, "version 1.0"},
	    {"{\"jsonrpc\":2.0,\"id\":5,\"result\":1}", RPC_ERR_BAD_RESPONSE,
		"version as a number"},
	    {"{\"id\":5,\"result\":1}", RPC_ERR_BAD_RESPONSE, "no version"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5}", RPC_ERR_BAD_RESPONSE,
		"neither result nor error"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":1,\"error\":{\"code\":"
	     "1,\"message\":\"m\"}}",
		RPC_ERR_BAD_RESPONSE, "both result and error"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":\"oops\"}",
		RPC_ERR_BAD_RESPONSE, "error not an object"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":null}",
		RPC_ERR_BAD_RESPONSE, "error null"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":\"1\","
	     "\"message\":\"m\"}}",
		RPC_ERR_BAD_RESPONSE, "error code a string"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1.5,"
	     "\"message\":\"m\"}}",
		RPC_ERR_BAD_RESPONSE, "error code a real"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1}}",
		RPC_ERR_BAD_RESPONSE, "error without message"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"message\":\"m\"}}",
		RPC_ERR_BAD_RESPONSE, "error without code"},
	    {"[{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":1}]",
		RPC_ERR_BAD_RESPONSE, "batch array"},
	    {"\"0x1\"", RPC_ERR_BAD_RESPONSE, "bare string"},
	    {"null", RPC_ERR_BAD_RESPONSE, "bare null"},
	    {"", RPC_ERR_BAD_JSON, "empty"},
	    {"   ", RPC_ERR_BAD_JSON, "white space only"},
	    {"this is not JSON", RPC_ERR_BAD_JSON, "garbage"},
	    {"<html>502 Bad Gateway</html>", RPC_ERR_BAD_JSON, "HTML"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"0x1", RPC_ERR_BAD_JSON,
		"truncated"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":1} {}", RPC_ERR_BAD_JSON,
		"trailing value"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":1,\"result\":2}",
		RPC_ERR_BAD_JSON, "duplicate key"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"a\\u0000b\"}",
		RPC_ERR_BAD_JSON, "NUL in a string"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"\xff\xfe\"}",
		RPC_ERR_BAD_JSON, "invalid UTF-8"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999,"
	     "\"result\":1}",
		RPC_ERR_BAD_JSON, "integer overflow"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"[[[[[[[[[[\"}", RPC_OK,
		"brackets inside a string do not count"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"\\\"[[[[[[[[[\"}",
		RPC_OK, "escaped quote keeps the string open"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":[[[[[[[[[[]]]]]]]]]]}",
		RPC_ERR_TOO_DEEP, "11 levels"},
	    {"[[[[[[[[[[[[[[[[[[[[[[[[", RPC_ERR_TOO_DEEP,
		"deep and unterminated"},
	    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":[[[[[[[[[]]]]]]]]]}",
		RPC_OK, "10 levels"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_expect(
		    cases[i].body, 5, 10, cases[i].want, cases[i].what);
}

static void
test_response_parse_error_details(void **state)
{
	const char *body =
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":3,\"message\":"
	    "\"execution reverted\",\"data\":\"0xdeadbeef\"}}";
	struct rpc_error err;
	json_t *result;
	char *long_body;
	size_t len;

	(void)state;
	assert_int_equal(
	    rpc_response_parse(body, strlen(body), 3, 64, &result, &err),
	    RPC_ERR_JSONRPC);
	assert_int_equal(err.code, 3);
	assert_string_equal(err.message, "execution reverted");
	assert_string_equal(json_string_value(err.data), "0xdeadbeef");
	rpc_error_clear(&err);
	assert_null(err.data);

	/* The code keeps its 64 bits; err may be NULL. */
	body = "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":"
	       "-9223372036854775808,\"message\":\"\"}}";
	assert_int_equal(
	    rpc_response_parse(body, strlen(body), 3, 64, &result, &err),
	    RPC_ERR_JSONRPC);
	assert_true(err.code == INT64_MIN);
	assert_null(err.data);
	rpc_error_clear(&err);
	assert_int_equal(
	    rpc_response_parse(body, strlen(body), 3, 64, &result, NULL),
	    RPC_ERR_JSONRPC);

	/* Control characters replaced; cut on a character boundary. */
	len = 64 + 300 * 2;
	long_body = malloc(len + 64);
	assert_non_null(long_body);
	strcpy(long_body,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":1,"
	    "\"message\":\"a\\nb\\u001bc");
	for (int i = 0; i < 300; i++)
		strcat(long_body, "\xc3\xa9");
	strcat(long_body, "\"}}");
	assert_int_equal(rpc_response_parse(long_body, strlen(long_body), 3, 64,
			     &result, &err),
	    RPC_ERR_JSONRPC);
	assert_true(strncmp(err.message, "a?b?c\xc3\xa9", 7) == 0);
	assert_true(strlen(err.message) <= RPC_ERROR_MESSAGE_SIZE - 1);
	assert_true(strlen(err.message) >= RPC_ERROR_MESSAGE_SIZE - 3);
	assert_true(clean_utf8(err.message));
	rpc_error_clear(&err);
	free(long_body);
}

static void
test_response_parse_depth(void **state)
{
	char *body;
	size_t cap = 200 + 2 * 3000;

	(void)state;
	body = malloc(cap);
	assert_non_null(body);
	/* The envelope is level 1: a result of depth d makes d + 1. */
	for (unsigned d = 60; d <= 70; d++) {
		char *p = body;

		p += sprintf(p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
		memset(p, '[', d);
		memset(p + d, ']', d);
		p += 2 * d;
		strcpy(p, "}");
		parse_expect(body, 1, RPC_DEFAULT_MAX_DEPTH,
		    d + 1 <= RPC_DEFAULT_MAX_DEPTH ? RPC_OK : RPC_ERR_TOO_DEEP,
		    "depth boundary");
	}
	/* Beyond jansson's own limit, the pre-scan still answers first. */
	memset(body, '{', 3000);
	body[3000] = '\0';
	parse_expect(body, 1, RPC_MAX_DEPTH_LIMIT, RPC_ERR_TOO_DEEP, "3000 {");
	free(body);
}

/*
 * Mutations of valid responses, and random bytes: any outcome but a crash
 * (run under ASan/valgrind to catch worse), and the contract holds.
 */
static void
test_response_parse_fuzz(void **state)
{
	static const char *seeds[] = {
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":3,\"message\":"
	    "\"execution reverted\",\"data\":\"0x08c379a0\"}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":[1,2.5,true,null,"
	    "\"\\u00e9\\\"\"],\"b\":{}}}",
	};
	static const char alphabet[] = "{}[]\":,\\0123456789xabcdefnulltr \n";
	char buf[256];
	unsigned seed = 12345;

	(void)state;
	for (int iter = 0; iter < 30000; iter++) {
		const char *s = seeds[iter % 3];
		size_t len = strlen(s);
		struct rpc_error err;
		json_t *result;
		enum rpc_status st;
		int edits = 1 + (int)(rand_r(&seed) % 4);

		memcpy(buf, s, len);
		if (iter % 10 == 9) {
			len = (size_t)(rand_r(&seed) % sizeof(buf));
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)rand_r(&seed);
		} else {
			for (int e = 0; e < edits; e++) {
				size_t at = (size_t)rand_r(&seed) % len;

				switch (rand_r(&seed) % 3) {
				case 0:
					buf[at] = alphabet[rand_r(&seed) %
					    (sizeof(alphabet) - 1)];
					break;
				case 1:
					buf[at] = (char)rand_r(&seed);
					break;
				default:
					len = at; /* truncate */
					break;
				}
				if (len == 0)
					break;
			}
		}
		st = rpc_response_parse(buf, len, 1, 8, &result, &err);
		switch (st) {
		case RPC_OK:
		case RPC_ERR_BAD_JSON:
		case RPC_ERR_TOO_DEEP:
		case RPC_ERR_BAD_RESPONSE:
		case RPC_ERR_ID_MISMATCH:
		case RPC_ERR_JSONRPC:
			break;
		default:
			fail_msg("parse returned %s", rpc_status_str(st));
		}
		assert_true((st == RPC_OK) == (result != NULL));
		json_decref(result);
		rpc_error_clear(&err);
	}
}

static void
test_status_strings(void **state)
{
	(void)state;
	for (int st = RPC_OK; st <= RPC_ERR_NOMEM; st++) {
		const char *s = rpc_status_str((enum rpc_status)st);

		assert_non_null(s);
		assert_string_not_equal(s, "unknown status");
		for (int other = RPC_OK; other < st; other++)
			assert_string_not_equal(
			    s, rpc_status_str((enum rpc_status)other));
	}
	assert_string_equal(
	    rpc_status_str((enum rpc_status)99), "unknown status");
}

/* ---- Arguments and limits (no node needed) ------------------------------ */

static void
never_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	(void)arg;
	(void)result;
	(void)err;
	fail_msg("callback ran (%s) for a refused or dropped call",
	    rpc_status_str(st));
}

static void
test_invalid_arguments(void **state)
{
	struct rpc_options o = {0};
	char url[64], method[300];
	struct rpc_client_stats stats;
	struct rpc_error err;
	json_t *res;
	uint64_t id = 0;

	(void)state;
	assert_null(rpc_client_new(F.loop, NULL, NULL));
	assert_null(rpc_client_new(F.loop, "ftp://127.0.0.1/", NULL));
	assert_null(rpc_client_new(F.loop, "file:///etc/passwd", NULL));
	assert_null(rpc_client_new(F.loop, "127.0.0.1:8545", NULL));
	assert_null(rpc_client_new(F.loop, "http://a b/", NULL));
	assert_null(rpc_client_new(F.loop, "http://a\r\nX: y/", NULL));
	o.max_depth = RPC_MAX_DEPTH_LIMIT + 1;
	assert_null(rpc_client_new(F.loop, "http://127.0.0.1/", &o));
	o.max_depth = 0;
	o.max_response_bytes = (size_t)2 << 30;
	assert_null(rpc_client_new(F.loop, "http://127.0.0.1/", &o));
	assert_int_equal(
	    rpc_call_sync("gopher://x/", NULL, "eth_chainId", NULL, &res, &err),
	    RPC_ERR_INVALID);
	assert_null(res);
	assert_int_equal(rpc_call_sync("http://127.0.0.1/", NULL, "",
			     json_array(), &res, NULL),
	    RPC_ERR_INVALID);

	/* Nothing listens there: calls are refused or dropped, no callback. */
	snprintf(url, sizeof(url), "HTTP://127.0.0.1:%d/", free_port());
	o = (struct rpc_options){.max_in_flight = 1, .max_queued = 2};
	F.client = client_new(url, &o);
	assert_int_equal(
	    rpc_call(F.client, "eth_chainId", NULL, NULL, NULL, &id),
	    RPC_ERR_INVALID);
	assert_int_equal(
	    rpc_call(F.client, "", NULL, never_cb, NULL, &id), RPC_ERR_INVALID);
	assert_int_equal(rpc_call(F.client, NULL, NULL, never_cb, NULL, &id),
	    RPC_ERR_INVALID);
	memset(method, 'm', sizeof(method) - 1);
	method[sizeof(method) - 1] = '\0';
	assert_int_equal(rpc_call(F.client, method, NULL, never_cb, NULL, &id),
	    RPC_ERR_INVALID);
	assert_int_equal(rpc_call(F.client, "eth_chainId", json_string("x"),
			     never_cb, NULL, &id),
	    RPC_ERR_INVALID);
	assert_int_equal(rpc_call(F.client, "eth_chainId", json_integer(1),
			     never_cb, NULL, &id),
	    RPC_ERR_INVALID);
	assert_true(id == 0);
	/* One running, two queued, then full. */
	assert_int_equal(
	    rpc_call(F.client, "eth_chainId", NULL, never_cb, NULL, &id),
	    RPC_OK);
	assert_true(id == 1);
	assert_int_equal(rpc_call(F.client, "eth_chainId", json_object(),
			     never_cb, NULL, &id),
	    RPC_OK);
	assert_int_equal(
	    rpc_call(F.client, "eth_chainId", NULL, never_cb, NULL, NULL),
	    RPC_OK);
	assert_int_equal(
	    rpc_call(F.client, "eth_chainId", NULL, never_cb, NULL, &id),
	    RPC_ERR_BUSY);
	rpc_client_get_stats(F.client, &stats);
	assert_int_equal(stats.calls, 3);
	assert_int_equal(stats.in_flight, 1);
	assert_int_equal(stats.queued, 2);
	assert_false(rpc_cancel(F.client, 4));
	assert_false(rpc_cancel(F.client, 0));
	/* Freed with calls pending: none of their callbacks runs. */
	rpc_client_free(F.client);
	F.client = NULL;
	run_for(0.2);
	rpc_client_free(NULL);
}

static void
test_transport_errors(void **state)
{
	struct rpc_options o = {.timeout_ms = 5000};
	struct outcome out;
	struct rpc_error err;
	char url[64];
	json_t *res;
	double t0;

	(void)state;
	/* Connection refused: fails at once, not at the deadline. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", free_port());
	F.client = client_new(url, &o);
	t0 = test_now_mono();
	assert_int_equal(
	    call_wait(F.client, "eth_chainId", NULL, &out), RPC_ERR_TRANSPORT);
	assert_true(test_now_mono() - t0 < 2.0);
	assert_true(out.err.message[0] != '\0');
	assert_int_equal(out.err.http_status, 0);
	outcome_clear(&out);
	assert_int_equal(
	    rpc_call_sync(url, &o, "eth_chainId", NULL, &res, &err),
	    RPC_ERR_TRANSPORT);
	assert_null(res);
	rpc_error_clear(&err);

	/* TLS to a plain HTTP server: the handshake fails. */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", bad_port);
	o.insecure = true;
	F.client2 = client_new(url, &o);
	t0 = test_now_mono();
	assert_int_equal(
	    call_wait(F.client2, "echo", NULL, &out), RPC_ERR_TRANSPORT);
	assert_true(test_now_mono() - t0 < 2.0);
	outcome_clear(&out);
}

/* ---- Against anvil ------------------------------------------------------ */

static void
test_anvil_chain_id(void **state)
{
	struct outcome out;
	struct rpc_error err;
	json_t *res;

	(void)state;
	F.client = client_new(anvil_url, NULL);
	assert_int_equal(
	    call_wait(F.client, "eth_chainId", NULL, &out), RPC_OK);
	assert_true(result_u64(out.result) == ANVIL_CHAIN_ID);
	outcome_clear(&out);

	assert_int_equal(rpc_call_sync(anvil_url, NULL, "eth_chainId",
			     json_array(), &res, &err),
	    RPC_OK);
	assert_true(result_u64(res) == ANVIL_CHAIN_ID);
	json_decref(res);
}

static void
test_anvil_block_and_balance(void **state)
{
	struct outcome out;
	uint8_t bal[32], want[32];
	bool found = false;
	uint64_t block;
	size_t i;
	json_t *v;

	(void)state;
	F.client = client_new(anvil_url, NULL);
	assert_int_equal(
	    call_wait(F.client, "eth_blockNumber", NULL, &out), RPC_OK);
	assert_true(rpc_result_u64(out.result, &block));
	assert_true(block < 1000);
	outcome_clear(&out);

	assert_int_equal(
	    call_wait(F.client, "eth_accounts", NULL, &out), RPC_OK);
	assert_true(json_is_array(out.result));
	json_array_foreach(out.result, i, v)
	{
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), ANVIL_ACCOUNT0) == 0)
			found = true;
	}
	assert_true(found);
	outcome_clear(&out);

	assert_int_equal(
	    call_wait(F.client, "eth_getBalance",
		json_pack("[s,s]", ANVIL_ACCOUNT0, "latest"), &out),
	    RPC_OK);
	assert_true(rpc_result_u256(out.result, bal));
	v = json_string(ANVIL_BALANCE_HEX);
	assert_true(rpc_result_u256(v, want));
	json_decref(v);
	assert_memory_equal(bal, want, 32);
	/* Too big for 64 bits. */
	assert_false(rpc_result_u64(out.result, &block));
	outcome_clear(&out);
}

#define MANY 1000
#define MANY_IN_FLIGHT 8

struct sha_call {
	uint8_t data[4];
	uint64_t id;
	int calls;
	bool matched;
};

static struct sha_call sha_calls[MANY];
static int sha_done;
static unsigned sha_max_in_flight;

/* web3_sha3(data) must come back as keccak256(data) for its own data. */
static void
sha_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct sha_call *c = arg;
	struct rpc_client_stats stats;
	uint8_t want[32], *got;
	size_t len;

	(void)err;
	c->calls++;
	sha_done++;
	rpc_client_get_stats(F.client, &stats);
	if (stats.in_flight > sha_max_in_flight)
		sha_max_in_flight = stats.in_flight;
	if (st != RPC_OK)
		return;
	keccak256(c->data, sizeof(c->data), want);
	if (rpc_result_bytes(result, 32, &got, &len)) {
		c->matched = len == 32 && memcmp(got, want, 32) == 0;
		free(got);
	}
}

static void
test_anvil_many_in_flight(void **state)
{
	struct rpc_options o = {.max_in_flight = MANY_IN_FLIGHT};
	struct rpc_client_stats stats;
	char hex[2 + 8 + 1];

	(void)state;
	memset(sha_calls, 0, sizeof(sha_calls));
	sha_done = 0;
	sha_max_in_flight = 0;
	F.client = client_new(anvil_url, &o);
	for (int i = 0; i < MANY; i++) {
		struct sha_call *c = &sha_calls[i];

		c->data[0] = (uint8_t)(i >> 8);
		c->data[1] = (uint8_t)i;
		c->data[2] = 0xf1;
		c->data[3] = (uint8_t)(i * 7);
		hex[0] = '0';
		hex[1] = 'x';
		hex_encode(c->data, 4, hex + 2);
		assert_int_equal(rpc_call(F.client, "web3_sha3",
				     json_pack("[s]", hex), sha_cb, c, &c->id),
		    RPC_OK);
		if (i > 0)
			assert_true(c->id > sha_calls[i - 1].id);
	}
	rpc_client_get_stats(F.client, &stats);
	assert_int_equal(stats.calls, MANY);
	assert_int_equal(stats.in_flight, MANY_IN_FLIGHT);
	assert_int_equal(stats.queued, MANY - MANY_IN_FLIGHT);
	assert_int_equal(sha_done, 0);

	RUN_UNTIL(sha_done == MANY);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(sha_calls[i].calls, 1);
		if (!sha_calls[i].matched)
			fail_msg("call %d: wrong or no answer", i);
	}
	rpc_client_get_stats(F.client, &stats);
	assert_int_equal(stats.calls_ok, MANY);
	assert_int_equal(stats.calls_failed, 0);
	assert_int_equal(stats.in_flight, 0);
	assert_int_equal(stats.queued, 0);
	assert_true(sha_max_in_flight <= MANY_IN_FLIGHT);
	/* Keep-alive: a handful of connections served all 1000 calls. */
	assert_true(stats.connections_opened >= 1);
	assert_true(stats.connections_opened <= MANY_IN_FLIGHT);
	print_message("%d calls over %llu connections\n", MANY,
	    (unsigned long long)stats.connections_opened);
}

static void
test_anvil_jsonrpc_error(void **state)
{
	struct outcome out;
	struct rpc_error err;
	json_t *res;

	(void)state;
	F.client = client_new(anvil_url, NULL);
	assert_int_equal(
	    call_wait(F.client, "flytrap_noSuchMethod", json_array(), &out),
	    RPC_ERR_JSONRPC);
	assert_int_equal(out.err.code, -32601);
	assert_string_equal(out.err.message, "Method not found");
	assert_int_equal(out.err.http_status, 200);
	outcome_clear(&out);
	/* Bad params: another code, and the client carries on. */
	assert_int_equal(call_wait(F.client, "eth_getBalance",
			     json_pack("[s]", "not an address"), &out),
	    RPC_ERR_JSONRPC);
	assert_true(out.err.code != 0);
	outcome_clear(&out);
	assert_int_equal(
	    call_wait(F.client, "eth_chainId", NULL, &out), RPC_OK);
	outcome_clear(&out);

	assert_int_equal(rpc_call_sync(anvil_url, NULL, "flytrap_noSuchMethod",
			     NULL, &res, &err),
	    RPC_ERR_JSONRPC);
	assert_null(res);
	assert_int_equal(err.code, -32601);
	rpc_error_clear(&err);
}

/*
 * Runtime code that reverts with `data`: CODECOPY the bytes after this
 * 12-byte prefix to memory 0, then REVERT(0, len).
 */
static void
revert_code(const uint8_t *data, size_t len, char *out)
{
	uint8_t code[12 + 255];
	const uint8_t prefix[12] = {0x60, (uint8_t)len, 0x60, 0x0c, 0x60, 0x00,
	    0x39, 0x60, (uint8_t)len, 0x60, 0x00, 0xfd};

	assert_true(len <= 255);
	memcpy(code, prefix, sizeof(prefix));
	memcpy(code + 12, data, len);
	out[0] = '0';
	out[1] = 'x';
	hex_encode(code, 12 + len, out + 2);
}

/* Installs code at addr (anvil_setCode), then eth_call's it. */
static void
call_code(const char *addr, const char *code_hex, struct outcome *out)
{
	assert_int_equal(call_wait(F.client, "anvil_setCode",
			     json_pack("[s,s]", addr, code_hex), out),
	    RPC_OK);
	outcome_clear(out);
	(void)call_wait(F.client, "eth_call",
	    json_pack("[{s:s,s:s},s]", "to", addr, "data", "0x", "latest"),
	    out);
}

static void
test_anvil_revert_data(void **state)
{
	static const char reason[] = "flytrap: denied";
	uint8_t revert[100], *data;
	char code[2 + 2 * (12 + 255) + 1];
	struct outcome out;
	size_t len;

	(void)state;
	F.client = client_new(anvil_url, NULL);

	/* PUSH1 0 PUSH1 0 REVERT: an error with empty data. */
	call_code(
	    "0x00000000000000000000000000000000000f1a00", "0x60006000fd", &out);
	assert_int_equal(out.st, RPC_ERR_JSONRPC);
	assert_int_equal(out.err.code, 3);
	assert_non_null(strstr(out.err.message, "execution reverted"));
	assert_true(rpc_result_bytes(out.err.data, 1024, &data, &len));
	assert_int_equal(len, 0);
	free(data);
	outcome_clear(&out);

	/* A custom error: just a 4-byte selector. */
	revert_code((const uint8_t *)"\xde\xad\xbe\xef", 4, code);
	call_code("0x00000000000000000000000000000000000f1a01", code, &out);
	assert_int_equal(out.st, RPC_ERR_JSONRPC);
	assert_int_equal(out.err.code, 3);
	assert_true(rpc_result_bytes(out.err.data, 1024, &data, &len));
	assert_int_equal(len, 4);
	assert_memory_equal(data, "\xde\xad\xbe\xef", 4);
	free(data);
	outcome_clear(&out);

	/* Error(string): selector, offset 32, length, padded text. */
	memset(revert, 0, sizeof(revert));
	memcpy(revert, "\x08\xc3\x79\xa0", 4);
	revert[4 + 31] = 0x20;
	revert[4 + 63] = (uint8_t)strlen(reason);
	memcpy(revert + 4 + 64, reason, strlen(reason));
	revert_code(revert, sizeof(revert), code);
	call_code("0x00000000000000000000000000000000000f1a02", code, &out);
	assert_int_equal(out.st, RPC_ERR_JSONRPC);
	assert_int_equal(out.err.code, 3);
	assert_non_null(strstr(out.err.message, reason));
	assert_true(rpc_result_bytes(out.err.data, 1024, &data, &len));
	assert_int_equal(len, sizeof(revert));
	assert_memory_equal(data, revert, sizeof(revert));
	free(data);
	outcome_clear(&out);

	/* eth_call to an account without code: success, empty data. */
	(void)call_wait(F.client, "eth_call",
	    json_pack(
		"[{s:s,s:s},s]", "to", ANVIL_ACCOUNT0, "data", "0x", "latest"),
	    &out);
	assert_int_equal(out.st, RPC_OK);
	assert_string_equal(json_string_value(out.result), "0x");
	outcome_clear(&out);
}

/* Callbacks for the cancel test. */
static struct outcome cancel_out[10];
static uint64_t cancel_ids[10];

static void
cancel_other_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	outcome_cb(arg, st, result, err);
	/* The first answer cancels call 8 (still queued). */
	if (arg == &cancel_out[2])
		assert_true(rpc_cancel(F.client, cancel_ids[8]));
}

static void
test_anvil_cancel(void **state)
{
	struct rpc_options o = {.max_in_flight = 2};
	struct rpc_client_stats stats;
	int done;

	(void)state;
	memset(cancel_out, 0, sizeof(cancel_out));
	F.client = client_new(anvil_url, &o);
	for (int i = 0; i < 10; i++)
		assert_int_equal(
		    rpc_call(F.client, "eth_chainId", NULL, cancel_other_cb,
			&cancel_out[i], &cancel_ids[i]),
		    RPC_OK);
	/* 0 and 1 run, the rest wait: cancel one running, two waiting. */
	assert_true(rpc_cancel(F.client, cancel_ids[0]));
	assert_true(rpc_cancel(F.client, cancel_ids[5]));
	assert_true(rpc_cancel(F.client, cancel_ids[9]));
	assert_false(rpc_cancel(F.client, cancel_ids[5]));
	rpc_client_get_stats(F.client, &stats);
	assert_int_equal(stats.in_flight, 2); /* 0's slot went to 2 */
	assert_int_equal(stats.queued, 5);
	do {
		ev_run(F.loop, EVRUN_ONCE);
		done = 0;
		for (int i = 0; i < 10; i++)
			done += cancel_out[i].calls;
	} while (done < 6);
	run_for(0.2);
	for (int i = 0; i < 10; i++) {
		bool cancelled = i == 0 || i == 5 || i == 8 || i == 9;

		assert_int_equal(cancel_out[i].calls, cancelled ? 0 : 1);
		if (!cancelled) {
			assert_int_equal(cancel_out[i].st, RPC_OK);
			assert_true(
			    result_u64(cancel_out[i].result) == ANVIL_CHAIN_ID);
		}
		outcome_clear(&cancel_out[i]);
	}
	assert_false(rpc_cancel(F.client, cancel_ids[1])); /* finished */
	rpc_client_get_stats(F.client, &stats);
	assert_int_equal(stats.calls_ok, 6);
	assert_int_equal(stats.in_flight + stats.queued, 0);
}

/* Callbacks for the free-in-callback test. */
static int reentry_calls;
static struct outcome reentry_follow;

static void
free_client_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	(void)arg;
	(void)st;
	(void)result;
	(void)err;
	reentry_calls++;
	rpc_client_free(F.client);
	F.client = NULL;
}

static void
call_again_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	(void)arg;
	(void)result;
	(void)err;
	assert_int_equal(st, RPC_OK);
	reentry_calls++;
	/* A call made from a callback goes out like any other. */
	assert_int_equal(rpc_call(F.client, "eth_chainId", NULL, outcome_cb,
			     &reentry_follow, NULL),
	    RPC_OK);
}

static void
test_anvil_reentry(void **state)
{
	struct rpc_options o = {.max_in_flight = 1};

	(void)state;
	reentry_calls = 0;
	memset(&reentry_follow, 0, sizeof(reentry_follow));
	F.client = client_new(anvil_url, &o);
	assert_int_equal(
	    rpc_call(F.client, "eth_chainId", NULL, call_again_cb, NULL, NULL),
	    RPC_OK);
	RUN_UNTIL(reentry_follow.calls == 1);
	assert_int_equal(reentry_calls, 1);
	assert_int_equal(reentry_follow.st, RPC_OK);
	outcome_clear(&reentry_follow);

	/* The first callback frees the client; the others never run. */
	reentry_calls = 0;
	for (int i = 0; i < 5; i++)
		assert_int_equal(rpc_call(F.client, "eth_chainId", NULL,
				     free_client_cb, NULL, NULL),
		    RPC_OK);
	RUN_UNTIL(reentry_calls > 0);
	run_for(0.3);
	assert_int_equal(reentry_calls, 1);
	assert_null(F.client);
}

/*
 * Calls in flight while the node dies: the node is frozen (SIGSTOP) after
 * KILL_AFTER answers so that the calls then running certainly wait for an
 * answer, then killed.
 */
#define KILL_CALLS 300
#define KILL_AFTER 20

static struct {
	enum rpc_status st[KILL_CALLS];
	int calls[KILL_CALLS];
	int done;
	bool frozen;
} kill_run;

static void
kill_cb(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	int i = (int)(intptr_t)arg;

	(void)result;
	(void)err;
	kill_run.st[i] = st;
	kill_run.calls[i]++;
	kill_run.done++;
	if (!kill_run.frozen && kill_run.done == KILL_AFTER) {
		kill(-anvil_pid, SIGSTOP);
		kill_run.frozen = true;
	}
}

static void
test_anvil_killed_and_restarted(void **state)
{
	struct rpc_options o = {.max_in_flight = 8, .timeout_ms = 10000};
	struct rpc_client_stats at_kill;
	bool pending[KILL_CALLS];
	struct outcome out;
	struct rpc_error err;
	int ok = 0, waiting = 0;
	double killed_at;
	json_t *res;

	(void)state;
	memset(&kill_run, 0, sizeof(kill_run));
	F.client = client_new(anvil_url, &o);
	for (int i = 0; i < KILL_CALLS; i++)
		assert_int_equal(rpc_call(F.client, "eth_chainId", NULL,
				     kill_cb, (void *)(intptr_t)i, NULL),
		    RPC_OK);
	RUN_UNTIL(kill_run.frozen);
	/* Answers already sent may still arrive; then 8 calls just wait. */
	run_for(0.3);
	rpc_client_get_stats(F.client, &at_kill);
	assert_int_equal(at_kill.in_flight, 8);
	assert_true(at_kill.queued > 0);
	for (int i = 0; i < KILL_CALLS; i++) {
		pending[i] = kill_run.calls[i] == 0;
		if (!pending[i]) {
			assert_int_equal(kill_run.st[i], RPC_OK);
			ok++;
		}
	}
	reap(&anvil_pid);
	killed_at = test_now_mono();
	RUN_UNTIL(kill_run.done == KILL_CALLS);
	/* Failures come from the broken connections, not the deadline. */
	assert_true(test_now_mono() - killed_at < 5.0);
	for (int i = 0; i < KILL_CALLS; i++) {
		assert_int_equal(kill_run.calls[i], 1);
		if (pending[i] && kill_run.st[i] != RPC_ERR_TRANSPORT)
			fail_msg("call %d pending at the kill: %s", i,
			    rpc_status_str(kill_run.st[i]));
		waiting += pending[i];
	}
	assert_int_equal(waiting, KILL_CALLS - ok);
	assert_int_equal(waiting, (int)(at_kill.in_flight + at_kill.queued));
	print_message("node killed with %u calls in flight and %u queued: "
		      "all %d failed as transport errors\n",
	    at_kill.in_flight, at_kill.queued, waiting);

	/* New calls fail too, quickly. */
	assert_int_equal(
	    call_wait(F.client, "eth_chainId", NULL, &out), RPC_ERR_TRANSPORT);
	outcome_clear(&out);
	assert_int_equal(
	    rpc_call_sync(anvil_url, &o, "eth_chainId", NULL, &res, &err),
	    RPC_ERR_TRANSPORT);
	rpc_error_clear(&err);

	/* The node comes back on the same port: the same client works. */
	assert_true(anvil_start());
	assert_int_equal(
	    call_wait(F.client, "eth_chainId", NULL, &out), RPC_OK);
	assert_true(result_u64(out.result) == ANVIL_CHAIN_ID);
	outcome_clear(&out);
}

/* ---- Against the misbehaving server ------------------------------------- */

static int ticks;

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	ticks++;
}

/* echo must come back as its params: the client still works. */
static void
assert_echo_works(struct rpc_client *c, int n)
{
	struct outcome out;
	json_t *params = json_pack("[i,s]", n, "still working");

	json_incref(params);
	assert_int_equal(call_wait(c, "echo", params, &out), RPC_OK);
	assert_true(json_equal(out.result, params));
	json_decref(params);
	outcome_clear(&out);
}

static void
test_bad_slow_times_out(void **state)
{
	struct rpc_options o = {.timeout_ms = 500};
	struct rpc_options o1 = {.timeout_ms = 500, .max_in_flight = 1};
	struct outcome out, queued;
	ev_timer ticker;
	double t0, dt;

	(void)state;
	F.client = client_new(bad_url, &o);
	ev_timer_init(&ticker, tick_cb, 0.02, 0.02);
	ev_timer_start(F.loop, &ticker);

	/* No answer at all. */
	ticks = 0;
	t0 = test_now_mono();
	assert_int_equal(
	    call_wait(F.client, "slow", json_pack("[i]", 10), &out),
	    RPC_ERR_TIMEOUT);
	dt = test_now_mono() - t0;
	assert_true(dt >= 0.45 && dt < 2.0);
	/* The loop kept running while the call waited. */
	assert_true(ticks >= 10);
	assert_true(out.err.message[0] != '\0');
	outcome_clear(&out);

	/* An answer dribbling in: the deadline is for the whole call. */
	ticks = 0;
	t0 = test_now_mono();
	assert_int_equal(
	    call_wait(F.client, "drip", NULL, &out), RPC_ERR_TIMEOUT);
	dt = test_now_mono() - t0;
	assert_true(dt >= 0.45 && dt < 2.0);
	assert_true(ticks >= 10);
	outcome_clear(&out);

	/*
	 * A call queued behind a slow one: its deadline counts from rpc_call
	 * (0.2 s after the first), not from when it got a transfer slot (when
	 * the first timed out), which would make it end 1.0 s after t0.
	 */
	F.client2 = client_new(bad_url, &o1);
	memset(&out, 0, sizeof(out));
	memset(&queued, 0, sizeof(queued));
	t0 = test_now_mono();
	assert_int_equal(rpc_call(F.client2, "slow", json_pack("[i]", 10),
			     outcome_cb, &out, NULL),
	    RPC_OK);
	run_for(0.2);
	assert_int_equal(rpc_call(F.client2, "slow", json_pack("[i]", 10),
			     outcome_cb, &queued, NULL),
	    RPC_OK);
	RUN_UNTIL(out.calls == 1 && queued.calls == 1);
	assert_int_equal(out.st, RPC_ERR_TIMEOUT);
	assert_int_equal(queued.st, RPC_ERR_TIMEOUT);
	assert_true(out.at - t0 >= 0.45 && out.at - t0 < 0.65);
	assert_true(queued.at - t0 >= 0.65 && queued.at - t0 < 0.9);
	outcome_clear(&out);
	outcome_clear(&queued);

	ev_timer_stop(F.loop, &ticker);
	assert_echo_works(F.client, 1);
	assert_echo_works(F.client2, 2);
}

static void
test_bad_malformed_answers(void **state)
{
	static const struct {
		const char *method;
		enum rpc_status want;
		long http_status;
	} cases[] = {
	    {"garbage", RPC_ERR_BAD_JSON, 200},
	    {"empty", RPC_ERR_BAD_JSON, 200},
	    {"truncated_json", RPC_ERR_BAD_JSON, 200},
	    {"duplicate", RPC_ERR_BAD_JSON, 200},
	    {"truncated_http", RPC_ERR_TRANSPORT, 200},
	    {"not_http", RPC_ERR_TRANSPORT, 0},
	    {"huge_headers", RPC_ERR_TOO_LARGE, 200},
	    {"wrong_id", RPC_ERR_ID_MISMATCH, 200},
	    {"string_id", RPC_ERR_ID_MISMATCH, 200},
	    {"no_version", RPC_ERR_BAD_RESPONSE, 200},
	    {"old_version", RPC_ERR_BAD_RESPONSE, 200},
	    {"both", RPC_ERR_BAD_RESPONSE, 200},
	    {"neither", RPC_ERR_BAD_RESPONSE, 200},
	    {"bad_error", RPC_ERR_BAD_RESPONSE, 200},
	    {"batch", RPC_ERR_BAD_RESPONSE, 200},
	    {"http500", RPC_ERR_HTTP, 500},
	    {"deep", RPC_ERR_TOO_DEEP, 200},
	    {"null_id_error", RPC_ERR_JSONRPC, 200},
	};
	struct rpc_options o = {.timeout_ms = 5000};
	struct outcome out;

	(void)state;
	F.client = client_new(bad_url, &o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum rpc_status st =
		    call_wait(F.client, cases[i].method, NULL, &out);

		if (st != cases[i].want)
			fail_msg("%s: got %s, want %s (%s)", cases[i].method,
			    rpc_status_str(st), rpc_status_str(cases[i].want),
			    out.err.message);
		assert_int_equal(out.err.http_status, cases[i].http_status);
		assert_true(out.err.message[0] != '\0');
		outcome_clear(&out);
		assert_echo_works(F.client, (int)i);
	}

	/* Nesting right at the bound passes, one more does not. */
	assert_int_equal(call_wait(F.client, "deep",
			     json_pack("[i]", RPC_DEFAULT_MAX_DEPTH - 1), &out),
	    RPC_OK);
	outcome_clear(&out);
	assert_int_equal(call_wait(F.client, "deep",
			     json_pack("[i]", RPC_DEFAULT_MAX_DEPTH), &out),
	    RPC_ERR_TOO_DEEP);
	outcome_clear(&out);

	/* An error message made to forge log lines arrives defused. */
	assert_int_equal(
	    call_wait(F.client, "nasty_error", NULL, &out), RPC_ERR_JSONRPC);
	assert_int_equal(out.err.code, -32000);
	assert_true(
	    strncmp(out.err.message, "line?forged: ?[31mred?", 22) == 0);
	assert_true(clean_utf8(out.err.message));
	assert_true(strlen(out.err.message) < RPC_ERROR_MESSAGE_SIZE);
	assert_string_equal(json_string_value(out.err.data), "0xdeadbeef");
	outcome_clear(&out);
	assert_echo_works(F.client, 100);
}

static void
test_bad_sync(void **state)
{
	static const struct {
		const char *method;
		enum rpc_status want;
	} cases[] = {
	    {"echo", RPC_OK},
	    {"garbage", RPC_ERR_BAD_JSON},
	    {"wrong_id", RPC_ERR_ID_MISMATCH},
	    {"both", RPC_ERR_BAD_RESPONSE},
	    {"http500", RPC_ERR_HTTP},
	    {"deep", RPC_ERR_TOO_DEEP},
	    {"big_length", RPC_ERR_TOO_LARGE},
	    {"big_chunked", RPC_ERR_TOO_LARGE},
	    {"slow", RPC_ERR_TIMEOUT},
	    {"flytrap_unknown", RPC_ERR_JSONRPC},
	};
	struct rpc_options o = {
	    .timeout_ms = 700, .max_response_bytes = 1024 * 1024};
	struct rpc_error err;
	json_t *res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double t0 = test_now_mono();
		enum rpc_status st = rpc_call_sync(
		    bad_url, &o, cases[i].method, NULL, &res, &err);

		if (st != cases[i].want)
			fail_msg("sync %s: got %s, want %s (%s)",
			    cases[i].method, rpc_status_str(st),
			    rpc_status_str(cases[i].want), err.message);
		assert_true(test_now_mono() - t0 < 3.0);
		assert_true((st == RPC_OK) == (res != NULL));
		json_decref(res);
		rpc_error_clear(&err);
	}
}

/* Asks the bad server how much of its last big answer went out. */
static long
bad_big_sent(struct rpc_client *c)
{
	struct outcome out;
	json_t *done;
	long sent;

	for (;;) {
		assert_int_equal(call_wait(c, "stats", NULL, &out), RPC_OK);
		done = json_object_get(out.result, "big_done");
		sent = (long)json_integer_value(
		    json_object_get(out.result, "big_sent"));
		if (json_is_true(done)) {
			outcome_clear(&out);
			return sent;
		}
		outcome_clear(&out);
		run_for(0.05); /* bounded by the hard timeout */
	}
}

static void
big_answer(struct rpc_client *c, const char *method, size_t cap)
{
	struct outcome out;
	char want[64];
	double t0;
	long sent;

	assert_int_equal(call_wait(c, "stats_reset", NULL, &out), RPC_OK);
	outcome_clear(&out);
	t0 = test_now_mono();
	assert_int_equal(call_wait(c, method, NULL, &out), RPC_ERR_TOO_LARGE);
	assert_true(test_now_mono() - t0 < 5.0);
	snprintf(want, sizeof(want), "response over %zu bytes", cap);
	assert_string_equal(out.err.message, want);
	outcome_clear(&out);
	/* Aborted early: the server could not push the 50 MB through. */
	sent = bad_big_sent(c);
	if (sent >= BIG_BODY / 2)
		fail_msg(
		    "%s: server sent %ld bytes before the abort", method, sent);
	assert_echo_works(c, 7);
}

static void
test_bad_too_large(void **state)
{
	struct rpc_options o = {
	    .timeout_ms = 10000, .max_response_bytes = 1024 * 1024};

	(void)state;
	F.client = client_new(bad_url, &o);
	big_answer(F.client, "big_chunked", 1024 * 1024);
	big_answer(F.client, "big_length", 1024 * 1024);
	/* The default cap (16 MiB) also stops it. */
	F.client2 = client_new(bad_url, NULL);
	big_answer(F.client2, "big_chunked", RPC_DEFAULT_MAX_RESPONSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hex_u64),
	    cmocka_unit_test(test_result_u64),
	    cmocka_unit_test(test_result_u256),
	    cmocka_unit_test(test_result_bytes),
	    cmocka_unit_test(test_request_encode),
	    cmocka_unit_test(test_response_parse_table),
	    cmocka_unit_test(test_response_parse_error_details),
	    cmocka_unit_test(test_response_parse_depth),
	    cmocka_unit_test(test_response_parse_fuzz),
	    cmocka_unit_test(test_status_strings),
	    cmocka_unit_test_setup_teardown(
		test_invalid_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_chain_id, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_block_and_balance, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_many_in_flight, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_jsonrpc_error, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_revert_data, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_cancel, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_reentry, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_anvil_killed_and_restarted, setup_anvil, teardown),
	    cmocka_unit_test_setup_teardown(
		test_transport_errors, setup_bad, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_slow_times_out, setup_bad, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_malformed_answers, setup_bad, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_sync, setup_bad, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_too_large, setup_bad, teardown),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, alarm_handler);
	atexit(kill_children_now);
	log_init("test_rpc",
	    getenv("TEST_RPC_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	rc = cmocka_run_group_tests(tests, NULL, group_teardown);
	return rc;
}
