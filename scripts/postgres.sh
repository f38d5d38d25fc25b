#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on 127.0.0.1, for the PostgreSQL metadata store's tests. Runs as
# root (as the tests do): the cluster is initialised and run as user postgres via runuser,
# with trust authentication and durability off (fsync, synchronous_commit, full_page_writes);
# everything lives under DIR, the Unix socket included.
#   scripts/postgres.sh start DIR [PORT]  prints the URL of database "berth" (also DIR/url)
#   scripts/postgres.sh stop DIR          stops the server started in DIR (its data stays)
#   scripts/postgres.sh crash DIR         stops it the way a crash does (immediate: no checkpoint,
#                                         connections cut; recovery runs at the next start)
#   scripts/postgres.sh resume DIR        starts it again on the same port (outage tests)
# Needs the Debian package postgresql (scripts/deps.sh test); the packaged cluster need not run.
#
# Port: PORT if given, else drawn at random from 40000-49999. Nothing is bound and closed to
# "find" a free one: the server itself binds it, and when that fails (another ctest -j run,
# another test) pg_ctl reports the failure and the next port is tried.
set -euo pipefail

readonly PGBIN=/usr/lib/postgresql/15/bin

log() { echo "postgres.sh: $*" >&2; }

pg() { runuser -u postgres -- "$@"; }

stop() {
  local dir=$1
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

crash() {
  local dir=$1
  pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
}

init() {
  local dir=$1
  stop "$dir"
  rm -rf "$dir"
  mkdir -p "$dir/data"
  # User postgres must reach DIR: a private temporary parent (mkdtemp makes them 0700) gets
  # search permission, nothing more.
  if ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
    chmod a+x "$(dirname "$dir")"
  fi
  chown -R postgres:postgres "$dir"
  chmod 700 "$dir/data"
  if ! pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" 2>&1; then
    log "initdb failed:"
    cat "$dir/initdb.log" >&2
    return 1
  fi
}

start_on() {  # start_on DIR PORT: true once the server listens on PORT
  local dir=$1 port=$2
  # max_connections: each test's pool, several ctest -j binaries and berth serve processes.
  pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "-p $port \
    -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=300" start >/dev/null 2>&1
}

start() {
  local dir=$1 port=${2:-} attempt url
  [[ -x "$PGBIN/pg_ctl" ]] || {
    log "PostgreSQL 15 is not installed (scripts/deps.sh test installs it)"
    return 1
  }
  init "$dir"
  for attempt in $(seq 20); do
    [[ -n "$port" ]] || port=$((40000 + RANDOM % 10000))
    if start_on "$dir" "$port"; then
      pg "$PGBIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAtc \
        "CREATE DATABASE berth" >/dev/null
      url="postgresql://postgres@127.0.0.1:$port/berth"
      echo "$url" >"$dir/url"
      echo "$url"
      return 0
    fi
    log "attempt $attempt: cannot start on port $port; $(tail -n 1 "$dir/server.log" 2>/dev/null)"
    port=""
  done
  return 1
}

resume() {
  local dir=$1 port
  port=$(sed -E 's|.*:([0-9]+)/.*|\1|' "$dir/url")
  start_on "$dir" "$port"
}

case "${1:-}" in
  start) start "${2:?usage: postgres.sh start DIR [PORT]}" "${3:-}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  crash) crash "${2:?usage: postgres.sh crash DIR}" ;;
  resume) resume "${2:?usage: postgres.sh resume DIR}" ;;
  *)
    echo "usage: postgres.sh start DIR [PORT] | stop DIR | crash DIR | resume DIR" >&2
    exit 2
    ;;
esac
