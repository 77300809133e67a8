#!/usr/bin/env bash
# CONNECT -> CONNACK latency benchmark: mosquitto directly vs. through
# proxyd + authd with timed tokens, alternating rounds; prints p50/p99 per
# mode and the proxyd/direct ratios. Usage: scripts/bench.sh [--smoke]
# [--count N] [--rounds N]. Cleans up everything it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FLYTRAP_BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
REALM=flytrap-bench
COUNT=2000
ROUNDS=3

usage() {
	echo "usage: $0 [--smoke] [--count N] [--rounds N]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--smoke)
		COUNT=50
		ROUNDS=1
		;;
	--count)
		[ $# -ge 2 ] || usage
		COUNT=$2
		shift
		;;
	--rounds)
		[ $# -ge 2 ] || usage
		ROUNDS=$2
		shift
		;;
	*) usage ;;
	esac
	shift
done

for bin in "$BUILD/bin/proxyd" "$BUILD/bin/authd" "$BUILD/bin/flytrapctl" \
	"$BUILD/bench/connect_bench" "$MOSQUITTO"; do
	if [ ! -x "$bin" ]; then
		echo "bench: $bin missing (run make all)" >&2
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

# Waits up to 5 s for a TCP port (or, with -S, a Unix socket) to accept.
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

BROKER_PORT=$(free_port)
PROXY_PORT=$(free_port)
mkdir -p "$WORK/run"

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
EOF

"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_ready mosquitto "$BROKER_PORT" "${PIDS[-1]}"

"$BUILD/bin/authd" -c "$WORK/flytrap.conf" >"$WORK/authd.log" 2>&1 &
PIDS+=($!)
wait_ready authd "$WORK/run/authd.sock" "${PIDS[-1]}"

"$BUILD/bin/proxyd" -c "$WORK/flytrap.conf" >"$WORK/proxyd.log" 2>&1 &
PIDS+=($!)
wait_ready proxyd "$PROXY_PORT" "${PIDS[-1]}"

"$BUILD/bin/flytrapctl" keygen --out "$WORK/bench.key" >/dev/null

echo "connect_bench: $COUNT connections x $ROUNDS rounds, MQTT v5," \
	"mosquitto $("$MOSQUITTO" -h | sed -n '1s/.*version //p')"

RESULTS=$WORK/results
: >"$RESULTS"
run_bench() {
	local out
	if ! out=$("$BUILD/bench/connect_bench" "$@"); then
		echo "bench: connect_bench $* failed" >&2
		for log in proxyd authd mosquitto; do
			echo "---- $log" >&2
			tail -n 20 "$WORK/$log.log" >&2
		done
		exit 1
	fi
	echo "$out"
	echo "$out" | grep '^RESULT ' >>"$RESULTS"
}

for round in $(seq 1 "$ROUNDS"); do
	echo "== round $round/$ROUNDS"
	run_bench --host 127.0.0.1 --port "$BROKER_PORT" --count "$COUNT" \
		--label direct
	run_bench --host 127.0.0.1 --port "$PROXY_PORT" --count "$COUNT" \
		--key "$WORK/bench.key" --realm "$REALM" --label proxyd
done

# Per round and mode, then the medians over rounds and the ratios.
awk '
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
	label = field("label")
	n[label]++
	p50[label, n[label]] = field("p50_us") + 0
	p99[label, n[label]] = field("p99_us") + 0
}
END {
	printf "\n%-8s %6s %12s %12s\n", "mode", "round", "p50 (us)", "p99 (us)"
	for (r = 1; r <= n["direct"]; r++)
		for (m = 1; m <= 2; m++) {
			label = m == 1 ? "direct" : "proxyd"
			printf "%-8s %6d %12.1f %12.1f\n", label, r,
			    p50[label, r], p99[label, r]
		}
	for (m = 1; m <= 2; m++) {
		label = m == 1 ? "direct" : "proxyd"
		for (r = 1; r <= n[label]; r++) {
			a[r] = p50[label, r]
			b[r] = p99[label, r]
		}
		med50[label] = median(a, n[label])
		med99[label] = median(b, n[label])
	}
	printf "\nmedian over %d round(s):\n", n["direct"]
	printf "%-8s %12s %12s\n", "mode", "p50 (us)", "p99 (us)"
	printf "%-8s %12.1f %12.1f\n", "direct", med50["direct"], med99["direct"]
	printf "%-8s %12.1f %12.1f\n", "proxyd", med50["proxyd"], med99["proxyd"]
	printf "%-8s %11.2fx %11.2fx\n", "ratio",
	    med50["proxyd"] / med50["direct"], med99["proxyd"] / med99["direct"]
	printf "%-8s %+12.1f %+12.1f\n", "diff",
	    med50["proxyd"] - med50["direct"], med99["proxyd"] - med99["direct"]
}' "$RESULTS"
