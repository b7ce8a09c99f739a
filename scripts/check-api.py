#!/usr/bin/env python3
"""The public API check: what include/refnet/ promises an embedder.

- Every public header opens with a comment saying what it is for, and
  says which thread may call what: a "Thread" paragraph, or the legend
  marks [L], [any], [B] on its functions.
- Every function declared in a public header is documented: a comment
  right above its declaration, or above the group of declarations
  (no blank line between) it belongs to, or on the same line.
- Every function declared there is named rn_ (public), and every public
  header is included by the umbrella header refnet/refnet.h.

Usage: scripts/check-api.py [SOURCE_DIR]
Prints one line per problem (file:line: what) and exits 1 if there was
any, 0 otherwise.
"""
import os
import re
import sys

DECL_RE = re.compile(r'^(?:extern\s+)?(?:const\s+)?(?:struct\s+|enum\s+|unsigned\s+)?'
                     r'[A-Za-z_][\w]*[\s\*]+\**\s*([A-Za-z_]\w*)\s*\(')
THREAD_RE = re.compile(r'Thread|\[L\]|\[any\]|\[B\]|any thread|loop thread')


def documented(lines, i):
    """True if the declaration starting at line i has a comment above its
    group, or on its own line."""
    if '/*' in lines[i]:
        return True
    j = i - 1
    while j >= 0:
        prev = lines[j].strip()
        if prev == '':
            return False
        if prev.endswith('*/'):
            return True
        j -= 1
    return False


def check_header(root, rel, umbrella, problems):
    path = os.path.join(root, rel)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    lines = text.split('\n')
    name = os.path.basename(rel)
    if not text.lstrip().startswith('/*'):
        problems.append(f"{rel}:1: the header does not open with a comment saying what it is")
    if name != 'refnet.h' and not THREAD_RE.search(text):
        problems.append(f"{rel}:1: the header says nothing of threads ([L], [any], or a "
                        f"Thread paragraph)")
    if name != 'refnet.h' and f'"refnet/{name}"' not in umbrella:
        problems.append(f"{rel}:1: not included by refnet/refnet.h")
    depth = 0
    in_comment = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        # Skip comment bodies and anything inside braces (structs, inline
        # function bodies, initialisers).
        if in_comment:
            if '*/' in line:
                in_comment = False
            continue
        if stripped.startswith('/*') and '*/' not in stripped:
            in_comment = True
            continue
        if depth == 0 and not stripped.startswith(('#', '//', '*', 'typedef', 'static',
                                                   'extern _Atomic')):
            m = DECL_RE.match(line)
            if m and not stripped.startswith('return'):
                fn = m.group(1)
                if not fn.startswith('rn_'):
                    problems.append(f"{rel}:{i + 1}: {fn}() is public but not named rn_")
                elif fn.startswith('rn__'):
                    pass  # internal, visible for an inline function: documented where used
                elif not documented(lines, i):
                    problems.append(f"{rel}:{i + 1}: {fn}() has no comment stating its "
                                    f"contract")
        depth += line.count('{') - line.count('}')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    incdir = os.path.join(root, 'include', 'refnet')
    with open(os.path.join(incdir, 'refnet.h'), encoding='utf-8') as f:
        umbrella = f.read()
    problems = []
    for name in sorted(os.listdir(incdir)):
        if name.endswith('.h'):
            check_header(root, os.path.join('include', 'refnet', name), umbrella, problems)
    for p in problems:
        print(p)
    if problems:
        print(f"api check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
