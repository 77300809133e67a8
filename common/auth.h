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
	AUTH_BANNED, /* the client's IP or the signer's address is banned */
	AUTH_RESULT_MAX
};

/* authd's answer to IPC_CONN_CHECK: what proxyd does with a connection. */
enum conn_verdict {
	CONN_OK = 0, /* go on with the CONNECT */
	CONN_BANNED = 1, /* answer CONNACK 0x8A (v5) / 5 (v3.1.1), close */
	CONN_DROP = 2, /* over the attempt rate: close without a word */
};

/*
 * Actions of the contract's ACLChange events that authd and chaind write
 * as alerts (contracts/FlyTrap.sol, enum Action).
 */
enum alert_action {
	ALERT_WRONG_COUNTRY = 5,
	ALERT_BANNED = 6,
};

/* chaind's answer to IPC_ALERT. */
enum alert_outcome {
	ALERT_QUEUED = 0, /* handed to the wallet */
	ALERT_DUPLICATE = 1, /* already written for this ban / in this hour */
	ALERT_OVER_BUDGET = 2, /* the hourly budget is spent: logged only */
	ALERT_NO_WALLET = 3, /* chaind has no keystore: logged only */
	ALERT_FAILED = 4, /* could not be stored */
};

/* Short name of a verdict for logs ("bad-signature"). */
const char *auth_result_str(enum auth_result r);

/* CONNACK reason code (v5) or return code (v3.1.1) for a verdict. */
uint8_t auth_result_connack(enum auth_result r, uint8_t version);

#endif
