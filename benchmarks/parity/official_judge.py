"""Judge BFCL result files with the official `bfcl_eval` checker, entry by entry.

Usage: python official_judge.py <bfcl data dir> <results dir> <out dir> [--fc]

For every `BFCL_v4_<category>_result.json` under <results dir> this writes
`<out dir>/<category>.verdicts.jsonl` with the official verdict of each line
(`{"id", "valid", "error_type"}`), using the same per-entry functions that
`bfcl evaluate` uses (`_evaluate_single_ast_entry`, `_evaluate_single_relevance_entry`).
Prompt-mode results are decoded as a prompt-mode model (google/gemma-3-4b-it);
with --fc, results are decoded as the OpenAI FC handler does (gpt-4o-2024-11-20-FC,
underscore_to_dot=True). Needs `bfcl-eval` installed (see official_venv.sh).
"""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from bfcl_eval.constants.enums import Language, ReturnFormat
from bfcl_eval.eval_checker.eval_runner import (
    _evaluate_single_ast_entry,
    _evaluate_single_relevance_entry,
)
from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler
from bfcl_eval.model_handler.utils import default_decode_ast_prompting
from bfcl_eval.utils import is_java, is_js


def load_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    data_dir, results_dir, out_dir = (Path(a) for a in sys.argv[1:4])
    fc = "--fc" in sys.argv
    if fc:
        model_name = "gpt-4o-2024-11-20-FC"
        fake = SimpleNamespace(is_fc_model=True)
        decode = lambda result, language, has_tool_call_tag: OpenAICompletionsHandler.decode_ast(fake, result, language, has_tool_call_tag)
    else:
        model_name = "google_gemma-3-4b-it"
        decode = lambda result, language, has_tool_call_tag: default_decode_ast_prompting(result, language, has_tool_call_tag)
    handler = SimpleNamespace(decode_ast=decode)
    out_dir.mkdir(parents=True, exist_ok=True)
    for result_file in sorted(results_dir.rglob("BFCL_v4_*_result.json")):
        category = result_file.name[len("BFCL_v4_"):-len("_result.json")]
        prompts = {e["id"]: e for e in load_lines(data_dir / f"BFCL_v4_{category}.json")}
        answer_file = data_dir / "possible_answer" / f"BFCL_v4_{category}.json"
        answers = {e["id"]: e for e in load_lines(answer_file)} if answer_file.exists() else {}
        if is_js(category):
            language, return_format = Language.JAVASCRIPT, ReturnFormat.JAVASCRIPT
        elif is_java(category):
            language, return_format = Language.JAVA, ReturnFormat.JAVA
        else:
            language, return_format = Language.PYTHON, ReturnFormat.PYTHON
        verdicts = []
        for line in load_lines(result_file):
            entry_id, result = line["id"], line["result"]
            prompt = json.loads(json.dumps(prompts[entry_id]))
            try:
                if "relevance" in category:
                    verdict = _evaluate_single_relevance_entry(handler, entry_id, result, prompt, model_name, category)
                else:
                    verdict = _evaluate_single_ast_entry(
                        handler, entry_id, result, answers[entry_id]["ground_truth"], prompt,
                        model_name, category, language=language, return_format=return_format,
                    )
                verdicts.append({"id": entry_id, "valid": verdict["valid"], "error_type": verdict.get("error_type")})
            except Exception as e:  # the official run would abort here
                verdicts.append({"id": entry_id, "valid": False, "error_type": "crash:" + type(e).__name__})
        with open(out_dir / f"{category}.verdicts.jsonl", "w") as f:
            for v in verdicts:
                f.write(json.dumps(v) + "\n")


if __name__ == "__main__":
    main()
