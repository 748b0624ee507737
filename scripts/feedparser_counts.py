#!/usr/bin/env python3
"""How many entries Python feedparser finds in each document.

Reads one file path per line on stdin and prints `<count>\t<path>` per line, in the same order.
Each file is handed to feedparser as bytes, exactly as stored, so it sees what tributary sees.
The parity test in tests/it/normalize.rs (`corpus_has_as_many_items_as_feedparser`) runs it;
by hand:

    ls some/feeds/*.xml | python3 scripts/feedparser_counts.py
"""

import sys

import feedparser


def main() -> int:
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        print(f"{len(feedparser.parse(data).entries)}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
