#!/bin/sh
# Installs the Debian 12 packages a purpose needs, when any is missing;
# the one list of them (.ci/run asks it with --list).
#   tools/install-deps.sh [--list] build|test|run|bench
set -eu
list=""
if [ "${1:-}" = "--list" ]; then
    list=1
    shift
fi
build="ca-certificates libc6-dev gcc make pkg-config libh2o-evloop-dev libssl-dev libpq-dev libjansson-dev libsodium-dev libcurl4-openssl-dev libexpat1-dev"
case "${1:-build}" in
    build) pkgs="$build" ;;
    run) pkgs="$build postgresql curl" ;;
    # chromium, node and npm: the console's browser tests (tests/browser); a
    # node from elsewhere (nodesource bundles npm) is kept as it is
    test) pkgs="$build libcmocka-dev postgresql util-linux python3 curl openssl prometheus pgbouncer chromium"
        command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm" ;;
    bench) pkgs="$build libcmocka-dev postgresql python3 curl wrk h2o" ;;
    *) echo "usage: $0 [--list] build|test|run|bench" >&2; exit 2 ;;
esac
if [ -n "$list" ]; then
    echo $pkgs
    exit 0
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing packages:$missing (this script installs them on Debian 12 only)" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
