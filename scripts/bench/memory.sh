#!/usr/bin/env bash
# Peak memory and time of tributary's polls at N feeds, against another build in the same run:
#
#   scripts/bench/memory.sh [--feeds N] [--rounds R] [--baseline BINARY] [--no-baseline-cold]
#                           [--binary BINARY] [--harness BINARY] [--keep] [--syscalls]
#
# What `run.sh` measures at N = 1,000 takes too long at N = 10,000 on a shared machine (a cold
# poll there is about ten minutes); this runs only the polls: `harness generate --feeds N`
# served by nginx on 127.0.0.1 (the feed list in an OPML file, as `run.sh` does), then under
# /usr/bin/time -v, for this build and (with --baseline) the other:
#   - R cold polls on a fresh database, the two builds alternated (--no-baseline-cold: one,
#     this build's only; the baseline's later polls start from a copy of its database, so it
#     must read this build's schema);
#   - R all-304 polls, the two builds alternated, each on its own database;
#   - R steady polls (`harness mutate --fraction 0.1` between rounds), each build from a copy
#     of the same database, so both see the same mix of changed and unchanged feeds;
#   - after each, an edited poll the same way (`harness mutate --edit`: a tenth of the feeds
#     with their newest item retitled, which the poll updates in place).
# Each line gives wall and CPU seconds, peak RSS, and the CPU others used meanwhile (a busy
# machine inflates the wall times). --syscalls also counts each poll's pread64 and pwrite64
# calls (`perf stat` on their tracepoints; needs perf and root): the store's page I/O, which is
# what grows faster than the work once the indexes outgrow the page cache. --binary and
# --harness skip the build (say, copies made before a rebuild). Everything lives under a
# mktemp directory in $TMPDIR, deleted on exit unless --keep.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=harness_path.sh
. "$root/scripts/bench/harness_path.sh"
# shellcheck source=nginx.sh
. "$root/scripts/bench/nginx.sh"
feeds=1000
rounds=2
baseline=""
baseline_cold=1
tributary=""
harness=""
keep=0
syscalls=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --feeds) feeds="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --baseline) baseline="$2"; shift 2 ;;
        --no-baseline-cold) baseline_cold=0; shift ;;
        --binary) tributary="$2"; shift 2 ;;
        --harness) harness="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --syscalls) syscalls=1; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for binary in "$baseline" "$tributary" "$harness"; do
    [[ -z "$binary" || -x "$binary" ]] || { echo "$binary is not an executable" >&2; exit 2; }
done
log() { printf '== %s\n' "$*" >&2; }
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[[ -x "$nginx_bin" && -x /usr/bin/time ]] || { echo "needs nginx and /usr/bin/time (scripts/bench/run.sh installs them)" >&2; exit 2; }
if [[ $syscalls == 1 ]] && ! perf stat -e syscalls:sys_enter_pread64 -o /dev/null -- true 2>/dev/null; then
    echo "--syscalls needs perf and its syscall tracepoints (apt-get install linux-perf; run as root)" >&2
    exit 2
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [[ -z "$tributary" ]]; then
    log "building (cargo build --release)"
    (cd "$root" && cargo build --release --quiet)
    tributary="$target_dir/release/tributary"
fi
if [[ -z "$harness" ]]; then
    harness="$(harness_path "$root")"
fi
[[ -x "$harness" ]] || { echo "could not build benches/harness.rs" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tributary-memory.XXXXXX")"
chmod 755 "$work" # nginx's workers run as nobody
mkdir -p "$work/www" "$work/bin" "$work/nginx" "$work/this" "$work/base"
# Copies: a rebuild in a shared target directory must not swap a binary between rounds.
cp "$tributary" "$work/bin/this"
[[ -n "$baseline" ]] && cp "$baseline" "$work/bin/base"
cp "$harness" "$work/bin/harness"
nginx_pid=""
cleanup() {
    set +e
    if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid"; wait "$nginx_pid" 2>/dev/null
    fi
    if [[ $keep == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_nginx "$work/nginx" "$work/www"
port="$nginx_port"
log "generating $feeds feeds"
"$work/bin/harness" generate --dir "$work/www" --feeds "$feeds" --base "http://127.0.0.1:$port" >&2
for build in this base; do
    cat >"$work/$build.toml" <<EOF
[storage]
database = "$work/$build/tributary.db"

[output]
atom_path = "$work/$build/merged.atom"
title = "tributary memory benchmark"
max_entries = 200

[fetch]
timeout = "30s"

[feed_list]
opml = "$work/www/feeds.opml"
EOF
done

printf 'stage\tbuild\twall_s\tcpu_s\tpeak_rss_mb\tothers_cpu_s\tpread64\tpwrite64\tsummary\n'
# poll STAGE BUILD: one `poll` of BUILD (this, base) on its own database, under /usr/bin/time.
poll() {
    local stage="$1" build="$2" stat0 stat1 t0 t1
    stat0="$(head -1 /proc/stat)"
    t0=$EPOCHREALTIME
    local counting=()
    [[ $syscalls == 1 ]] && counting=(perf stat -x, -o "$work/syscalls.txt"
        -e syscalls:sys_enter_pread64,syscalls:sys_enter_pwrite64 --)
    rm -f "$work/syscalls.txt"
    "${counting[@]}" /usr/bin/time -v -o "$work/time.txt" "$work/bin/$build" --config "$work/$build.toml" poll \
        >"$work/out.txt" 2>"$work/err.txt" || { tail -20 "$work/err.txt" >&2; exit 1; }
    t1=$EPOCHREALTIME
    stat1="$(head -1 /proc/stat)"
    python3 - "$stage" "$build" "$t0" "$t1" "$work/time.txt" "$work/out.txt" "$stat0" "$stat1" "$work/syscalls.txt" <<'PY'
import os, re, sys
stage, build, t0, t1, time_file, out_file, stat0, stat1, syscalls_file = sys.argv[1:]
# perf's CSV: count,unit,event,...; "-" where nothing was counted.
calls = {}
if os.path.exists(syscalls_file):
    for line in open(syscalls_file):
        fields = line.strip().split(",")
        if len(fields) > 2 and fields[2].startswith("syscalls:sys_enter_"):
            calls[fields[2].rsplit("_", 1)[-1]] = fields[0]
t = open(time_file).read()
num = lambda label: float(re.search(re.escape(label) + r"\s*:\s*([\d.]+)", t).group(1))
cpu = num("User time (seconds)") + num("System time (seconds)")
rss = num("Maximum resident set size (kbytes)") / 1024
hz = os.sysconf("SC_CLK_TCK")
a, b = ([int(x) for x in s.split()[1:9]] for s in (stat0, stat1))
d = [y - x for x, y in zip(a, b)]
others = max(0.0, (d[0] + d[1] + d[2] + d[5] + d[6] + d[7]) / hz - cpu)
summary = next((l.split(";")[0].strip() for l in open(out_file) if " feeds: " in l), "")
print(f"{stage}\t{build}\t{float(t1) - float(t0):.2f}\t{cpu:.2f}\t{rss:.1f}\t{others:.2f}\t"
      f"{calls.get('pread64', '-')}\t{calls.get('pwrite64', '-')}\t{summary}", flush=True)
PY
}
builds=(this)
[[ -n "$baseline" ]] && builds+=(base)
# Round r runs the builds in order when r is odd, reversed when even.
in_turn() {
    if (( $1 % 2 == 1 )); then printf '%s\n' "${builds[@]}"; else printf '%s\n' "${builds[@]}" | tac; fi
}

# Cold polls: R rounds, the builds alternated, each from a fresh database (without the
# baseline's, one; the baseline then starts from a copy of this build's database).
if [[ -n "$baseline" && $baseline_cold == 1 ]]; then
    for r in $(seq 1 "$rounds"); do
        for build in $(in_turn "$r"); do
            rm -f "$work/$build"/tributary.db* "$work/$build/merged.atom"
            poll cold "$build"
        done
    done
else
    poll cold this
    [[ -n "$baseline" ]] && cp "$work"/this/tributary.db* "$work/base/"
fi
for r in $(seq 1 "$rounds"); do
    for build in $(in_turn "$r"); do poll all304 "$build"; done
done
for r in $(seq 1 "$rounds"); do
    for stage in steady edited; do
        flag=()
        [[ $stage == edited ]] && flag=(--edit)
        "$work/bin/harness" mutate --dir "$work/www" --fraction 0.1 --round "$r" "${flag[@]}" >&2
        mkdir -p "$work/start"
        cp "$work"/this/tributary.db* "$work/start/"
        for build in $(in_turn "$r"); do
            rm -f "$work/$build"/tributary.db*
            cp "$work"/start/tributary.db* "$work/$build/"
            poll "$stage" "$build"
        done
    done
done
