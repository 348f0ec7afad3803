"""Diff toolgrad's prompt-mode decoders against the official ones on tricky replies.

Usage: python decoder_cases.py <path to toolgrad repo>   (run with the official venv's python)
Prints every reply whose decoded `repr` (or failure) differs; exits 1 if any does.
"""
import json
import subprocess
import sys

from bfcl_eval.constants.enums import ReturnFormat
from bfcl_eval.model_handler.utils import default_decode_ast_prompting

PYTHON = [
    "[f(a=007)]", "[f(a=0_7)]", "[f(a=1__0)]", "[f(a=1_)]", "[f(a=0x_1f)]", "[f(a=0b101, b=0o17)]",
    "[f(a=1e)]", "[f(a=.5, b=5., c=1e-3, d=1E+3)]", "[f(a='\\q')]", "[f(a='\\x4')]", "[f(a=u'x', b=rb'x', c=Rb'y')]",
    "[f(a='''multi\nline''')]", "[f(a=b'\\xe9')]", "[f(a='\\N{BULLET}')]", "[f(a='\\u00e9\\U0001F600')]",
    "[f(a=d[1, 2], b=d[1:2], c=d[::2], e=d['k'][0])]", "[f(a=g(1, x), b=h(), c=m.n(o.p))]", "[f(a=g(*x), b=g(**y))]",
    "[f(a=2**0.5, b=10 // 3, c=-7 % 3, d=1 << 4, e=5 & 3)]", "[f(a=True + 1, b='ab' * 2, c=[0] * 3, d=(1,) * 2)]",
    "[f(a=-True, b=-1j, c=+5, d=~5, e=not 5)]", "[f(a=--5)]", "[f(a=-(5))]", "[f(a=-'x')]", "[f(a=-None)]",
    "[f(a={1: 'x', 1.0: 'y', True: 'z'})]", "[f(a={(1, 2): 3})]", "[f(a={[1]: 2})]", "[f(a={**d})]",
    "[f(a=...), g(b=Ellipsis)]", "[f(a=None, b=True, c=False)]", "[f(a=1, a=2)]", "[f(a=1, b=2, a=3, b=4)]",
    "[f(**kw)]", "[f(x, y, a=1)]", "[f(a=1, *args)]", "[f(a=1)(b=2)]", "[a.b.c.d(e=1)]", "[a[0].b(c=1)]",
    "[f(a=lambda x: x)]", "[f(a=x if y else z)]", "[f(a=(yield))]", "[f(a=[i for i in x])]", "[f(a={i for i in x})]",
    "[f(a=f'{x}')]", "[f(a='a' 'b' \"c\")]", "[f(a=x.y)]", "[f(a=x < y)]", "[f(a=x and y)]", "[f(a=(x := 5))]",
    "[f(a='caf\u00e9', b='\u4e2d\u6587')]", "[f(a=1,)]", "[f(a=1),]", "[f(a=1) g(b=2)]", "[f(a=1)\n, g(b=2)]",
    "f(a=1)", "'f(a=1)'", "'[f(a=1)]'", "[f(a=1)]'", "`[f(a=1)]`", "```\n[f(a=1)]\n```", "``` [f(a=1)] ```",
    "```python\n[f(a=1)]\n```", "<tool_call>[f(a=1)]</tool_call>", "[{'name': 'f', 'arguments': {'a': 1}}]",
    "[f(a=1)] and then", "Sure: [f(a=1)]", "", "   ", "[]", "[[]]", "[()]", "()", "{}", "[None]", "None",
    "[f]", "[f()]", "[f(), g()]", "[1, 2]", "['f(a=1)']", "[f(a=1), 2]", "[f(a=1)][0]", "[f(a=1)] + [g(b=2)]",
    "[f(a=1)], [g(b=2)]", "[f(a=\"unterminated)]", "[f(a=1e309, b=-1e309)]", "[f(a=99999999999999999999999)]",
    "[f(a=2**200)]", "[f(a=10**-2)]", "[f(a=1/3)]", "[f(a=0.1+0.2)]", "[f(a=1e16, b=1e-5, c=123456789.123456789)]",
    "[f(a=[1, [2, [3, (4, {5: 6})]]])]", "[f(a={'k': g(x=1)})]", "[f(a=[g(x=1), h()])]", "[f(a='it\\'s', b=\"say \\\"hi\\\"\")]",
    "[f(a=\"x\" * -1)]", "[f(a=[1] + (2,))]", "[f(a=1 @ 2)]", "[f(a={1, 2})]", "[f(a=set())]", "[f(a=x[1:2:3])]",
    "[f(a=d[x, y:z])]", "[f(a=d[-1])]", "[f(a=print('hi'))]", "[f(a=np.array([1,2], dtype=float))]",
    "[" * 200 + "]" * 200, "[" * 201 + "]" * 201, "[f(a='" + "(" * 300 + "')]", "[f(a=" + "-" * 5000 + "1)]",
    "[f(x, a=1 + " + "-" * 327 + "5)]", "[f(x, a=1 + " + "-" * 328 + "5)]",
    "[f(a=" + "1+" * 328 + "1)]", "[f(a=" + "1+" * 329 + "1)]",  "[f(a=1)] # done", "[f(a='#not a comment')]",
    "[math.factorial(number=5)]\n", "\n[f(a=1)]", "[f(a=1)]\t", "\t[f(a=1)]", "[f(a=1)]\r\n", "\u00a0[f(a=1)]",
    "[f(a=1)] ", "[f(a=1)]  \n ", "``[f(a=1)]``", "[f\u00e9(a=1)]", "[f(\u00e9=1)]", "[f(a=1)]\x00",
]

JAVA = [
    "[f(a=1)]", "[A.f(a=1)]", "[A.f(a=1, b=\"x\")]", "[obj.method(arr=new int[]{1, 2}, s=\"x y\")]",
    "[A.f(m=new HashMap<String, Integer>() {{ put(\"a\", 1); }})]", "[A.f(x)]", "[A.f(x, y)]", "[A.f(a=1, a=2)]",
    "[A.f(c='c', s=\"caf\u00e9\", t=\"\u4e2d\u6587\", n=5L)]", "[A.f(l=new ArrayList<>(Arrays.asList(1, 2)))]",
    "[A.f(a=x.y.z, b=a + b, c=-5, d=(int) x, e=A.class, g=new Foo(1, \"s\"))]", "[A.f(a=1)] [B.g(b=2)]",
    "[A.f(a=1), B.g(b=2)]", "A.f(a=1)", "```java\n[A.f(a=1)]\n```", "[]", "", "Sorry", "[A.f(a=new int[5])]",
    "[A.f(a=1)", "[A.f(a=true, b=null, c=3.5f, d=1e3)]", "[x.y.z(q=\"a\\\"b\")]",
]

JAVASCRIPT = [
    "[f(a=1)]", "[a.b(c=1)]", "[f(a='x', b=\"y\", c=`z`)]", "[f(a=[1, 2], b={k: 1}, c=true, d=null)]",
    "[f(x)]", "[f(x, true, false)]", "[f(a=1, a=2)]", "[f(a=1), g(b=2)]", "[f(a=1); g(b=2)]", "f(a=1)",
    "[f(a=x => x)]", "[f(a=new Date())]", "[f(a='caf\u00e9', b=\"\u4e2d\")]", "[]", "", "Sorry, no.",
    "[f(a=)]", "[f(a=1)", "[obj?.f(a=1)]", "[f(a=1)(b=2)]", "[f`x`]", "[f(...a)]", "[f(a=1n)]",
]


def official(reply, language):
    try:
        return repr(default_decode_ast_prompting(reply, language))
    except Exception:
        return "ERROR"


def ours(repo, replies, language):
    completed = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "--example", "decode", "--", language],
        cwd=repo, input="\n".join(json.dumps(r) for r in replies) + "\n",
        capture_output=True, text=True, check=True,
    )
    return completed.stdout.splitlines()


def main():
    repo = sys.argv[1]
    failures = 0
    for language, fmt, replies in [
        ("python", ReturnFormat.PYTHON, PYTHON),
        ("java", ReturnFormat.JAVA, JAVA),
        ("javascript", ReturnFormat.JAVASCRIPT, JAVASCRIPT),
    ]:
        mine = ours(repo, replies, language)
        before = failures
        for reply, got in zip(replies, mine):
            want = official(reply, fmt)
            if want == "{}" or want == "None":
                want = "WRONG_FORMAT"
            if got != want:
                failures += 1
                print(f"{language}: {reply!r}\n  official: {want}\n  toolgrad: {got}")
        print(f"{language}: {len(replies)} replies, {len(replies) - (failures - before)} agree")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
