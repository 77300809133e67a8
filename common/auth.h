/*
 * The verdicts authd returns to proxyd for an authentication request, and
 * how proxyd turns each into a CONNACK reason code.
 */
#ifndef FLYTRAP_AUTH_H
#define FLYTRAP_AUTH_H

#include <stdint.h>

enum auth_result {
	AUTH_OK = 0,
	AUTH_NO_CREDENTIALS, /* no FlyTrap token of any kind */
	AUTH_BAD_SIGNATURE, /* unparsable, or signed by another key */
	AUTH_EXPIRED, /* time outside the skew window */
	AUTH_REPLAYED, /* signature or nonce already used */
	AUTH_STATIC_DISABLED, /* static token while static tokens are off */
	AUTH_BAD_CHALLENGE, /* challenge answer wrong or nonce unknown */
	AUTH_OVERLOADED, /* authd refuses work it cannot bound */
	AUTH_RESULT_MAX
};

/* Short name of a verdict for logs ("bad-signature"). */
const char *auth_result_str(enum auth_result r);

/* CONNACK reason code (v5) or return code (v3.1.1) for a verdict. */
uint8_t auth_result_connack(enum auth_result r, uint8_t version);

#endif
