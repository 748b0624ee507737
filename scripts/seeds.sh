#!/usr/bin/env bash
# The shared seed documents through the real binary: one essay seen through five sites
# (../shared/seeds) becomes five local RSS feeds, `tributary poll` merges them, and the merged
# Atom feed must hold all five in one entry: two copies (000, 001), the episode (002), a
# curation site's summary (003) and a news rewrite (004).
#
# The seeds are read at run time and never copied into the repository. Without them the script
# prints "skipped" and exits 0, unless TRIBUTARY_REQUIRE_SHARED=1 (as in CI).
#
# Uses target/debug/tributary when it exists (else the release binary, else `cargo run`), or
# TRIBUTARY_BIN when set. Exits non-zero when the grouping is wrong. TRIBUTARY_SEEDS_KEEP=1 keeps
# the temporary directory (feeds, config, database, merged feed) for a look afterwards.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seeds="$root/../shared/seeds"

if ! compgen -G "$seeds/*.txt" >/dev/null; then
    if [[ "${TRIBUTARY_REQUIRE_SHARED:-0}" == 1 ]]; then
        echo "seeds: no seed documents in $seeds (TRIBUTARY_REQUIRE_SHARED=1)" >&2
        exit 1
    fi
    echo "seeds: skipped ($seeds not found)"
    exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tributary-seeds.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ -n "${TRIBUTARY_SEEDS_KEEP:-}" ]]; then
        echo "seeds: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# http.server cannot be given port 0: ask the kernel for a free port first.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base="http://127.0.0.1:$port"

echo "== seed feeds"
python3 "$root/scripts/seeds_feeds.py" build "$seeds" "$work/www" "$base"

python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" \
    >"$work/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
    if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "$base/manifest.json" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "seeds: the HTTP server did not start:" >&2
        cat "$work/http.log" >&2
        exit 2
    fi
    sleep 0.1
done

config="$work/seeds.toml"
python3 - "$work/www/manifest.json" "$work" >"$config" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1], encoding="utf-8"))
work = sys.argv[2]
print(f'[storage]\ndatabase = "{work}/tributary.db"\n')
print(f'[output]\natom_path = "{work}/merged.atom"\ntitle = "Seeds"\n')
print('[fetch]\ntimeout = "10s"\n')
for seed in manifest.values():
    print(f'[[feeds]]\nname = "{seed["name"]}"\nurl = "{seed["url"]}"\nrole = "{seed["role"]}"\n')
PY

target="${CARGO_TARGET_DIR:-$root/target}"
if [[ -n "${TRIBUTARY_BIN:-}" ]]; then
    tributary=("$TRIBUTARY_BIN")
elif [[ -x "$target/debug/tributary" ]]; then
    tributary=("$target/debug/tributary")
elif [[ -x "$target/release/tributary" ]]; then
    tributary=("$target/release/tributary")
else
    tributary=(cargo run --quiet --manifest-path "$root/Cargo.toml" --)
fi

echo "== tributary poll (${tributary[*]})"
(cd "$work" && "${tributary[@]}" --config "$config" poll)

echo "== merged feed"
status=0
python3 "$root/scripts/seeds_feeds.py" check "$work/merged.atom" "$work/www/manifest.json" || status=$?
if [[ "$status" != 0 ]]; then
    echo "== tributary stories, to see why"
    (cd "$work" && "${tributary[@]}" --config "$config" stories) || true
fi
exit "$status"
