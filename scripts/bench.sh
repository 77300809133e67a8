#!/usr/bin/env bash
# FlyTrap's latency benchmark: Mosquitto directly vs. through proxyd on the
# real chain stack (anvil, the contract, chaind, authd), alternating rounds.
# Measures CONNECT, warm QoS 1 PUBLISH -> PUBACK, publish -> delivery and
# the first (cold) authorisation; prints one table of medians over rounds,
# the ratios, and one RESULT line per measurement. Usage: scripts/bench.sh
# [--smoke] [--count N] [--rounds N] [--cold N] [--warmup N] [--cpus LIST].
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

usage() {
	cat >&2 <<EOF
usage: $0 [--smoke] [--count N] [--rounds N] [--cold N] [--warmup N]
       [--cpus LIST]
  --count N   samples per measurement and round (default 2000)
  --rounds N  rounds, alternating which mode goes first (default 3)
  --cold N    fresh keys per round for the cold path (default: --count)
  --warmup N  untimed PUBLISHes before the warm ones (default 100)
  --cpus LIST run the daemons and clients under taskset -c LIST: on a small
              VM, whether two processes share a CPU (a cross-CPU wake-up)
              can matter more than the code path
  --smoke     a few seconds: 50 samples, 1 round, 5 cold keys
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
		;;
	--cpus)
		[ $# -ge 2 ] || usage
		taskset -c "$2" true 2>/dev/null || usage
		PIN=(taskset -c "$2")
		shift
		;;
	--count | --rounds | --cold | --warmup)
		[ $# -ge 2 ] || usage
		number "$1" "$2"
		case $1 in
		--count) COUNT=$2 ;;
		--rounds) ROUNDS=$2 ;;
		--cold) COLD=$2 ;;
		--warmup) WARMUP=$2 ;;
		esac
		shift
		;;
	*) usage ;;
	esac
	shift
done
# Fresh keys per round for the cold path (each costs one transaction).
COLD=${COLD:-$COUNT}

for bin in "$BUILD/bin/proxyd" "$BUILD/bin/authd" "$BUILD/bin/chaind" \
	"$CTL" "$BUILD/bench/connect_bench" "$BUILD/bench/pub_bench" \
	"$MOSQUITTO" "$ANVIL"; do
	if [ ! -x "$bin" ]; then
		echo "bench: $bin missing (run make all, or make deps for anvil)" >&2
		exit 1
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flytrap-bench.XXXXXX")
PIDS=()

cleanup() {
	local pid
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

# Fresh keys for the cold path, COLD per round: each buys the (free)
# publish right itself, so the owner's transactions need not queue.
FRESH=$((COLD * ROUNDS))
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

cat >"$WORK/flytrap.conf" <<EOF
[global]
realm = $REALM
runtime_dir = $WORK/run
log_level = warn

[proxyd]
listen = 127.0.0.1:$PROXY_PORT
broker = 127.0.0.1:$BROKER_PORT

[authd]

[chaind]
rpc_url = $RPC
contract = $CONTRACT
start_block = $DEPLOY_BLOCK
database = $WORK/chaind.db
poll_interval_ms = 200
EOF

"${PIN[@]}" "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_ready mosquitto "$BROKER_PORT" "${PIDS[-1]}"

"${PIN[@]}" "$BUILD/bin/authd" -c "$WORK/flytrap.conf" >"$WORK/authd.log" 2>&1 &
PIDS+=($!)
wait_ready authd "$WORK/run/authd.sock" "${PIDS[-1]}"

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

RESULTS=$WORK/results
: >"$RESULTS"
run_bench() { # program args...
	local prog=$1 out log
	shift
	if ! out=$("${PIN[@]}" "$BUILD/bench/$prog" "$@"); then
		echo "bench: $prog $* failed" >&2
		for log in proxyd authd chaind mosquitto; do
			echo "---- $log" >&2
			tail -n 20 "$WORK/$log.log" >&2
		done
		exit 1
	fi
	# The per-run RESULT lines are summed up at the end.
	echo "$out" | grep -v '^RESULT ' || true
	echo "$out" | grep '^RESULT ' >>"$RESULTS"
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

COLD_CALLS=0
for round in $(seq 1 "$ROUNDS"); do
	echo "== round $round/$ROUNDS"
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
done

# ---- The table: medians over rounds, ratios, final RESULT lines -------------

echo
awk -v rounds="$ROUNDS" -v cold_calls="$COLD_CALLS" '
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
	nb = split("connect puback delivery auth", B, " ")
	T["connect"] = "CONNECT -> CONNACK (new session)"
	T["puback"] = "QoS 1 PUBLISH -> PUBACK (warm)"
	T["delivery"] = "publish -> delivery (QoS 1)"
	T["auth"] = "first PUBLISH -> PUBACK (proxyd)"
	L["connect"] = L["puback"] = L["delivery"] = "direct proxyd"
	L["auth"] = "warm session-cold cold"
	R["connect"] = R["puback"] = R["delivery"] = "proxyd/direct"
	R["auth"] = "cold/warm session-cold/warm"
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
	printf "(cold: %d fresh keys, each answered by chaind through an " \
	    "eth_call to anvil)\n\n", cold_calls
	for (i = 1; i <= nline; i++)
		print line[i]
	exit bad
}' "$RESULTS"
