/*
 * authd's state and the verification entry points its IPC handlers call.
 */
#ifndef FLYTRAP_AUTHD_H
#define FLYTRAP_AUTHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "eth.h"

struct expset;

struct authd {
	const char *realm;
	double token_skew;
	bool static_tokens;
	struct expset *replay; /* signatures already accepted */
	struct expset *challenges; /* nonces issued and not yet answered */
	uint64_t verified;
	uint64_t refused[AUTH_RESULT_MAX];
};

/* The credentials proxyd found in a CONNECT, as text from the wire. */
struct auth_token_request {
	const char *client_id;
	size_t client_id_len;
	bool has_username;
	const char *username;
	size_t username_len;
	bool has_password;
	const char *password;
	size_t password_len;
	const char *prop_sig; /* user property flytrap-sig, "" if absent */
	size_t prop_sig_len;
	const char *prop_time;
	size_t prop_time_len;
	const char *prop_address;
	size_t prop_address_len;
};

/*
 * Verifies a timed or static token at time `now`. On AUTH_OK fills addr
 * with the signer's address; otherwise *why says what failed, for logs.
 */
enum auth_result authd_verify_token(struct authd *ad,
    const struct auth_token_request *req, double now,
    uint8_t addr[ETH_ADDRESS_LEN], const char **why);

/* Issues a challenge nonce; AUTH_OVERLOADED when too many are pending. */
enum auth_result authd_issue_challenge(
    struct authd *ad, double now, uint8_t nonce[32]);

/*
 * Checks a challenge answer and consumes the nonce. `claimed` (the CONNECT
 * username, or NULL) must name the signer when given.
 */
enum auth_result authd_verify_challenge(struct authd *ad, const char *client_id,
    size_t client_id_len, const char *claimed, size_t claimed_len,
    const uint8_t nonce[32], const uint8_t *sig, size_t sig_len, double now,
    uint8_t addr[ETH_ADDRESS_LEN], const char **why);

#endif
