/*
 * flytrapctl's chain side: the options every chain command shares, the node
 * (JSON-RPC), the signer, transactions with readable failures, wei amounts,
 * and typed access to the FlyTrap contract (docs/CONTRACT.md).
 */
#ifndef FLYTRAP_CTL_CHAIN_H
#define FLYTRAP_CTL_CHAIN_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "eth.h"

#define CTL_WUR __attribute__((warn_unused_result))

/*
 * How a helper ended. CTL_FAILED means the reason has already been printed
 * with ctl_error: the command only has to exit with CTL_EXIT_FAIL.
 */
enum ctl_status {
	CTL_OK = 0,
	CTL_FAILED,
};

/* ---- Shared options ------------------------------------------------------ */

#define CTL_DEFAULT_RPC "http://127.0.0.1:8545"
#define CTL_DEFAULT_STATUS_SOCKET "/run/flytrap/status.sock"
/* Seconds to wait for a transaction to be mined (--timeout). */
#define CTL_DEFAULT_TIMEOUT 120.0

/* getopt_long codes of the shared options (beyond any short option). */
enum ctl_opt {
	CTL_OPT_RPC = 0x100,
	CTL_OPT_CONTRACT,
	CTL_OPT_KEY,
	CTL_OPT_KEYSTORE,
	CTL_OPT_PASSWORD_FILE,
	CTL_OPT_STATUS_SOCKET,
	CTL_OPT_TIMEOUT,
	CTL_OPT_JSON,
};

/* The shared rows of a command's getopt_long table (all long-only). */
/* clang-format off */
#define CTL_CHAIN_LONGOPTS \
	{"rpc", required_argument, NULL, CTL_OPT_RPC}, \
	{"contract", required_argument, NULL, CTL_OPT_CONTRACT}, \
	{"key", required_argument, NULL, CTL_OPT_KEY}, \
	{"keystore", required_argument, NULL, CTL_OPT_KEYSTORE}, \
	{"password-file", required_argument, NULL, CTL_OPT_PASSWORD_FILE}, \
	{"timeout", required_argument, NULL, CTL_OPT_TIMEOUT}, \
	{"json", no_argument, NULL, CTL_OPT_JSON}, \
	{"help", no_argument, NULL, 'h'}
/* clang-format on */

/* The help text of the shared options, for every chain command's --help. */
extern const char ctl_chain_help[];

/*
 * Where a command talks to and as whom. Strings point into argv or the
 * environment. The key is loaded by ctl_chain_signer, only by commands
 * that sign.
 */
struct ctl_chain {
	const char *rpc_url;
	const char *contract_text; /* NULL: none given */
	uint8_t contract[ETH_ADDRESS_LEN];
	const char *key_path;
	const char *keystore_path;
	bool key_from_cli, keystore_from_cli;
	const char *password_file;
	const char *status_socket;
	double timeout_s;
	bool json;
	bool has_key;
	uint8_t key[ETH_KEY_LEN];
	uint8_t address[ETH_ADDRESS_LEN];
};

/* Defaults from the environment ($FLYTRAP_RPC, $FLYTRAP_CONTRACT, ...). */
void ctl_chain_init(struct ctl_chain *c);
/* Zeroes the key. */
void ctl_chain_done(struct ctl_chain *c);

enum ctl_opt_result {
	CTL_OPT_TAKEN, /* a shared option, recorded */
	CTL_OPT_OTHER, /* not a shared option: the command's own or unknown */
	CTL_OPT_BAD, /* a shared option with a bad value (reported) */
};

/* Records shared option `ch` (a getopt_long return) with its argument. */
enum ctl_opt_result ctl_chain_option(
    struct ctl_chain *c, int ch, const char *arg) CTL_WUR;

/* Checks and parses --contract / $FLYTRAP_CONTRACT; reports if missing. */
enum ctl_status ctl_chain_need_contract(struct ctl_chain *c) CTL_WUR;

/*
 * Loads the signing key: --key FILE (raw hex, as keygen writes) or
 * --keystore FILE (with --password-file or $FLYTRAP_KEYSTORE_PASSWORD). An
 * option given on the command line wins over the environment; both kinds
 * at the same level is a usage error (CTL_FAILED all the same).
 */
enum ctl_status ctl_chain_signer(struct ctl_chain *c) CTL_WUR;

/* ---- Wei amounts and other numbers --------------------------------------- */

/* Room for a uint256 in decimal, NUL included. */
#define CTL_U256_DEC_SIZE 80
/* Room for a uint256 quantity "0x..." (no leading zeros), NUL included. */
#define CTL_U256_HEX_SIZE 67

/*
 * Parses an amount of wei into 32 big-endian bytes: a decimal number,
 * optionally followed by a unit "wei", "gwei" or "ether" (any case), which
 * allows a fraction ("0.5ether", "1.5 gwei"). False for anything else, a
 * fraction finer than one wei, or more than 256 bits.
 */
bool ctl_wei_parse(const char *s, uint8_t out[32]) CTL_WUR;
/* True if v fits in `bits` bits. */
bool ctl_u256_fits(const uint8_t v[32], unsigned bits);
bool ctl_u256_is_zero(const uint8_t v[32]);
int ctl_u256_cmp(const uint8_t a[32], const uint8_t b[32]);
/* a += b, false on overflow (a is then undefined). */
bool ctl_u256_add(uint8_t a[32], const uint8_t b[32]) CTL_WUR;
/* a *= m, false on overflow. */
bool ctl_u256_mul_u64(uint8_t a[32], uint64_t m) CTL_WUR;
/* Decimal text of v; returns out. */
char *ctl_u256_dec(const uint8_t v[32], char out[CTL_U256_DEC_SIZE]);
/* The JSON-RPC quantity of v ("0x0", "0x1f"); returns out. */
char *ctl_u256_hex(const uint8_t v[32], char out[CTL_U256_HEX_SIZE]);

/*
 * A duration: decimal seconds, optionally with a unit s, m, h or d
 * ("3600", "90m", "30d"). False for anything else or beyond 64 bits.
 */
bool ctl_duration_parse(const char *s, uint64_t *out) CTL_WUR;
/* A non-negative decimal integer of 64 bits. */
bool ctl_u64_parse(const char *s, uint64_t *out) CTL_WUR;
/* An address (0x + 40 hex digits); reports "OPTION: bad address" if not. */
enum ctl_status ctl_address_arg(
    const char *what, const char *s, uint8_t out[ETH_ADDRESS_LEN]) CTL_WUR;

/* ---- The node ------------------------------------------------------------ */

/*
 * One JSON-RPC call (params stolen). On CTL_OK *result is a new reference.
 * Any failure is reported as "METHOD: why" (an unreachable node says so,
 * with the URL).
 */
enum ctl_status ctl_rpc(struct ctl_chain *c, const char *method, json_t *params,
    json_t **result) CTL_WUR;

/*
 * eth_call of data on the contract at the latest block. On CTL_OK *ret
 * (malloc'd) and *ret_len hold the return data. A revert is reported
 * decoded, prefixed by `what`.
 */
enum ctl_status ctl_call(struct ctl_chain *c, const char *what,
    const uint8_t *data, size_t len, uint8_t **ret, size_t *ret_len) CTL_WUR;

/* The latest block's number and timestamp. */
enum ctl_status ctl_latest_block(
    struct ctl_chain *c, uint64_t *number, uint64_t *timestamp) CTL_WUR;

/*
 * Prints the revert data `data` (a JSON-RPC error's data member) as the
 * contract's error by name and meaning, e.g. "revert: NotTopicOwner() —
 * you are not this topic's owner"; without data, the node's message msg.
 */
void ctl_report_revert(const json_t *data, const char *msg);

/* ---- Transactions -------------------------------------------------------- */

/* A call of the contract (c->contract), or with create a deployment. */
struct ctl_tx_request {
	bool create;
	const uint8_t *data;
	size_t data_len;
	uint8_t value[32];
};

#define CTL_TX_HASH_SIZE 67

struct ctl_receipt {
	char hash[CTL_TX_HASH_SIZE]; /* 0x + 64 hex digits */
	uint64_t block;
	uint64_t gas_used;
	bool has_contract;
	uint8_t contract[ETH_ADDRESS_LEN]; /* a deployment's address */
};

/*
 * Signs and sends a transaction from the signer and waits (c->timeout_s at
 * most) until it is mined: EIP-1559 when the latest block has a base fee
 * (max fee = 2 * base fee + priority fee), else legacy at eth_gasPrice;
 * nonce from the pending count; gas estimated plus 20 %. A revert found
 * by the estimate stops it before anything is sent; one in the mined
 * transaction is reported too. CTL_OK only for a successful receipt.
 */
enum ctl_status ctl_send(struct ctl_chain *c, const struct ctl_tx_request *req,
    struct ctl_receipt *out) CTL_WUR;

/* {"tx", "block", "gas_used"} of a receipt, for --json output. */
json_t *ctl_receipt_json(const struct ctl_receipt *r);
/* "tx 0x... (block N, gas G)" on stdout. */
void ctl_receipt_print(const struct ctl_receipt *r);

/* Prints a JSON value compactly on stdout with a newline, and drops it. */
void ctl_json_print(json_t *v);
/* A JSON string of v in decimal (contract quantities are strings). */
json_t *ctl_json_u256(const uint8_t v[32]);
json_t *ctl_json_u64(uint64_t v);
/* A JSON string of bytes that may not be UTF-8 (then 0x-hex). */
json_t *ctl_json_text(const char *s, size_t len);

/* Room for ctl_expiry_text's output. */
#define CTL_EXPIRY_TEXT_SIZE 64
/* "forever", "none", or "until 2025-01-31 12:00:00 UTC (1738324800)". */
char *ctl_expiry_text(uint64_t expiry, char out[CTL_EXPIRY_TEXT_SIZE]);

/*
 * Prints "usage: flytrapctl SYNOPSIS", what the command does and the chain
 * options (on stdout for CTL_EXIT_OK, else stderr); returns status.
 */
int ctl_chain_usage(int status, const char *synopsis, const char *what);

/* ---- The FlyTrap contract ------------------------------------------------ */

/* Most countries one entry can hold. */
#define CTL_MAX_COUNTRIES 255
/* Expiry of a right that never ends. */
#define CTL_FOREVER UINT64_MAX

/* The answer of topic(name). */
struct ctl_topic {
	bool exists;
	uint8_t owner[ETH_ADDRESS_LEN];
	bool sensitive;
	bool self_service;
	uint8_t pub_price[32];
	uint8_t sub_price[32];
	uint64_t period;
	uint8_t countries[2 * CTL_MAX_COUNTRIES];
	size_t ncountries;
	uint64_t block;
};

/* The answer of access(name, who). */
struct ctl_access {
	bool exists;
	uint64_t pub_expiry;
	uint64_t sub_expiry;
	uint64_t block;
};

/* Starts call data for a contract function (its canonical signature). */
struct abi_enc;
void ctl_enc_begin(struct abi_enc *e, const char *signature);
/* Finishes call data; an encoding failure is reported. */
enum ctl_status ctl_enc_finish(
    struct abi_enc *e, uint8_t **out, size_t *len) CTL_WUR;

/*
 * Finishes call data e and sends it to the contract (ctl_send) with value
 * (32 bytes, wei) or none (NULL).
 */
enum ctl_status ctl_send_call(struct ctl_chain *c, struct abi_enc *e,
    const uint8_t *value, struct ctl_receipt *rc) CTL_WUR;

enum ctl_status ctl_read_topic(
    struct ctl_chain *c, const char *name, struct ctl_topic *t) CTL_WUR;
/* ctl_read_topic, reporting "unknown topic 'NAME'" when it does not exist. */
enum ctl_status ctl_need_topic(
    struct ctl_chain *c, const char *name, struct ctl_topic *t) CTL_WUR;
enum ctl_status ctl_read_access(struct ctl_chain *c, const char *name,
    const uint8_t who[ETH_ADDRESS_LEN], struct ctl_access *a) CTL_WUR;
enum ctl_status ctl_read_fee(struct ctl_chain *c, uint8_t fee[32]) CTL_WUR;
enum ctl_status ctl_read_credit(struct ctl_chain *c,
    const uint8_t who[ETH_ADDRESS_LEN], uint8_t credit[32]) CTL_WUR;
enum ctl_status ctl_read_is_reporter(
    struct ctl_chain *c, const uint8_t who[ETH_ADDRESS_LEN], bool *yes) CTL_WUR;
enum ctl_status ctl_read_topic_count(
    struct ctl_chain *c, uint64_t *count) CTL_WUR;
/* The index-th name (malloc'd, NUL-terminated; may contain NULs). */
enum ctl_status ctl_read_topic_name_at(
    struct ctl_chain *c, uint64_t index, char **name, size_t *len) CTL_WUR;

/*
 * Parses a country list: comma-separated ISO 3166 alpha-2 codes (any case,
 * stored in capitals), where "EU" stands for the 27 member states; "" or
 * "any" is the empty list (anywhere). Reports and fails on a bad code or
 * more than CTL_MAX_COUNTRIES.
 */
enum ctl_status ctl_countries_parse(
    const char *s, uint8_t codes[2 * CTL_MAX_COUNTRIES], size_t *count) CTL_WUR;
/* The codes as "DE,FR" (out has room for 3 * count + 1). */
void ctl_countries_text(const uint8_t *codes, size_t count, char *out);
/* True if the codes are exactly the EU's 27, in ctl_countries_parse's order. */
bool ctl_countries_are_eu(const uint8_t *codes, size_t count);

/* "pub" or "sub" into publish (true) / subscribe; reports anything else. */
enum ctl_status ctl_right_arg(const char *s, bool *publish) CTL_WUR;

#endif
