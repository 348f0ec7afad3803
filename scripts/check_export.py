"""Checks an exported model directory (`toolgrad train`'s `model/`, or `toolgrad
model export`) with the Hugging Face stack:

1. the chat template in `tokenizer_config.json` renders every conversation of
   --rendered (JSON lines {"messages", "tools", "text"} from `toolgrad model render`)
   to exactly the text our engine renders: needs `transformers` only;
2. with --ours (JSON lines from `toolgrad model logits`), the model loads in
   `transformers` and its next-token logits match ours within --tolerance: needs torch;
3. with --adapter and --base, PEFT loads the LoRA adapter onto the base model (HF
   layout) and, merged, gives the logits of the model directory: needs torch and peft.

Usage:
  python scripts/check_export.py MODEL_DIR [--rendered r.jsonl] [--ours ours.jsonl]
                                 [--adapter RUN/adapter --base BASE_HF_DIR]
"""

import argparse
import json
import sys

from transformers import AutoTokenizer


def logits_of(model, ids):
    import torch
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1].double()


def check_template(tokenizer, path):
    cases = [json.loads(line) for line in open(path) if line.strip()]
    same = 0
    for case in cases:
        text = tokenizer.apply_chat_template(case["messages"], tools=case["tools"] or None, tokenize=False)
        if text == case["text"]:
            same += 1
        elif same == 0:
            print("transformers:", repr(text[-300:]), "\nours:        ", repr(case["text"][-300:]))
    print(json.dumps({"check": "chat template renders as the engine", "identical": same, "of": len(cases)}))
    return len(cases) - same


def check_logits(model_dir, tokenizer, path, tolerance, adapter, base):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    failures = 0
    ours = [json.loads(line) for line in open(path) if line.strip()]
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
        failures += diff > tolerance or not same_top
    if adapter and base:
        from peft import PeftModel
        base_model = AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32)
        merged = PeftModel.from_pretrained(base_model, adapter).merge_and_unload().eval()
        for row in ours:
            diff = (logits_of(merged, row["tokens"]) - logits_of(model, row["tokens"])).abs().max().item()
            print(json.dumps({"check": "peft adapter merged onto the base vs the model", "prompt": row["prompt"][:40],
                              "max_abs_diff": diff}))
            failures += diff > tolerance
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--rendered")
    parser.add_argument("--ours")
    parser.add_argument("--adapter")
    parser.add_argument("--base")
    parser.add_argument("--tolerance", type=float, default=2e-3)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    failures = 0
    if args.rendered:
        failures += check_template(tokenizer, args.rendered)
    if args.ours:
        failures += check_logits(args.model_dir, tokenizer, args.ours, args.tolerance, args.adapter, args.base)
    print("ok" if failures == 0 else f"{failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
