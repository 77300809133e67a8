/*
 * The CONNECT phase of a session: read the client's CONNECT, have authd
 * verify its token or run the challenge-response exchange, have chaind
 * judge the Will topic, open the broker connection, forward a rewritten
 * CONNECT and pass the broker's CONNACK back. FlyTrap credentials never
 * reach the broker, and neither side may use Topic Aliases.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hex.h"
#include "ipc.h"
#include "log.h"
#include "proxyd.h"

#define FLYTRAP_PROP_PREFIX "flytrap-"

/* The v3.1.1 CONNACK code closest to a v5 reason; 0xff for none. */
static uint8_t
connect_v311_code(uint8_t reason)
{
	switch (reason) {
	case MQTT_RC_UNSUPPORTED_VERSION:
		return MQTT_V311_BAD_VERSION;
	case MQTT_RC_CLIENT_ID_INVALID:
		return MQTT_V311_ID_REJECTED;
	case MQTT_RC_SERVER_UNAVAILABLE:
	case MQTT_RC_SERVER_BUSY:
		return MQTT_V311_UNAVAILABLE;
	case MQTT_RC_BAD_USERNAME_PASSWORD:
		return MQTT_V311_BAD_USERNAME_PASSWORD;
	case MQTT_RC_NOT_AUTHORIZED:
	case MQTT_RC_BANNED:
		return MQTT_V311_NOT_AUTHORIZED;
	default:
		return 0xff;
	}
}

static void
connect_send_connack(struct session *s, uint8_t version, uint8_t code)
{
	struct mqtt_packet p;
	uint8_t pkt[8];
	size_t len;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNACK;
	p.u.connack.reason = code;
	if (mqtt_encode(version, &p, pkt, sizeof(pkt), &len) == MQTT_OK)
		session_queue(s, &s->client, pkt, len);
}

void
connect_refuse(struct session *s, uint8_t reason, const char *why)
{
	uint8_t code;

	if (s->state == SESSION_CLOSING)
		return;
	log_info("session %s: refused: %s", s->peer, why);
	if (s->version == MQTT_V5) {
		connect_send_connack(s, MQTT_V5, reason);
	} else if (s->version == MQTT_V311 &&
	    (code = connect_v311_code(reason)) != 0xff) {
		connect_send_connack(s, MQTT_V311, code);
	}
	if (s->dead)
		return;
	if (s->broker.fd >= 0) {
		/* No CONNACK reached the client: the broker saw nothing. */
		ev_io_stop(s->px->loop, &s->broker.rd);
		ev_io_stop(s->px->loop, &s->broker.wr);
		close(s->broker.fd);
		s->broker.fd = -1;
		buf_consume(&s->broker.out, buf_len(&s->broker.out));
	}
	session_finish(s, why);
}

void
connect_cancel(struct session *s)
{
	if (s->ipc_pending) {
		ipc_client_cancel(s->px->authd, s->ipc_id);
		s->ipc_pending = false;
	}
	defence_auth_release(s);
}

/* Re-reads the held CONNECT; it decoded once, so it decodes again. */
static void
connect_saved(const struct session *s, struct mqtt_packet *p)
{
	struct mqtt_fixed_header hdr;

	if (mqtt_frame(s->connect_pkt, s->connect_len, UINT32_MAX, &hdr) !=
		MQTT_OK ||
	    mqtt_decode(0, &hdr, s->connect_pkt + hdr.header_len, p) != MQTT_OK)
		fatalx("held CONNECT no longer decodes");
}

static bool
bytes_equal(const struct mqtt_bytes *b, const char *lit)
{
	return b->len == strlen(lit) && memcmp(b->data, lit, b->len) == 0;
}

static bool
is_flytrap_property(const struct mqtt_bytes *name)
{
	size_t n = strlen(FLYTRAP_PROP_PREFIX);

	return name->len >= n &&
	    strncasecmp((const char *)name->data, FLYTRAP_PROP_PREFIX, n) == 0;
}

/* ---- Asking authd ------------------------------------------------------ */

static void connect_broker(struct session *s);

/*
 * Common start of every authd reply: a failed request or a refusing
 * verdict ends the CONNECT here. Returns true when the session goes on.
 */
static bool
connect_reply_ok(struct session *s, enum ipc_status st, uint64_t verdict)
{
	if (st != IPC_OK) {
		connect_refuse(
		    s, MQTT_RC_SERVER_UNAVAILABLE, ipc_status_str(st));
		return false;
	}
	if (verdict != AUTH_OK) {
		connect_refuse(s,
		    auth_result_connack((enum auth_result)verdict, MQTT_V5),
		    auth_result_str((enum auth_result)verdict));
		return false;
	}
	return true;
}

/* Reads a verdict reply: u64 verdict, str address. */
static void
connect_on_verdict(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct session *s = arg;
	uint8_t addr[ETH_ADDRESS_LEN];
	const char *hex = NULL;
	uint64_t verdict = AUTH_OK;
	size_t hex_len = 0;

	s->ipc_pending = false;
	defence_auth_release(s);
	if (st == IPC_OK &&
	    (ipc_get_u64(msg, &verdict) != IPC_OK ||
		ipc_get_str(msg, &hex, &hex_len) != IPC_OK ||
		ipc_get_end(msg) != IPC_OK || verdict >= AUTH_RESULT_MAX ||
		(verdict == AUTH_OK &&
		    (hex_len != ETH_ADDRESS_HEX_SIZE - 1 || hex[0] != '0' ||
			hex[1] != 'x' ||
			!hex_decode_exact(hex, hex_len, addr, sizeof(addr))))))
		fatalx("malformed %s from authd", ipc_type_str(msg->type));
	if (connect_reply_ok(s, st, verdict)) {
		memcpy(s->address, hex, hex_len);
		s->address[hex_len] = '\0';
		connect_authorize_will(s);
	}
	session_resume(s);
}

static void
connect_request(struct session *s, struct ipc_writer *w, uint32_t id,
    ipc_reply_fn *on_reply, enum session_state next)
{
	struct proxyd *px = s->px;
	enum ipc_status st;

	st = ipc_client_send(px->authd, w, id, px->auth_timeout, on_reply, s);
	if (st != IPC_OK) {
		connect_refuse(
		    s, MQTT_RC_SERVER_UNAVAILABLE, ipc_status_str(st));
		return;
	}
	s->ipc_pending = true;
	s->ipc_id = id;
	session_set_state(s, next);
}

/* The FlyTrap user properties of a v5 CONNECT; false on duplicates. */
struct connect_props {
	struct mqtt_bytes sig, time, address;
};

static bool
connect_find_props(const struct mqtt_props *props, struct connect_props *out)
{
	struct mqtt_prop_iter it;
	struct mqtt_prop pr;
	struct mqtt_bytes *slot;

	memset(out, 0, sizeof(*out));
	mqtt_props_iter_init(&it, props);
	while (mqtt_props_next(&it, &pr)) {
		if (pr.id != MQTT_PROP_USER_PROPERTY)
			continue;
		if (bytes_equal(&pr.str, "flytrap-sig"))
			slot = &out->sig;
		else if (bytes_equal(&pr.str, "flytrap-time"))
			slot = &out->time;
		else if (bytes_equal(&pr.str, "flytrap-address"))
			slot = &out->address;
		else
			continue;
		/* Two values for one field: which one was signed? */
		if (slot->data != NULL)
			return false;
		*slot = pr.value;
	}
	return true;
}

static void
put_bytes(struct ipc_writer *w, const struct mqtt_bytes *b)
{
	ipc_put_str(w, (const char *)b->data, b->len);
}

/* What a session asks authd once it has a credential-check slot. */
enum connect_auth_request {
	CONNECT_ASK_TOKEN = 1,
	CONNECT_ASK_RESPONSE,
};

/* Sends IPC_AUTH_TOKEN for the held CONNECT; the session has a slot. */
static void
connect_send_token(struct session *s)
{
	struct mqtt_packet p;
	const struct mqtt_connect *c = &p.u.connect;
	struct connect_props fp;
	struct ipc_writer w;
	uint32_t id;

	connect_saved(s, &p);
	if (!connect_find_props(&c->props, &fp))
		fatalx("held CONNECT lost its properties");
	id = ipc_client_begin(s->px->authd, &w, IPC_AUTH_TOKEN);
	ipc_put_str(&w, s->peer, strlen(s->peer));
	put_bytes(&w, &c->client_id);
	ipc_put_bool(&w, c->has_username);
	put_bytes(&w, &c->username);
	ipc_put_bool(&w, c->has_password);
	ipc_put_bin(&w, c->password.data, c->password.len);
	put_bytes(&w, &fp.sig);
	put_bytes(&w, &fp.time);
	put_bytes(&w, &fp.address);
	connect_request(s, &w, id, connect_on_verdict, SESSION_AUTH_TOKEN);
}

/*
 * Has authd check a timed or static token once a credential-check slot
 * is free (defence.c bounds them per client IP and in all).
 */
static void
connect_ask_token(struct session *s, const struct mqtt_connect *c)
{
	struct connect_props fp;

	if (!connect_find_props(&c->props, &fp)) {
		connect_refuse(s, MQTT_RC_BAD_USERNAME_PASSWORD,
		    "a flytrap-* user property given twice");
		return;
	}
	s->auth_request = CONNECT_ASK_TOKEN;
	if (defence_auth_acquire(s))
		connect_send_token(s);
	else
		session_set_state(s, SESSION_AUTH_TOKEN);
}

/* Sends IPC_AUTH_RESPONSE with the kept answer; the session has a slot. */
static void
connect_send_response(struct session *s)
{
	struct mqtt_packet saved;
	struct ipc_writer w;
	uint32_t id;

	connect_saved(s, &saved);
	id = ipc_client_begin(s->px->authd, &w, IPC_AUTH_RESPONSE);
	ipc_put_str(&w, s->peer, strlen(s->peer));
	put_bytes(&w, &saved.u.connect.client_id);
	ipc_put_bool(&w, saved.u.connect.has_username);
	put_bytes(&w, &saved.u.connect.username);
	ipc_put_bin(&w, s->nonce, TOKEN_NONCE_LEN);
	ipc_put_bin(&w, s->auth_sig, s->auth_sig_len);
	free(s->auth_sig);
	s->auth_sig = NULL;
	s->auth_sig_len = 0;
	connect_request(s, &w, id, connect_on_verdict, SESSION_AUTH_RESPONSE);
}

void
connect_auth_resume(struct session *s)
{
	char byte;

	if (s->state == SESSION_CLOSING)
		fatalx(
		    "session %s: a slot given to a closing session", s->peer);
	/*
	 * The client is not read while it waits: one that left meanwhile
	 * must not cost a signature check.
	 */
	if (recv(s->client.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		session_close_side(s, &s->client);
		session_finish(s, "client left while waiting for authd");
		return;
	}
	if (s->auth_request == CONNECT_ASK_TOKEN)
		connect_send_token(s);
	else
		connect_send_response(s);
	session_resume(s);
}

/* Reply to IPC_AUTH_CHALLENGE: u64 verdict, bin nonce. */
static void
connect_on_challenge(void *arg, struct ipc_reader *msg, enum ipc_status st)
{
	struct session *s = arg;
	struct mqtt_prop_builder b;
	struct mqtt_packet p;
	uint8_t props[64], pkt[96];
	const void *nonce;
	uint64_t verdict = AUTH_OK;
	size_t nonce_len, len;

	s->ipc_pending = false;
	if (st == IPC_OK &&
	    (ipc_get_u64(msg, &verdict) != IPC_OK ||
		ipc_get_bin(msg, &nonce, &nonce_len) != IPC_OK ||
		ipc_get_end(msg) != IPC_OK || verdict >= AUTH_RESULT_MAX ||
		(verdict == AUTH_OK && nonce_len != TOKEN_NONCE_LEN)))
		fatalx("malformed %s from authd", ipc_type_str(msg->type));
	if (!connect_reply_ok(s, st, verdict)) {
		session_resume(s);
		return;
	}
	memcpy(s->nonce, nonce, TOKEN_NONCE_LEN);

	mqtt_props_builder_init(&b, props, sizeof(props));
	mqtt_props_add_bytes(&b, MQTT_PROP_AUTH_METHOD, TOKEN_AUTH_METHOD,
	    strlen(TOKEN_AUTH_METHOD));
	mqtt_props_add_bytes(
	    &b, MQTT_PROP_AUTH_DATA, s->nonce, TOKEN_NONCE_LEN);
	memset(&p, 0, sizeof(p));
	p.type = MQTT_AUTH;
	p.u.reason.reason = MQTT_RC_CONTINUE_AUTH;
	if (mqtt_props_builder_finish(&b, &p.u.reason.props) != MQTT_OK ||
	    mqtt_encode(MQTT_V5, &p, pkt, sizeof(pkt), &len) != MQTT_OK)
		fatalx("cannot encode the AUTH challenge");
	if (session_queue(s, &s->client, pkt, len))
		session_set_state(s, SESSION_AUTH_WAIT);
	session_resume(s);
}

static void
connect_ask_challenge(struct session *s, const struct mqtt_connect *c)
{
	struct ipc_writer w;
	uint32_t id;

	id = ipc_client_begin(s->px->authd, &w, IPC_AUTH_CHALLENGE);
	ipc_put_str(&w, s->peer, strlen(s->peer));
	put_bytes(&w, &c->client_id);
	connect_request(
	    s, &w, id, connect_on_challenge, SESSION_AUTH_CHALLENGE);
}

/* The client's AUTH answer to our challenge. */
static void
connect_on_auth_answer(struct session *s, const struct mqtt_packet *p)
{
	struct mqtt_prop method, data;

	if (p->type == MQTT_DISCONNECT) {
		session_finish(s, "client gave up authentication");
		return;
	}
	if (p->type != MQTT_AUTH ||
	    p->u.reason.reason != MQTT_RC_CONTINUE_AUTH) {
		connect_refuse(s, MQTT_RC_PROTOCOL_ERROR,
		    "expected AUTH with reason 0x18");
		return;
	}
	if (!mqtt_props_find(
		&p->u.reason.props, MQTT_PROP_AUTH_METHOD, &method) ||
	    !bytes_equal(&method.str, TOKEN_AUTH_METHOD)) {
		/* [MQTT-4.12.0-5]: the method must not change. */
		connect_refuse(s, MQTT_RC_PROTOCOL_ERROR,
		    "AUTH changed the authentication method");
		return;
	}
	if (!mqtt_props_find(&p->u.reason.props, MQTT_PROP_AUTH_DATA, &data)) {
		connect_refuse(
		    s, MQTT_RC_NOT_AUTHORIZED, "AUTH carries no signature");
		return;
	}
	if ((s->auth_sig = malloc(data.str.len + 1)) == NULL) {
		session_abort(s, "out of memory");
		return;
	}
	memcpy(s->auth_sig, data.str.data, data.str.len);
	s->auth_sig_len = data.str.len;
	s->auth_request = CONNECT_ASK_RESPONSE;
	if (defence_auth_acquire(s))
		connect_send_response(s);
	else
		session_set_state(s, SESSION_AUTH_RESPONSE);
}

/* ---- Client packets before CONNACK ------------------------------------ */

/* Protocol level of a CONNECT that failed to decode, or 0. */
static uint8_t
connect_peek_version(const struct mqtt_fixed_header *hdr, const uint8_t *body)
{
	static const uint8_t name[] = {0, 4, 'M', 'Q', 'T', 'T'};

	if (hdr->type != MQTT_CONNECT || hdr->remaining < 7 ||
	    memcmp(body, name, sizeof(name)) != 0)
		return 0;
	return body[6] == MQTT_V5 || body[6] == MQTT_V311 ? body[6] : 0;
}

static void
connect_on_connect(
    struct session *s, const struct mqtt_fixed_header *hdr, const uint8_t *pkt)
{
	const uint8_t *body = pkt + hdr->header_len;
	size_t len = hdr->header_len + (size_t)hdr->remaining;
	struct mqtt_packet p;
	struct mqtt_prop method;
	enum mqtt_result r;

	r = mqtt_decode(0, hdr, body, &p);
	if (r == MQTT_BAD_VERSION) {
		/* [MQTT-3.1.2-2]: CONNACK 0x01, then close. */
		s->version = MQTT_V311;
		connect_refuse(s, MQTT_RC_UNSUPPORTED_VERSION,
		    "unsupported protocol version");
		return;
	}
	if (r != MQTT_OK) {
		s->version = connect_peek_version(hdr, body);
		connect_refuse(s, mqtt_result_reason(r),
		    hdr->type == MQTT_CONNECT ? mqtt_result_str(r)
					      : "first packet is not CONNECT");
		return;
	}
	s->version = p.u.connect.version;
	if (s->refuse != 0) {
		/* Decided on the IP alone: no credential is looked at. */
		connect_refuse(s, s->refuse,
		    s->refuse == MQTT_RC_BANNED ? "banned"
						: "authd did not judge the IP");
		return;
	}
	if ((s->connect_pkt = malloc(len)) == NULL) {
		session_abort(s, "out of memory");
		return;
	}
	memcpy(s->connect_pkt, pkt, len);
	s->connect_len = len;

	if (s->version == MQTT_V5 &&
	    mqtt_props_find(
		&p.u.connect.props, MQTT_PROP_AUTH_METHOD, &method)) {
		if (!bytes_equal(&method.str, TOKEN_AUTH_METHOD)) {
			connect_refuse(s, MQTT_RC_BAD_AUTH_METHOD,
			    "unknown authentication method");
			return;
		}
		connect_ask_challenge(s, &p.u.connect);
		return;
	}
	connect_ask_token(s, &p.u.connect);
}

void
connect_on_client_packet(
    struct session *s, const struct mqtt_fixed_header *hdr, const uint8_t *pkt)
{
	struct mqtt_packet p;
	enum mqtt_result r;

	if (s->state == SESSION_WAIT_CONNECT) {
		connect_on_connect(s, hdr, pkt);
		return;
	}
	/* SESSION_AUTH_WAIT: only the challenge answer may come. */
	r = mqtt_decode(s->version, hdr, pkt + hdr->header_len, &p);
	if (r != MQTT_OK) {
		connect_refuse(s, mqtt_result_reason(r), mqtt_result_str(r));
		return;
	}
	connect_on_auth_answer(s, &p);
}

/* ---- The Will ---------------------------------------------------------- */

void
connect_authorize_will(struct session *s)
{
	struct mqtt_packet p;
	const struct mqtt_bytes *topic;
	enum acl_decision d;

	connect_saved(s, &p);
	if (!p.u.connect.will_flag) {
		connect_broker(s);
		return;
	}
	/* The client's input is not read now: its batch is free to use. */
	topic = &p.u.connect.will_topic;
	d = acl_decide(
	    s, &s->client, 0, 1, ACL_PUBLISH, topic->data, topic->len);
	switch (d) {
	case ACL_DECISION_PENDING:
		if (s->state != SESSION_ACL_WILL)
			session_set_state(s, SESSION_ACL_WILL);
		return;
	case ACL_DECISION_ALLOW:
		acl_packet_done(s, &s->client);
		connect_broker(s);
		return;
	case ACL_DECISION_DENY:
	case ACL_DECISION_DENY_COUNTRY:
		defence_strike(s, ACL_PUBLISH, topic->data, topic->len,
		    d == ACL_DECISION_DENY_COUNTRY);
		/* FALLTHROUGH */
	case ACL_DECISION_FAILED:
		acl_packet_done(s, &s->client);
		s->px->denials[0]++;
		acl_log_denial(s, ACL_PUBLISH, topic->data, topic->len, "Will");
		connect_refuse(
		    s, MQTT_RC_NOT_AUTHORIZED, "no right to publish the Will");
		return;
	}
}

/* ---- The broker side --------------------------------------------------- */

static void
connect_broker(struct session *s)
{
	struct proxyd *px = s->px;
	int fd, one = 1;

	fd = socket(px->broker_addr.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("socket for the broker: %s", strerror(errno));
		connect_refuse(s, MQTT_RC_SERVER_UNAVAILABLE, "no socket");
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&px->broker_addr,
		px->broker_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		log_warn("connect to the broker: %s", strerror(errno));
		close(fd);
		connect_refuse(
		    s, MQTT_RC_SERVER_UNAVAILABLE, "broker unreachable");
		return;
	}
	session_attach_broker(s, fd);
	session_set_state(s, SESSION_BROKER_CONNECT);
}

/*
 * Builds the CONNECT the broker gets: FlyTrap credentials and enhanced
 * authentication removed, username the authenticated address (or the
 * configured broker username), password the configured one, a Maximum
 * Packet Size no larger than proxyd's own, and no Topic Alias Maximum, so
 * that the broker names the topic of every delivery in full.
 */
static bool
connect_rewrite(struct session *s, size_t *out_len)
{
	struct proxyd *px = s->px;
	const struct flytrap_config *cfg = px->cfg;
	struct mqtt_prop_builder b;
	struct mqtt_prop_iter it;
	struct mqtt_packet p;
	struct mqtt_connect *c = &p.u.connect;
	struct mqtt_prop pr;
	bool have_max = false;

	connect_saved(s, &p);
	if (c->version == MQTT_V5) {
		mqtt_props_builder_init(&b, px->props_scratch, px->max_packet);
		mqtt_props_iter_init(&it, &c->props);
		while (mqtt_props_next(&it, &pr)) {
			if (pr.id == MQTT_PROP_AUTH_METHOD ||
			    pr.id == MQTT_PROP_AUTH_DATA ||
			    pr.id == MQTT_PROP_TOPIC_ALIAS_MAXIMUM)
				continue;
			if (pr.id == MQTT_PROP_USER_PROPERTY &&
			    is_flytrap_property(&pr.str))
				continue;
			if (pr.id == MQTT_PROP_MAXIMUM_PACKET_SIZE) {
				have_max = true;
				if (pr.num > px->max_packet)
					pr.num = px->max_packet;
			}
			mqtt_props_add_prop(&b, &pr);
		}
		if (!have_max)
			mqtt_props_add_u32(
			    &b, MQTT_PROP_MAXIMUM_PACKET_SIZE, px->max_packet);
		if (mqtt_props_builder_finish(&b, &c->props) != MQTT_OK)
			return false;
	}
	c->has_username = false;
	if (cfg->proxyd.broker_username[0] != '\0') {
		c->has_username = true;
		c->username.data = (const uint8_t *)cfg->proxyd.broker_username;
		c->username.len = strlen(cfg->proxyd.broker_username);
	} else if (cfg->proxyd.forward_username) {
		c->has_username = true;
		c->username.data = (const uint8_t *)s->address;
		c->username.len = strlen(s->address);
	}
	c->has_password = cfg->proxyd.broker_password[0] != '\0';
	c->password.data = (const uint8_t *)cfg->proxyd.broker_password;
	c->password.len = strlen(cfg->proxyd.broker_password);
	return mqtt_encode(c->version, &p, px->scratch, px->scratch_len,
		   out_len) == MQTT_OK;
}

void
connect_on_broker_writable(struct session *s)
{
	int err = 0;
	socklen_t errlen = sizeof(err);
	size_t len;

	if (getsockopt(s->broker.fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		err = errno;
	if (err != 0) {
		log_warn("session %s: broker connection failed: %s", s->peer,
		    strerror(err));
		connect_refuse(
		    s, MQTT_RC_SERVER_UNAVAILABLE, "broker unreachable");
		return;
	}
	if (!connect_rewrite(s, &len)) {
		connect_refuse(
		    s, MQTT_RC_UNSPECIFIED, "rewritten CONNECT does not fit");
		return;
	}
	if (session_queue(s, &s->broker, s->px->scratch, len))
		session_set_state(s, SESSION_BROKER_CONNACK);
}

/*
 * The broker's CONNACK without its Topic Alias Maximum, in px->scratch: a
 * client must then use no alias [MQTT-3.3.2-8], so every PUBLISH names
 * the topic proxyd judges. Returns false if it does not encode.
 */
static bool
connect_connack_without_aliases(
    struct session *s, const struct mqtt_packet *p, size_t *out_len)
{
	struct proxyd *px = s->px;
	struct mqtt_prop_builder b;
	struct mqtt_prop_iter it;
	struct mqtt_packet out = *p;
	struct mqtt_prop pr;

	mqtt_props_builder_init(&b, px->props_scratch, px->max_packet);
	mqtt_props_iter_init(&it, &p->u.connack.props);
	while (mqtt_props_next(&it, &pr))
		if (pr.id != MQTT_PROP_TOPIC_ALIAS_MAXIMUM)
			mqtt_props_add_prop(&b, &pr);
	return mqtt_props_builder_finish(&b, &out.u.connack.props) == MQTT_OK &&
	    mqtt_encode(MQTT_V5, &out, px->scratch, px->scratch_len, out_len) ==
	    MQTT_OK;
}

void
connect_on_broker_connack(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	struct mqtt_packet saved;
	struct mqtt_prop ka;
	uint16_t keep_alive;

	if (p->type != MQTT_CONNACK) {
		log_warn("session %s: broker sent %s before CONNACK", s->peer,
		    mqtt_packet_name(p->type));
		connect_refuse(
		    s, MQTT_RC_SERVER_UNAVAILABLE, "broker protocol error");
		return;
	}
	if (s->version == MQTT_V5 &&
	    mqtt_props_find(
		&p->u.connack.props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, &ka)) {
		if (!connect_connack_without_aliases(s, p, &len)) {
			connect_refuse(s, MQTT_RC_UNSPECIFIED,
			    "cannot re-encode the broker's CONNACK");
			return;
		}
		pkt = s->px->scratch;
	}
	if (!session_queue(s, &s->client, pkt, len))
		return;
	if (p->u.connack.reason != 0) {
		log_info("session %s (%s): broker refused with code 0x%02x",
		    s->peer, s->address, p->u.connack.reason);
		session_finish(s, "broker refused the CONNECT");
		return;
	}
	connect_saved(s, &saved);
	keep_alive = saved.u.connect.keep_alive;
	/* [MQTT-3.2.2-22]: the server's keep-alive replaces the client's. */
	if (s->version == MQTT_V5 &&
	    mqtt_props_find(
		&p->u.connack.props, MQTT_PROP_SERVER_KEEP_ALIVE, &ka))
		keep_alive = (uint16_t)ka.num;
	free(s->connect_pkt);
	s->connect_pkt = NULL;
	s->connect_len = 0;
	log_info("session %s: authenticated as %s", s->peer, s->address);
	session_start_relay(s, keep_alive);
}
