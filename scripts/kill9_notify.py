#!/usr/bin/env python3
"""Helpers for scripts/kill9_notify.sh (python3 standard library only).

  feeds DIR PORTFILE [ACCESSLOG]
                               serve DIR over HTTP on a free 127.0.0.1 port; with ACCESSLOG,
                               append "<time> <feed>" for every feed fetched
  recorder LOG PORTFILE        a webhook receiver: appends every request's Idempotency-Key and
                               body to LOG (fsynced) *before* answering 200, sometimes slowly;
                               story.new and story.updated (edits) alike
  init DIR                     write the first generation of feeds (the backfill)
  grow DIR GEN                 add new items to the feeds for generation GEN
  progress DB DIR              print "<items stored> <items generated> <pending deliveries>"
  check DB DIR LOG KILLFILE SINK
                               verify the end state; print the summary line; exit 1 on failure
  polled ACCESSLOG FROM TO MAXGAP
                               verify that every feed was fetched at least every MAXGAP seconds
                               between the times FROM and TO (scripts/failover_pg.sh)

DB is a SQLite file, or a postgres:// URL (scripts/failover_pg.sh; needs psycopg2).

Feeds: `alpha` and `beta` are origins, `gamma` is a mirror that reposts alpha's items (same
link plus tracking parameters), sometimes in the same generation, sometimes later, and `beta`
sometimes carries an audio episode of an alpha post; sometimes `gamma` lists that episode's
audio under a title of its own a generation before `beta` has it, and the episode then merges
the listing's story into the post's. So a generation brings new stories,
mirrors joining stories in the same cycle, and mirrors joining stories from earlier cycles,
which the sink (subscribed to `story.updated`) hears of as edits of the story's message.
"""

import hashlib
import http.server
import json
import os
import random
import socketserver
import sqlite3
import sys
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

FEEDS = {"alpha": "origin", "beta": "origin", "gamma": "mirror"}
SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "ve", "xo", "ya", "ze",
             "bri", "cla", "dro", "fen", "gra", "hul", "jin", "kor", "lum", "mor", "nix"]


def word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def text(rng, n):
    return " ".join(word(rng) for _ in range(n))


def ledger_path(directory):
    return os.path.join(directory, "ledger.json")


def load(directory):
    with open(ledger_path(directory)) as f:
        return json.load(f)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def render(directory, ledger):
    """Rewrites every feed file from the ledger (each feed keeps all its items)."""
    for feed in FEEDS:
        items = [i for i in ledger["items"] if i["feed"] == feed]
        parts = []
        for item in reversed(items):
            enclosure = ""
            if item.get("audio"):
                enclosure = (f'<enclosure url="{item["audio"]}" length="1234" '
                             f'type="audio/mpeg"/>')
            parts.append(
                f"<item><title>{item['title']}</title><link>{item['link']}</link>"
                f"<guid isPermaLink=\"false\">{item['guid']}</guid>"
                f"<pubDate>{item['date']}</pubDate>{enclosure}"
                f"<description>{item['text']}</description></item>")
        xml = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
               f"<title>{feed}</title><link>https://{feed}.example/</link>"
               f"<description>{feed}</description>{''.join(parts)}</channel></rss>")
        write_atomic(os.path.join(directory, f"{feed}.xml"), xml)
    write_atomic(ledger_path(directory), json.dumps(ledger))


def add_items(ledger, gen, rng):
    base = datetime(2026, 4, 1, tzinfo=timezone.utc)
    n = ledger["next"]

    def new(feed, title, link, body, audio=None):
        nonlocal n
        n += 1
        item = {"feed": feed, "guid": f"{feed}-{n}", "gen": gen, "title": title,
                "link": link, "text": body, "date": format_datetime(base + timedelta(minutes=n),
                                                                     usegmt=True)}
        if audio:
            item["audio"] = audio
        ledger["items"].append(item)
        return item

    for _ in range(rng.randint(1, 3)):
        slug = f"{word(rng)}-{n}"
        post = new("alpha", f"Essay {text(rng, 4)}", f"https://alpha.example/p/{slug}",
                   text(rng, 60))
        ledger.setdefault("unmirrored", []).append(post)
    for _ in range(rng.randint(0, 2)):
        new("beta", f"Note {text(rng, 4)}", f"https://beta.example/n/{word(rng)}-{n}",
            text(rng, 60))
    # Episodes of posts that gamma listed in an earlier generation: each proves the listing's
    # story and the post's are one work, so the two (both announced by now, or about to be)
    # merge.
    for post in ledger.get("listed", []):
        new("beta", post["title"], post["link"], post["text"], audio=audio_of(post))
    ledger["listed"] = []
    # Mirrors and episodes of alpha posts: this generation's or older ones.
    waiting = ledger.get("unmirrored", [])
    rng.shuffle(waiting)
    for post in waiting[: rng.randint(0, len(waiting))]:
        roll = rng.random()
        if roll < 0.6:
            new("gamma", f"{post['title']} | Gamma", post["link"] + "?utm_source=gamma",
                post["text"][:200])
        elif roll < 0.85:
            new("beta", post["title"], post["link"], post["text"], audio=audio_of(post))
        else:
            # A directory lists the episode, under a title of its own and with nothing but its
            # audio file, before the podcast feed has it: a story of its own until then.
            new("gamma", f"Listen: {text(rng, 3)}", f"https://gamma.example/listen/{n + 1}",
                "Stream or download.", audio=audio_of(post))
            ledger.setdefault("listed", []).append(post)
        waiting.remove(post)
    ledger["unmirrored"] = waiting
    ledger["next"] = n


def audio_of(post):
    return post["link"].replace("/p/", "/audio/") + ".mp3"


def cmd_init(directory):
    ledger = {"items": [], "next": 0, "unmirrored": []}
    rng = random.Random(0)
    add_items(ledger, 0, rng)
    add_items(ledger, 0, rng)
    render(directory, ledger)


def cmd_grow(directory, gen):
    ledger = load(directory)
    add_items(ledger, gen, random.Random())
    render(directory, ledger)


def serve_on_free_port(handler, portfile):
    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), handler)
    write_atomic(portfile, str(server.server_address[1]))
    server.serve_forever()


def cmd_feeds(directory, portfile, access_log=None):
    log = open(access_log, "a") if access_log else None
    lock = threading.Lock()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def do_GET(self):
            feed = os.path.basename(self.path.split("?")[0])
            if log and feed.endswith(".xml"):
                with lock:
                    log.write(f"{time.time()} {feed[:-4]}\n")
                    log.flush()
            super().do_GET()

        def log_message(self, *args):
            pass

    serve_on_free_port(Handler, portfile)


def cmd_recorder(log, portfile):
    out = open(log, "a")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            arrived = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            # Sometimes slow, so a kill often lands while a request is in flight.
            roll = random.random()
            if roll < 0.1:
                time.sleep(1.0)
            elif roll < 0.5:
                time.sleep(random.uniform(0.05, 0.3))
            # Acknowledged = recorded: written and fsynced before the 200 goes out.
            with lock:
                out.write(json.dumps({"key": self.headers.get("Idempotency-Key"),
                                      "body": body.decode("utf-8", "replace"),
                                      "arrived": arrived}) + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()
            except OSError:
                # The daemon was killed while this request was in flight.
                pass

        def log_message(self, *args):
            pass

    serve_on_free_port(Handler, portfile)


class Postgres:
    """The few calls the checks make, on a PostgreSQL store: `execute` with `?` placeholders
    (SQLite's) returning a cursor, as `sqlite3.Connection.execute` does."""

    def __init__(self, url):
        import psycopg2  # only the PostgreSQL runs need it

        self.conn = psycopg2.connect(url)
        self.conn.set_session(readonly=True, autocommit=True)

    def execute(self, sql, params=()):
        cursor = self.conn.cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor


def is_postgres(db):
    return db.startswith(("postgres://", "postgresql://"))


def connect(db):
    if is_postgres(db):
        return Postgres(db)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    return conn


def cmd_progress(db, directory):
    ledger = load(directory)
    try:
        conn = connect(db)
        stored = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
    except Exception:  # the store is not there yet, or busy: progress is only a report
        stored, pending = -1, -1
    print(stored, len(ledger["items"]), pending)


def cmd_polled(access_log, start, end, max_gap):
    """Every feed fetched at least every `max_gap` seconds from `start` to `end`: a feed whose
    lease died with an instance waits for the lease to end, and no longer."""
    start, end, max_gap = float(start), float(end), float(max_gap)
    fetches = {feed: [] for feed in FEEDS}
    with open(access_log) as f:
        for line in f:
            at, feed = line.split()
            if feed in fetches:
                fetches[feed].append(float(at))
    failures = []
    report = []
    for feed, times in fetches.items():
        marks = [start] + sorted(t for t in times if start <= t <= end) + [end]
        gap, at = max((b - a, a) for a, b in zip(marks, marks[1:]))
        report.append(f"{feed} {len(marks) - 2} fetches, longest gap {gap:.1f} s")
        if gap > max_gap:
            failures.append(f"{feed}: not fetched for {gap:.1f} s from {at:.1f} "
                            f"(at most {max_gap:.0f} s allowed)")
    print(f"polled: {'; '.join(report)}: {'FAIL' if failures else 'ok'}")
    for failure in failures:
        print(f"  FAIL: {failure}")
    return 1 if failures else 0


def story_atom_id(source, guid):
    """ingest.rs: the first 16 bytes of SHA-256(source, 0, guid), in hex, as a URN."""
    digest = hashlib.sha256(source.encode() + b"\0" + guid.encode()).hexdigest()[:32]
    return f"urn:tributary:story:{digest}"


def idempotency_key(atom_id, sink):
    """ingest.rs: hex of the first 16 bytes of SHA-256(atom_id, 0, sink)."""
    return hashlib.sha256(atom_id.encode() + b"\0" + sink.encode()).hexdigest()[:32]


def cmd_check(db, directory, log, killfile, sink):
    with open(killfile) as f:
        kill_times = sorted(float(line) for line in f if line.strip())
    kills = len(kill_times)
    failures = []
    ledger = load(directory)
    conn = connect(db)

    # A server checks its own pages; SQLite's file is checked here.
    integrity = ("server" if is_postgres(db)
                 else conn.execute("PRAGMA integrity_check").fetchone()[0])
    if integrity not in ("ok", "server"):
        failures.append(f"integrity_check: {integrity}")

    dupes = conn.execute(
        "SELECT count(*) FROM (SELECT source_id, guid FROM items "
        "GROUP BY source_id, guid HAVING count(*) > 1) AS repeated").fetchone()[0]
    if dupes:
        failures.append(f"{dupes} duplicate (source, guid) items")

    stored = {(feed, guid): story for feed, guid, story in conn.execute(
        "SELECT sources.name, items.guid, items.story_id "
        "FROM items JOIN sources ON sources.id = items.source_id")}
    generated = {(i["feed"], i["guid"]): i for i in ledger["items"]}
    missing = [k for k in generated if k not in stored]
    if missing:
        failures.append(f"{len(missing)} generated items not stored, e.g. {missing[:3]}")

    stories = {sid: (atom, merged) for sid, atom, merged in conn.execute(
        "SELECT id, atom_id, merged_into FROM stories")}
    # A story is news when the item that founded it (its Atom id is derived from that item's
    # feed and guid, ingest.rs story_atom_id) came after the backfill (generation 0).
    founder = {story_atom_id(feed, guid): (feed, guid) for feed, guid in stored}
    news = {}
    for sid, (atom, merged) in stories.items():
        key = founder.get(atom)
        if key is None:
            failures.append(f"story {sid}: no item founded {atom}")
        elif merged is None and key in generated and generated[key]["gen"] > 0:
            news[sid] = atom

    outbox = {story: (key, state) for story, key, state in conn.execute(
        "SELECT story_id, idempotency_key, state FROM outbox WHERE sink = ? AND kind = 'new'",
        (sink,))}
    # Edits: one row per (story, revision), each with its own key.
    edits = conn.execute(
        "SELECT story_id, idempotency_key, state, revision FROM outbox "
        "WHERE sink = ? AND kind = 'update'", (sink,)).fetchall()

    # Each receipt names the story its message is about: story.new's story, story.updated's
    # `story_id` (which differs from the story it carries once that story was merged away).
    receipts = {}
    arrivals = {}
    bodies = []
    with open(log) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            try:
                body = json.loads(record["body"])
                event = body["event"]
                subject = body["story"]["id"] if event == "story.new" else body["story_id"]
            except (ValueError, KeyError, TypeError):
                failures.append(f"unreadable receipt: {line[:120]}")
                continue
            if event not in ("story.new", "story.updated"):
                failures.append(f"unexpected event {event}: {line[:120]}")
                continue
            receipts.setdefault(record["key"], []).append(subject)
            arrivals.setdefault(record["key"], []).append(record["arrived"])
            bodies.append((record["arrived"], subject, event, body))

    two_stories = {k: set(v) for k, v in receipts.items() if len(set(v)) > 1}
    if two_stories:
        failures.append(f"{len(two_stories)} idempotency keys name two stories: "
                        f"{list(two_stories.items())[:3]}")

    undelivered = []
    for story, atom in news.items():
        key = idempotency_key(atom, sink)
        row = outbox.get(story)
        if row is None:
            undelivered.append(f"story {story}: no outbox row")
        elif row[0] != key:
            undelivered.append(f"story {story}: outbox key {row[0]} != {key}")
        elif row[1] != "delivered":
            undelivered.append(f"story {story}: outbox state {row[1]}")
        elif key not in receipts:
            undelivered.append(f"story {story}: recorded delivered, never received")
        elif receipts[key][0] != atom:
            undelivered.append(f"story {story}: key received for {receipts[key][0]}")
    if undelivered:
        failures.append(f"{len(undelivered)} new stories not delivered: {undelivered[:5]}")

    backfill_atoms = {atom for sid, (atom, _) in stories.items()
                      if sid not in news and stories[sid][1] is None}
    spurious = [k for k, v in receipts.items() if v[0] in backfill_atoms]
    if spurious:
        failures.append(f"{len(spurious)} notifications for backfill stories")

    # Every edit queued was acknowledged, under its own key, as a story.updated about its story.
    atom_of = {sid: atom for sid, (atom, _) in stories.items()}
    unsent_edits = []
    for story, key, state, revision in edits:
        if state != "delivered":
            unsent_edits.append(f"story {story} revision {revision}: state {state}")
        elif key not in receipts:
            unsent_edits.append(f"story {story} revision {revision}: delivered, never received")
        elif receipts[key][0] != atom_of.get(story):
            unsent_edits.append(f"story {story} revision {revision}: received for "
                                f"{receipts[key][0]}")
    if unsent_edits:
        failures.append(f"{len(unsent_edits)} edits not delivered: {unsent_edits[:5]}")
    edit_keys = {key for _, key, _, _ in edits}
    if len(edit_keys) != len(edits) or edit_keys & {key for key, _ in outbox.values()}:
        failures.append("an edit shares its idempotency key with another message")

    # No change lost: the last message the receiver got about each announced story shows the
    # story as it ended (every member), and an announced story merged into another was last
    # told where it went.
    members = dict(conn.execute("SELECT story_id, count(*) FROM items GROUP BY story_id"))
    last = {}
    for arrived, subject, event, body in sorted(bodies, key=lambda b: b[0]):
        last[subject] = body
    stale = []
    for sid, (atom, merged) in stories.items():
        if atom not in last:
            continue
        body = last[atom]
        if merged is None:
            row = outbox.get(sid)
            if row is None or row[1] != "delivered":
                continue  # reported above
            shown = len(body["story"]["members"])
            if shown != members.get(sid, 0):
                stale.append(f"story {sid}: last message shows {shown} members of "
                             f"{members.get(sid, 0)}")
        # Whatever the outbox says (a message in flight at a kill or a merge may have been
        # received without its answer being recorded): a message the receiver holds about a
        # story merged away must end pointing where it went.
        elif not any(c.get("type") == "merged_into" for c in body.get("changes", [])):
            stale.append(f"story {sid} (merged into {merged}): last message is not a pointer")
    if stale:
        failures.append(f"{len(stale)} stories whose last message is out of date: {stale[:5]}")

    # A repeat is allowed only for a request in flight at a kill: a kill must fall between the
    # two arrivals, and one sink sends one request at a time, so each kill explains one repeat.
    # (Log order is recording order; a slow first request can be recorded after its repeat.)
    repeats = sorted((times[i], times[i + 1]) for times in map(sorted, arrivals.values())
                     for i in range(len(times) - 1))
    duplicates = len(repeats)
    unused = list(kill_times)
    unexplained = []
    for first, second in repeats:
        match = next((k for k in unused if first - 0.05 <= k <= second), None)
        if match is None:
            unexplained.append((first, second))
        else:
            unused.remove(match)
    if unexplained:
        failures.append(f"{len(unexplained)} repeated receipts with no kill between the first "
                        f"and the repeat (acknowledged, then sent again): {unexplained[:3]}")

    pending = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
    dead = conn.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
    if pending or dead:
        failures.append(f"outbox left {pending} pending and {dead} dead")

    merged = sum(1 for _, merged in stories.values() if merged is not None)
    print(f"kill9_notify: {kills} kills, {len(generated)} items generated, {len(stored)} stored, "
          f"{len(stories)} stories ({merged} merged, {len(news)} new after backfill), "
          f"{sum(len(v) for v in receipts.values())} receipts of {len(receipts)} keys "
          f"({len(edits)} edits acknowledged, "
          f"{sum(len(receipts.get(k, [])) for k in edit_keys)} edit receipts), "
          f"{duplicates} repeated (in flight at a kill), integrity {integrity}: "
          f"{'FAIL' if failures else 'ok'}")
    for failure in failures:
        print(f"  FAIL: {failure}")
    return 1 if failures else 0


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "feeds":
        cmd_feeds(*args)
    elif command == "recorder":
        cmd_recorder(*args)
    elif command == "init":
        cmd_init(*args)
    elif command == "grow":
        cmd_grow(args[0], int(args[1]))
    elif command == "progress":
        cmd_progress(*args)
    elif command == "check":
        return cmd_check(*args)
    elif command == "polled":
        return cmd_polled(*args)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
