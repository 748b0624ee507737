#!/usr/bin/env bash
# tributary's pipeline benchmark, in one command:
#
#   scripts/bench/run.sh [--feeds N] [--rounds R] [--compare] [--dedupe] [--hosts K] [--keep]
#                        [--baseline BINARY] [--feed-list opml|toml]
#
# Generates N realistic feeds (benches/harness.rs `generate`), serves them from nginx on
# 127.0.0.1 with ETags, and measures, interleaved round by round (medians are reported):
#   - the stages on their own: raw fetch of the same URLs at tributary's concurrency (bodies
#     discarded), a raw quick-xml scan of the same bytes, parse + normalise on 1 and 2 threads,
#     ingest of the same rows into a fresh store, and a raw rusqlite insert of the same rows and
#     dedupe keys, its reference (benches/harness.rs);
#   - tributary itself (target/release/tributary): a cold `poll` of N feeds, a steady `poll`
#     where 10% of the feeds changed and the rest answer 304, an all-304 `poll`, each against
#     the raw (conditional) fetch of the same mix; with --baseline, the cold and steady polls
#     also with another build of tributary (say, the commit before a change), to price a change
#     within one run;
#   - serving: `tributary run`'s /feed.atom against nginx serving the same bytes, 200 and 304,
#     with wrk;
#   - with --compare: rss2email (`r2e run --no-send`) and feed2exec on the same feeds;
#   - with --dedupe: benches/dedupe.rs (matching cost per item at 1k/10k/100k stories).
# Wall time, CPU time and peak RSS come from /usr/bin/time -v (the harness reports the wall and
# CPU of its measured section only); the table goes to stdout and target/bench/.
#
# --hosts K spreads the feeds over 127.0.0.1..127.0.0.K (tributary fetches at most 2 feeds
# per host at once, and 16 in all). Everything listens on loopback only; every step has a time
# limit; nginx and the daemon are stopped on exit. Installs nginx-light, wrk, time, curl (and
# rss2email, feed2exec with --compare) through apt when they are missing. The config names the
# feeds in an OPML file ([feed_list] opml); --feed-list toml writes them as [[feeds]] tables.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=harness_path.sh
. "$root/scripts/bench/harness_path.sh"
feeds=1000
rounds=3
compare=0
dedupe=0
hosts=1
keep=0
baseline=""
feed_list=opml
wrk_seconds=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --feeds) feeds="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --compare) compare=1; shift ;;
        --dedupe) dedupe=1; shift ;;
        --hosts) hosts="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --baseline) baseline="$2"; shift 2 ;;
        --feed-list) feed_list="$2"; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$hosts" -ge 1 && "$hosts" -le 8 ]] || { echo "--hosts must be 1..8" >&2; exit 2; }
[[ $feed_list == opml || $feed_list == toml ]] || { echo "--feed-list must be opml or toml" >&2; exit 2; }
[[ -z "$baseline" || -x "$baseline" ]] || { echo "--baseline: $baseline is not an executable" >&2; exit 2; }

log() { printf '== %s\n' "$*" >&2; }

# --- tools -----------------------------------------------------------------------------------
need=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[[ -x /usr/bin/time ]] || need+=(time)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [[ $compare == 1 ]]; then
    command -v r2e >/dev/null 2>&1 || need+=(rss2email)
    command -v feed2exec >/dev/null 2>&1 || need+=(feed2exec)
fi
if [[ ${#need[@]} -gt 0 ]]; then
    log "installing ${need[*]}"
    apt-get update -qq
    # policy-rc.d (where present) keeps the package from starting a system nginx on port 80.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || {
        if [[ $compare == 1 ]]; then
            log "apt failed; trying pip for the comparison tools"
            python3 -m pip install --quiet rss2email feed2exec
        fi
    }
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

# --- build -----------------------------------------------------------------------------------
# CARGO_TARGET_DIR is honoured, so a run can use a target directory of its own.
target_dir="${CARGO_TARGET_DIR:-$root/target}"
log "building (cargo build --release, cargo bench --no-run)"
(cd "$root" && cargo build --release --quiet)
tributary="$target_dir/release/tributary"
harness="$(harness_path "$root")"
[[ -x "$harness" ]] || { echo "could not build benches/harness.rs" >&2; exit 1; }

# --- work directory, nginx -------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/tributary-bench.XXXXXX")"
chmod 755 "$work" # nginx's workers run as nobody
www="$work/www"
mkdir -p "$www" "$work/state" "$work/state-baseline" "$work/nginx" "$work/bin"
# Measure copies: the target directory may be shared, and a rebuild there must not swap the
# binary between rounds.
cp "$target_dir/release/tributary" "$work/bin/tributary"
[[ -n "$baseline" ]] && cp "$baseline" "$work/bin/tributary-baseline"
cp "$harness" "$work/bin/harness"
tributary="$work/bin/tributary"
tributary_baseline="$work/bin/tributary-baseline"
harness="$work/bin/harness"
revision="$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(cd "$root" && git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    revision+="+uncommitted"
fi
nginx_pid=""
daemon_pid=""
cleanup() {
    set +e
    if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
    fi
    if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid"; wait "$nginx_pid" 2>/dev/null
    fi
    if [[ $keep == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port="$(free_port)"
daemon_port="$(free_port)"
listen_lines=""
bases=""
for h in $(seq 1 "$hosts"); do
    listen_lines+="        listen 127.0.0.$h:$port;"$'\n'
    bases+="${bases:+,}http://127.0.0.$h:$port"
done
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    types {
        application/rss+xml rss;
        application/atom+xml atom;
        text/plain tsv toml;
    }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    etag on;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
$listen_lines        root $www;
    }
}
EOF
"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!

log "generating $feeds feeds"
"$harness" generate --dir "$www" --feeds "$feeds" --base "$bases" >&2
for _ in $(seq 1 50); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/feeds.tsv" && break
    sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$port/feeds.tsv" || { echo "nginx did not start" >&2; cat "$work/nginx/error.log" >&2; exit 1; }

config="$work/tributary.toml"
cat >"$config" <<EOF
[storage]
database = "$work/state/tributary.db"

[output]
atom_path = "$work/state/merged.atom"
title = "tributary benchmark"
max_entries = 200

[server]
listen = "127.0.0.1:$daemon_port"
base_url = "http://127.0.0.1:$daemon_port/"

[fetch]
timeout = "30s"

EOF
# The feed list as an OPML file the config names (read event by event), or with --feed-list
# toml as `[[feeds]]` tables in the config itself (for a baseline build older than
# `[feed_list]`, or to price the TOML parse).
if [[ $feed_list == opml ]]; then
    printf '[feed_list]\nopml = "%s"\n' "$www/feeds.opml" >>"$config"
else
    cat "$www/feeds.toml" >>"$config"
fi
# The baseline build keeps its own database and merged feed.
config_baseline="$work/tributary-baseline.toml"
sed -e "s|$work/state/|$work/state-baseline/|" "$config" >"$config_baseline"

# --- measuring -------------------------------------------------------------------------------
results="$work/results.tsv"
: >"$results"
# The machine's load before and after, so a reader can tell a noisy run (others' builds).
loadavg() { printf 'loadavg\t%s\t\t\t\tone=%s five=%s fifteen=%s\n' "$1" $(cut -d' ' -f1-3 /proc/loadavg) >>"$results"; }
loadavg start
printf 'build\t-\t\t\t\trevision=%s\n' "$revision" >>"$results"
[[ -n "$baseline" ]] && printf 'baseline\t-\t\t\t\tbinary=%s\n' "$baseline" >>"$results"
limit=1800 # seconds; no single step may take longer

# timed STAGE ROUND CMD...: runs CMD under /usr/bin/time -v; records wall, CPU, peak RSS. When
# CMD prints a `RESULT` line (the harness), its wall and CPU (the measured section) are used.
timed() {
    local stage="$1" round="$2"
    shift 2
    local t0 t1 rc=0 stat0 stat1
    stat0="$(head -1 /proc/stat)"
    t0=$EPOCHREALTIME
    timeout "$limit" /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
    t1=$EPOCHREALTIME
    stat1="$(head -1 /proc/stat)"
    if [[ $rc -ne 0 ]]; then
        echo "$stage (round $round) failed with status $rc:" >&2
        tail -20 "$work/err.txt" >&2
        exit 1
    fi
    python3 - "$stage" "$round" "$t0" "$t1" "$work/time.txt" "$work/out.txt" "$stat0" "$stat1" >>"$results" <<'PY'
import os, re, sys
stage, rnd, t0, t1, time_file, out_file, stat0, stat1 = sys.argv[1:]
t = open(time_file).read()
num = lambda label: float(re.search(re.escape(label) + r"\s*:\s*([\d.]+)", t).group(1))
wall = float(t1) - float(t0)
cpu = num("User time (seconds)") + num("System time (seconds)")
process_cpu = cpu
rss_kb = num("Maximum resident set size (kbytes)")
# What the whole machine did meanwhile (/proc/stat, USER_HZ ticks): CPU used by other
# processes (others' builds on a shared machine), and time the CPUs sat waiting on the disk.
hz = os.sysconf("SC_CLK_TCK")
a, b = ([int(x) for x in s.split()[1:9]] for s in (stat0, stat1))
d = [y - x for x, y in zip(a, b)]
busy = (d[0] + d[1] + d[2] + d[5] + d[6] + d[7]) / hz
iowait = d[4] / hz
extra = {}
for line in open(out_file):
    if line.startswith("RESULT "):
        extra = dict(p.split("=", 1) for p in line.split()[1:])
        wall, cpu = float(extra.pop("wall")), float(extra.pop("cpu"))
        extra.pop("stage", None)
extra["others_cpu"] = f"{max(0.0, busy - process_cpu):.2f}"
extra["iowait"] = f"{iowait:.2f}"
extra = " ".join(f"{k}={v}" for k, v in extra.items())
print(f"{stage}\t{rnd}\t{wall:.4f}\t{cpu:.3f}\t{rss_kb:.0f}\t{extra}")
PY
    tail -1 "$results" | awk -F'\t' '{printf "   %-16s round %s: %8.3f s wall %8.3f s CPU %7.1f MB  %s\n", $1, $2, $3, $4, $5/1024, $6}' >&2
}

# The poll's own summary line ("N feeds: a fetched, b unchanged, ...") as the extra column.
# poll STAGE ROUND [BINARY CONFIG]
poll() {
    local stage="$1" round="$2" binary="${3:-$tributary}" cfg="${4:-$config}"
    timed "$stage" "$round" "$binary" --config "$cfg" poll
    local summary
    summary="$(grep -m1 ' feeds: ' "$work/out.txt" | sed -E 's/^([0-9]+) feeds: ([0-9]+) fetched, ([0-9]+) unchanged, ([0-9]+) skipped, ([0-9]+) failed.*/feeds=\1 ok=\2 not_modified=\3 failed=\5/')"
    # Append the poll's counts to the line just written.
    sed -i '$ s/$/ '"$summary"'/' "$results"
    if grep -q 'failed=[1-9]' <<<"$summary"; then
        echo "$stage: some feeds failed:" >&2; grep -m5 'failed' "$work/out.txt" "$work/err.txt" >&2
        exit 1
    fi
}

cold_poll() {
    rm -f "$work"/state/tributary.db* "$work/state/merged.atom"
    poll cold_poll "$1"
}
cold_poll_baseline() {
    [[ -n "$baseline" ]] || return 0
    rm -f "$work"/state-baseline/tributary.db* "$work/state-baseline/merged.atom"
    poll cold_poll_baseline "$1" "$tributary_baseline" "$config_baseline"
}
# The baseline polls from the state the other build is in, so both see the same mix of changed
# and unchanged feeds (it must read this build's database: the same schema, or older).
steady_poll_baseline() {
    [[ -n "$baseline" ]] || return 0
    rm -f "$work"/state-baseline/tributary.db* "$work/state-baseline/merged.atom"
    cp "$work"/state/tributary.db* "$work/state-baseline/"
    poll steady_poll_baseline "$1" "$tributary_baseline" "$config_baseline"
}

log "cold: raw fetch, scan, parse 1/2 threads, insert, tributary poll ($rounds rounds, interleaved)"
for r in $(seq 1 "$rounds"); do
    if (( r % 2 == 1 )); then
        timed raw_fetch "$r" "$harness" fetch --dir "$www" --stage raw_fetch
        timed scan "$r" "$harness" scan --dir "$www"
        timed parse_1t "$r" "$harness" parse --dir "$www" --threads 1
        timed parse_1t_sanitized "$r" "$harness" parse --dir "$www" --threads 1 --sanitize
        timed parse_2t "$r" "$harness" parse --dir "$www" --threads 2
        timed insert "$r" "$harness" insert --dir "$www"
        timed raw_insert "$r" "$harness" raw-insert --dir "$www"
        cold_poll "$r"
        cold_poll_baseline "$r"
    else
        cold_poll_baseline "$r"
        cold_poll "$r"
        timed raw_insert "$r" "$harness" raw-insert --dir "$www"
        timed insert "$r" "$harness" insert --dir "$www"
        timed parse_2t "$r" "$harness" parse --dir "$www" --threads 2
        timed parse_1t_sanitized "$r" "$harness" parse --dir "$www" --threads 1 --sanitize
        timed parse_1t "$r" "$harness" parse --dir "$www" --threads 1
        timed scan "$r" "$harness" scan --dir "$www"
        timed raw_fetch "$r" "$harness" fetch --dir "$www" --stage raw_fetch
    fi
done
# Both the raw fetcher's saved validators and tributary's database now hold the current ETags.

log "steady: 10% of the feeds changed, the rest 304 ($rounds rounds)"
for r in $(seq 1 "$rounds"); do
    "$harness" mutate --dir "$www" --fraction 0.1 --round "$r" >&2
    if (( r % 2 == 1 )); then
        timed raw_fetch_mix "$r" "$harness" fetch --dir "$www" --conditional --stage raw_fetch_mix
        steady_poll_baseline "$r"
        poll steady_poll "$r"
    else
        steady_poll_baseline "$r"
        poll steady_poll "$r"
        timed raw_fetch_mix "$r" "$harness" fetch --dir "$www" --conditional --stage raw_fetch_mix
    fi
done

log "all 304 ($rounds rounds)"
for r in $(seq 1 "$rounds"); do
    if (( r % 2 == 1 )); then
        timed raw_fetch_304 "$r" "$harness" fetch --dir "$www" --conditional --stage raw_fetch_304
        poll all304_poll "$r"
    else
        poll all304_poll "$r"
        timed raw_fetch_304 "$r" "$harness" fetch --dir "$www" --conditional --stage raw_fetch_304
    fi
done

# --- serving ---------------------------------------------------------------------------------
log "serving: tributary run vs nginx, /feed.atom, 200 and 304 (wrk, ${wrk_seconds}s each)"
"$tributary" --config "$config" run >"$work/daemon.out" 2>"$work/daemon.err" &
daemon_pid=$!
daemon="http://127.0.0.1:$daemon_port"
ready=0
for _ in $(seq 1 "$((limit * 10))"); do
    if curl -fs -o /dev/null "$daemon/readyz"; then ready=1; break; fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
[[ $ready == 1 ]] || { echo "the daemon did not become ready" >&2; tail "$work/daemon.err" >&2; exit 1; }
vm() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$daemon_pid/status"; }
startup_hwm_kb="$(vm VmHWM)"
curl -fs -o "$www/merged.atom" "$daemon/feed.atom"
etag_of() { curl -fsI "$1" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}'; }
daemon_etag="$(etag_of "$daemon/feed.atom")"
nginx_etag="$(etag_of "http://127.0.0.1:$port/merged.atom")"
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $2" "$1"; }
[[ "$(status_of "$daemon/feed.atom" "$daemon_etag")" == 304 ]] || { echo "daemon: no 304" >&2; exit 1; }
[[ "$(status_of "http://127.0.0.1:$port/merged.atom" "$nginx_etag")" == 304 ]] || { echo "nginx: no 304" >&2; exit 1; }
atom_bytes="$(stat -c %s "$www/merged.atom")"

# wrk_run STAGE ROUND URL [ETAG]
wrk_run() {
    local stage="$1" round="$2" url="$3" etag="${4:-}"
    local args=(-t1 -c16 -d"${wrk_seconds}s" "$url")
    [[ -n "$etag" ]] && args=(-H "If-None-Match: $etag" "${args[@]}")
    timeout 60 wrk "${args[@]}" >"$work/wrk.txt" 2>&1
    local rps
    rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")"
    if grep -q 'Non-2xx or 3xx' "$work/wrk.txt" || [[ -z "$rps" ]]; then
        echo "$stage: wrk reported errors:" >&2; cat "$work/wrk.txt" >&2; exit 1
    fi
    printf '%s\t%s\t\t\t\trps=%s bytes=%s\n' "$stage" "$round" "$rps" "$atom_bytes" >>"$results"
    printf '   %-16s round %s: %10.0f requests/s\n' "$stage" "$round" "$rps" >&2
}
for r in $(seq 1 "$rounds"); do
    if (( r % 2 == 1 )); then
        wrk_run nginx_200 "$r" "http://127.0.0.1:$port/merged.atom"
        wrk_run serve_200 "$r" "$daemon/feed.atom"
        wrk_run nginx_304 "$r" "http://127.0.0.1:$port/merged.atom" "$nginx_etag"
        wrk_run serve_304 "$r" "$daemon/feed.atom" "$daemon_etag"
    else
        wrk_run serve_304 "$r" "$daemon/feed.atom" "$daemon_etag"
        wrk_run nginx_304 "$r" "http://127.0.0.1:$port/merged.atom" "$nginx_etag"
        wrk_run serve_200 "$r" "$daemon/feed.atom"
        wrk_run nginx_200 "$r" "http://127.0.0.1:$port/merged.atom"
    fi
done
printf 'daemon\t1\t\t\t%s\tstartup_hwm_kb=%s served_hwm_kb=%s rss_kb=%s\n' \
    "$(vm VmHWM)" "$startup_hwm_kb" "$(vm VmHWM)" "$(vm VmRSS)" >>"$results"
kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""

# --- other readers ---------------------------------------------------------------------------
if [[ $compare == 1 ]]; then
    log "rss2email: r2e run --no-send on the same $feeds feeds"
    mkdir -p "$work/r2e"
    (cd "$work/r2e" && r2e -c cfg -d data.json new bench@example.invalid >/dev/null 2>&1)
    python3 - "$www/feeds.tsv" "$work/r2e" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
with open(f"{out}/cfg", "a") as cfg:
    for name, url, _role, _file in rows:
        cfg.write(f"\n[feed.{name}]\nurl = {url}\n")
json.dump({"version": 2, "feeds": [{"name": r[0], "etag": None, "modified": None, "seen": {}} for r in rows]},
          open(f"{out}/data.json", "w"), indent=2)
PY
    (cd "$work/r2e" && timed rss2email 1 r2e -c cfg -d data.json run --no-send)

    log "feed2exec: feed2exec fetch --parallel (null output) on the same $feeds feeds"
    mkdir -p "$work/f2e"
    python3 - "$www/feeds.tsv" "$work/f2e/feed2exec.ini" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2], "w") as ini:
    for name, url, _role, _file in rows:
        ini.write(f"[{name}]\nurl = {url}\noutput = feed2exec.plugins.null\n\n")
PY
    timed feed2exec 1 feed2exec --config "$work/f2e/feed2exec.ini" --database "$work/f2e/feed2exec.db" fetch --parallel
fi

if [[ $dedupe == 1 ]]; then
    log "dedupe: cargo bench --bench dedupe -- 1000 10000 100000"
    (cd "$root" && timeout "$limit" cargo bench --quiet --bench dedupe -- 1000 10000 100000) >"$work/dedupe.md"
fi

loadavg end

# --- report ----------------------------------------------------------------------------------
out_dir="$root/target/bench"
mkdir -p "$out_dir"
cp "$results" "$out_dir/results-$feeds.tsv"
[[ -s "$work/dedupe.md" ]] && cp "$work/dedupe.md" "$out_dir/dedupe.md"
python3 "$root/scripts/bench/report.py" --feeds "$feeds" --results "$out_dir/results-$feeds.tsv" \
    --others "$out_dir" | tee "$out_dir/table-$feeds.md"
if [[ -s "$work/dedupe.md" ]]; then
    printf '\nDedupe (benches/dedupe.rs), matching cost per item:\n\n'
    cat "$work/dedupe.md"
fi
