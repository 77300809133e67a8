/*
 * Ethereum transactions: building and signing EIP-1559 (type 2) and legacy
 * EIP-155 transactions, ready for eth_sendRawTransaction.
 */
#ifndef FLYTRAP_TX_H
#define FLYTRAP_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth.h"

#define TX_WUR __attribute__((warn_unused_result))

/* Largest chain id a legacy transaction can carry: v = 2 * id + 36 must fit
 * in 64 bits. */
#define TX_LEGACY_CHAIN_ID_MAX ((UINT64_MAX - 36) / 2)

enum tx_status {
	TX_OK = 0,
	TX_ERR_TYPE, /* neither TX_TYPE_LEGACY nor TX_TYPE_EIP1559 */
	TX_ERR_CHAIN_ID, /* 0 (replayable on every chain) or too large */
	TX_ERR_FEE, /* EIP-1559 priority fee above the max fee */
	TX_ERR_BAD_KEY, /* zero or out-of-range private key */
	TX_ERR_RANDOM, /* no randomness to blind the signing context */
	TX_ERR_NOMEM,
	TX_ERR_TOO_LARGE, /* encoding beyond RLP_ENC_MAX */
};

const char *tx_status_str(enum tx_status st);

enum tx_type {
	TX_TYPE_LEGACY = 0, /* EIP-155: gas_price */
	TX_TYPE_EIP1559 = 2, /* max_priority_fee_per_gas, max_fee_per_gas */
};

/* Amounts in wei are 32-byte big-endian numbers (see tx_uint256). */
struct tx {
	enum tx_type type;
	uint64_t chain_id;
	uint64_t nonce;
	uint64_t gas_limit;
	uint8_t gas_price[32]; /* legacy only */
	uint8_t max_priority_fee_per_gas[32]; /* EIP-1559 only */
	uint8_t max_fee_per_gas[32]; /* EIP-1559 only */
	bool create; /* contract creation: `to` is left out */
	uint8_t to[ETH_ADDRESS_LEN];
	uint8_t value[32];
	const uint8_t *data; /* call data or init code; NULL when data_len 0 */
	size_t data_len;
	/* EIP-1559's access list is always empty. */
};

struct tx_signed {
	uint8_t *raw; /* the signed transaction (malloc'd; tx_signed_free) */
	size_t raw_len;
	uint8_t hash[32]; /* keccak256(raw): the transaction hash */
};

/* Writes v as a 32-byte big-endian amount. */
void tx_uint256(uint8_t out[32], uint64_t v);

/*
 * The digest that is signed: keccak256(0x02 || rlp([chainId, nonce,
 * maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value, data, []])) for
 * EIP-1559, keccak256(rlp([nonce, gasPrice, gasLimit, to, value, data,
 * chainId, 0, 0])) for legacy. Returns TX_OK, TX_ERR_TYPE, TX_ERR_CHAIN_ID,
 * TX_ERR_FEE, TX_ERR_NOMEM or TX_ERR_TOO_LARGE.
 */
enum tx_status tx_signing_hash(const struct tx *tx, uint8_t hash[32]) TX_WUR;

/*
 * Signs tx with key (RFC 6979, low s, as ethers and go-ethereum do) and
 * fills *out: the raw bytes (EIP-1559: 0x02 || rlp([..., yParity, r, s]);
 * legacy: rlp([..., v, r, s]) with v = recovery id + 2 * chainId + 35) and
 * their hash. Returns TX_OK or an error of tx_signing_hash, TX_ERR_BAD_KEY
 * or TX_ERR_RANDOM; on error out->raw is NULL.
 */
enum tx_status tx_sign(const struct tx *tx, const uint8_t key[ETH_KEY_LEN],
    struct tx_signed *out) TX_WUR;

void tx_signed_free(struct tx_signed *s);

#endif
