/*
 * The relay of an authenticated session: one handler per packet type and
 * direction, with authorisation enforced on the way (docs/AUTHORISATION.md):
 * denied PUBLISHes are answered by proxyd and never reach the broker,
 * SUBSCRIBEs lose their refused filters and get them back as failures in
 * the SUBACK, and every delivery is checked against the receiver's rights.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proxyd.h"
#include "topic.h"

/* v3.1.1 SUBACK return code for a refused filter. */
#define RELAY_V311_SUBACK_FAILURE 0x80

/* ---- Small helpers ------------------------------------------------------ */

/*
 * Queues a PUBACK, PUBREC or PUBCOMP for one side, with `reason` on v5
 * (v3.1.1 acknowledgements carry none). Returns false when the session
 * was aborted (out of memory).
 */
static bool
relay_send_ack(struct session *s, struct session_side *to, uint8_t type,
    uint16_t packet_id, uint8_t reason)
{
	struct mqtt_packet p;
	uint8_t pkt[8];
	size_t len;

	memset(&p, 0, sizeof(p));
	p.type = type;
	p.u.ack.packet_id = packet_id;
	p.u.ack.reason = s->version == MQTT_V5 ? reason : 0;
	if (mqtt_encode(s->version, &p, pkt, sizeof(pkt), &len) != MQTT_OK)
		fatalx("cannot encode %s", mqtt_packet_name(type));
	return session_queue(s, to, pkt, len);
}

/*
 * The packet ids whose QoS 2 flow proxyd ended itself: their PUBREL is
 * answered here. A new PUBLISH with the same id means the old flow is over.
 */
static bool
answered_test(const struct session_side *side, uint16_t id)
{
	return side->answered_ids != NULL &&
	    (side->answered_ids[id >> 3] & (1u << (id & 7))) != 0;
}

static void
answered_clear(struct session_side *side, uint16_t id)
{
	if (side->answered_ids != NULL)
		side->answered_ids[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

/* Returns false when the session was aborted (out of memory). */
static bool
answered_set(struct session *s, struct session_side *side, uint16_t id)
{
	if (side->answered_ids == NULL &&
	    (side->answered_ids = calloc(65536 / 8, 1)) == NULL) {
		session_abort(s, "out of memory");
		return false;
	}
	side->answered_ids[id >> 3] |= (uint8_t)(1u << (id & 7));
	return true;
}

/* ---- Client to broker --------------------------------------------------- */

/*
 * PUBLISH: needs the publish right on its topic. A denied one never
 * reaches the broker: QoS 0 is dropped; QoS 1 gets PUBACK and QoS 2
 * PUBREC, with 0x87 on v5 (which ends a QoS 2 flow); on v3.1.1, which
 * has no reason codes, the client's PUBREL is then answered here.
 */
static enum relay_result
relay_client_publish(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	const struct mqtt_publish *pub = &p->u.publish;
	struct mqtt_prop alias;
	enum acl_decision d;

	if (s->version == MQTT_V5 &&
	    mqtt_props_find(&pub->props, MQTT_PROP_TOPIC_ALIAS, &alias)) {
		/*
		 * The CONNACK proxyd relayed had no Topic Alias Maximum, so
		 * no alias is allowed [MQTT-3.3.2-8]: an alias would name a
		 * topic proxyd has not judged.
		 */
		session_disconnect(s, MQTT_RC_TOPIC_ALIAS_INVALID,
		    "client used a Topic Alias");
		return RELAY_CONSUMED;
	}
	d = acl_decide(
	    s, &s->client, 0, 1, ACL_PUBLISH, pub->topic.data, pub->topic.len);
	switch (d) {
	case ACL_DECISION_PENDING:
		return RELAY_HOLD;
	case ACL_DECISION_ALLOW:
		if (s->client.acl.last_sensitive)
			report_access(s, ACCESS_PUBLISH, pub->topic.data,
			    pub->topic.len, pub->payload.len);
		if (pub->qos > 0)
			answered_clear(&s->client, pub->packet_id);
		session_queue(s, &s->broker, pkt, len);
		return RELAY_CONSUMED;
	case ACL_DECISION_DENY:
	case ACL_DECISION_DENY_COUNTRY:
		defence_strike(s, ACL_PUBLISH, pub->topic.data, pub->topic.len,
		    d == ACL_DECISION_DENY_COUNTRY);
		break;
	case ACL_DECISION_FAILED:
		break;
	}
	if (pub->qos > 0)
		answered_clear(&s->client, pub->packet_id);
	s->px->denials[0]++;
	acl_log_denial(
	    s, ACL_PUBLISH, pub->topic.data, pub->topic.len, "PUBLISH");
	if (pub->qos == 1) {
		relay_send_ack(s, &s->client, MQTT_PUBACK, pub->packet_id,
		    MQTT_RC_NOT_AUTHORIZED);
	} else if (pub->qos == 2) {
		if (s->version != MQTT_V5 &&
		    !answered_set(s, &s->client, pub->packet_id))
			return RELAY_CONSUMED;
		relay_send_ack(s, &s->client, MQTT_PUBREC, pub->packet_id,
		    MQTT_RC_NOT_AUTHORIZED);
	}
	return RELAY_CONSUMED;
}

static enum relay_result
relay_client_pubrel(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	uint16_t id = p->u.ack.packet_id;

	if (answered_test(&s->client, id)) {
		answered_clear(&s->client, id);
		relay_send_ack(
		    s, &s->client, MQTT_PUBCOMP, id, MQTT_RC_SUCCESS);
		return RELAY_CONSUMED;
	}
	session_queue(s, &s->broker, pkt, len);
	return RELAY_CONSUMED;
}

/* Answers a SUBSCRIBE whose every filter was refused. */
static void
relay_refuse_subscribe(struct session *s, const struct mqtt_subscribe *sub)
{
	struct proxyd *px = s->px;
	struct mqtt_packet out;
	size_t n = sub->count, len;

	memset(&out, 0, sizeof(out));
	out.type = MQTT_SUBACK;
	out.u.suback.packet_id = sub->packet_id;
	memset(px->props_scratch,
	    s->version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED
				  : RELAY_V311_SUBACK_FAILURE,
	    n);
	out.u.suback.reasons.data = px->props_scratch;
	out.u.suback.reasons.len = n;
	if (mqtt_encode(s->version, &out, px->scratch, px->scratch_len, &len) !=
	    MQTT_OK)
		fatalx("cannot encode a SUBACK for %zu filters", n);
	session_queue(s, &s->client, px->scratch, len);
}

/*
 * Forwards the SUBSCRIBE without its refused filters (flags[i] set), with
 * the same packet id and properties, and remembers where they were for
 * the broker's SUBACK.
 */
static void
relay_forward_filtered(struct session *s, const struct mqtt_packet *p,
    const uint8_t *flags, uint32_t denied)
{
	struct proxyd *px = s->px;
	const struct mqtt_subscribe *sub = &p->u.subscribe;
	struct relay_filtered *f = &s->filtered[s->nfiltered];
	struct mqtt_list_iter it;
	struct mqtt_bytes filter;
	struct mqtt_packet out;
	uint8_t options;
	size_t list_len = 0, len;
	uint32_t i = 0;

	if ((f->denied = malloc(sub->count)) == NULL) {
		session_abort(s, "out of memory");
		return;
	}
	memcpy(f->denied, flags, sub->count);
	f->packet_id = sub->packet_id;
	f->count = (uint32_t)sub->count;
	f->denied_count = denied;
	s->nfiltered++;

	/* Each entry on the wire: u16 length, filter, options byte. */
	mqtt_list_iter_init(&it, sub, true);
	while (mqtt_list_next(&it, &filter, &options)) {
		if (!f->denied[i++]) {
			memcpy(px->props_scratch + list_len, filter.data - 2,
			    filter.len + 3);
			list_len += filter.len + 3;
		}
	}
	out = *p;
	out.u.subscribe.list.data = px->props_scratch;
	out.u.subscribe.list.len = list_len;
	out.u.subscribe.count = sub->count - denied;
	if (mqtt_encode(s->version, &out, px->scratch, px->scratch_len, &len) !=
	    MQTT_OK)
		fatalx("cannot re-encode a filtered SUBSCRIBE");
	session_queue(s, &s->broker, px->scratch, len);
}

/*
 * Records the allowed filters of a SUBSCRIBE whose deciding entry is
 * sensitive (sensitive[i]), by their inner filter when shared.
 */
static void
relay_report_subscribe(struct session *s, const struct mqtt_subscribe *sub,
    const uint8_t *flags, const uint8_t *sensitive)
{
	struct mqtt_list_iter it;
	struct mqtt_bytes filter;
	const char *f;
	size_t flen;
	uint8_t options;
	uint32_t i = 0;

	mqtt_list_iter_init(&it, sub, true);
	while (mqtt_list_next(&it, &filter, &options)) {
		if (flags[i] == 0 && sensitive[i]) {
			f = (const char *)filter.data;
			flen = filter.len;
			(void)topic_strip_share(&f, &flen);
			report_access(
			    s, ACCESS_SUBSCRIBE, (const uint8_t *)f, flen, 0);
		}
		i++;
	}
}

/*
 * SUBSCRIBE: each filter (a shared one by its inner filter) must be
 * covered by an entry the address may subscribe to. Refused filters are
 * removed from what the broker sees and reported in the SUBACK, in the
 * client's order; with none left, proxyd answers the SUBACK itself.
 */
static enum relay_result
relay_client_subscribe(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	const struct mqtt_subscribe *sub = &p->u.subscribe;
	uint8_t *flags = s->px->scratch; /* one per filter, this call only */
	uint32_t i = 0, count = (uint32_t)sub->count, denied = 0;
	/* Also scratch: a filter takes at least 4 bytes of a packet. */
	uint8_t *sensitive = flags + count;
	struct mqtt_list_iter it;
	struct mqtt_bytes filter;
	const char *f;
	size_t flen;
	uint8_t options;
	bool pending = false, struck;
	enum acl_decision d;

	/* Every decision is asked for before holding: they go out at once. */
	mqtt_list_iter_init(&it, sub, true);
	while (mqtt_list_next(&it, &filter, &options)) {
		f = (const char *)filter.data;
		flen = filter.len;
		(void)topic_strip_share(&f, &flen);
		flags[i] = 0;
		d = acl_decide(s, &s->client, i, count, ACL_SUBSCRIBE,
		    (const uint8_t *)f, flen);
		sensitive[i] = s->client.acl.last_sensitive;
		switch (d) {
		case ACL_DECISION_PENDING:
			pending = true;
			break;
		case ACL_DECISION_DENY:
		case ACL_DECISION_DENY_COUNTRY:
		case ACL_DECISION_FAILED:
			flags[i] = (uint8_t)d;
			denied++;
			break;
		case ACL_DECISION_ALLOW:
			break;
		}
		i++;
	}
	if (pending)
		return RELAY_HOLD;
	if (denied > 0 && denied < count &&
	    s->nfiltered == RELAY_FILTERED_MAX) {
		s->subscribe_blocked = true;
		return RELAY_HOLD;
	}
	/* Before the scratch space is used for the packet to the broker. */
	relay_report_subscribe(s, sub, flags, sensitive);
	if (denied == 0) {
		session_queue(s, &s->broker, pkt, len);
		return RELAY_CONSUMED;
	}
	/* One strike per SUBSCRIBE, however many filters it was refused. */
	struck = false;
	i = 0;
	mqtt_list_iter_init(&it, sub, true);
	while (mqtt_list_next(&it, &filter, &options)) {
		d = (enum acl_decision)flags[i++];
		if (d == 0)
			continue;
		s->px->denials[1]++;
		acl_log_denial(s, ACL_SUBSCRIBE, filter.data, filter.len,
		    "SUBSCRIBE filter");
		if (!struck && d != ACL_DECISION_FAILED) {
			defence_strike(s, ACL_SUBSCRIBE, filter.data,
			    filter.len, d == ACL_DECISION_DENY_COUNTRY);
			struck = true;
		}
	}
	if (denied == count)
		relay_refuse_subscribe(s, sub);
	else
		relay_forward_filtered(s, p, flags, denied);
	return RELAY_CONSUMED;
}

enum relay_result
relay_client_packet(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	switch (p->type) {
	case MQTT_PUBLISH:
		return relay_client_publish(s, p, pkt, len);
	case MQTT_PUBREL:
		return relay_client_pubrel(s, p, pkt, len);
	case MQTT_SUBSCRIBE:
		return relay_client_subscribe(s, p, pkt, len);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBSCRIBE:
	case MQTT_PINGREQ:
		session_queue(s, &s->broker, pkt, len);
		return RELAY_CONSUMED;
	case MQTT_DISCONNECT:
		if (session_queue(s, &s->broker, pkt, len))
			session_finish(s, "client sent DISCONNECT");
		return RELAY_CONSUMED;
	case MQTT_AUTH:
		/* Enhanced authentication ends at proxyd: no re-auth. */
		session_disconnect(s, MQTT_RC_PROTOCOL_ERROR,
		    "re-authentication is not supported");
		return RELAY_CONSUMED;
	default:
		session_disconnect(s, MQTT_RC_PROTOCOL_ERROR,
		    "client sent a server-to-client packet");
		return RELAY_CONSUMED;
	}
}

/* ---- Broker to client --------------------------------------------------- */

/*
 * A delivery: the receiver must still have the subscribe right on the
 * concrete topic (grants are revoked on live sessions; retained messages
 * are no exception). A denied one is dropped and acknowledged to the
 * broker as received: QoS 1 PUBACK; QoS 2 PUBREC, then the broker's
 * PUBREL is answered here.
 */
static enum relay_result
relay_broker_publish(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	const struct mqtt_publish *pub = &p->u.publish;
	struct mqtt_prop alias;

	if (s->version == MQTT_V5 &&
	    mqtt_props_find(&pub->props, MQTT_PROP_TOPIC_ALIAS, &alias)) {
		/* proxyd's CONNECT allowed the broker no alias. */
		log_warn("session %s: broker used a Topic Alias", s->peer);
		session_disconnect(
		    s, MQTT_RC_UNSPECIFIED, "broker protocol error");
		return RELAY_CONSUMED;
	}
	if (pub->qos > 0)
		answered_clear(&s->broker, pub->packet_id);
	switch (acl_decide(s, &s->broker, 0, 1, ACL_SUBSCRIBE, pub->topic.data,
	    pub->topic.len)) {
	case ACL_DECISION_PENDING:
		return RELAY_HOLD;
	case ACL_DECISION_ALLOW:
		if (s->broker.acl.last_sensitive)
			report_access(s, ACCESS_DELIVERY, pub->topic.data,
			    pub->topic.len, pub->payload.len);
		session_queue(s, &s->client, pkt, len);
		return RELAY_CONSUMED;
	case ACL_DECISION_DENY:
	case ACL_DECISION_DENY_COUNTRY:
	case ACL_DECISION_FAILED:
		/* The client asked for nothing: no strike. */
		break;
	}
	s->px->denials[2]++;
	acl_log_denial(
	    s, ACL_SUBSCRIBE, pub->topic.data, pub->topic.len, "delivery");
	if (pub->qos == 1) {
		relay_send_ack(s, &s->broker, MQTT_PUBACK, pub->packet_id,
		    MQTT_RC_SUCCESS);
	} else if (pub->qos == 2) {
		if (!answered_set(s, &s->broker, pub->packet_id))
			return RELAY_CONSUMED;
		relay_send_ack(s, &s->broker, MQTT_PUBREC, pub->packet_id,
		    MQTT_RC_SUCCESS);
	}
	return RELAY_CONSUMED;
}

static enum relay_result
relay_broker_pubrel(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	uint16_t id = p->u.ack.packet_id;

	if (answered_test(&s->broker, id)) {
		answered_clear(&s->broker, id);
		relay_send_ack(
		    s, &s->broker, MQTT_PUBCOMP, id, MQTT_RC_SUCCESS);
		return RELAY_CONSUMED;
	}
	session_queue(s, &s->client, pkt, len);
	return RELAY_CONSUMED;
}

/*
 * The SUBACK of a filtered SUBSCRIBE: the broker's codes for the filters
 * it saw, refusals where the others were, in the client's order.
 */
static enum relay_result
relay_broker_suback(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	const struct mqtt_suback *ack = &p->u.suback;
	struct relay_filtered *f = NULL;
	struct mqtt_packet out;
	uint8_t *reasons, *buf;
	size_t out_len, cap;
	uint32_t i, j;

	for (i = 0; i < s->nfiltered; i++)
		if (s->filtered[i].packet_id == ack->packet_id)
			f = &s->filtered[i];
	if (f == NULL) {
		session_queue(s, &s->client, pkt, len);
		return RELAY_CONSUMED;
	}
	if (ack->reasons.len != f->count - f->denied_count) {
		log_warn("session %s: broker SUBACK %u has %zu codes for %u "
			 "filters",
		    s->peer, ack->packet_id, ack->reasons.len,
		    f->count - f->denied_count);
		session_disconnect(
		    s, MQTT_RC_UNSPECIFIED, "broker protocol error");
		return RELAY_CONSUMED;
	}
	cap = len + f->count + 8;
	if ((buf = malloc(cap + f->count)) == NULL) {
		session_abort(s, "out of memory");
		return RELAY_CONSUMED;
	}
	reasons = buf + cap;
	for (i = j = 0; i < f->count; i++)
		reasons[i] = f->denied[i]
		    ? (s->version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED
					     : RELAY_V311_SUBACK_FAILURE)
		    : ack->reasons.data[j++];
	out = *p;
	out.u.suback.reasons.data = reasons;
	out.u.suback.reasons.len = f->count;
	if (mqtt_encode(s->version, &out, buf, cap, &out_len) != MQTT_OK)
		fatalx("cannot re-encode a SUBACK");
	free(f->denied);
	*f = s->filtered[--s->nfiltered];
	if (!session_queue(s, &s->client, buf, out_len)) {
		free(buf);
		return RELAY_CONSUMED;
	}
	free(buf);
	if (s->subscribe_blocked) {
		/* Room again for the SUBSCRIBE the client is held on. */
		s->subscribe_blocked = false;
		s->client_kick = true;
	}
	return RELAY_CONSUMED;
}

enum relay_result
relay_broker_packet(struct session *s, const struct mqtt_packet *p,
    const uint8_t *pkt, size_t len)
{
	switch (p->type) {
	case MQTT_PUBLISH:
		return relay_broker_publish(s, p, pkt, len);
	case MQTT_PUBREL:
		return relay_broker_pubrel(s, p, pkt, len);
	case MQTT_SUBACK:
		return relay_broker_suback(s, p, pkt, len);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
	case MQTT_PINGRESP:
		session_queue(s, &s->client, pkt, len);
		return RELAY_CONSUMED;
	case MQTT_DISCONNECT:
		if (session_queue(s, &s->client, pkt, len)) {
			session_close_side(s, &s->broker);
			session_finish(s, "broker sent DISCONNECT");
		}
		return RELAY_CONSUMED;
	default:
		log_warn("session %s: broker sent %s after CONNACK", s->peer,
		    mqtt_packet_name(p->type));
		session_disconnect(
		    s, MQTT_RC_UNSPECIFIED, "broker protocol error");
		return RELAY_CONSUMED;
	}
}

void
relay_session_free(struct session *s)
{
	uint32_t i;

	for (i = 0; i < s->nfiltered; i++)
		free(s->filtered[i].denied);
	s->nfiltered = 0;
	free(s->client.answered_ids);
	free(s->broker.answered_ids);
	s->client.answered_ids = s->broker.answered_ids = NULL;
}
