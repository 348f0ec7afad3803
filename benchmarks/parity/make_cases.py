"""Write BFCL result sets that exercise every checker rule, for parity runs.

Usage: python make_cases.py <bfcl data dir> <out dir> [--sets N] [--seed S] [--fc]

Each set is a directory holding one `BFCL_v4_<category>_result.json` per
single-turn category, one line per dataset entry. For every entry a variant is
drawn: the ground truth rendered as a call (with alternative acceptable values and
omitted optional parameters), or that call broken in one way the checker tells
apart (wrong value, wrong type, missing/extra parameter, wrong function, wrong
count, code fences, prose, malformed syntax, odd literals). With --fc the calls
are written as native tool calls (`[{"name": "{json args}"}]`, dots → underscores).
"""
import json
import random
import sys
from pathlib import Path

CATEGORIES = [
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel",
    "parallel_multiple", "irrelevance", "live_simple", "live_multiple", "live_parallel",
    "live_parallel_multiple", "live_irrelevance", "live_relevance",
]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pick(rng, acceptable, allow_omit=True):
    """A value from a list of acceptable values; None means 'omit'."""
    choices = [v for v in acceptable if v != ""]
    if allow_omit and "" in acceptable and (not choices or rng.random() < 0.3):
        return None
    if not choices:
        return None
    value = rng.choice(choices)
    if isinstance(value, dict):  # nested dict: each key holds a list of acceptable values
        out = {}
        for k, vs in value.items():
            v = pick(rng, vs if isinstance(vs, list) else [vs])
            if v is not None:
                out[k] = v
        return out
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return [pick(rng, [x], False) for x in value]
    return value


def mutate_value(rng, value):
    kind = rng.randrange(12)
    if isinstance(value, bool):
        return [not value, int(value), str(value).lower(), None][kind % 4]
    if isinstance(value, int):
        return [value + 1, float(value), str(value), -value, True, [value], value][kind % 7]
    if isinstance(value, float):
        return [value + 0.5, int(value), str(value), -value, [value], value * 10][kind % 6]
    if isinstance(value, str):
        return [value.upper(), value + "x", value.replace(" ", "_"), value + " ", "",
                value[::-1], len(value), value + ".", "'" + value + "'", value.title(),
                [value], None][kind]
    if isinstance(value, list):
        if not value:
            return [["x"], "[]", None][kind % 3]
        return [value[::-1], value[:-1], value + value[:1], tuple(value), str(value),
                [mutate_value(rng, value[0])] + value[1:], {}, value][kind % 8]
    if isinstance(value, dict):
        if not value:
            return [{"k": 1}, [], "{}"][kind % 3]
        key = rng.choice(list(value))
        changed = dict(value)
        option = kind % 4
        if option == 0:
            changed[key] = mutate_value(rng, value[key])
        elif option == 1:
            del changed[key]
        elif option == 2:
            changed["extra_key"] = 1
        else:
            changed = list(value.items())
        return changed
    return "junk"


def py_literal(value):
    if isinstance(value, tuple):
        return "(" + ", ".join(py_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def odd_literal(rng):
    return rng.choice([
        "x", "a.b", "f(1)", "g(x=1)", "np.array([1, 2])", "d['k']", "1 + 2", "2 ** 10", "'a' * 3",
        "-5", "+5", "-True", "~3", "not True", "None", "...", "1e3", "0x1f", "1_000", "3j",
        "b'bytes'", "f'{x}'", "{1, 2}", "[i for i in y]", "lambda: 1", "1 if x else 2",
        "(1,)", "()", "{}", "[]", "{'a': [1, {'b': 2}]}", "u'caf\\u00e9'", "'tab\\there'",
        "r'\\d+'", "'''tri'''", "1 / 0", "x + 1", "[1, 2][0]", "-x", "a < b", "*x",
    ])


def render_python_call(name, args, rng, positional=False):
    parts = [f"{k}={py_literal(v) if not isinstance(v, RawText) else v}" for k, v in args.items()]
    if positional and rng.random() < 0.5:
        parts.insert(0, odd_literal(rng))
    return f"{name}({', '.join(parts)})"


class RawText(str):
    """Source text inserted as is."""


def render_java_value(value, ptype):
    if not isinstance(value, str):
        value = json.dumps(value)
    if ptype == "String" and not value.startswith('"'):
        return RawText('"' + value + '"')
    return RawText(value)


def entry_calls(rng, entry, answer):
    docs = {d["name"]: d for d in entry["function"]}
    calls = []
    for expected in answer["ground_truth"]:
        (name, params), = expected.items()
        props = docs.get(name, {}).get("parameters", {}).get("properties", {})
        required = set(docs.get(name, {}).get("parameters", {}).get("required", []))
        args = {}
        for param, acceptable in params.items():
            value = pick(rng, acceptable if isinstance(acceptable, list) else [acceptable], param not in required)
            if value is not None:
                args[param] = value
        calls.append([name, args, props])
    return calls


def break_calls(rng, calls, entry):
    """Applies one mutation to a list of [name, args, props] calls."""
    calls = [[n, dict(a), p] for n, a, p in calls]
    target = rng.choice(calls)
    name, args, props = target
    kind = rng.randrange(9)
    if kind <= 2 and args:  # wrong value or type
        key = rng.choice(list(args))
        args[key] = mutate_value(rng, args[key])
    elif kind == 3 and args:  # missing parameter
        del args[rng.choice(list(args))]
    elif kind == 4:  # extra parameter
        extra = [p for p in props if p not in args]
        args[rng.choice(extra) if extra and rng.random() < 0.6 else "unexpected"] = 1
    elif kind == 5:  # wrong function name
        others = [d["name"] for d in entry["function"] if d["name"] != name]
        target[0] = rng.choice(others) if others and rng.random() < 0.6 else rng.choice(
            [name.upper(), name + "_v2", name.replace(".", "_"), name.split(".")[-1]])
    elif kind == 6:  # count
        if len(calls) > 1 and rng.random() < 0.5:
            calls.pop(rng.randrange(len(calls)))
        else:
            calls.append([name, dict(args), props])
    elif kind == 7:
        rng.shuffle(calls)
        if args:
            key = rng.choice(list(args))
            args[key] = mutate_value(rng, args[key])
    else:
        if args:
            key = rng.choice(list(args))
            args[key] = RawText(odd_literal(rng))
    target[1] = args
    return calls


def render_prompt(rng, calls, language):
    if language == "python":
        parts = [render_python_call(n, a, rng, positional=rng.random() < 0.1) for n, a, _ in calls]
    else:
        parts = []
        for n, a, props in calls:
            rendered = {}
            for k, v in a.items():
                ptype = props.get(k, {}).get("type", "String")
                rendered[k] = v if isinstance(v, RawText) else render_java_value(v, ptype)
            parts.append(f"{n}({', '.join(f'{k}={v}' for k, v in rendered.items())})")
    text = "[" + ", ".join(parts) + "]"
    wrap = rng.randrange(30)
    if wrap == 0:
        return "```python\n" + text + "\n```"
    if wrap == 1:
        return "```\n" + text + "\n```"
    if wrap == 2:
        return "Sure! Here you go: " + text
    if wrap == 3:
        return text[1:-1]
    if wrap == 4:
        return "'" + text + "'"
    if wrap == 5:
        return text + "\n"
    if wrap == 6:
        return text[:-1]
    if wrap == 7:
        return text.replace("(", "( ", 1)
    if wrap == 8:
        return " \n" + text + " \t"
    if wrap == 9:
        return text + ";"
    if wrap == 10:
        return text.replace(", ", ",\n")
    if wrap == 11:  # JSON-style tool calls instead of Python calls
        return json.dumps([{"name": n, "arguments": {k: str(v) for k, v in a.items()}} for n, a, _ in calls])
    if wrap == 12:
        return "<tool_call>" + text + "</tool_call>"
    if wrap == 13:  # a namespace prefix on every call
        return "[" + ", ".join("functions." + p for p in text[1:-1].split(", ") if p) + "]"
    if wrap == 14:  # one call per line, no commas
        return text[1:-1].replace("), ", ")\n")
    if wrap == 15:
        return "result = " + text[1:-1]
    if wrap == 16:
        return text + "\n\nLet me know if you need anything else."
    if wrap == 17:
        return text.replace("=", " = ")
    return text


def render_fc(calls):
    return [{n.replace(".", "_"): json.dumps({k: (str(v) if isinstance(v, RawText) else v) for k, v in a.items()})}
            for n, a, _ in calls]


NO_CALL_REPLIES = [
    "", "[]", "None", "I cannot help with that.", "The function cannot be used here.",
    "```python\n[]\n```", "[None]", "[1, 2]", "'[]'", "[{}]", "print('hi')", "[x]", "[f]",
    "The answer is 42", "```json\n{}\n```", "[f()]", "[f(a=1)]", "f(a=1), g(b=2)",
]


def irrelevance_result(rng, entry, fc):
    if fc:
        if rng.random() < 0.5 or not entry["function"]:
            return rng.choice([[], "no call", [{"f": "{}"}], [{"f": "[1]"}], [{}]])
        d = rng.choice(entry["function"])
        return [{d["name"].replace(".", "_"): json.dumps({})}]
    r = rng.random()
    if r < 0.4 or not entry["function"]:
        return rng.choice(NO_CALL_REPLIES)
    d = rng.choice(entry["function"])
    props = list(d.get("parameters", {}).get("properties", {}))
    args = {p: rng.choice([1, "x", True, [1], None]) for p in props[: rng.randrange(len(props) + 1)]}
    text = "[" + render_python_call(d["name"], args, rng) + "]"
    return rng.choice([text, text[1:-1], "```" + text + "```", "Calling " + text])


def main():
    data_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    sets = int(sys.argv[sys.argv.index("--sets") + 1]) if "--sets" in sys.argv else 8
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    fc = "--fc" in sys.argv
    for set_index in range(sets):
        rng = random.Random(seed * 1000 + set_index)
        set_dir = out_dir / f"set{set_index:02d}"
        set_dir.mkdir(parents=True, exist_ok=True)
        for category in CATEGORIES:
            entries = load(data_dir / f"BFCL_v4_{category}.json")
            answer_file = data_dir / "possible_answer" / f"BFCL_v4_{category}.json"
            answers = load(answer_file) if answer_file.exists() else [None] * len(entries)
            language = "java" if "java" in category and "javascript" not in category else (
                "javascript" if "javascript" in category else "python")
            with open(set_dir / f"BFCL_v4_{category}_result.json", "w") as f:
                for entry, answer in zip(entries, answers):
                    if answer is None:
                        result = irrelevance_result(rng, entry, fc)
                    else:
                        calls = entry_calls(rng, entry, answer)
                        if rng.random() < 0.45:
                            calls = break_calls(rng, calls, entry)
                        result = render_fc(calls) if fc else render_prompt(rng, calls, language)
                    f.write(json.dumps({"id": entry["id"], "result": result}) + "\n")


if __name__ == "__main__":
    main()
