"""Reference outputs from llama.cpp (llama-cpp-python) on the same GGUF file.

logits: next-token logits after each prompt of a JSON list file (raw text, special tokens parsed),
        printed as one JSON object per line: {"prompt", "tokens", "logits"}.
greedy: greedy completions of chat prompts, as JSON lines {"prompt", "text"}.
bench:  prefill and decode speed, as one JSON object.
server: llama-cpp-python's OpenAI-compatible server on MODEL (`python -m llama_cpp.server
        --model MODEL [args]`, in this process so that the switch below applies).

Usage: python llama_cpp_reference.py logits|greedy|bench|server MODEL.gguf [args]

LLAMA_NO_EXTRA_BUFTS=1 turns off llama.cpp's extra CPU buffer types (the AMX and
repacked weight layouts). With them, decoding crashed with a segmentation fault on the
project's CPU machine (AMX_INT8 = 1); the cause was not investigated.

LLAMA_THREADS sets llama.cpp's thread count (default 2, the machine's cores), so that it
can be compared with toolgrad at RAYON_NUM_THREADS=1 on one pinned core.
"""
import json
import os
import statistics
import sys
import time

import llama_cpp
import llama_cpp.llama
from llama_cpp import Llama

if os.environ.get("LLAMA_NO_EXTRA_BUFTS") == "1":
    _default_params = llama_cpp.llama_model_default_params

    def _without_extra_bufts():
        params = _default_params()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama.llama_cpp.llama_model_default_params = _without_extra_bufts


THREADS = int(os.environ.get("LLAMA_THREADS", "2"))


def load(path, n_ctx=4096, logits_all=False):
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=THREADS, n_threads_batch=THREADS,
                 logits_all=logits_all, verbose=False, seed=0)


def logits(path, prompts):
    llm = load(path, logits_all=True)
    for prompt in prompts:
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(tokens)
        row = llm.scores[llm.n_tokens - 1]
        print(json.dumps({"prompt": prompt, "tokens": tokens, "logits": [float(x) for x in row]}))


def greedy(path, system, questions, max_tokens=40):
    llm = load(path)
    for q in questions:
        out = llm.create_chat_completion(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": q}],
            temperature=0.0, top_k=1, max_tokens=max_tokens)
        print(json.dumps({"prompt": q, "text": out["choices"][0]["message"]["content"]}))


def bench(path, prompt_lengths, decode_tokens, runs):
    llm = load(path, n_ctx=4096)
    result = {"engine": "llama.cpp (llama-cpp-python)", "threads": THREADS}
    for n in prompt_lengths:
        tokens = [(i * 7919) % 40000 + 200 for i in range(n)]
        times = []
        for _ in range(runs):
            llm.reset()
            start = time.perf_counter()
            llm.eval(tokens)
            times.append(time.perf_counter() - start)
        result[f"prefill_{n}_tok_s"] = n / statistics.median(times)
    times = []
    for _ in range(runs):
        llm.reset()
        llm.eval(llm.tokenize(b"Once upon a time", add_bos=False))
        start = time.perf_counter()
        for _ in range(decode_tokens):
            token = llm.sample(top_k=1)
            llm.eval([token])
        times.append(time.perf_counter() - start)
    result["decode_tok_s"] = decode_tokens / statistics.median(times)
    print(json.dumps(result))


if __name__ == "__main__":
    mode, model = sys.argv[1], sys.argv[2]
    if mode == "logits":
        logits(model, json.load(open(sys.argv[3])))
    elif mode == "greedy":
        greedy(model, sys.argv[3], json.loads(sys.argv[4]))
    elif mode == "bench":
        bench(model, [int(x) for x in sys.argv[3].split(",")], int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "server":
        import runpy

        sys.argv = ["llama_cpp.server", "--model", model, *sys.argv[3:]]
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
    else:
        sys.exit(f"unknown mode {mode}")
