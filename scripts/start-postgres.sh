#!/usr/bin/env bash
# Installs (from Debian's packages) and starts a local PostgreSQL for the tests, then prints the DATABASE_URL
# to use. Idempotent: a running cluster is reused. Needs root, as on the project's machines and CI.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
su postgres -c "psql -p $port -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='roundtrip'\"" | grep -q 1 ||
  su postgres -c "psql -p $port -qc \"CREATE ROLE roundtrip LOGIN PASSWORD 'roundtrip' CREATEDB\"" >&2
su postgres -c "psql -p $port -qtAc \"SELECT 1 FROM pg_database WHERE datname='roundtrip_test'\"" | grep -q 1 ||
  su postgres -c "createdb -p $port -O roundtrip roundtrip_test" >&2
echo "postgres://roundtrip:roundtrip@127.0.0.1:$port/roundtrip_test"
