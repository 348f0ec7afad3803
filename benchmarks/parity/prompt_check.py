"""Check that `toolgrad eval prompt` sends exactly what the official BFCL handlers send.

Usage: python prompt_check.py <toolgrad binary> <bfcl data dir>   (official venv's python)
Prompt mode: the messages of `system_prompt_pre_processing_chat_model` (BFCL v4 default
system prompt, language hints). FC mode: the tools of `convert_to_tool` for the
OpenAI-completions style. Compares every entry of the 13 single-turn categories: message
texts exactly, tool schemas as JSON text in key order; exits 1 on any difference.
"""
import copy
import json
import subprocess
import sys

from bfcl_eval.constants.enums import ModelStyle
from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI
from bfcl_eval.model_handler.utils import convert_to_tool, system_prompt_pre_processing_chat_model
from bfcl_eval.utils import add_language_specific_hint_to_function_doc

CATEGORIES = [
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
    "live_irrelevance", "live_relevance",
]


def main():
    binary, data = sys.argv[1], sys.argv[2]
    differences = 0
    for mode in ["prompt", "fc"]:
        ours = {}
        output = subprocess.run(
            [binary, "eval", "prompt", "--mode", mode, "--data", data], capture_output=True, text=True, check=True
        ).stdout
        for line in output.splitlines():
            record = json.loads(line)
            ours[record["id"]] = record
        checked = 0
        for category in CATEGORIES:
            with open(f"{data}/BFCL_v4_{category}.json") as f:
                entries = [json.loads(line) for line in f if line.strip()]
            entries = add_language_specific_hint_to_function_doc(copy.deepcopy(entries))
            for entry in entries:
                mine = ours[entry["id"]]
                if mode == "prompt":
                    want = system_prompt_pre_processing_chat_model(
                        copy.deepcopy(entry["question"][0]), entry["function"], entry["id"]
                    )
                    got = mine["messages"]
                else:
                    want = convert_to_tool(entry["function"], GORILLA_TO_OPENAPI, ModelStyle.OPENAI_COMPLETIONS)
                    got = mine["tools"]
                    if mine["messages"] != entry["question"][0]:
                        differences += 1
                        print(f"{mode} {entry['id']}: messages differ")
                checked += 1
                # Message texts must be identical; tool schemas also in key order (chat
                # templates render them as given). A message's own key order is irrelevant.
                same = got == want if mode == "prompt" else json.dumps(got) == json.dumps(want)
                if not same:
                    differences += 1
                    if differences <= 5:
                        print(f"{mode} {entry['id']}:\n  official: {json.dumps(want)[:600]}\n  toolgrad: {json.dumps(got)[:600]}")
        print(f"{mode} mode: {checked} entries checked")
    print(f"differences: {differences}")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
