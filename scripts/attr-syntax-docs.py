#!/usr/bin/env python3
"""Rewrites the attribute "Syntax:" blocks of the generated dialect reference
(mlir-tblgen -gen-dialect-doc) into the syntax the parser accepts.

mlir-tblgen lists an attribute's parameters one per line with their C++
types (`#attn.sink<\\n  int64_t   # count\\n>`), whatever its assemblyFormat.
Our parameterised attributes use `struct(params)` (`#attn.sink<count = 4>`)
or, for #attn.any, a list of patterns. Usage: attr-syntax-docs.py DOC.md
(rewritten in place; running it twice changes nothing).
"""
import re
import sys

BLOCK = re.compile(r"Syntax:\n\n```\n#attn\.(\w+)<\n((?:  .*\n)+)>\n```\n")
PARAM = re.compile(r"^  (.+?),?\s+# (\w+)$")
SHOWN = {"int64_t": "N", "::llvm::ArrayRef<int64_t>": "[N, ...]"}


def syntax(match):
    mnemonic, body = match.group(1), match.group(2)
    params = [PARAM.match(line) for line in body.splitlines()]
    if mnemonic == "any":
        shown = "[#attn.causal, #attn.sink<count = 4>, ...]"
    elif all(params):
        shown = ", ".join(f"{p.group(2)} = {SHOWN.get(p.group(1), p.group(1))}"
                          for p in params)
    else:
        return match.group(0)
    return f"Syntax: `#attn.{mnemonic}<{shown}>`\n"


def main(path):
    with open(path) as f:
        text = f.read()
    fixed = BLOCK.sub(syntax, text)
    if fixed != text:
        with open(path, "w") as f:
            f.write(fixed)


if __name__ == "__main__":
    main(sys.argv[1])
