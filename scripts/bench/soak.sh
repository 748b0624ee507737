#!/usr/bin/env bash
# The daemon over time: does a long run hold its memory, its CPU and its files flat?
#
#   scripts/bench/soak.sh [--feeds N] [--minutes M] [--poll-every S] [--change-every S]
#                         [--binary BINARY] [--harness BINARY] [--keep]
#
# Serves `harness generate --feeds N` from nginx on 127.0.0.1 (the feed list in an OPML file),
# runs `tributary run` on it with every feed due each S seconds (default 15) and a webhook sink
# (a local receiver that answers 200), and every --change-every seconds (default 30) gives a
# tenth of the feeds a new item (`harness mutate`), so that cycles ingest, render and notify
# as a live daemon's do. Once a minute (and at the end) it prints one line: minutes run,
# resident memory now and at its peak (VmRSS, VmHWM), CPU seconds used in that minute, the
# database and WAL sizes, the cycles and notifications so far (from /metrics). The first line
# comes after the first (cold) cycle; a daemon that leaks shows its RSS and WAL climbing from
# there. Everything lives under a mktemp directory in $TMPDIR, deleted on exit unless --keep.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=harness_path.sh
. "$root/scripts/bench/harness_path.sh"
# shellcheck source=nginx.sh
. "$root/scripts/bench/nginx.sh"
feeds=1000
minutes=10
poll_every=15
change_every=30
tributary=""
harness=""
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --feeds) feeds="$2"; shift 2 ;;
        --minutes) minutes="$2"; shift 2 ;;
        --poll-every) poll_every="$2"; shift 2 ;;
        --change-every) change_every="$2"; shift 2 ;;
        --binary) tributary="$2"; shift 2 ;;
        --harness) harness="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for n in "$feeds" "$minutes" "$poll_every" "$change_every"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $n" >&2; exit 2; }
done
(( poll_every < 60 )) || { echo "--poll-every must be under 60 seconds (a cron seconds field)" >&2; exit 2; }
for binary in "$tributary" "$harness"; do
    [[ -z "$binary" || -x "$binary" ]] || { echo "$binary is not an executable" >&2; exit 2; }
done
log() { printf '== %s\n' "$*" >&2; }
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] ||
    { echo "needs nginx (scripts/bench/run.sh installs it)" >&2; exit 2; }

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [[ -z "$tributary" ]]; then
    log "building (cargo build --release)"
    (cd "$root" && cargo build --release --quiet)
    tributary="$target_dir/release/tributary"
fi
[[ -n "$harness" ]] || harness="$(harness_path "$root")"
[[ -x "$harness" ]] || { echo "could not build benches/harness.rs" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tributary-soak.XXXXXX")"
chmod 755 "$work" # nginx's workers run as nobody
mkdir -p "$work/www" "$work/bin" "$work/nginx" "$work/db"
cp "$tributary" "$work/bin/tributary"
cp "$harness" "$work/bin/harness"
nginx_pid="" receiver_pid="" daemon_pid=""
cleanup() {
    set +e
    for pid in "$daemon_pid" "$receiver_pid" "$nginx_pid"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"; wait "$pid" 2>/dev/null
        fi
    done
    if [[ $keep == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
start_nginx "$work/nginx" "$work/www"
log "generating $feeds feeds"
"$work/bin/harness" generate --dir "$work/www" --feeds "$feeds" --base "http://127.0.0.1:$nginx_port" >&2

receiver_port="$(free_port)"
python3 - "$receiver_port" <<'PY' &
import http.server, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
PY
receiver_pid=$!

port="$(free_port)"
cat >"$work/soak.toml" <<EOF
[storage]
database = "$work/db/tributary.db"

[output]
atom_path = "$work/db/merged.atom"
title = "tributary soak"
max_entries = 200

[server]
listen = "127.0.0.1:$port"
base_url = "http://127.0.0.1:$port/"

[schedule]
default = "*/$poll_every * * * * *"

[feed_list]
opml = "$work/www/feeds.opml"

[[notify]]
name = "receiver"
kind = "webhook"
url = "http://127.0.0.1:$receiver_port/hook"
EOF

RUST_LOG=warn "$work/bin/tributary" --config "$work/soak.toml" run 2>"$work/daemon.log" &
daemon_pid=$!
log "daemon $daemon_pid on 127.0.0.1:$port; waiting for its first cycle"
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do
    kill -0 "$daemon_pid" 2>/dev/null || { tail -20 "$work/daemon.log" >&2; exit 1; }
    sleep 1
done

hz="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
status_kb() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$daemon_pid/status"; }
size_mb() { if [[ -f "$1" ]]; then stat -c %s "$1" | awk '{printf "%.1f", $1 / 1048576}'; else echo 0; fi; }
metric() {
    curl -fs "http://127.0.0.1:$port/metrics" |
        awk -v name="$1" 'index($0, name) == 1 {sum += $NF} END {printf "%d", sum}'
}
printf 'minute\trss_mb\thwm_mb\tcpu_s\tdb_mb\twal_mb\tcycles\tnotified\n'
sample() {
    local minute="$1" ticks
    ticks="$(cpu_ticks)"
    printf '%s\t%.1f\t%.1f\t%.2f\t%s\t%s\t%s\t%s\n' "$minute" \
        "$(status_kb VmRSS | awk '{print $1 / 1024}')" "$(status_kb VmHWM | awk '{print $1 / 1024}')" \
        "$(awk -v a="$last_ticks" -v b="$ticks" -v hz="$hz" 'BEGIN {print (b - a) / hz}')" \
        "$(size_mb "$work/db/tributary.db")" "$(size_mb "$work/db/tributary.db-wal")" \
        "$(metric tributary_cycles_total)" "$(metric tributary_notifications_delivered_total)"
    last_ticks="$ticks"
}
last_ticks="$(cpu_ticks)"
sample 0
started=$SECONDS next_change=$change_every round=1
for minute in $(seq 1 "$minutes"); do
    while (( SECONDS - started < minute * 60 )); do
        if (( SECONDS - started >= next_change )); then
            "$work/bin/harness" mutate --dir "$work/www" --fraction 0.1 --round "$round" >/dev/null
            round=$((round + 1)) next_change=$((next_change + change_every))
        fi
        kill -0 "$daemon_pid" 2>/dev/null || { log "the daemon died"; tail -20 "$work/daemon.log" >&2; exit 1; }
        sleep 1
    done
    sample "$minute"
done
errors="$(grep -c ' ERROR ' "$work/daemon.log" || true)"
log "$errors errors logged; $(grep -c ' WARN ' "$work/daemon.log" || true) warnings"
