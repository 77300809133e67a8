/*
 * chaind: FlyTrap's only contact with the Ethereum node. It follows the
 * contract's events into sqlite, answers proxyd's permission questions from
 * that cache (or eth_call), and reports its state on the status socket.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaind.h"
#include "daemon.h"
#include "ipc.h"
#include "keystore.h"
#include "log.h"
#include "rpc.h"

static struct chaind chaind;

static bool
chaind_load_entry(void *arg, const char *name, size_t len)
{
	if (!chaind_entry_add(arg, name, len))
		fatalx("out of memory");
	return true;
}

static void
chaind_on_chain_id(
    void *arg, enum rpc_status st, json_t *result, const struct rpc_error *err)
{
	uint64_t id, stored;

	(void)arg;
	if (st != RPC_OK || !rpc_result_u64(result, &id)) {
		log_warn("eth_chainId: %s%s%s", rpc_status_str(st),
		    err && err->message[0] ? ": " : "",
		    err ? err->message : "");
		return;
	}
	/* One database follows one chain: mixing them would lie. */
	if (store_meta_get(chaind.store, "chain_id", &stored) == STORE_OK &&
	    stored != id)
		fatalx("the node is on chain %" PRIu64 " but the database "
		       "follows chain %" PRIu64,
		    id, stored);
	if (store_meta_set(chaind.store, "chain_id", id) != STORE_OK)
		fatalx("cannot write the database");
	chaind.chain_id = id;
	log_info("node %s: chain id %" PRIu64, chaind.cfg->chaind.rpc_url, id);
}

static void
chaind_open(struct daemon_ctx *ctx)
{
	const struct flytrap_config *cfg = &ctx->cfg;
	uint8_t addr[ETH_ADDRESS_LEN];
	uint64_t synced = 0;
	char err[512], path[512];

	chaind.loop = ctx->loop;
	chaind.cfg = cfg;
	if (!eth_address_parse(
		cfg->chaind.contract, strlen(cfg->chaind.contract), addr))
		fatalx("[chaind] contract: '%s' is not a contract address",
		    cfg->chaind.contract);
	eth_address_hex(addr, chaind.contract);
	alert_open(&chaind);

	if ((chaind.store =
		    store_open(cfg->chaind.database, err, sizeof(err))) == NULL)
		fatalx("[chaind] database: %s", err);
	if (store_meta_get(chaind.store, "synced", &synced) == STORE_ERROR)
		fatalx("cannot read the database");
	chaind.synced = synced;
	if (store_topics_each(chaind.store, chaind_load_entry, &chaind) !=
	    STORE_OK)
		fatalx("cannot read the database");

	if (cfg->chaind.keystore[0] != '\0') {
		char password[KEYSTORE_PASSWORD_MAX];
		size_t password_len = 0;
		enum keystore_status ks;

		ks = keystore_read_password(cfg->chaind.password_file[0]
			? cfg->chaind.password_file
			: NULL,
		    "FLYTRAP_KEYSTORE_PASSWORD", password, sizeof(password),
		    &password_len);
		if (ks == KEYSTORE_OK)
			ks = keystore_decrypt_file(cfg->chaind.keystore,
			    password, password_len, chaind.wallet_key);
		explicit_bzero(password, sizeof(password));
		if (ks != KEYSTORE_OK)
			fatalx("[chaind] keystore %s: %s", cfg->chaind.keystore,
			    keystore_status_str(ks));
		if (eth_key_address(chaind.wallet_key, addr) != ETH_OK)
			fatalx("[chaind] keystore holds an invalid key");
		eth_address_hex(addr, chaind.wallet_address);
		chaind.has_wallet = true;
	}

	/* Before the sockets: a listen address in use leaves none behind. */
	http_open(&chaind);
	daemon_runtime_path(ctx, "chaind.sock", path, sizeof(path));
	acl_open(&chaind, path);
	daemon_runtime_path(ctx, "status.sock", path, sizeof(path));
	status_open(&chaind, path);
	if (chaind.has_wallet) {
		daemon_runtime_path(ctx, "wallet.sock", path, sizeof(path));
		wallet_open(&chaind, path);
	}
}

static void
chaind_start(struct daemon_ctx *ctx)
{
	struct rpc_options opts;
	uint64_t id;

	memset(&opts, 0, sizeof(opts));
	opts.timeout_ms = (unsigned)ctx->cfg.chaind.rpc_timeout_ms;
	chaind.rpc = rpc_client_new(ctx->loop, ctx->cfg.chaind.rpc_url, &opts);
	if (chaind.rpc == NULL)
		fatalx("[chaind] rpc_url: cannot use '%s'",
		    ctx->cfg.chaind.rpc_url);
	if (rpc_call(chaind.rpc, "eth_chainId", NULL, chaind_on_chain_id, NULL,
		&id) != RPC_OK)
		fatalx("cannot start a JSON-RPC call");
	follower_start(&chaind);
	if (chaind.has_wallet)
		wallet_start(&chaind);
	log_info("contract %s, %zu topic entries, events up to block %" PRIu64,
	    chaind.contract, chaind.n_entries, chaind.synced);
	if (chaind.has_wallet)
		log_info("wallet %s", chaind.wallet_address);
}

static void
chaind_stop(struct daemon_ctx *ctx)
{
	(void)ctx;
	http_close(&chaind);
	follower_stop(&chaind);
	if (chaind.has_wallet)
		wallet_close(&chaind);
	acl_close(&chaind);
	alert_close(&chaind);
	status_close(&chaind);
	metrics_close(&chaind);
	rpc_client_free(chaind.rpc);
	store_close(chaind.store);
	chaind_entries_free(&chaind);
	explicit_bzero(chaind.wallet_key, sizeof(chaind.wallet_key));
}

static const struct daemon_spec chaind_spec = {
    .name = "chaind",
    .summary = "FlyTrap chain daemon: follows the contract, answers "
	       "permission questions, holds the wallet.",
    .open = chaind_open,
    .start = chaind_start,
    .stop = chaind_stop,
};

int
main(int argc, char **argv)
{
	return daemon_main(argc, argv, &chaind_spec);
}
