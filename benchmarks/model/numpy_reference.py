"""An independent float64 reference of the Llama forward pass, in numpy, reading
the same GGUF through the `gguf` package (its own dequantisers). It checks our
engine's arithmetic exactly, where llama.cpp differs by quantising activations.

Usage: python numpy_reference.py MODEL.gguf < ours.jsonl
Reads the token ids from `toolgrad model logits` output lines on stdin and prints
the same JSON lines with its own logits.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main(path):
    reader = GGUFReader(path)
    field = lambda k: reader.fields[k].parts[reader.fields[k].data[0]]
    scalar = lambda k: field(k).tolist()[0]
    n_layer = scalar("llama.block_count")
    n_head = scalar("llama.attention.head_count")
    n_kv = scalar("llama.attention.head_count_kv")
    theta = scalar("llama.rope.freq_base")
    eps = scalar("llama.attention.layer_norm_rms_epsilon")
    tensors = {t.name: t for t in reader.tensors}

    def weight(name):
        t = tensors[name]
        w = dequantize(t.data, t.tensor_type).astype(np.float64)
        return w.reshape([int(d) for d in reversed(t.shape.tolist())]) if w.ndim == 1 and len(t.shape) > 1 else w

    emb = weight("token_embd.weight")
    d = emb.shape[1]
    hd = d // n_head

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):  # x: [heads, seq, hd], llama.cpp "normal" rope on interleaved pairs
        seq = x.shape[1]
        inv = theta ** (-np.arange(0, hd, 2) / hd)
        ang = np.arange(seq)[:, None] * inv[None, :]
        cos, sin = np.cos(ang), np.sin(ang)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x0 * sin + x1 * cos
        return out

    layers = []
    for i in range(n_layer):
        g = lambda n: weight(f"blk.{i}.{n}.weight")
        layers.append({n: g(n) for n in ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                          "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]})
    norm = weight("output_norm.weight")

    for line in sys.stdin:
        row = json.loads(line)
        ids = row["tokens"]
        x = emb[ids]
        seq = len(ids)
        mask = np.triu(np.full((seq, seq), -np.inf), 1)
        for L in layers:
            h = rms(x, L["attn_norm"])
            q = (h @ L["attn_q"].T).reshape(seq, n_head, hd).transpose(1, 0, 2)
            k = (h @ L["attn_k"].T).reshape(seq, n_kv, hd).transpose(1, 0, 2)
            v = (h @ L["attn_v"].T).reshape(seq, n_kv, hd).transpose(1, 0, 2)
            q, k = rope(q), rope(k)
            k = np.repeat(k, n_head // n_kv, axis=0)
            v = np.repeat(v, n_head // n_kv, axis=0)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            a = (p @ v).transpose(1, 0, 2).reshape(seq, d)
            x = x + a @ L["attn_output"].T
            h = rms(x, L["ffn_norm"])
            gate = h @ L["ffn_gate"].T
            x = x + ((gate / (1 + np.exp(-gate))) * (h @ L["ffn_up"].T)) @ L["ffn_down"].T
        logits = rms(x[-1], norm) @ emb.T
        print(json.dumps({"prompt": row["prompt"], "tokens": ids, "logits": logits.tolist()}))


if __name__ == "__main__":
    main(sys.argv[1])
