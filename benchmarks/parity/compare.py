"""Compare two verdict directories (<category>.verdicts.jsonl) entry by entry.

Usage: python compare.py <official verdicts dir> <toolgrad verdicts dir> [--show N]
Prints agreement on `valid` and on `error_type`, and the first disagreements.
Exits 1 unless `valid` agrees on every entry.
"""
import json
import sys
from pathlib import Path


def load(d):
    out = {}
    for f in sorted(Path(d).glob("*.verdicts.jsonl")):
        category = f.name[: -len(".verdicts.jsonl")]
        for line in open(f):
            v = json.loads(line)
            out[(category, v["id"])] = v
    return out


def main():
    official, ours = load(sys.argv[1]), load(sys.argv[2])
    show = int(sys.argv[sys.argv.index("--show") + 1]) if "--show" in sys.argv else 10
    keys = sorted(set(official) | set(ours))
    valid_diff, type_diff, missing = [], [], []
    for k in keys:
        a, b = official.get(k), ours.get(k)
        if a is None or b is None:
            missing.append(k)
            continue
        if a["valid"] != b["valid"]:
            valid_diff.append((k, a, b))
        elif a.get("error_type") != b.get("error_type"):
            type_diff.append((k, a, b))
    n = len(keys) - len(missing)
    print(f"entries: {n}  missing on one side: {len(missing)}")
    print(f"valid agrees: {n - len(valid_diff)}/{n} ({100 * (n - len(valid_diff)) / max(n, 1):.3f}%)")
    agree = n - len(valid_diff) - len(type_diff)
    print(f"error_type agrees: {agree}/{n} ({100 * agree / max(n, 1):.3f}%)")
    for k, a, b in (valid_diff + type_diff)[:show]:
        print("  DIFF", k, "official:", a.get("valid"), a.get("error_type"), "| toolgrad:", b.get("valid"), b.get("error_type"))
    sys.exit(1 if valid_diff or missing else 0)


if __name__ == "__main__":
    main()
