#!/usr/bin/env bash
# One tributary instance against two on one PostgreSQL database (issue #16):
#
#   scripts/bench/instances.sh [--feeds N] [--binary BINARY] [--harness BINARY] [--keep]
#
# `harness generate --feeds N` served by nginx on 127.0.0.1 (the feed list in an OPML file),
# a throwaway PostgreSQL cluster with the server's default durability (fsync and synchronous
# commit on), and for K = 1 then K = 2 instances, each K on a database of its own:
#   - cold: K `tributary poll` processes started together on the empty database (they claim
#     disjoint due feeds: each feed is fetched and ingested by one of them);
#   - all-304: K polls again, every feed answering 304;
#   - steady: after `harness mutate --fraction 0.1` (once, so both K see the same mix), K polls.
# Each line: the stage's wall time (first start to last exit), the K processes' CPU, the
# PostgreSQL server's CPU (the postmaster and the backends it reaped), the whole machine's CPU
# meanwhile less those two (nginx and anything else running), the largest peak RSS, and what
# the processes report of the ingest lock (the serialised step): the time they held it and
# waited for it, summed. Everything lives under a mktemp directory, deleted on exit unless
# --keep.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=harness_path.sh
. "$root/scripts/bench/harness_path.sh"
# shellcheck source=nginx.sh
. "$root/scripts/bench/nginx.sh"
# shellcheck source=../pg_cluster.sh
. "$root/scripts/pg_cluster.sh"
feeds=1000
tributary=""
harness=""
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --feeds) feeds="$2"; shift 2 ;;
        --binary) tributary="$2"; shift 2 ;;
        --harness) harness="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
log() { printf '== %s\n' "$*" >&2; }
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[[ -x "$nginx_bin" && -x /usr/bin/time ]] || { echo "needs nginx and /usr/bin/time (scripts/bench/run.sh installs them)" >&2; exit 2; }

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [[ -z "$tributary" ]]; then
    log "building (cargo build --release)"
    (cd "$root" && cargo build --release --quiet)
    tributary="$target_dir/release/tributary"
fi
[[ -n "$harness" ]] || harness="$(harness_path "$root")"
[[ -x "$harness" ]] || { echo "could not build benches/harness.rs" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tributary-instances.XXXXXX")"
chmod 755 "$work" # nginx's workers run as nobody, the server as postgres
mkdir -p "$work/www" "$work/bin" "$work/nginx" "$work/runs"
cp "$tributary" "$work/bin/tributary"
cp "$harness" "$work/bin/harness"
nginx_pid=""
cleanup() {
    set +e
    if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid"; wait "$nginx_pid" 2>/dev/null
    fi
    pg_cluster_stop
    if [[ $keep == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "a PostgreSQL cluster ($PG_BIN)"
pg_cluster_start "$work/pg"
start_nginx "$work/nginx" "$work/www"
port="$nginx_port"
log "generating $feeds feeds"
"$work/bin/harness" generate --dir "$work/www" --feeds "$feeds" --base "http://127.0.0.1:$port" >&2
for k in 1 2; do
    pg_cluster_psql "CREATE DATABASE k$k"
    cat >"$work/k$k.toml" <<EOF
[storage]
database = "$(pg_cluster_url "k$k")"

[output]
atom_path = "$work/runs/merged-k$k.atom"
title = "tributary instances benchmark"
max_entries = 200

[fetch]
timeout = "30s"

[feed_list]
opml = "$work/www/feeds.opml"
EOF
done

printf 'stage\tinstances\twall_s\tcpu_s\tserver_cpu_s\tothers_cpu_s\tpeak_rss_mb\tlock_held_s\tlock_waited_s\tfeeds_fetched\n'
# The server's CPU so far, in clock ticks: the postmaster's own and its reaped children's
# (every backend of a finished poll has exited and been reaped by then).
server_ticks() {
    awk '{print $14 + $15 + $16 + $17}' "/proc/$(head -1 "$PG_DIR/data/postmaster.pid")/stat"
}
# polls STAGE K: K polls at once on database kK; one line of figures.
polls() {
    local stage="$1" k="$2" stat0 stat1 t0 t1 pids=() i server0 server1
    server0="$(server_ticks)"
    stat0="$(head -1 /proc/stat)"
    t0=$EPOCHREALTIME
    for i in $(seq 1 "$k"); do
        /usr/bin/time -v -o "$work/runs/time-$i.txt" "$work/bin/tributary" --config "$work/k$k.toml" \
            poll >"$work/runs/out-$i.txt" 2>"$work/runs/err-$i.txt" &
        pids+=($!)
    done
    for i in $(seq 1 "$k"); do
        wait "${pids[$((i - 1))]}" || { tail -20 "$work/runs/err-$i.txt" >&2; exit 1; }
    done
    t1=$EPOCHREALTIME
    stat1="$(head -1 /proc/stat)"
    # Backends exit just after their client: give the postmaster a moment to reap them.
    sleep 0.5
    server1="$(server_ticks)"
    python3 - "$stage" "$k" "$t0" "$t1" "$stat0" "$stat1" "$work/runs" "$((server1 - server0))" <<'PY'
import os, re, sys
stage, k, t0, t1, stat0, stat1, runs, server = sys.argv[1:]
k = int(k)
cpu = rss = held = waited = 0.0
fetched = []
for i in range(1, k + 1):
    t = open(f"{runs}/time-{i}.txt").read()
    num = lambda label: float(re.search(re.escape(label) + r"\s*:\s*([\d.]+)", t).group(1))
    cpu += num("User time (seconds)") + num("System time (seconds)")
    rss = max(rss, num("Maximum resident set size (kbytes)") / 1024)
    out = open(f"{runs}/out-{i}.txt").read() + open(f"{runs}/err-{i}.txt").read()
    m = re.search(r"ingest lock: held ([\d.]+) s, waited ([\d.]+) s", out)
    if m:
        held += float(m.group(1))
        waited += float(m.group(2))
    m = re.search(r"(\d+) fetched", out)
    fetched.append(m.group(1) if m else "?")
hz = os.sysconf("SC_CLK_TCK")
a, b = ([int(x) for x in s.split()[1:9]] for s in (stat0, stat1))
d = [y - x for x, y in zip(a, b)]
server = int(server) / hz
others = max(0.0, (d[0] + d[1] + d[2] + d[5] + d[6] + d[7]) / hz - cpu - server)
print(f"{stage}\t{k}\t{float(t1) - float(t0):.2f}\t{cpu:.2f}\t{server:.2f}\t{others:.2f}\t{rss:.1f}\t"
      f"{held:.2f}\t{waited:.2f}\t{'+'.join(fetched)}", flush=True)
PY
}

for k in 1 2; do polls cold "$k"; done
for k in 1 2; do polls all304 "$k"; done
"$work/bin/harness" mutate --dir "$work/www" --fraction 0.1 --round 1 >&2
for k in 1 2; do polls steady "$k"; done
