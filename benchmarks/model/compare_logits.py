"""Compares next-token logits of two engines (JSON lines from `toolgrad model logits`
and `llama_cpp_reference.py logits`): token ids, max |diff|, argmax agreement,
top-10 overlap and KL(reference || ours) over the softmax. Exit 1 if a prompt
exceeds the tolerance given on the command line."""
import json
import math
import sys


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def main(ours_path, ref_path, max_kl):
    ours = [json.loads(l) for l in open(ours_path)]
    ref = [json.loads(l) for l in open(ref_path)]
    worst = 0.0
    for o, r in zip(ours, ref, strict=True):
        assert o["tokens"] == r["tokens"], f"tokenization differs for {o['prompt']!r}: {o['tokens']} vs {r['tokens']}"
        a, b = o["logits"], r["logits"]
        diff = max(abs(x - y) for x, y in zip(a, b))
        top = lambda v: sorted(range(len(v)), key=lambda i: -v[i])[:10]
        pa, pb = softmax(a), softmax(b)
        kl = sum(q * (math.log(q) - math.log(max(p, 1e-30))) for p, q in zip(pa, pb) if q > 0)
        worst = max(worst, kl)
        print(json.dumps({
            "prompt": o["prompt"][:60], "tokens": len(o["tokens"]),
            "max_abs_diff": round(diff, 4), "argmax_equal": top(a)[0] == top(b)[0],
            "top10_overlap": len(set(top(a)) & set(top(b))), "kl": round(kl, 6),
        }))
    print(json.dumps({"worst_kl": worst, "tolerance": max_kl}))
    sys.exit(0 if worst <= max_kl else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
