#!/bin/sh
# Installs what FlyTrap needs to build, test and run its demo on Debian 12:
# Debian packages through apt-get and pinned npm tools through `npm ci`.
#   scripts/deps.sh                     install everything (make deps)
#   scripts/deps.sh --check-or-install  install only what is missing
set -eu

cd "$(dirname "$0")/.."

# Debian packages the build, the tests and the demo use (chromium: the
# browser the web page's tests drive through playwright-core).
PACKAGES="build-essential clang clang-format pkg-config libev-dev libssl-dev
libsecp256k1-dev libcurl4-openssl-dev libmsgpack-dev libmaxminddb-dev
libsqlite3-dev libinih-dev libjansson-dev libcmocka-dev libmicrohttpd-dev
mosquitto mosquitto-clients haproxy python3-pytest python3-paho-mqtt
python3-msgpack curl nodejs npm chromium"

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = \
	    installed ]
}

missing=""
for pkg in $PACKAGES; do
	if [ "${1:-}" != "--check-or-install" ] || ! installed "$pkg"; then
		missing="$missing $pkg"
	fi
done
# The machine may have node and npm from elsewhere: then keep them.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm |
	    tr '\n' ' ')
fi

if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
	echo "deps: installing Debian packages:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

# npm tools, exactly as the lock file pins them.
if [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "deps: installing npm tools (npm ci)"
	npm ci --no-audit --no-fund
fi
