#!/usr/bin/env python3
"""Turns scripts/bench/run.sh's results.tsv into the markdown table of docs/benchmarks.md.

Each row of results.tsv: stage, round, wall s, CPU s, peak RSS kB, extra (key=value ...).
Wall and CPU are the medians over the rounds, peak RSS the largest; ratios are of medians.
With --others DIR, a results-M.tsv for another feed count M in DIR adds the memory-growth row.
"""

import argparse
import glob
import os
import re
import statistics


def load(path):
    rows = {}
    for line in open(path):
        cols = line.rstrip("\n").split("\t")
        if len(cols) < 6:
            continue
        stage, _round, wall, cpu, rss, extra = cols[:6]
        kv = dict(p.split("=", 1) for p in extra.split() if "=" in p)
        rows.setdefault(stage, []).append(
            {
                "wall": float(wall) if wall else None,
                "cpu": float(cpu) if cpu else None,
                "rss_mb": float(rss) / 1024 if rss else None,
                **kv,
            }
        )
    return rows


class Stage:
    def __init__(self, runs):
        self.runs = runs or []

    def __bool__(self):
        return bool(self.runs)

    def med(self, key):
        values = [float(r[key]) for r in self.runs if r.get(key) not in (None, "")]
        return statistics.median(values) if values else None

    def max(self, key):
        values = [float(r[key]) for r in self.runs if r.get(key) not in (None, "")]
        return max(values) if values else None


def fmt(value, digits=2):
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--feeds", type=int, required=True)
    ap.add_argument("--others", help="directory with results-M.tsv of other runs")
    args = ap.parse_args()
    data = load(args.results)
    s = {name: Stage(runs) for name, runs in data.items()}
    get = lambda name: s.get(name, Stage([]))
    n = args.feeds

    table = []

    def row(label, st, rate, ratio=None, ref="", target="", met=None, wall=None, rss=None):
        table.append(
            [
                label,
                fmt(wall if wall is not None else (st.med("wall") if st else None)),
                fmt(st.med("cpu") if st else None),
                fmt(rss if rss is not None else (st.max("rss_mb") if st else None), 1),
                rate,
                fmt(ratio) if ratio is not None else "",
                ref,
                target,
                "" if met is None else ("yes" if met else "**no**"),
            ]
        )

    raw, scan, p1, p2, ins = (get(k) for k in ("raw_fetch", "scan", "parse_1t", "parse_2t", "insert"))
    cold, mix, steady = get("cold_poll"), get("raw_fetch_mix"), get("steady_poll")
    r304, all304 = get("raw_fetch_304"), get("all304_poll")

    def feeds_per_s(st):
        w = st.med("wall")
        return f"{n / w:,.0f} feeds/s" if w else "–"

    mb = lambda st: f"{st.med('mbps'):,.0f} MB/s" if st.med("mbps") else "–"

    row("raw fetch, all 200 (ceiling)", raw, feeds_per_s(raw), ref="reference")
    row("raw quick-xml scan, 1 thread", scan, mb(scan), ref="reference")
    r = p1.med("mbps") / scan.med("mbps") if p1 and scan else None
    row("parse + normalise, 1 thread", p1, mb(p1), r, "× scan rate", "≥ 0.40", r is not None and r >= 0.40)
    p1s = get("parse_1t_sanitized")
    if p1s:
        r = p1s.med("mbps") / scan.med("mbps") if scan else None
        row("parse + normalise + sanitise every item, 1 thread", p1s, mb(p1s), r, "× scan rate (information: the poll sanitises only new items)", "", None)
    r = p2.med("mbps") / p1.med("mbps") if p1 and p2 else None
    row("parse + normalise, 2 threads", p2, mb(p2), r, "× 1 thread", "≥ 1.8", r is not None and r >= 1.8)
    raw_ins = get("raw_insert")
    rips = raw_ins.med("items_per_s")
    row("raw insert (rusqlite, same rows and keys)", raw_ins, f"{rips:,.0f} items/s" if rips else "–", ref="reference")
    ips = ins.med("items_per_s")
    r = ips / rips if ips and rips else None
    row("**insert** (ingest into a fresh store)", ins, f"{ips:,.0f} items/s" if ips else "–", r, "× raw insert rate", "≥ 0.25", r is not None and r >= 0.25)
    # The references of the cold poll are raw stages only: tributary's own ingest is not one.
    slowest = max((st.med("wall") or 0, name) for name, st in (("raw fetch", raw), ("parse 2 threads", p2), ("raw insert", raw_ins)))
    r = cold.med("wall") / slowest[0] if cold and slowest[0] else None
    row(f"**cold poll**, {n} feeds", cold, feeds_per_s(cold), r, f"× slowest raw stage ({slowest[1]})", "≤ 1.25", r is not None and r <= 1.25)
    cold_base = get("cold_poll_baseline")
    if cold_base and cold:
        r = cold.med("wall") / cold_base.med("wall")
        row("cold poll, baseline build (`--baseline`)", cold_base, feeds_per_s(cold_base), r, "this build's time ÷ the baseline's")
    row("raw conditional fetch, 10% changed", mix, feeds_per_s(mix), ref="reference")
    r = steady.med("wall") / mix.med("wall") if steady and mix else None
    row("**steady poll**, 10% changed", steady, feeds_per_s(steady), r, "× raw fetch of the mix", "≤ 1.5", r is not None and r <= 1.5)
    steady_base = get("steady_poll_baseline")
    if steady_base and steady:
        r = steady.med("wall") / steady_base.med("wall")
        row("steady poll, baseline build (`--baseline`)", steady_base, feeds_per_s(steady_base), r, "this build's time ÷ the baseline's")
    row("raw conditional fetch, all 304", r304, feeds_per_s(r304), ref="reference")
    r = r304.med("wall") / all304.med("wall") if all304 and r304 else None
    row("**all-304 poll**", all304, feeds_per_s(all304), r, "× raw 304 rate", "≥ 0.8", r is not None and r >= 0.8)

    for code in ("200", "304"):
        ng, tr = get(f"nginx_{code}"), get(f"serve_{code}")
        if ng and tr:
            row(f"nginx, merged.atom, {code}", ng, f"{ng.med('rps'):,.0f} req/s", ref="reference", wall=None)
            r = tr.med("rps") / ng.med("rps")
            row(f"**tributary /feed.atom, {code}**", tr, f"{tr.med('rps'):,.0f} req/s", r, "× nginx rate", "≥ 0.8", r >= 0.8)

    # Memory.
    if cold:
        v = cold.max("rss_mb")
        row("memory: cold poll peak RSS", Stage([]), "", v / 64, "× 64 MB", "≤ 64 MB", v <= 64, rss=v)
    steady_rss = max(x for x in (steady.max("rss_mb"), all304.max("rss_mb")) if x is not None) if (steady or all304) else None
    if steady_rss is not None:
        row("memory: steady / all-304 poll peak RSS", Stage([]), "", steady_rss / 32, "× 32 MB", "≤ 32 MB", steady_rss <= 32, rss=steady_rss)
    d = get("daemon")
    if d:
        v = d.max("rss_mb")
        row("memory: daemon VmHWM (start-up poll + serving)", Stage([]), "", v / 32, "× 32 MB", "≤ 32 MB", v <= 32, rss=v)
    if args.others:
        for path in sorted(glob.glob(os.path.join(args.others, "results-*.tsv"))):
            m = int(re.search(r"results-(\d+)\.tsv$", path).group(1))
            if m == n:
                continue
            other = {k: Stage(v) for k, v in load(path).items()}
            a, b = get("cold_poll").med("wall"), other.get("cold_poll", Stage([])).med("wall")
            if a and b:
                big, small = (a, b) if n > m else (b, a)
                r = big / small
                row(f"cold poll time, {max(n, m)} vs {min(n, m)} feeds", Stage([]), "", r,
                    f"{fmt(big)} / {fmt(small)} s", f"≤ {max(n, m) // min(n, m) * 1.2:g}", r <= max(n, m) / min(n, m) * 1.2)
            for stage, label in (("cold_poll", "cold"), ("steady_poll", "steady")):
                a, b = get(stage).max("rss_mb"), other.get(stage, Stage([])).max("rss_mb")
                if a and b:
                    big, small = (a, b) if n > m else (b, a)
                    r = big / small
                    row(f"memory growth, {label} poll: {max(n, m)} vs {min(n, m)} feeds", Stage([]), "", r,
                        f"{fmt(big, 1)} / {fmt(small, 1)} MB", "≤ 1.2", r <= 1.2, rss=a)

    # Other readers.
    for name, label in (("rss2email", "rss2email `r2e run --no-send`"), ("feed2exec", "feed2exec `fetch --parallel` (null output)")):
        st = get(name)
        if st and cold:
            r = st.med("wall") / cold.med("wall")
            target = "≥ 40 (aim 150)" if name == "rss2email" else ""
            met = (r >= 40) if name == "rss2email" else None
            row(f"{label}, {n} feeds", st, feeds_per_s(st), r, "× tributary cold poll time", target, met)

    head = ["stage", "wall s", "CPU s", "peak RSS MB", "rate", "ratio", "ratio of", "target", "met?"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * 5 + ["---"] * 3) + "|")
    for line in table:
        print("| " + " | ".join(line) + " |")

    # Counts, so a reader can check the mixes were what they claim.
    print()
    for run in get("build").runs:
        print(f"- tributary built from {run.get('revision')}")
    for run in get("loadavg").runs:
        print(f"- load average ({run.get('one')}, {run.get('five')}, {run.get('fifteen')}) at the {'start' if run is get('loadavg').runs[0] else 'end'}")
    for stage in ("raw_fetch", "cold_poll", "cold_poll_baseline", "raw_fetch_mix", "steady_poll", "steady_poll_baseline", "raw_fetch_304", "all304_poll", "insert", "raw_insert", "parse_2t"):
        st = get(stage)
        if st:
            last = st.runs[-1]
            kv = " ".join(f"{k}={v}" for k, v in last.items() if k not in ("wall", "cpu", "rss_mb"))
            print(f"- `{stage}` ({len(st.runs)} rounds; last round): {kv}")


if __name__ == "__main__":
    main()
