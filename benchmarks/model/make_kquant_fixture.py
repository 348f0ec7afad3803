"""Writes model/tests/fixtures/kquants.json: random Q4_K and Q6_K blocks and their
values as dequantised by the `gguf` package (0.19.0, ggml's reference layout), so
the Rust dequantisers are checked against an independent implementation.

Usage: python make_kquant_fixture.py OUT.json   (needs gguf and numpy)"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

rng = np.random.default_rng(2508)


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).tobytes()


def q4k_block():
    head = f16_bytes(rng.uniform(-0.05, 0.05, 2))
    return head + rng.integers(0, 256, 12 + 128, dtype=np.uint8).tobytes()


def q6k_block():
    body = rng.integers(0, 256, 128 + 64 + 16, dtype=np.uint8).tobytes()
    return body + f16_bytes(rng.uniform(-0.05, 0.05, 1))


cases = []
for name, kind, make in [("Q4_K", T.Q4_K, q4k_block), ("Q6_K", T.Q6_K, q6k_block)]:
    data = b"".join(make() for _ in range(3))
    values = dequantize(np.frombuffer(data, dtype=np.uint8), kind).astype(np.float32)
    cases.append({"type": name, "hex": data.hex(), "values": [float(v) for v in values.ravel()]})
with open(sys.argv[1], "w") as out:
    json.dump({"generator": "benchmarks/model/make_kquant_fixture.py (gguf 0.19.0)", "cases": cases}, out)
