"""PyTorch's training step on the shapes `train_speed` times (the peer of
benchmarks/train/speed_vs_pytorch.sh): an HF LlamaForCausalLM with random
weights, random tokens, full-vocabulary cross-entropy on every position,
AdamW; LoRA through PEFT. Prints one JSON line."""

import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SMOLLM2 = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
               num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
               rope_theta=100000.0, rms_norm_eps=1e-5, max_position_embeddings=8192,
               tie_word_embeddings=True)
TINY = dict(SMOLLM2, vocab_size=8192, hidden_size=256, intermediate_size=1024,
            num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=8,
            max_position_embeddings=1024)
SHAPES = {
    "full-135m": (SMOLLM2, 4, 256, False),
    "lora-135m": (SMOLLM2, 1, 1024, True),
    "tiny-7m": (TINY, 8, 128, False),
}


def main():
    name = sys.argv[1]
    steps = max(int(sys.argv[2]) if len(sys.argv) > 2 else 4, 2)
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    torch.manual_seed(0)
    fields, rows, seq, lora = SHAPES[name]
    config = LlamaConfig(**fields, attn_implementation="sdpa")
    model = LlamaForCausalLM(config)
    if lora:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(
            r=64, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                            "gate_proj", "up_proj", "down_proj"]))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)
    times = []
    for step in range(steps):
        ids = torch.randint(0, config.vocab_size, (rows, seq))
        started = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        optim.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - started
        print(f"step {step}: {seconds:.2f} s, loss {out.loss.item():.4f}", file=sys.stderr)
        times.append(seconds)
    mean = sum(times[1:]) / len(times[1:])
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "shape": name,
                      "step_s": mean, "tokens_per_s": rows * seq / mean}))


if __name__ == "__main__":
    main()
