#!/bin/sh
# Compiles contracts/FlyTrap.sol with the pinned solcjs into OUTDIR as
# FlyTrap.abi and FlyTrap.bin (stable names; .bin is written last).
#   contracts/build.sh OUTDIR
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
solcjs="$root/node_modules/.bin/solcjs"
if [ ! -x "$solcjs" ]; then
	echo "$0: $solcjs missing (run scripts/deps.sh)" >&2
	exit 1
fi

tmp="$out/.flytrap-build.$$"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir "$tmp"

# solcjs names outputs after the source path given: run from the repo root.
cd "$root"
"$solcjs" --optimize --optimize-runs 200 --abi --bin -o "$tmp" \
    contracts/FlyTrap.sol

for ext in abi bin; do
	f="$tmp/contracts_FlyTrap_sol_FlyTrap.$ext"
	if [ ! -s "$f" ]; then
		echo "$0: solcjs produced no $ext output" >&2
		exit 1
	fi
done
mv "$tmp/contracts_FlyTrap_sol_FlyTrap.abi" "$out/FlyTrap.abi"
mv "$tmp/contracts_FlyTrap_sol_FlyTrap.bin" "$out/FlyTrap.bin"
# mv keeps solcjs's write times, in either order: make the target newest.
touch "$out/FlyTrap.bin"
