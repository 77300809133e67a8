/*
 * Token verification: which FlyTrap credential a CONNECT carries, whether
 * its signature, time and freshness hold, and who signed it. Cheap checks
 * (shape, time window, replay cache) run before the signature recovery.
 */
#include <string.h>
#include <sys/random.h>

#include "authd.h"
#include "expset.h"
#include "hex.h"
#include "keccak.h"
#include "token.h"

/* Longest message a token can sign: realm and client id bound it. */
#define TOKEN_MESSAGE_MAX (65535 * 2 + 256)

/* A decimal Unix time: 1 to 18 digits, nothing else. */
static bool
parse_unix_time(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
parse_signature(const char *s, size_t len, uint8_t sig[ETH_SIG_LEN])
{
	return hex_decode_exact(s, len, sig, ETH_SIG_LEN);
}

/* The replay key of a signature: its r and s, whatever form v took. */
static void
replay_key(const uint8_t sig[ETH_SIG_LEN], uint8_t key[EXPSET_KEY_LEN])
{
	keccak256(sig, 64, key);
}

struct token_parts {
	bool is_static;
	const char *sig;
	size_t sig_len;
	const char *time;
	size_t time_len;
	const char *claimed; /* address the client says it is, or NULL */
	size_t claimed_len;
};

/* Picks the credential out of the request; false if there is none. */
static bool
token_split(const struct auth_token_request *req, struct token_parts *t)
{
	const char *colon;

	memset(t, 0, sizeof(*t));
	if (req->prop_sig_len > 0) {
		t->sig = req->prop_sig;
		t->sig_len = req->prop_sig_len;
		if (req->prop_address_len > 0) {
			t->is_static = true;
			t->claimed = req->prop_address;
			t->claimed_len = req->prop_address_len;
		} else {
			t->time = req->prop_time;
			t->time_len = req->prop_time_len;
		}
		if (req->has_username && t->claimed == NULL) {
			t->claimed = req->username;
			t->claimed_len = req->username_len;
		}
		return true;
	}
	if (!req->has_username || !req->has_password)
		return false;
	t->claimed = req->username;
	t->claimed_len = req->username_len;
	if (req->password_len > 7 && memcmp(req->password, "static:", 7) == 0) {
		t->is_static = true;
		t->sig = req->password + 7;
		t->sig_len = req->password_len - 7;
		return true;
	}
	colon = memchr(req->password, ':', req->password_len);
	if (colon == NULL) {
		/* A password that is no token still counts as an attempt. */
		t->sig = req->password;
		t->sig_len = req->password_len;
		return true;
	}
	t->time = req->password;
	t->time_len = (size_t)(colon - req->password);
	t->sig = colon + 1;
	t->sig_len = req->password_len - t->time_len - 1;
	return true;
}

enum auth_result
authd_verify_token(struct authd *ad, const struct auth_token_request *req,
    double now, uint8_t addr[ETH_ADDRESS_LEN], const char **why)
{
	static char message[TOKEN_MESSAGE_MAX];
	struct token_parts t;
	uint8_t sig[ETH_SIG_LEN], digest[32], key[EXPSET_KEY_LEN];
	uint8_t claimed[ETH_ADDRESS_LEN];
	int64_t when = 0;
	size_t len;

	if (!token_split(req, &t)) {
		*why = "no FlyTrap credentials";
		return AUTH_NO_CREDENTIALS;
	}
	if (t.is_static && !ad->static_tokens) {
		*why = "static tokens are disabled";
		return AUTH_STATIC_DISABLED;
	}
	if (!parse_signature(t.sig, t.sig_len, sig)) {
		*why = "signature is not 65 bytes of hex";
		return AUTH_BAD_SIGNATURE;
	}
	if (t.claimed != NULL &&
	    !eth_address_parse(t.claimed, t.claimed_len, claimed)) {
		*why = "claimed address is not an Ethereum address";
		return AUTH_BAD_SIGNATURE;
	}
	if (t.is_static) {
		len = token_message_static(
		    message, sizeof(message), ad->realm, claimed);
	} else {
		if (!parse_unix_time(t.time, t.time_len, &when)) {
			*why = "token time is not a decimal Unix time";
			return AUTH_BAD_SIGNATURE;
		}
		if ((double)when < now - ad->token_skew ||
		    (double)when > now + ad->token_skew) {
			*why = "token time outside the allowed skew";
			return AUTH_EXPIRED;
		}
		replay_key(sig, key);
		/* Refuse a known replay before paying for recovery. */
		if (expset_contains(ad->replay, key, now)) {
			*why = "signature already used";
			return AUTH_REPLAYED;
		}
		len = token_message_timed(message, sizeof(message), ad->realm,
		    (const uint8_t *)req->client_id, req->client_id_len, when);
	}
	if (len == 0) {
		*why = "token message too long";
		return AUTH_BAD_SIGNATURE;
	}
	eth_eip191_digest(message, len, digest);
	ad->n.signature_checks++;
	if (eth_recover(digest, sig, addr) != ETH_OK) {
		*why = "signature does not recover to a key";
		return AUTH_BAD_SIGNATURE;
	}
	if (t.claimed != NULL && memcmp(claimed, addr, ETH_ADDRESS_LEN) != 0) {
		*why = "signer is not the claimed address";
		return AUTH_BAD_SIGNATURE;
	}
	if (!t.is_static) {
		switch (expset_add(ad->replay, key, now)) {
		case EXPSET_ADDED:
			break;
		case EXPSET_PRESENT:
			*why = "signature already used";
			return AUTH_REPLAYED;
		case EXPSET_FULL:
			/* Forgetting a signature would allow its replay. */
			*why = "replay cache full";
			return AUTH_OVERLOADED;
		}
	}
	*why = t.is_static ? "static token" : "timed token";
	return AUTH_OK;
}

enum auth_result
authd_issue_challenge(struct authd *ad, double now, uint8_t nonce[32])
{
	if (getrandom(nonce, 32, 0) != 32)
		return AUTH_OVERLOADED;
	switch (expset_add(ad->challenges, nonce, now)) {
	case EXPSET_ADDED:
		return AUTH_OK;
	case EXPSET_PRESENT: /* 2^-256: the CSPRNG is broken */
	case EXPSET_FULL:
		break;
	}
	return AUTH_OVERLOADED;
}

enum auth_result
authd_verify_challenge(struct authd *ad, const char *client_id,
    size_t client_id_len, const char *claimed, size_t claimed_len,
    const uint8_t nonce[32], const uint8_t *sig, size_t sig_len, double now,
    uint8_t addr[ETH_ADDRESS_LEN], const char **why)
{
	static char message[TOKEN_MESSAGE_MAX];
	uint8_t digest[32];
	size_t len;

	/* Taking the nonce first makes every nonce single-use. */
	if (!expset_take(ad->challenges, nonce, now)) {
		*why = "unknown or expired challenge";
		return AUTH_BAD_CHALLENGE;
	}
	if (sig_len != ETH_SIG_LEN) {
		*why = "challenge answer is not a 65-byte signature";
		return AUTH_BAD_CHALLENGE;
	}
	len = token_message_challenge(message, sizeof(message), ad->realm,
	    (const uint8_t *)client_id, client_id_len, nonce);
	if (len == 0) {
		*why = "challenge message too long";
		return AUTH_BAD_CHALLENGE;
	}
	eth_eip191_digest(message, len, digest);
	ad->n.signature_checks++;
	if (eth_recover(digest, sig, addr) != ETH_OK) {
		*why = "challenge signature does not recover to a key";
		return AUTH_BAD_CHALLENGE;
	}
	if (claimed != NULL) {
		uint8_t want[ETH_ADDRESS_LEN];

		if (!eth_address_parse(claimed, claimed_len, want) ||
		    memcmp(want, addr, ETH_ADDRESS_LEN) != 0) {
			*why = "signer is not the username's address";
			return AUTH_BAD_CHALLENGE;
		}
	}
	*why = "challenge-response";
	return AUTH_OK;
}
