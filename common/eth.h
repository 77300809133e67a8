/*
 * Ethereum identities: secp256k1 keys and addresses, EIP-191 personal_sign
 * digests, signing and public-key recovery (libsecp256k1).
 */
#ifndef FLYTRAP_ETH_H
#define FLYTRAP_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_WUR __attribute__((warn_unused_result))

#define ETH_ADDRESS_LEN 20
#define ETH_KEY_LEN 32
#define ETH_SIG_LEN 65
/* "0x" + 40 hex digits + NUL */
#define ETH_ADDRESS_HEX_SIZE 43
/* "0x" + 130 hex digits + NUL */
#define ETH_SIG_HEX_SIZE 133

enum eth_status {
	ETH_OK = 0,
	ETH_ERR_BAD_SIGNATURE, /* malformed r/s/v, or recovery failed */
	ETH_ERR_BAD_KEY, /* zero or out-of-range private key */
	ETH_ERR_RANDOM, /* no randomness available */
	ETH_ERR_IO, /* key file unreadable */
	ETH_ERR_FORMAT, /* key file content not a hex key */
};

const char *eth_status_str(enum eth_status st);

/* keccak256("\x19Ethereum Signed Message:\n" + decimal len + msg) */
void eth_eip191_digest(const void *msg, size_t len, uint8_t digest[32]);

/*
 * Recovers the signer's address from a 65-byte r||s||v signature; v may be
 * 27/28 or 0/1. High-s signatures are rejected (as Ethereum does since
 * Homestead), so a signature has exactly one accepted encoding.
 */
enum eth_status eth_recover(const uint8_t digest[32],
    const uint8_t sig[ETH_SIG_LEN], uint8_t addr[ETH_ADDRESS_LEN]) ETH_WUR;

/* Deterministic (RFC 6979) signature, low-s, v = 27 + recovery id. */
enum eth_status eth_sign(const uint8_t key[ETH_KEY_LEN],
    const uint8_t digest[32], uint8_t sig[ETH_SIG_LEN]) ETH_WUR;

enum eth_status eth_key_address(
    const uint8_t key[ETH_KEY_LEN], uint8_t addr[ETH_ADDRESS_LEN]) ETH_WUR;
/* A fresh random private key from the kernel's CSPRNG. */
enum eth_status eth_key_generate(uint8_t key[ETH_KEY_LEN]) ETH_WUR;

/*
 * Reads a key file: 64 hex digits, optional 0x, surrounding white space
 * allowed, nothing else. ETH_ERR_IO if path is not a readable regular
 * file, ETH_ERR_FORMAT for any other content, ETH_ERR_BAD_KEY for a key
 * out of range. key is zeroed on failure.
 */
enum eth_status eth_key_read_file(
    const char *path, uint8_t key[ETH_KEY_LEN]) ETH_WUR;

/* "0x" + 40 lowercase hex digits. */
void eth_address_hex(
    const uint8_t addr[ETH_ADDRESS_LEN], char out[ETH_ADDRESS_HEX_SIZE]);
/* Parses 0x + 40 hex digits (any case, checksum not required). */
bool eth_address_parse(
    const char *s, size_t len, uint8_t addr[ETH_ADDRESS_LEN]) ETH_WUR;

#endif
