#!/usr/bin/env python3
"""Feeds from the shared seed documents, and the check of what tributary merged from them.

The seeds (../shared/seeds/*.txt) are one essay seen through five sites:

    000  a copy of the essay, cut short                mirror   2026-04-16
    001  an aggregator's full copy, with page junk    mirror   2026-04-16
    002  the podcast episode page (promo, footer)     origin   2026-04-15
    003  a curation site's entry describing the essay mirror   2026-04-20
    004  a news rewrite quoting the essay             mirror   2026-04-17

All five are pages about one work and must fold into one story: 000 and 001 as copies, 002 as
the episode, 003 as the curation site's own summary (same title, its own text), 004 as
coverage (its own headline, several passages quoted word for word).
The seeds are read when this runs and never copied into the repository.

    seeds_feeds.py build SEEDS_DIR OUT_DIR BASE_URL   one RSS file per seed + manifest.json
    seeds_feeds.py check MERGED_ATOM MANIFEST         exit 1 unless the grouping is right

Python standard library only.
"""

import email.utils
import html
import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

# Per seed, by its number: the site it stands for, its role, its date, and whether it is the
# podcast (an audio enclosure makes it an episode). Every site has its own link host, and no
# link is the essay's own URL: the folding must come from titles and texts, not from links.
SITES = {
    "000": ("curation", "mirror", "2026-04-16", False),
    "001": ("aggregator", "mirror", "2026-04-16", False),
    "002": ("podcast", "origin", "2026-04-15", True),
    "003": ("guide", "mirror", "2026-04-20", False),
    "004": ("news", "mirror", "2026-04-17", False),
}
SAME_WORK = ("000", "001", "002", "003", "004")

ATOM = "{http://www.w3.org/2005/Atom}"


def lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def first_sentence(line):
    """A lead paragraph cut to its first sentence, so it reads as a headline."""
    match = re.match(r"(.+?[.!?])\s", line + " ")
    return match.group(1) if match else line


def headline(doc_lines, reference):
    """The document's headline line.

    The reference is the first line of 000: the curation copy opens with the essay's title.
    Pages that carry that title as a line of their own (001 after a screenful of feed names,
    002 after an image caption, 003 at the top) are titled with it; a page without it (004, a
    rewrite that opens with its lead paragraph) is titled with its first line, cut to the first
    sentence.
    """
    if reference in doc_lines:
        return reference
    return first_sentence(doc_lines[0])


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "item"


def rss(seed, site, title, link, body_html, published, enclosure):
    channel_link = f"https://{site}.example/"
    pub = email.utils.format_datetime(published)
    enclosure_xml = ""
    if enclosure:
        audio = f"https://{site}.example/audio/{slug(title)}.mp3"
        enclosure_xml = (
            f'\n      <enclosure url="{html.escape(audio)}" type="audio/mpeg" length="6700000"/>'
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>Seed {seed}: {site}</title>
    <link>{html.escape(channel_link)}</link>
    <description>The shared seed document {seed}, as the {site} site would serve it.</description>
    <item>
      <title>{html.escape(title)}</title>
      <link>{html.escape(link)}</link>
      <guid isPermaLink="false">seed-{seed}</guid>
      <pubDate>{pub}</pubDate>
      <description>{html.escape(body_html)}</description>{enclosure_xml}
    </item>
  </channel>
</rss>
"""


def build(seeds_dir, out_dir, base_url):
    seeds_dir, out_dir = pathlib.Path(seeds_dir), pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = {}
    for path in sorted(seeds_dir.glob("*.txt")):
        number = path.name[:3]
        if number in SITES:
            docs[number] = lines(path.read_text(encoding="utf-8"))
    missing = sorted(set(SITES) - set(docs))
    if missing:
        sys.exit(f"seeds_feeds: no seed document for {', '.join(missing)} in {seeds_dir}")
    reference = docs["000"][0]
    manifest = {}
    for number, (site, role, date, enclosure) in SITES.items():
        title = headline(docs[number], reference)
        link = f"https://{site}.example/{number}/{slug(title)}"
        body = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in docs[number])
        published = datetime.fromisoformat(date).replace(hour=12, tzinfo=timezone.utc)
        file = f"{number}-{site}.xml"
        (out_dir / file).write_text(
            rss(number, site, title, link, body, published, enclosure), encoding="utf-8"
        )
        manifest[number] = {
            "name": f"seed-{number}-{site}",
            "url": f"{base_url.rstrip('/')}/{file}",
            "role": role,
            "title": title,
            "link": link,
            "published": published.isoformat(),
        }
        print(f"  {number} {site:<10} {role:<6} {published:%Y-%m-%d}  {title[:70]}")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def check(merged_path, manifest_path):
    manifest = json.loads(pathlib.Path(manifest_path).read_text(encoding="utf-8"))
    root = ET.parse(merged_path).getroot()
    entries = []
    for entry in root.findall(f"{ATOM}entry"):
        links = [
            (link.get("rel", "alternate"), link.get("href"))
            for link in entry.findall(f"{ATOM}link")
        ]
        entries.append(
            {
                "title": entry.findtext(f"{ATOM}title", default=""),
                "links": links,
                "hrefs": {href for _, href in links},
            }
        )
    where = {
        number: [i for i, e in enumerate(entries) if seed["link"] in e["hrefs"]]
        for number, seed in manifest.items()
    }

    print(f"merged feed: {len(entries)} entries")
    for i, entry in enumerate(entries):
        members = [n for n, found in sorted(where.items()) if i in found]
        print(f"  entry {i}: {entry['title'][:70]!r} seeds {members or '-'}")
        for rel, href in entry["links"]:
            print(f"      {rel:<10} {href}")

    problems = []
    for number, found in sorted(where.items()):
        if len(found) != 1:
            problems.append(f"seed {number} is in {len(found)} entries, expected 1")
    if not problems:
        essay = {where[n][0] for n in SAME_WORK}
        if len(essay) != 1:
            split = ", ".join(f"{n} in entry {where[n][0]}" for n in SAME_WORK)
            problems.append(f"the seeds are not one entry: {split}")
        else:
            entry = entries[essay.pop()]
            covered = {href for rel, href in entry["links"] if rel in ("alternate", "related")}
            alternates = [href for rel, href in entry["links"] if rel == "alternate"]
            if len(alternates) != 1:
                problems.append(f"the essay entry has {len(alternates)} alternate links")
            for n in SAME_WORK:
                if manifest[n]["link"] not in covered:
                    problems.append(f"seed {n} is not an alternate or related link of the essay")

    if problems:
        for problem in problems:
            print(f"MISMATCH: {problem}")
        return 1
    print("ok: the five seeds are one story")
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "build":
        build(argv[2], argv[3], argv[4])
        return 0
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
