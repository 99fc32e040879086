#!/usr/bin/env python3
"""Self instructions by function from a callgrind profile of Node, JIT code included.

callgrind names V8's generated code by address only; run Node with
`--perf-basic-prof` under callgrind and this maps each address through the
perf map V8 wrote (`/tmp/perf-<pid>.map`), so JavaScript functions get their
names. Compare two runs of different lengths to get a cost per unit:

    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/cg.%p.out \
      node --single-threaded --perf-basic-prof packages/bench/src/profile.ts native pingpong 2000
    python3 packages/bench/tools/callgrind-jit.py /tmp/cg.<pid>.out /tmp/perf-<pid>.map > a.tsv
    (the same with 6000 round trips) > b.tsv
    python3 packages/bench/tools/callgrind-jit.py --per-unit 20000 a.tsv b.tsv   # (6000 - 2000) x 5 runs

A code address V8 reused for another function is attributed to the last one
the map names there: treat small figures of JavaScript functions as estimates.
Needs `callgrind_annotate` (valgrind's).
"""
import bisect
import collections
import re
import subprocess
import sys


def load_map(path):
    entries = []
    with open(path) as f:
        for line in f:
            start, size, name = line.rstrip("\n").split(" ", 2)
            entries.append((int(start, 16), int(size, 16), name))
    entries.sort()
    return entries, [e[0] for e in entries]


def lookup(entries, starts, address):
    i = bisect.bisect_right(starts, address) - 1
    for j in range(i, max(-1, i - 50), -1):
        start, size, name = entries[j]
        if start <= address < start + size:
            return name
    return None


def profile(out, perf_map):
    entries, starts = load_map(perf_map)
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--inclusive=no", out], capture_output=True, text=True, check=True
    ).stdout
    totals = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if not m or "PROGRAM TOTALS" in m.group(2):
            continue
        cost, name = int(m.group(1).replace(",", "")), m.group(2)
        address = re.search(r"0x([0-9a-f]{6,})", name)
        if address and ("???" in name or name.startswith("0x")):
            name = lookup(entries, starts, int(address.group(1), 16)) or "JIT (unmapped)"
        totals[re.sub(r"\s+", " ", re.sub(r"\s+\[.*\]$", "", name))] += cost
    for name, cost in totals.most_common():
        print(f"{cost}\t{name}")


def per_unit(units, short, long):
    def read(path):
        c = collections.Counter()
        with open(path) as f:
            for line in f:
                cost, name = line.rstrip("\n").split("\t", 1)
                c[name] += int(cost)
        return c

    a, b = read(short), read(long)
    diff = {k: (b[k] - a[k]) / units for k in set(a) | set(b)}
    print(f"{sum(diff.values()):.0f}\ttotal per unit")
    for name, cost in sorted(diff.items(), key=lambda kv: -kv[1]):
        if abs(cost) >= 20:
            print(f"{cost:.0f}\t{name}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--per-unit":
        per_unit(float(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3:
        profile(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
