"""Checks a `toolgrad train` run folder with the Hugging Face stack:

1. `model/` loads in `transformers` (AutoModelForCausalLM, AutoTokenizer) and its
   next-token logits match the ones `toolgrad model logits` gives for the same
   prompts (JSON lines on --ours), within --tolerance;
2. the chat template in `model/tokenizer_config.json` renders a conversation with
   tools, tool calls and tool replies to exactly the text our engine renders
   (--rendered: JSON lines {"messages", "tools", "text"} from `toolgrad model render`);
3. with `adapter/`, PEFT loads the adapter onto the base model in HF layout (--base)
   and, merged, gives the logits of `model/`.

Needs torch, transformers and peft (benchmarks/train/speed_vs_pytorch.sh makes such
a venv). Usage:
  python scripts/check_export.py RUN --ours ours.jsonl [--base BASE_HF_DIR] [--rendered r.json]
"""

import argparse
import json
import pathlib
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1].double()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--ours", required=True)
    parser.add_argument("--base")
    parser.add_argument("--rendered")
    parser.add_argument("--tolerance", type=float, default=2e-3)
    args = parser.parse_args()
    run = pathlib.Path(args.run)
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    model = AutoModelForCausalLM.from_pretrained(run / "model", torch_dtype=torch.float32).eval()
    failures = 0
    ours = [json.loads(line) for line in open(args.ours) if line.strip()]
    for row in ours:
        ids = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        if ids != row["tokens"]:
            print(f"tokens differ for {row['prompt'][:40]!r}")
            failures += 1
            continue
        theirs = logits_of(model, ids)
        diff = (theirs - torch.tensor(row["logits"], dtype=torch.float64)).abs().max().item()
        same_top = int(theirs.argmax()) == max(range(len(row["logits"])), key=row["logits"].__getitem__)
        print(json.dumps({"check": "transformers logits", "prompt": row["prompt"][:40],
                          "max_abs_diff": diff, "same_argmax": same_top}))
        failures += diff > args.tolerance or not same_top
    if args.rendered:
        cases = [json.loads(line) for line in open(args.rendered) if line.strip()]
        same = 0
        for case in cases:
            text = tokenizer.apply_chat_template(case["messages"], tools=case["tools"] or None, tokenize=False)
            if text == case["text"]:
                same += 1
            elif same == 0:
                print("transformers:", repr(text[-300:]), "\nours:        ", repr(case["text"][-300:]))
        print(json.dumps({"check": "chat template", "identical": same, "of": len(cases)}))
        failures += len(cases) - same
    adapter = run / "adapter"
    if adapter.exists() and args.base:
        from peft import PeftModel
        base = AutoModelForCausalLM.from_pretrained(args.base, torch_dtype=torch.float32)
        peft_model = PeftModel.from_pretrained(base, adapter).eval()
        merged = peft_model.merge_and_unload().eval()
        for row in ours:
            diff = (logits_of(merged, row["tokens"]) - logits_of(model, row["tokens"])).abs().max().item()
            print(json.dumps({"check": "peft adapter merged vs model/", "prompt": row["prompt"][:40],
                              "max_abs_diff": diff}))
            failures += diff > args.tolerance
    print("ok" if failures == 0 else f"{failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
