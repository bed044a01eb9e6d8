#!/usr/bin/python3
"""Lists the C++ functions (and methods) longer than a limit.

usage: scripts/function-lengths.py [--max N] [PATH...]   (default: lib/, 150)

A function is measured from the line of its signature's opening brace to the
line of its closing brace, inclusive; lambdas and local classes count as part
of the function that holds them. Braces are matched on the source with
comments, string and character literals removed, so the measure needs no
compiler. Namespace, class, struct, enum and initializer braces are scopes,
not functions. Exit status 1 when some function is over the limit.
"""
import argparse
import os
import re
import sys


def strip(src):
    """The source with comments and literals blanked (newlines kept)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif c == 'R' and src.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', src[i:])
            end = src.find(")" + m.group(1) + '"', i)
            out.append('""' + "\n" * src.count("\n", i, end))
            i = end + len(m.group(1)) + 2
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b[^;{}()]*$")


def functions(path):
    text = strip(open(path, encoding="utf-8").read())
    # A stack of (kind, start line, header): kind is 'scope', 'function' or
    # 'block' (anything inside a function).
    stack, found, line, last = [], [], 1, 0
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            header = text[last:i].strip()
            if any(k == "function" for k, _, _ in stack):
                kind = "block"
            elif SCOPE.search(header) or header.endswith("="):
                kind = "scope"
            elif header.endswith(")") or re.search(
                    r"\)\s*(const|override|noexcept|final|\s)*(->[^;{}]*)?$",
                    header) or re.search(r"\)\s*:[^;{}]*$", header):
                kind = "function"
            else:
                kind = "scope"
            stack.append((kind, line, header))
            last = i + 1
        elif c == "}":
            if stack:
                kind, start, header = stack.pop()
                if kind == "function":
                    name = re.findall(r"([~\w:<>]+)\s*\(", header)
                    found.append((line - start + 1, start,
                                  name[0] if name else header[-40:]))
            last = i + 1
        elif c == ";":
            last = i + 1
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=150)
    ap.add_argument("--all", action="store_true", help="list every function")
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = args.paths or [os.path.join(root, "lib")]
    files = []
    for p in paths:
        if os.path.isdir(p):
            for d, _, names in os.walk(p):
                files += [os.path.join(d, f) for f in names
                          if f.endswith((".cpp", ".h"))]
        else:
            files.append(p)
    over = []
    for f in sorted(files):
        for length, start, name in functions(f):
            if args.all or length > args.max:
                over.append((length, os.path.relpath(f, root), start, name))
    for length, f, start, name in sorted(over, reverse=True):
        print(f"{length:5d}  {f}:{start}  {name}")
    longest = max((o[0] for o in over), default=0)
    print(f"{len(over)} function(s) over {args.max} lines" if not args.all
          else f"longest: {longest}")
    return 1 if over and not args.all else 0


if __name__ == "__main__":
    sys.exit(main())
