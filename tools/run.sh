#!/usr/bin/env bash
# `make run`: the first-run experience. Starts an embedded PostgreSQL in
# .run/ when DATABASE_URL is unset, keeps a ZTP_SECRET there, migrates,
# creates a demo provider and invites its first person the first time, and
# serves until Ctrl-C. ZTP_RUN_DIR names another folder for its state (tests).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state="${ZTP_RUN_DIR:-$top/.run}"
mkdir -p "$state"
pgbin=/usr/lib/postgresql/15/bin
pg_started=""

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi
}

stop_pg() {
    if [ -n "$pg_started" ]; then
        as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

if [ -z "${DATABASE_URL:-}" ]; then
    pgdata="$state/pg"
    if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid=postgres --regid=postgres --init-groups test -x "$state"; then
        # the checkout is not reachable by the postgres user (e.g. under /root)
        pgdata="/var/tmp/openztp-$(echo "$top" | md5sum | cut -c1-12)/pg"
    fi
    mkdir -p "$(dirname "$pgdata")"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$(dirname "$pgdata")"
    port=${ZTP_PG_PORT:-55432}
    if [ ! -f "$pgdata/PG_VERSION" ]; then
        echo "openztp: creating a PostgreSQL cluster in $pgdata" >&2
        as_pg "$pgbin/initdb" -D "$pgdata" -A trust -U postgres >/dev/null
        printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" \
            "$port" "$(dirname "$pgdata")" >> "$pgdata/postgresql.conf"
    fi
    if ! as_pg "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$(dirname "$pgdata")/postgres.log" -w start >/dev/null
        pg_started=1
    fi
    trap stop_pg EXIT
    export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
fi

if [ -z "${ZTP_SECRET:-}" ]; then
    [ -f "$state/secret" ] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$state/secret")
    ZTP_SECRET=$(cat "$state/secret")
    export ZTP_SECRET
fi
export ZTP_LISTEN=${ZTP_LISTEN:-127.0.0.1:8080}

build/ztpd migrate
# where people reach the console: ZTP_PUBLIC_URL as ztpd reads it (case and
# a trailing slash do not matter), else the listener
public=${ZTP_PUBLIC_URL:-http://$ZTP_LISTEN}
public=${public%/}
console="${public,,}/console/"
if [ ! -f "$state/demo-provider.json" ]; then
    (umask 077 && build/ztpd provider create demo > "$state/demo-provider.json.new")
    key=$(sed 's/.*"api_key": *"\([^"]*\)".*/\1/' "$state/demo-provider.json.new")
    provider=$(sed 's/.*"id": *"\([^"]*\)".*/\1/' "$state/demo-provider.json.new")
    # the demo's first person; the link is single use and lasts 7 days
    invite=$(build/ztpd user invite "$provider" demo@example.com --role admin |
        sed 's/.*"invite_url": *"\([^"]*\)".*/\1/')
    # only now is the first run done: a run stopped before this point starts over
    mv "$state/demo-provider.json.new" "$state/demo-provider.json"
    cat <<MSG

  A demo provider was created. Its API key (shown once, kept in $state/demo-provider.json):

    $key

  Try:
    curl -s -H "Authorization: Bearer $key" http://$ZTP_LISTEN/v1/profiles

  The web console: $console
  Its first person, demo@example.com (admin), chooses a password here (once, within 7 days):

    $invite

MSG
else
    echo "openztp: the demo provider's API key is in $state/demo-provider.json" >&2
    echo "openztp: the web console is at $console (demo@example.com)" >&2
fi
echo "openztp: serving on http://$ZTP_LISTEN (Ctrl-C stops)" >&2
set +e
ZTP_THREADS=${ZTP_THREADS:-2} build/ztpd serve
code=$?
exit $code
