"""Checks `toolgrad serve` with the official `openai` Python client.

Usage: python scripts/check_serve.py BASE_URL   (e.g. http://127.0.0.1:8080/v1)

- `tool_choice="required"` and a named function give exactly one tool call
  whose name is one of the tools and whose arguments parse and fit the schema;
- `tool_choice="none"` gives text and no call;
- streaming with `stop` gives, delta by delta, the non-streamed text, and the
  stop sequence never appears in it;
- eight different questions sent at once (decoded in one batch, half of them
  streamed) get exactly the answers they get one at a time.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import openai

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city name."},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {"zone": {"type": "string"}},
                "required": ["zone"],
            },
        },
    },
]
MESSAGES = [{"role": "user", "content": "Is it raining in Paris right now?"}]


def fail(message):
    print(f"check_serve: {message}", file=sys.stderr)
    sys.exit(1)


def check_call(response, allowed):
    choice = response.choices[0]
    calls = choice.message.tool_calls or []
    if len(calls) != 1:
        fail(f"expected one tool call, got {choice.message}")
    call = calls[0]
    if call.function.name not in allowed:
        fail(f"called {call.function.name!r}, allowed {allowed}")
    if choice.finish_reason != "tool_calls":
        fail(f"finish_reason {choice.finish_reason!r}")
    arguments = json.loads(call.function.arguments)
    schema = next(t for t in TOOLS if t["function"]["name"] == call.function.name)
    parameters = schema["function"]["parameters"]
    for name in parameters["required"]:
        if not isinstance(arguments.get(name), str):
            fail(f"argument {name!r} missing or not a string: {arguments}")
    if not set(arguments) <= set(parameters["properties"]):
        fail(f"undeclared arguments: {arguments}")
    unit = arguments.get("unit")
    if unit is not None and unit not in ("celsius", "fahrenheit"):
        fail(f"unit {unit!r} is not in the enum")
    return call


def main():
    client = openai.OpenAI(base_url=sys.argv[1], api_key="unused")
    model = client.models.list().data[0].id

    def ask(**kwargs):
        return client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=120, **kwargs)

    call = check_call(ask(tools=TOOLS, tool_choice="required"), {"get_weather", "get_time"})
    print(f"required: {call.function.name}({call.function.arguments})")
    named = {"type": "function", "function": {"name": "get_time"}}
    call = check_call(ask(tools=TOOLS, tool_choice=named), {"get_time"})
    print(f"named: {call.function.name}({call.function.arguments})")

    none = ask(tools=TOOLS, tool_choice="none").choices[0]
    if none.message.tool_calls:
        fail(f"tool_choice none still called {none.message.tool_calls}")
    print(f"none: {none.message.content[:60]!r}")

    free = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a short story about a cat."}],
        max_tokens=80,
    )
    text = free.choices[0].message.content
    words = text.split()
    if len(words) < 4:
        fail(f"too short a reply to pick a stop sequence from: {text!r}")
    stop = " " + words[3]
    expected = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a short story about a cat."}],
        max_tokens=80,
        stop=[stop],
    ).choices[0].message.content
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a short story about a cat."}],
        max_tokens=80,
        stop=[stop],
        stream=True,
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    if streamed != expected or stop in streamed or expected != text[: text.find(stop)]:
        fail(f"streamed {streamed!r}, expected {expected!r} (stop {stop!r})")
    print(f"stream with stop {stop!r}: {streamed!r}")

    questions = [f"Write one sentence about the number {n}." for n in range(8)]

    def answer(index, stream=False):
        kwargs = dict(
            model=model,
            messages=[{"role": "user", "content": questions[index]}],
            max_tokens=24 + 7 * index,
        )
        if stream:
            chunks = client.chat.completions.create(stream=True, **kwargs)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return client.chat.completions.create(**kwargs).choices[0].message.content

    alone = [answer(i) for i in range(len(questions))]
    with ThreadPoolExecutor(len(questions)) as pool:
        together = list(pool.map(lambda i: answer(i, stream=i % 2 == 1), range(len(questions))))
    for i, (a, b) in enumerate(zip(alone, together)):
        if a != b:
            fail(f"question {i}: alone {a!r}, concurrently {b!r}")
    print(f"{len(questions)} concurrent requests: the answers they get one at a time")
    print("check_serve: ok")


if __name__ == "__main__":
    main()
