#!/usr/bin/env bash
# Two `tributary run` instances share one PostgreSQL database while their feeds keep changing
# and a webhook receiver records every notification; one instance or the other is killed with
# -9 at random moments and started again, so one always runs. Then check, as
# scripts/kill9_notify.sh does for one instance on SQLite: every generated item stored once,
# every new story announced under exactly one idempotency key (a repeat only of a request in
# flight at a kill), every edit acknowledged; and that no feed waited behind a dead
# instance's lease for longer than the lease. Needs Debian's postgresql (a throwaway cluster
# in a temporary directory, run as the `postgres` user when this runs as root), bash and
# python3 with psycopg2.
#
# Usage: scripts/failover_pg.sh [path/to/tributary] [kills]
#        (defaults: target/debug/tributary, 30; KEEP=1 keeps the work directory)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/debug/tributary}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
kills_wanted="${2:-30}"
helper="$root/scripts/kill9_notify.py"
[ -x "$bin" ] || { echo "failover_pg: no executable at $bin (cargo build first)"; exit 1; }
# shellcheck source=pg_cluster.sh
. "$root/scripts/pg_cluster.sh"
# shellcheck source=kill9_common.sh
. "$root/scripts/kill9_common.sh"
python3 -c "import psycopg2" 2>/dev/null \
    || { echo "failover_pg: python3 needs psycopg2 (pip install psycopg2-binary)"; exit 1; }

# The fetch timeout and the feed lease the configs below set: a dead instance's feeds wait
# for the lease to end.
fetch_timeout=5
lease=20

work="$(mktemp -d)"
chmod 0755 "$work"
pids=()
declare -A instance_pid=()
cleanup() {
    local status=$?
    for name in "${!instance_pid[@]}"; do kill -9 "${instance_pid[$name]}" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    pg_cluster_stop
    if [ "$status" -ne 0 ]; then
        for name in a b; do
            echo "--- last lines of instance $name's log ($work/$name.log)"
            tail -n 30 "$work/$name.log" 2>/dev/null || true
        done
        # A stall shows here: who waited for which lock, and any statement slower than 2 s.
        echo "--- the PostgreSQL server's lock waits and slow statements ($work/pg/server.log)"
        grep -E "still waiting|acquired|duration:|deadlock|Process holding" "$work/pg/server.log" \
            | tail -n 60 || true
    fi
    if [ "${KEEP:-}" = 1 ] || [ "$status" -ne 0 ]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

echo "== a throwaway PostgreSQL cluster"
# Lock waits past a second and statements past two are logged, for the failure report above.
pg_cluster_start "$work/pg" -c fsync=off -c log_lock_waits=on -c log_min_duration_statement=2000
database="$(pg_cluster_url)"

start_feeds_and_recorder "$work/fetches.log"

# The two instances' configs differ only in where they listen.
for name in a b; do
    cat >"$work/$name.toml" <<TOML
[storage]
database = "$database"
lease = "${lease}s"

[output]
atom_path = "$work/$name.atom"

[server]
listen = "127.0.0.1:$(free_port)"

[fetch]
timeout = "${fetch_timeout}s"
allow_private_networks = true

$(feed_and_sink_tables)
TOML
done

export RUST_LOG=info
# The backfill: one whole poll, so every feed's first generation is stored and not news.
"$bin" --config "$work/a.toml" poll >>"$work/a.log" 2>&1

start_instance() {
    "$bin" --config "$work/$1.toml" run >>"$work/$1.log" 2>&1 &
    instance_pid[$1]=$!
}
# The instance that stayed up must still be up: its death would be a failure, not a kill.
check_alive() {
    kill -0 "${instance_pid[$1]}" 2>/dev/null \
        || { echo "failover_pg: instance $1 died on its own"; exit 1; }
}

started=$SECONDS
from="$(date +%s.%N)"
start_instance a
start_instance b
for i in $(seq 1 "$kills_wanted"); do
    python3 "$helper" grow "$work/feeds" "$i"
    random_sleep 1
    if [ $((RANDOM % 2)) -eq 0 ]; then
        python3 "$helper" grow "$work/feeds" "$i"
        random_sleep 1
    fi
    victim=a other=b
    [ $((RANDOM % 2)) -eq 0 ] && victim=b other=a
    check_alive "$other"
    date +%s.%N >>"$work/kills"
    kill -9 "${instance_pid[$victim]}" 2>/dev/null || true
    wait "${instance_pid[$victim]}" 2>/dev/null || true
    # Down for a moment, sometimes for longer than a poll, while the other keeps going.
    random_sleep 1
    start_instance "$victim"
    if [ $((i % 10)) -eq 0 ]; then
        echo "failover_pg: $i kills, $((SECONDS - started)) s; stored/generated/pending: $(python3 "$helper" progress "$database" "$work/feeds")"
    fi
done
last_kill="$(tail -n 1 "$work/kills")"

# Settle: both left alone until every item is stored and the outbox is empty; a dead
# instance's claims end within the lease (feeds) and the outbox claim (one minute).
settled=0
for _ in $(seq 1 $(((lease + 90) * 2))); do
    sleep 0.5
    read -r stored generated pending < <(python3 "$helper" progress "$database" "$work/feeds")
    if [ "$stored" = "$generated" ] && [ "$pending" = 0 ]; then
        settled=$((settled + 1))
        [ "$settled" -ge 4 ] && break
    else
        settled=0
    fi
done
check_alive a
check_alive b
until="$(date +%s.%N)"
for name in a b; do
    kill -TERM "${instance_pid[$name]}"
    wait "${instance_pid[$name]}" || true
done
instance_pid=()
[ "$settled" -ge 4 ] || echo "failover_pg: did not settle (stored/generated/pending: $stored/$generated/$pending)"

status=0
python3 "$helper" check "$database" "$work/feeds" "$work/received.jsonl" "$work/kills" hook || status=1
# A feed leased by a killed instance waits out the lease; allow the lease, a poll's period and
# the moment a fetch takes.
python3 "$helper" polled "$work/fetches.log" "$from" "$until" "$((lease + 5))" || status=1
echo "failover_pg: $((SECONDS - started)) s (last kill at $last_kill)"
exit "$status"
