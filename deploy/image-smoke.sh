#!/usr/bin/env bash
# Builds the container image without a Docker engine (buildah, from a local
# Debian 12 base made with debootstrap) and checks that ztpd inside it
# migrates a PostgreSQL on the host, answers /healthz and /readyz, exits 0
# on SIGTERM and does not run as root.
# Not part of `make test` (it needs the network to Debian's mirror and
# minutes); .ci/run runs it before `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for c in debootstrap podman buildah; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
fi

# the mirror this machine's apt already uses: no host is written in this file
mirror() {
    local url=""
    [ -r /etc/apt/sources.list.d/debian.sources ] &&
        url=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    # one-line style: deb [options] URI suite components
    [ -z "$url" ] && [ -r /etc/apt/sources.list ] &&
        url=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
            /etc/apt/sources.list | head -n1)
    echo "$url"
}

if ! podman image exists docker.io/library/debian:bookworm-slim; then
    url=$(mirror)
    [ -n "$url" ] || { echo "image smoke: no Debian mirror in the apt sources"; exit 1; }
    root=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$root" "$url" >/dev/null
    tar -C "$root" -c . | podman import - docker.io/library/debian:bookworm-slim >/dev/null
    rm -rf "$root"
fi
# openztp:dev is what docker-compose.yml runs; the smoke tests its own tag,
# which another smoke running on the same machine cannot move
tag="openztp:smoke-$$"
buildah bud --isolation chroot --ulimit nofile=1024:1024 -t openztp:dev -t "$tag" .

# a PostgreSQL of our own on the host, as a child we stop at the end
pgdir=$(mktemp -d)
chown postgres "$pgdir"
port=$((20000 + RANDOM % 20000))
setpriv --reuid=postgres --regid=postgres --init-groups /usr/lib/postgresql/15/bin/initdb -D "$pgdir/data" \
    -A trust -U postgres >/dev/null
setpriv --reuid=postgres --regid=postgres --init-groups /usr/lib/postgresql/15/bin/postgres -D "$pgdir/data" \
    -p "$port" -k "$pgdir" -c listen_addresses=127.0.0.1 >"$pgdir/log" 2>&1 &
pgpid=$!
ctr=""
srv=""
# ztpd runs under `buildah run`, a child of ours: stop it by its process id
# (never by name, other ztpd processes may run on this machine)
ztpd_pids() {
    local p
    for p in $(pgrep -P "$1" || true); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = ztpd ] && echo "$p"
        ztpd_pids "$p"
    done
}
cleanup() {
    if [ -n "$srv" ]; then
        local left
        mapfile -t left < <(ztpd_pids "$srv")
        kill "${left[@]}" "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
    buildah rmi "$tag" >/dev/null 2>&1 || true
    kill "$pgpid" 2>/dev/null || true
    wait "$pgpid" 2>/dev/null || true
    rm -rf "$pgdir"
}
trap cleanup EXIT
# deadlines, not counts of sleeps: a loaded machine is slow, not broken
poll() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
poll 60 pg_isready -q -h 127.0.0.1 -p "$port" || { echo "image smoke: FAILED (PostgreSQL did not start)"; exit 1; }

url="postgresql://postgres@127.0.0.1:$port/postgres"
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
hport=$((port + 1))
ctr=$(buildah from "$tag")
buildah run --isolation chroot --network host -e DATABASE_URL="$url" "$ctr" -- /usr/local/bin/ztpd migrate
buildah run --isolation chroot --network host -e DATABASE_URL="$url" -e ZTP_SECRET="$secret" \
    -e ZTP_LISTEN="127.0.0.1:$hport" "$ctr" -- /usr/local/bin/ztpd serve &
srv=$!
ok=""
poll 60 curl -fsS -o /dev/null "http://127.0.0.1:$hport/healthz" 2>/dev/null && ok=1
ready=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/readyz" || true)
mapfile -t pids < <(ztpd_pids "$srv")
# SIGTERM to ztpd itself: it must drain and exit 0, as in a container
[ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}"
stopped=0
wait "$srv" || stopped=$?
srv=""
uid=$(buildah run --isolation chroot "$ctr" -- id -u)
if [ -z "$ok" ] || [ "$ready" != 200 ] || [ ${#pids[@]} -eq 0 ] || [ "$stopped" != 0 ] || [ "$uid" = 0 ]; then
    echo "image smoke: FAILED (healthz=${ok:-no}, readyz=$ready, exit after SIGTERM=$stopped, uid=$uid)"
    exit 1
fi
echo "image smoke: ok (healthz 200, readyz $ready, exit 0 after SIGTERM, runs as uid $uid)"
