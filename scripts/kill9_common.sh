# Sourced by scripts/kill9_notify.sh and scripts/failover_pg.sh: what both need around the
# daemon they kill. The caller defines `helper` (scripts/kill9_notify.py), `work` and a `pids`
# array (the processes its cleanup stops).
#
#   start_feeds_and_recorder [ACCESSLOG]  # the changing feeds and the webhook receiver; sets
#                                         # `feeds` and `hook` (their URLs)
#   feed_and_sink_tables                  # the config's [schedule], [[feeds]] and [[notify]]

wait_for_file() {
    for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
    echo "$(basename "$0"): $1 never appeared"; exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# 0.00 to $1.99 seconds.
random_sleep() { sleep "$((RANDOM % ($1 + 1))).$((RANDOM % 10))$((RANDOM % 10))"; }

start_feeds_and_recorder() {
    mkdir -p "$work/feeds"
    python3 "$helper" init "$work/feeds"
    python3 "$helper" feeds "$work/feeds" "$work/feeds.port" "$@" &
    pids+=($!)
    python3 "$helper" recorder "$work/received.jsonl" "$work/recorder.port" &
    pids+=($!)
    wait_for_file "$work/feeds.port"
    wait_for_file "$work/recorder.port"
    touch "$work/received.jsonl" "$work/kills"
    feeds="http://127.0.0.1:$(cat "$work/feeds.port")"
    hook="http://127.0.0.1:$(cat "$work/recorder.port")/hook"
}

# Every feed is due every second; the sink hears of new stories and of their edits.
feed_and_sink_tables() {
    cat <<TOML
[schedule]
default = "* * * * * *"

[[feeds]]
name = "alpha"
url = "$feeds/alpha.xml"

[[feeds]]
name = "beta"
url = "$feeds/beta.xml"

[[feeds]]
name = "gamma"
url = "$feeds/gamma.xml"
role = "mirror"

[[notify]]
name = "hook"
kind = "webhook"
url = "$hook"
secret = "kill9"
events = ["story.new", "story.updated"]
TOML
}
