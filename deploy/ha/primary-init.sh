#!/bin/sh
# Runs once, when the primary's data folder is created (the postgres image runs
# /docker-entrypoint-initdb.d/* then): a role and a slot for the standby, and
# synchronous replication to it, so that a commit (a 2xx of ztpd) is on both.
# synchronous_standby_names is set here, not on the command line, because the
# image's temporary set-up server takes the command line too and its own
# commits would wait for a standby that does not exist yet.
set -e
psql -v ON_ERROR_STOP=1 -v pw="$REPLICATION_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SELECT pg_create_physical_replication_slot('standby');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
cat >> "$PGDATA/postgresql.conf" <<'CONF'
wal_level = replica
max_wal_senders = 10
synchronous_commit = on
synchronous_standby_names = 'standby'
CONF
