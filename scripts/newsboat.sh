#!/usr/bin/env bash
# A real feed reader subscribes to the running daemon: newsboat fetches /feed.atom headless
# and must find every entry the daemon serves.
#
# Usage: scripts/newsboat.sh [path/to/tributary]   (default: target/debug/tributary)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/debug/tributary}"
command -v newsboat >/dev/null || { echo "newsboat is not installed (apt-get install newsboat)"; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { [ "${ok:-}" = 1 ] || { echo "--- daemon log"; cat "$work/daemon.log" 2>/dev/null; }; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
feeds_port="$(free_port)"
daemon_port="$(free_port)"

python3 -m http.server "$feeds_port" --bind 127.0.0.1 --directory "$root/tests/fixtures/mirrors" \
    >"$work/http.log" 2>&1 &
pids+=($!)
wait_for() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
wait_for "http://127.0.0.1:$feeds_port/newsletter.xml"

cat >"$work/config.toml" <<TOML
[storage]
database = "$work/tributary.db"
[output]
atom_path = "$work/merged.atom"
[server]
listen = "127.0.0.1:$daemon_port"
base_url = "http://127.0.0.1:$daemon_port/"
TOML
for f in newsletter.xml podcast.xml aggregator.atom curation.xml rewrite.xml; do
    printf '[[feeds]]\nname = "%s"\nurl = "http://127.0.0.1:%s/%s"\n' "${f%%.*}" "$feeds_port" "$f" \
        >>"$work/config.toml"
done

RUST_LOG=info "$bin" --config "$work/config.toml" run >"$work/daemon.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$daemon_port/readyz"

echo "http://127.0.0.1:$daemon_port/feed.atom" >"$work/urls"
: >"$work/newsboat.conf"
newsboat -u "$work/urls" -c "$work/cache.db" -C "$work/newsboat.conf" -x reload

served="$(curl -fs "http://127.0.0.1:$daemon_port/feed.atom" | grep -o '<entry>' | wc -l || true)"
python3 - "$work/cache.db" "$served" <<'PY'
import sqlite3, sys
cache, served = sys.argv[1], int(sys.argv[2])
rows = sqlite3.connect(cache).execute("SELECT title, url, enclosure_url FROM rss_item").fetchall()
print(f"newsboat read {len(rows)} entries; the daemon serves {served}")
for title, url, enclosure in rows:
    print(f"  {title!r} -> {url}" + (f" [audio {enclosure}]" if enclosure else ""))
assert served > 0, "the daemon served no entries"
assert len(rows) == served, f"newsboat found {len(rows)} of {served} entries"
assert any(e for _, _, e in rows), "the merged story's audio enclosure reached the reader"
PY
ok=1
echo "newsboat: ok"
