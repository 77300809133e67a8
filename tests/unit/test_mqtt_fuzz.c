/*
 * MQTT codec tests: every prefix of valid packets, a stream cut at random
 * places, and deterministic random mutation of valid packets. Whatever
 * decodes must re-encode to the same bytes; nothing may crash or overread.
 */
#include "test_mqtt_util.h"

#define SEED 0x466c795472617021ULL /* fixed: failures must reproduce */
#define MUTATIONS 200000
#define RANDOM_PACKETS 100000

/* Tallies of decoder results, to show the loops reach every outcome. */
struct tally {
	unsigned long n[MQTT_NO_SPACE + 1];
};

/*
 * Decodes (pkt, len) as one framed packet from an exact-size heap copy of
 * the body. A packet that decodes must re-encode to exactly its bytes, and
 * those bytes must decode again. Returns the decoder's result.
 */
static enum mqtt_result
decode_and_check(uint8_t version, const uint8_t *pkt, size_t len,
    const char *what, unsigned long iter)
{
	struct mqtt_fixed_header hdr;
	struct mqtt_packet p;
	enum mqtt_result rc;
	uint8_t *body, out[VEC_MAX + 64];
	size_t out_len = 0, total;

	rc = mqtt_frame(pkt, len, UINT32_MAX, &hdr);
	if (rc != MQTT_OK)
		return rc;
	total = (size_t)hdr.header_len + hdr.remaining;
	body = malloc(hdr.remaining > 0 ? hdr.remaining : 1);
	assert_non_null(body);
	memcpy(body, pkt + hdr.header_len, hdr.remaining);
	rc = mqtt_decode(version, &hdr, body, &p);
	if (rc == MQTT_INCOMPLETE || rc == MQTT_NO_SPACE)
		fail_msg("%s %lu: decode returned %s", what, iter,
		    mqtt_result_str(rc));
	if (rc == MQTT_OK) {
		if (version == 0)
			version = p.u.connect.version;
		if (mqtt_encode(version, &p, out, sizeof(out), &out_len) !=
			MQTT_OK ||
		    out_len != total || memcmp(out, pkt, total) != 0)
			fail_msg("%s %lu: decoded packet did not re-encode to "
				 "its bytes",
			    what, iter);
		if (decode_bytes(p.type == MQTT_CONNECT ? 0 : version, out,
			out_len) != MQTT_OK)
			fail_msg("%s %lu: re-encoded packet does not decode",
			    what, iter);
	}
	free(body);
	return rc;
}

/* ---- Prefixes ----------------------------------------------------------- */

/*
 * Every proper prefix of a valid packet is incomplete to the framer; with a
 * limit one byte short, TOO_LARGE comes as soon as the header is complete.
 */
static void
test_every_prefix(void **state)
{
	const struct vec *v;
	struct mqtt_fixed_header hdr;
	uint8_t buf[VEC_MAX];
	size_t n, i, len, k, hl;

	(void)state;
	v = valid_vectors(&n);
	for (i = 0; i < n; i++) {
		len = vec_parse(v[i].hex, buf, sizeof(buf));
		assert_int_equal(
		    mqtt_frame(buf, len, (uint32_t)len, &hdr), MQTT_OK);
		hl = hdr.header_len;
		for (k = 0; k < len; k++) {
			if (mqtt_frame(buf, k, UINT32_MAX, &hdr) !=
			    MQTT_INCOMPLETE)
				fail_msg("%s: prefix %zu not incomplete",
				    v[i].name, k);
			if (mqtt_frame(buf, k, (uint32_t)len - 1, &hdr) !=
			    (k < hl ? MQTT_INCOMPLETE : MQTT_TOO_LARGE))
				fail_msg("%s: prefix %zu, limit %zu", v[i].name,
				    k, len - 1);
		}
		assert_int_equal(mqtt_frame(buf, len, (uint32_t)len - 1, &hdr),
		    MQTT_TOO_LARGE);
	}
}

/*
 * Each valid packet with its body cut short (the header rewritten to the
 * cut length): never a crash or overread, and what decodes round-trips.
 */
static void
test_every_cut(void **state)
{
	const struct vec *v;
	uint8_t buf[VEC_MAX], pkt[VEC_MAX + 8];
	struct mqtt_fixed_header hdr;
	size_t n, i, len, r, hl;
	unsigned long bad = 0;

	(void)state;
	v = valid_vectors(&n);
	for (i = 0; i < n; i++) {
		len = vec_parse(v[i].hex, buf, sizeof(buf));
		assert_int_equal(
		    mqtt_frame(buf, len, UINT32_MAX, &hdr), MQTT_OK);
		for (r = 0; r < hdr.remaining; r++) {
			pkt[0] = buf[0];
			hl = 1 + mqtt_varint_encode((uint32_t)r, pkt + 1);
			memcpy(pkt + hl, buf + hdr.header_len, r);
			if (decode_and_check(v[i].version, pkt, hl + r,
				v[i].name, r) != MQTT_OK)
				bad++;
		}
	}
	assert_true(bad > 500);
}

/*
 * All valid packets back to back, fed to a stream framer in chunks of
 * random size: each packet comes out whole, in order, exactly once.
 */
static void
test_stream_chunks(void **state)
{
	static uint8_t stream[64 * 1024], rbuf[64 * 1024];
	size_t starts[256], n_pkts = 0, slen = 0, rlen = 0, fed = 0, got = 0;
	const struct vec *v;
	struct mqtt_fixed_header hdr;
	uint64_t rng = SEED;
	size_t n, i, chunk, total;
	enum mqtt_result rc;

	(void)state;
	v = valid_vectors(&n);
	for (i = 0; i < n; i++) {
		starts[n_pkts++] = slen;
		slen +=
		    vec_parse(v[i].hex, stream + slen, sizeof(stream) - slen);
	}
	starts[n_pkts] = slen;
	while (fed < slen) {
		chunk = 1 + test_rand(&rng) % 40;
		if (chunk > slen - fed)
			chunk = slen - fed;
		memcpy(rbuf + rlen, stream + fed, chunk);
		rlen += chunk;
		fed += chunk;
		for (;;) {
			rc = mqtt_frame(rbuf, rlen, 1u << 20, &hdr);
			if (rc == MQTT_INCOMPLETE)
				break;
			assert_int_equal(rc, MQTT_OK);
			total = (size_t)hdr.header_len + hdr.remaining;
			assert_true(got < n_pkts);
			assert_int_equal(total, starts[got + 1] - starts[got]);
			assert_memory_equal(rbuf, stream + starts[got], total);
			got++;
			memmove(rbuf, rbuf + total, rlen - total);
			rlen -= total;
		}
	}
	assert_int_equal(got, n_pkts);
	assert_int_equal(rlen, 0);
}

/* ---- Mutation ----------------------------------------------------------- */

static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f,
    0x80, 0xff, '#', '+', '/', '$', 0xc0, 0xc3, 0xed, 0xf4, 0x15, 0x16, 0x23,
    0x26, 0x0b};

/*
 * One random edit of (b, *len) within cap: flip a bit, set a byte (random
 * or interesting), insert, delete, duplicate a span, or truncate.
 */
static void
mutate(uint8_t *b, size_t *len, size_t cap, uint64_t *rng)
{
	size_t at, span, n = *len;
	unsigned int what = (unsigned int)(test_rand(rng) % 8);

	at = n > 0 ? test_rand(rng) % n : 0;
	switch (what) {
	case 0:
		if (n > 0)
			b[at] ^= (uint8_t)(1u << (test_rand(rng) % 8));
		break;
	case 1:
		if (n > 0)
			b[at] = (uint8_t)test_rand(rng);
		break;
	case 2:
	case 3:
		if (n > 0)
			b[at] =
			    interesting[test_rand(rng) % sizeof(interesting)];
		break;
	case 4:
		if (n < cap) {
			memmove(b + at + 1, b + at, n - at);
			b[at] = (uint8_t)test_rand(rng);
			n++;
		}
		break;
	case 5:
		if (n > 0) {
			memmove(b + at, b + at + 1, n - at - 1);
			n--;
		}
		break;
	case 6:
		span = n > 0 ? 1 + test_rand(rng) % 8 : 0;
		if (span > n - at)
			span = n - at;
		if (n + span <= cap) {
			memmove(b + at + span, b + at, n - at);
			n += span;
		}
		break;
	default:
		if (n > 0)
			n = test_rand(rng) % n;
		break;
	}
	*len = n;
}

static void
test_mutations(void **state)
{
	const struct vec *v;
	static uint8_t orig[128][VEC_MAX];
	size_t orig_len[128];
	uint8_t body[VEC_MAX + 16], pkt[VEC_MAX + 32], first;
	struct mqtt_fixed_header hdr;
	struct tally t = {{0}};
	uint64_t rng = SEED;
	size_t n, i, blen, plen, edits, e, hl;
	unsigned long iter;
	uint8_t version;
	enum mqtt_result rc;

	(void)state;
	v = valid_vectors(&n);
	assert_true(n <= 128);
	for (i = 0; i < n; i++)
		orig_len[i] = vec_parse(v[i].hex, orig[i], VEC_MAX);

	for (iter = 0; iter < MUTATIONS; iter++) {
		i = test_rand(&rng) % n;
		assert_int_equal(
		    mqtt_frame(orig[i], orig_len[i], UINT32_MAX, &hdr),
		    MQTT_OK);
		first = orig[i][0];
		blen = hdr.remaining;
		memcpy(body, orig[i] + hdr.header_len, blen);
		edits = 1 + test_rand(&rng) % 4;
		for (e = 0; e < edits; e++)
			mutate(body, &blen, VEC_MAX, &rng);
		if (test_rand(&rng) % 8 == 0)
			first ^= (uint8_t)(1u << (test_rand(&rng) % 8));
		/* Mostly a consistent header, sometimes a mangled one */
		pkt[0] = first;
		hl = 1 + mqtt_varint_encode((uint32_t)blen, pkt + 1);
		memcpy(pkt + hl, body, blen);
		plen = hl + blen;
		if (test_rand(&rng) % 10 == 0)
			mutate(pkt, &plen, sizeof(pkt), &rng);
		version = v[i].version;
		if (test_rand(&rng) % 16 == 0)
			version = (uint8_t[]){0, 4, 5, 3}[test_rand(&rng) % 4];
		rc = decode_and_check(version, pkt, plen, "mutation", iter);
		t.n[rc]++;
	}
	/*
	 * The loop must reach every kind of outcome, and a good share of
	 * both accepted and rejected packets.
	 */
	assert_true(t.n[MQTT_OK] > MUTATIONS / 20);
	assert_true(t.n[MQTT_MALFORMED] > MUTATIONS / 4);
	assert_true(t.n[MQTT_PROTOCOL_ERROR] > 1000);
	assert_true(t.n[MQTT_TOPIC_INVALID] > 100);
	assert_true(t.n[MQTT_BAD_VERSION] > 10);
	assert_true(t.n[MQTT_INCOMPLETE] > 100);
	print_message("mutations: ok %lu, malformed %lu, protocol %lu, "
		      "topic %lu, version %lu, incomplete %lu\n",
	    t.n[MQTT_OK], t.n[MQTT_MALFORMED], t.n[MQTT_PROTOCOL_ERROR],
	    t.n[MQTT_TOPIC_INVALID], t.n[MQTT_BAD_VERSION],
	    t.n[MQTT_INCOMPLETE]);
}

/* Random bytes as a body of every packet type: no crash, exact echo. */
static void
test_random_packets(void **state)
{
	uint8_t pkt[80];
	uint64_t rng = SEED ^ 0x5a5a;
	size_t blen, k, hl;
	unsigned long iter, ok = 0;
	uint8_t version;

	(void)state;
	for (iter = 0; iter < RANDOM_PACKETS; iter++) {
		/* Mostly the flags each type requires, so bodies get read */
		pkt[0] = (uint8_t)test_rand(&rng);
		if (test_rand(&rng) % 8 != 0 && (pkt[0] >> 4) != MQTT_PUBLISH)
			pkt[0] = (uint8_t)((pkt[0] & 0xf0) |
			    ((pkt[0] >> 4) == MQTT_PUBREL ||
					(pkt[0] >> 4) == MQTT_SUBSCRIBE ||
					(pkt[0] >> 4) == MQTT_UNSUBSCRIBE
				    ? 0x02
				    : 0x00));
		blen = test_rand(&rng) % 64;
		hl = 1 + mqtt_varint_encode((uint32_t)blen, pkt + 1);
		for (k = 0; k < blen; k++)
			pkt[hl + k] = test_rand(&rng) % 3 == 0
			    ? interesting[test_rand(&rng) % sizeof(interesting)]
			    : (uint8_t)test_rand(&rng);
		version = (uint8_t[]){0, 4, 5}[test_rand(&rng) % 3];
		if (decode_and_check(version, pkt, hl + blen, "random", iter) ==
		    MQTT_OK)
			ok++;
	}
	print_message(
	    "random packets: %lu of %d decoded\n", ok, RANDOM_PACKETS);
	assert_true(ok > 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_every_cut),
	    cmocka_unit_test(test_stream_chunks),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_random_packets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
