#!/usr/bin/env python3
"""A libFuzzer run's coverage over time, and whether it reached a plateau.

    python3 scripts/fuzz-curve.py <log> [<log> ...]

Reads the log of `cargo fuzz run` (its status lines: `#<runs> ... cov: <edges> ... exec/s:
<rate>`) and prints the edge count every 5 minutes, the growth in the run's last third and a
verdict: "flat" when the last third added no edge (docs/development.md#fuzzing). libFuzzer's
lines carry no clock, so time is runs divided by the run's average rate, which it prints.
"""
import re
import sys

STATUS = re.compile(r"#(\d+)\s+\S+\s+cov: (\d+) ft: \d+.*exec/s: (\d+)")


def curve(path):
    points = []
    with open(path, errors="replace") as f:
        for line in f:
            m = STATUS.match(line)
            if m and int(m.group(3)) > 0:
                runs, cov, rate = map(int, m.groups())
                points.append((runs / rate, runs, cov))
    return points


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        points = curve(path)
        if not points:
            print(f"{path}: no status line (did the run start?)")
            continue
        end, runs, last = points[-1]
        marks, mark = [], 0.0
        for t, _, cov in points:
            if t >= mark:
                marks.append(f"{int(mark // 60)}m {cov}")
                mark += 300
        third = next(cov for t, _, cov in points if t >= end * 2 / 3)
        grew = last - third
        verdict = "flat" if grew == 0 else f"growing ({grew} edges in the last third)"
        print(f"{path}: {runs:,} runs / {end:,.0f} s, cov {points[0][2]} -> {last}; {verdict}")
        print("  " + " | ".join(marks) + f" | end {last}")


if __name__ == "__main__":
    main()
