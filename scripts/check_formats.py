"""Loads every format of a `toolgrad format` output with Hugging Face `datasets`,
both through the dataset card (`load_dataset(dir, config)`) and as plain JSON
files (`load_dataset("json", data_files=...)`), and checks that each row comes
back unchanged and in the shape its consumers read.

With `--tokenizer <HF tokenizer dir>` (and `transformers` installed) it also
renders every row the way TRL's SFTTrainer does (`tools` parsed from its JSON
string, then `apply_chat_template(messages, tools=tools)`): bfcl-python with the
tokenizer's own template, openai-tools and agentic with a Hermes-style
tool-calling template (the tokenizer's own may not render tool calls).

Usage: python scripts/check_formats.py <format output dir> [--tokenizer <dir>]
"""

import json
import pathlib
import sys

import datasets

FORMATS = ["bfcl-python", "openai-tools", "sharegpt", "agentic"]


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def drop_nulls(value):
    """Arrow fills fields a row lacks with None, and datasets' Json feature reads
    a tool-call turn's empty `content` back as None; compare without them."""
    if isinstance(value, dict):
        return {
            k: drop_nulls(v)
            for k, v in value.items()
            if v is not None and not (k == "content" and v == "")
        }
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def check_shape(fmt, row):
    if fmt == "sharegpt":
        assert [t["from"] for t in row["conversations"]] == ["system", "human", "gpt"], row["id"]
        json.loads(row["tools"])
        return
    messages = row["messages"]
    assert messages[-1]["role"] == "assistant", row["id"]
    if fmt == "bfcl-python":
        assert [m["role"] for m in messages] == ["system", "user", "assistant"], row["id"]
        assert messages[-1]["content"].startswith("["), row["id"]
        return
    tools = json.loads(row["tools"])
    names = {t["function"]["name"] for t in tools}
    for m in messages:
        for call in m.get("tool_calls") or []:
            assert call["function"]["name"] in names, row["id"]
            assert isinstance(json.loads(call["function"]["arguments"]), dict), row["id"]
    if fmt == "agentic":
        calls = [c["id"] for m in messages for c in (m.get("tool_calls") or [])]
        answered = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
        assert calls == answered, row["id"]


# A Hermes/Qwen-style tool-calling template: tools in the system turn, calls in
# <tool_call> tags (arguments as given: JSON strings here), tool turns as
# <tool_response>.
TOOL_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n<tools>\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}</tools><|im_end|>\n{% endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n</tool_response><|im_end|>\n"
    "{%- else %}<|im_start|>{{ m.role }}\n{% if m.content %}{{ m.content }}{% endif %}"
    "{%- for c in m.tool_calls or [] %}<tool_call>\n{\"name\": {{ c.function.name | tojson }}, \"arguments\": "
    "{% if c.function.arguments is string %}{{ c.function.arguments }}{% else %}{{ c.function.arguments | tojson }}{% endif %}}\n</tool_call>{% endfor %}"
    "<|im_end|>\n{% endif %}{%- endfor %}"
)


def check_chat_templates(root, tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    rendered = 0
    for fmt, template in [("bfcl-python", None), ("openai-tools", TOOL_TEMPLATE), ("agentic", TOOL_TEMPLATE)]:
        for path in sorted((root / fmt).glob("*.jsonl")):
            for row in datasets.load_dataset("json", data_files=str(path))["train"]:
                tools = row.get("tools")
                tools = json.loads(tools) if isinstance(tools, str) else tools
                text = tokenizer.apply_chat_template(
                    row["messages"], tools=tools, chat_template=template, tokenize=False
                )
                assert row["messages"][-1]["content"] in text, row["id"]
                for m in row["messages"]:
                    for call in m.get("tool_calls") or []:
                        assert call["function"]["arguments"] in text, row["id"]
                rendered += 1
    print(f"check_formats: {rendered} rows rendered by apply_chat_template with {tokenizer_dir}")


def main():
    root = pathlib.Path(sys.argv[1])
    checked = 0
    for fmt in FORMATS:
        files = {p.stem: str(p) for p in sorted((root / fmt).glob("*.jsonl"))}
        if not files:
            # A source without observations has no agentic traces.
            assert fmt == "agentic", f"{fmt}: no files"
            continue
        via_card = datasets.load_dataset(str(root), fmt)
        via_json = datasets.load_dataset("json", data_files=files)
        for split, path in files.items():
            expected = rows(path)
            for loaded in (via_card[split], via_json[split]):
                assert len(loaded) == len(expected), (fmt, split)
                for got, want in zip(loaded, expected):
                    assert drop_nulls(got) == drop_nulls(want), (fmt, split, want["id"])
                    check_shape(fmt, got)
                    checked += 1
    default = datasets.load_dataset(str(root))
    assert "train" in default
    if "--tokenizer" in sys.argv:
        check_chat_templates(root, sys.argv[sys.argv.index("--tokenizer") + 1])
    print(f"check_formats: {checked} rows loaded unchanged by datasets {datasets.__version__}")


if __name__ == "__main__":
    main()
