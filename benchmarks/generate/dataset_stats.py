"""Shape of a generated dataset: steps and chains per sample, data-flow chains,
tool coverage and query length.

Usage: python3 benchmarks/generate/dataset_stats.py <generate output dir>
"""
import collections
import json
import sys
from pathlib import Path

records = [json.loads(line) for line in (Path(sys.argv[1]) / "dataset.jsonl").open()]
chains = [c for r in records for c in r["api_use_chains"].values()]
steps = [sum(len(c["intermediate_steps"]) for c in r["api_use_chains"].values()) for r in records]
tools = collections.Counter(s[0]["tool"] for c in chains for s in c["intermediate_steps"])
words = [len(r["query"].split()) for r in records]
print(f"samples {len(records)}")
print(f"steps per sample: mean {sum(steps) / len(steps):.1f}, min {min(steps)}, max {max(steps)}")
print(f"chains per sample: mean {len(chains) / len(records):.1f}")
print(f"chains of more than one step: {sum(len(c['intermediate_steps']) > 1 for c in chains)} of {len(chains)}")
print(f"distinct tools used: {len(tools)}")
print(f"query length: mean {sum(words) / len(words):.0f} words")
