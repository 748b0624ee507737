#!/usr/bin/env python3
"""What a staging index would buy the cold poll's random-key inserts (issue #13).

The store's text anchors are rows (anchor, item) keyed by a random 64-bit anchor, about 24 per
item; at N = 10,000 feeds the index is some 85 MB, ten times the store's 8 MiB page cache, and
each write batch dirties a page per key (docs/benchmarks.md, "Where the N = 10,000 cold poll's
time goes"). This writes the same shape of rows under the store's PRAGMAs, in batches of 1,000
items with a probe for every fourth key, two ways in the same run:

  direct   every batch's keys straight into the index;
  staged   into a small index of their own that probes also read, merged into the big one in
           key order (one pass over its pages) whenever it holds --merge-every rows.

    scripts/bench/staging.py [--rows N] [--merge-every M] [--dir DIR]

Python's sqlite3 module is another build of SQLite than the one rusqlite bundles: read the
ratio between the two ways, not the seconds.
"""

import argparse
import os
import random
import sqlite3
import tempfile
import time

KEYS_PER_ITEM = 24
ITEMS_PER_BATCH = 1000
# As store::PRAGMAS has them.
PRAGMAS = [
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "cache_size=-8192",
    "wal_autocheckpoint=8192",
]
TABLE = "(anchor INTEGER NOT NULL, item_id INTEGER NOT NULL, PRIMARY KEY (anchor, item_id)) WITHOUT ROWID"


def run(path, rows, merge_every):
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute("PRAGMA " + pragma)
    conn.execute("CREATE TABLE anchors " + TABLE)
    conn.execute("CREATE TABLE staged " + TABLE)
    rng = random.Random(1)
    item = 0
    staged = 0
    started = time.time()
    cpu = time.process_time()
    for _ in range(rows // (KEYS_PER_ITEM * ITEMS_PER_BATCH)):
        conn.execute("BEGIN")
        batch = []
        for _ in range(ITEMS_PER_BATCH):
            item += 1
            batch.extend((rng.getrandbits(63), item) for _ in range(KEYS_PER_ITEM))
        for anchor, _ in batch[::4]:
            conn.execute("SELECT item_id FROM anchors WHERE anchor = ? LIMIT 64", (anchor,)).fetchall()
            if merge_every:
                conn.execute("SELECT item_id FROM staged WHERE anchor = ? LIMIT 64", (anchor,)).fetchall()
        table = "staged" if merge_every else "anchors"
        conn.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?)", batch)
        staged += len(batch)
        if merge_every and staged >= merge_every:
            conn.execute("INSERT OR IGNORE INTO anchors SELECT * FROM staged ORDER BY anchor, item_id")
            conn.execute("DELETE FROM staged")
            staged = 0
        conn.execute("COMMIT")
    conn.close()
    return time.time() - started, time.process_time() - cpu, os.path.getsize(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4_800_000, help="anchor rows in all")
    parser.add_argument("--merge-every", type=int, default=480_000, help="staged rows per merge")
    parser.add_argument("--dir", default=None, help="where the databases go (a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        print("way\trows\twall_s\tcpu_s\tdb_mb")
        for way, merge_every in (("direct", 0), ("staged", args.merge_every)):
            wall, cpu, size = run(os.path.join(work, f"{way}.db"), args.rows, merge_every)
            print(f"{way}\t{args.rows}\t{wall:.1f}\t{cpu:.1f}\t{size / 1e6:.0f}")


if __name__ == "__main__":
    main()
