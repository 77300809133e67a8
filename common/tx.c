/*
 * Transaction encoding (EIP-2718 envelopes, EIP-1559 and EIP-155) and
 * signing with eth.c's RFC 6979 signatures.
 */
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "keccak.h"
#include "rlp.h"
#include "tx.h"

const char *
tx_status_str(enum tx_status st)
{
	switch (st) {
	case TX_OK:
		return "ok";
	case TX_ERR_TYPE:
		return "unsupported transaction type";
	case TX_ERR_CHAIN_ID:
		return "chain id out of range";
	case TX_ERR_FEE:
		return "priority fee above the max fee";
	case TX_ERR_BAD_KEY:
		return "invalid private key";
	case TX_ERR_RANDOM:
		return "no randomness available";
	case TX_ERR_NOMEM:
		return "out of memory";
	case TX_ERR_TOO_LARGE:
		return "transaction too large";
	}
	return "unknown error";
}

void
tx_uint256(uint8_t out[32], uint64_t v)
{
	memset(out, 0, 32);
	for (size_t i = 32; i > 24; i--, v >>= 8)
		out[i - 1] = (uint8_t)v;
}

static enum tx_status
tx_check(const struct tx *tx)
{
	if (tx->type != TX_TYPE_LEGACY && tx->type != TX_TYPE_EIP1559)
		return TX_ERR_TYPE;
	/* Chain id 0 would make a legacy transaction valid on every chain. */
	if (tx->chain_id == 0)
		return TX_ERR_CHAIN_ID;
	if (tx->type == TX_TYPE_LEGACY && tx->chain_id > TX_LEGACY_CHAIN_ID_MAX)
		return TX_ERR_CHAIN_ID;
	/* Nodes refuse these; both are 32-byte big-endian, so memcmp orders. */
	if (tx->type == TX_TYPE_EIP1559 &&
	    memcmp(tx->max_priority_fee_per_gas, tx->max_fee_per_gas, 32) > 0)
		return TX_ERR_FEE;
	return TX_OK;
}

/* The fields both the signed and the signing payload start with. */
static void
tx_encode_fields(struct rlp_enc *e, const struct tx *tx)
{
	if (tx->type == TX_TYPE_EIP1559) {
		rlp_enc_uint64(e, tx->chain_id);
		rlp_enc_uint64(e, tx->nonce);
		rlp_enc_uint256(e, tx->max_priority_fee_per_gas);
		rlp_enc_uint256(e, tx->max_fee_per_gas);
	} else {
		rlp_enc_uint64(e, tx->nonce);
		rlp_enc_uint256(e, tx->gas_price);
	}
	rlp_enc_uint64(e, tx->gas_limit);
	if (tx->create)
		rlp_enc_bytes(e, NULL, 0);
	else
		rlp_enc_bytes(e, tx->to, ETH_ADDRESS_LEN);
	rlp_enc_uint256(e, tx->value);
	rlp_enc_bytes(e, tx->data, tx->data_len);
	if (tx->type == TX_TYPE_EIP1559) {
		rlp_enc_list_begin(e); /* access list */
		rlp_enc_list_end(e);
	}
}

/*
 * Finishes e into a fresh buffer, after the type byte for typed
 * transactions: *out (malloc'd) and *len.
 */
static enum tx_status
tx_finish(struct rlp_enc *e, const struct tx *tx, uint8_t **out, size_t *len)
{
	size_t prefix = tx->type == TX_TYPE_LEGACY ? 0 : 1;
	const uint8_t *body;
	size_t body_len;
	enum rlp_status st = rlp_enc_finish(e, &body, &body_len);

	*out = NULL;
	*len = 0;
	if (st != RLP_OK) {
		rlp_enc_free(e);
		return st == RLP_ERR_NOMEM ? TX_ERR_NOMEM : TX_ERR_TOO_LARGE;
	}
	if ((*out = malloc(prefix + body_len)) == NULL) {
		rlp_enc_free(e);
		return TX_ERR_NOMEM;
	}
	if (prefix)
		(*out)[0] = (uint8_t)tx->type;
	memcpy(*out + prefix, body, body_len);
	*len = prefix + body_len;
	rlp_enc_free(e);
	return TX_OK;
}

enum tx_status
tx_signing_hash(const struct tx *tx, uint8_t hash[32])
{
	struct rlp_enc e;
	enum tx_status st;
	uint8_t *payload;
	size_t len;

	memset(hash, 0, 32);
	if ((st = tx_check(tx)) != TX_OK)
		return st;
	rlp_enc_init(&e);
	rlp_enc_list_begin(&e);
	tx_encode_fields(&e, tx);
	if (tx->type == TX_TYPE_LEGACY) {
		/* EIP-155: chainId, 0, 0 in place of v, r, s. */
		rlp_enc_uint64(&e, tx->chain_id);
		rlp_enc_uint64(&e, 0);
		rlp_enc_uint64(&e, 0);
	}
	rlp_enc_list_end(&e);
	if ((st = tx_finish(&e, tx, &payload, &len)) != TX_OK)
		return st;
	keccak256(payload, len, hash);
	free(payload);
	return TX_OK;
}

enum tx_status
tx_sign(
    const struct tx *tx, const uint8_t key[ETH_KEY_LEN], struct tx_signed *out)
{
	uint8_t digest[32], sig[ETH_SIG_LEN];
	struct rlp_enc e;
	enum tx_status st;
	uint64_t recid;

	memset(out, 0, sizeof(*out));
	if ((st = tx_signing_hash(tx, digest)) != TX_OK)
		return st;
	switch (eth_sign(key, digest, sig)) {
	case ETH_OK:
		break;
	case ETH_ERR_RANDOM:
		return TX_ERR_RANDOM;
	default:
		return TX_ERR_BAD_KEY;
	}
	recid = sig[64] - 27u; /* eth_sign's v is 27 + recovery id */
	rlp_enc_init(&e);
	rlp_enc_list_begin(&e);
	tx_encode_fields(&e, tx);
	if (tx->type == TX_TYPE_EIP1559)
		rlp_enc_uint64(&e, recid); /* yParity */
	else
		rlp_enc_uint64(&e, recid + 2 * tx->chain_id + 35);
	rlp_enc_uint256(&e, sig);
	rlp_enc_uint256(&e, sig + 32);
	rlp_enc_list_end(&e);
	if ((st = tx_finish(&e, tx, &out->raw, &out->raw_len)) != TX_OK)
		return st;
	keccak256(out->raw, out->raw_len, out->hash);
	return TX_OK;
}

void
tx_signed_free(struct tx_signed *s)
{
	free(s->raw);
	memset(s, 0, sizeof(*s));
}
