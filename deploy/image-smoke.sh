#!/usr/bin/env bash
# Builds the container image without a Docker engine (buildah, from a local
# Debian 12 base made with debootstrap) and checks that ztpd inside it
# migrates a PostgreSQL on the host and answers /healthz and /readyz.
# Not part of `make test`: it needs the network to Debian's mirror and minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
need=""
for c in debootstrap podman buildah; do command -v "$c" >/dev/null || need="$need $c"; done
if [ -n "$need" ]; then apt-get update -qq && apt-get install -y -qq $need >/dev/null; fi

if ! podman image exists docker.io/library/debian:bookworm-slim; then
    root=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
    tar -C "$root" -c . | podman import - docker.io/library/debian:bookworm-slim >/dev/null
    rm -rf "$root"
fi
buildah bud --isolation chroot --ulimit nofile=1024:1024 -t openztp:dev .

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
cleanup() {
    [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1
    kill "$pgpid" 2>/dev/null; wait "$pgpid" 2>/dev/null; rm -rf "$pgdir"
}
trap cleanup EXIT
for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done

url="postgresql://postgres@127.0.0.1:$port/postgres"
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
hport=$((port + 1))
ctr=$(buildah from openztp:dev)
buildah run --isolation chroot --network host -e DATABASE_URL="$url" "$ctr" -- /usr/local/bin/ztpd migrate
buildah run --isolation chroot --network host -e DATABASE_URL="$url" -e ZTP_SECRET="$secret" \
    -e ZTP_LISTEN="127.0.0.1:$hport" "$ctr" -- /usr/local/bin/ztpd serve &
srv=$!
ok=""
for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$hport/healthz" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
done
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/readyz" || true)
pkill -TERM -f "ztpd serve" || true
wait "$srv" || true
buildah run --isolation chroot "$ctr" -- id -u
[ -n "$ok" ] && [ "$ready" = 200 ] || { echo "image smoke: FAILED (healthz=${ok:-no}, readyz=$ready)"; exit 1; }
echo "image smoke: ok (healthz 200, readyz $ready, runs as uid $(buildah run --isolation chroot "$ctr" -- id -u))"
