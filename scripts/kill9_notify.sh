#!/usr/bin/env bash
# kill -9 the daemon at random moments while its feeds keep changing and a webhook receiver
# (subscribed to story.new and story.updated) records every notification and every edit; then
# check that nothing was lost (each new story announced, each queued edit acknowledged, and the
# last message about each story showing it as it ended), that nothing the receiver
# acknowledged was sent again (repeats only of requests in flight at a kill), and that the
# database is sound. Needs bash and python3 (standard library only).
#
# Usage: scripts/kill9_notify.sh [path/to/tributary] [iterations]
#        (defaults: target/debug/tributary, 50; KEEP=1 keeps the work directory)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/debug/tributary}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
iterations="${2:-50}"
helper="$root/scripts/kill9_notify.py"
# shellcheck source=kill9_common.sh
. "$root/scripts/kill9_common.sh"
[ -x "$bin" ] || { echo "kill9_notify: no executable at $bin (cargo build first)"; exit 1; }

work="$(mktemp -d)"
pids=()
daemon_pid=""
cleanup() {
    local status=$?
    [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ]; then
        echo "--- last lines of the daemon log ($work/daemon.log)"
        tail -n 40 "$work/daemon.log" 2>/dev/null || true
    fi
    if [ "${KEEP:-}" = 1 ] || [ "$status" -ne 0 ]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

start_feeds_and_recorder
listen="127.0.0.1:$(free_port)"

config="$work/config.toml"
cat >"$config" <<TOML
[storage]
database = "$work/tributary.db"

[output]
atom_path = "$work/merged.atom"

[server]
listen = "$listen"

[fetch]
timeout = "5s"
allow_private_networks = true

$(feed_and_sink_tables)
TOML

export RUST_LOG=info
# The backfill: one whole poll, so every feed's first generation is stored and not news.
"$bin" --config "$config" poll >>"$work/daemon.log" 2>&1

started=$SECONDS
kills=0
for i in $(seq 1 "$iterations"); do
    python3 "$helper" grow "$work/feeds" "$i"
    "$bin" --config "$config" run >>"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    random_sleep 1
    # Half the time the feeds change again while it runs.
    if [ $((RANDOM % 2)) -eq 0 ]; then
        python3 "$helper" grow "$work/feeds" "$i"
        random_sleep 1
    fi
    date +%s.%N >>"$work/kills"
    kill -9 "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
    kills=$((kills + 1))
    if [ $((i % 10)) -eq 0 ]; then
        echo "kill9_notify: $i kills, $((SECONDS - started)) s; stored/generated/pending: $(python3 "$helper" progress "$work/tributary.db" "$work/feeds")"
    fi
done

# Settle: one last run, left alone until every item is stored and the outbox is empty.
"$bin" --config "$config" run >>"$work/daemon.log" 2>&1 &
daemon_pid=$!
settled=0
for _ in $(seq 1 180); do
    sleep 0.5
    read -r stored generated pending < <(python3 "$helper" progress "$work/tributary.db" "$work/feeds")
    if [ "$stored" = "$generated" ] && [ "$pending" = 0 ]; then
        settled=$((settled + 1))
        [ "$settled" -ge 4 ] && break
    else
        settled=0
    fi
done
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
[ "$settled" -ge 4 ] || echo "kill9_notify: did not settle (stored/generated/pending: $stored/$generated/$pending)"

python3 "$helper" check "$work/tributary.db" "$work/feeds" "$work/received.jsonl" "$work/kills" hook
echo "kill9_notify: $((SECONDS - started)) s"
