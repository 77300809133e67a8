/*
 * Reads of the FlyTrap contract: access(name, address) through eth_call,
 * ABI-encoded and decoded here, answered asynchronously.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "abi.h"
#include "chaind.h"
#include "hex.h"
#include "log.h"
#include "rpc.h"

/* Most countries an entry lists (there are fewer ISO codes than this). */
#define CONTRACT_MAX_COUNTRIES 255
/* Largest access() answer: head words plus the countries array. */
#define CONTRACT_MAX_ANSWER (32 * 8 + 32 * CONTRACT_MAX_COUNTRIES)

struct contract_call {
	struct chaind *cd;
	contract_access_fn *cb;
	void *arg;
	uint64_t id;
	struct contract_call *prev, *next;
};

static struct contract_call *contract_calls;

static void
contract_call_unlink(struct contract_call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		contract_calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
}

/*
 * Decodes access()'s answer: (bool exists, uint64 pubExpiry, uint64
 * subExpiry, bool sensitive, bytes2[] countries, uint256 blockNumber).
 */
static bool
contract_decode_access(const uint8_t *data, size_t len, struct store_access *a)
{
	uint8_t codes[2 * CONTRACT_MAX_COUNTRIES];
	struct abi_dec d;
	size_t n, i;

	memset(a, 0, sizeof(*a));
	abi_dec_init(&d, data, len);
	if (abi_dec_bool(&d, &a->exists) != ABI_OK ||
	    abi_dec_uint64(&d, &a->pub_expiry) != ABI_OK ||
	    abi_dec_uint64(&d, &a->sub_expiry) != ABI_OK ||
	    abi_dec_bool(&d, &a->sensitive) != ABI_OK ||
	    abi_dec_bytes2_array(&d, codes, CONTRACT_MAX_COUNTRIES, &n) !=
		ABI_OK ||
	    abi_dec_uint64(&d, &a->block) != ABI_OK ||
	    abi_dec_end(&d) != ABI_OK)
		return false;
	for (i = 0; i < 2 * n; i++) {
		/* ISO 3166 alpha-2: two capital letters, nothing else. */
		if (codes[i] < 'A' || codes[i] > 'Z')
			return false;
		a->countries[i] = (char)codes[i];
	}
	a->countries[2 * n] = '\0';
	return true;
}

static void
contract_on_access(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	struct contract_call *c = arg;
	struct chaind *cd = c->cd;
	struct store_access a;
	uint8_t *data = NULL;
	size_t len = 0;
	bool ok = false;

	if (st != RPC_OK) {
		cd->rpc_errors++;
		cd->node_ok = false;
		log_warn("eth_call access: %s%s%s", rpc_status_str(st),
		    err != NULL && err->message[0] ? ": " : "",
		    err != NULL ? err->message : "");
	} else if (!rpc_result_bytes(
		       result, CONTRACT_MAX_ANSWER, &data, &len) ||
	    !contract_decode_access(data, len, &a)) {
		cd->rpc_errors++;
		log_warn("eth_call access: the node's answer does not decode "
			 "(wrong contract address?)");
	} else {
		cd->node_ok = true;
		ok = true;
	}
	free(data);
	contract_call_unlink(c);
	c->cb(c->arg, ok, ok ? &a : NULL);
	free(c);
}

uint64_t
contract_call_access(struct chaind *cd, const char *name, const char *address,
    contract_access_fn *cb, void *arg)
{
	static uint8_t selector[ABI_SELECTOR_LEN];
	static bool have_selector;
	struct contract_call *c;
	struct abi_enc e;
	uint8_t addr[ETH_ADDRESS_LEN], *data;
	size_t len;
	char *hex;
	json_t *params;

	if (!have_selector) {
		abi_selector("access(string,address)", selector);
		have_selector = true;
	}
	if (!eth_address_parse(address, strlen(address), addr))
		return 0;
	abi_enc_begin(&e, selector);
	abi_enc_string(&e, name, strlen(name));
	abi_enc_address(&e, addr);
	if (abi_enc_finish(&e, &data, &len) != ABI_OK)
		return 0;
	if ((hex = malloc(2 * len + 3)) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	memcpy(hex, "0x", 2);
	hex_encode(data, len, hex + 2);
	free(data);
	params = json_pack(
	    "[{s:s, s:s}, s]", "to", cd->contract, "data", hex, "latest");
	free(hex);
	if (params == NULL)
		fatalx("out of memory");
	c->cd = cd;
	c->cb = cb;
	c->arg = arg;
	if (rpc_call(cd->rpc, "eth_call", params, contract_on_access, c,
		&c->id) != RPC_OK) {
		free(c);
		cd->rpc_errors++;
		return 0;
	}
	c->next = contract_calls;
	if (contract_calls != NULL)
		contract_calls->prev = c;
	contract_calls = c;
	return c->id;
}

void
contract_cancel(struct chaind *cd, uint64_t call_id)
{
	struct contract_call *c;

	for (c = contract_calls; c != NULL; c = c->next) {
		if (c->id == call_id) {
			rpc_cancel(cd->rpc, call_id);
			contract_call_unlink(c);
			free(c);
			return;
		}
	}
}
