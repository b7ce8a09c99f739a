#!/usr/bin/env python3
"""The naming check: every symbol refnet defines follows one rule.

Symbols are functions and variables with external linkage.
  - rn_NAME: public, and declared in include/refnet/ (the API an embedder
    uses);
  - rn__NAME: shared between refnet's files, never public (a public
    inline function may read one; the shared library exports those few);
  - anything else: static, so that it is no symbol at all.
The check reads the symbol tables of the built libraries (librefnet.a and
the product's) with nm, so it sees exactly what the linker sees.

Usage: scripts/check-names.py BUILD_DIR [SOURCE_DIR]
Prints one line per offending symbol (object: symbol: why) and exits 1 if
there was any, 0 otherwise.
"""
import os
import re
import subprocess
import sys

# Declared in a public header: a function (name followed by a parenthesis)
# or a variable (extern ... name;).
PUBLIC_FN_RE = re.compile(r'\b(rn_[a-z0-9_]+)\s*\(')
PUBLIC_VAR_RE = re.compile(r'^\s*extern\b[^;(]*\b(rn_[a-z0-9_]+)\s*(?:\[[^\]]*\])?\s*;', re.M)


def public_names(src):
    names = set()
    incdir = os.path.join(src, 'include', 'refnet')
    for name in os.listdir(incdir):
        if not name.endswith('.h'):
            continue
        with open(os.path.join(incdir, name), encoding='utf-8') as f:
            # Declarations only: a name a comment mentions is not declared.
            text = re.sub(r'/\*.*?\*/', ' ', f.read(), flags=re.S)
        names.update(m.group(1) for m in PUBLIC_FN_RE.finditer(text))
        names.update(m.group(1) for m in PUBLIC_VAR_RE.finditer(text))
    return names


def defined_symbols(lib):
    """(object, symbol) for every external symbol defined in lib."""
    out = subprocess.run(['nm', '-A', '--defined-only', '-g', lib], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        where, kind, sym = parts[0], parts[-2], parts[-1]
        if kind in 'TDBRCGSVW' or kind in 'tdbr':
            yield where.rsplit(':', 1)[0].split(':')[-1], sym


def main():
    if len(sys.argv) < 2:
        print('usage: check-names.py BUILD_DIR [SOURCE_DIR]', file=sys.stderr)
        return 2
    build = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..')
    public = public_names(src)
    libs = [os.path.join(build, 'lib', n) for n in ('librefnet.a', 'librefnet-product.a')]
    problems = []
    for lib in libs:
        if not os.path.exists(lib):
            problems.append(f'{lib}: not built')
            continue
        for obj, sym in defined_symbols(lib):
            if sym.startswith('rn__'):
                continue
            if sym.startswith('rn_'):
                if sym not in public:
                    problems.append(f'{obj}: {sym}: named rn_ but declared in no public '
                                    f'header (make it rn__, or public)')
                continue
            problems.append(f'{obj}: {sym}: not static, yet named neither rn_ nor rn__')
    for p in sorted(set(problems)):
        print(p)
    if problems:
        print(f'names check: {len(set(problems))} problem(s)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
