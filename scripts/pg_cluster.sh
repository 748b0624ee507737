# A throwaway PostgreSQL cluster for scripts (sourced): Debian's server binaries, a cluster in
# a directory of the caller's, listening on a Unix socket there and on a free 127.0.0.1 port,
# run as the `postgres` user when the caller is root (PostgreSQL refuses root), as
# tests/it/common/postgres.rs does for the tests.
#
#   . scripts/pg_cluster.sh
#   pg_cluster_start DIR [server options]  # sets PG_BIN and PG_PORT; creates database `tributary`
#   pg_cluster_url [DATABASE]              # postgres://tributary@127.0.0.1:PORT/DATABASE
#   pg_cluster_psql SQL...                 # runs SQL in database `postgres`
#   pg_cluster_stop                        # immediate stop (the caller removes DIR)

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
PG_DIR=""
PG_PORT=""
pg_as_server_user=()
[ "$(id -u)" = 0 ] && pg_as_server_user=(runuser -u postgres --)

pg_cluster_start() {
    PG_DIR="$1"
    shift
    [ -x "$PG_BIN/initdb" ] || { echo "no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)" >&2; return 1; }
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$PG_DIR"
    PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "${pg_as_server_user[@]}" "$PG_BIN/initdb" --pgdata "$PG_DIR/data" --username tributary \
        --auth trust --encoding UTF8 --locale C --no-sync >/dev/null
    "${pg_as_server_user[@]}" "$PG_BIN/pg_ctl" --pgdata "$PG_DIR/data" --log "$PG_DIR/server.log" \
        --options "-k $PG_DIR -h 127.0.0.1 -p $PG_PORT $*" --wait start >/dev/null
    pg_cluster_psql 'CREATE DATABASE tributary'
}

pg_cluster_url() { echo "postgres://tributary@127.0.0.1:$PG_PORT/${1:-tributary}"; }

pg_cluster_psql() {
    local sql
    for sql in "$@"; do
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U tributary -d postgres -c "$sql"
    done
}

pg_cluster_stop() {
    [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ] || return 0
    "${pg_as_server_user[@]}" "$PG_BIN/pg_ctl" --pgdata "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
}
