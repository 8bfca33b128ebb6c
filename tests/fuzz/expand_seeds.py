#!/usr/bin/env python3
"""Expands a seeds file (NAME<TAB>Python bytes literal per line) into one raw
file per seed, for libFuzzer and the corpus replay test. Seeds are kept as
text in git so that binary packets stay reviewable.
    expand_seeds.py SEEDS.txt OUTDIR"""
import ast
import os
import sys


def main():
    seeds, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for n, line in enumerate(open(seeds, encoding="ascii"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        name, _, literal = line.partition("\t")
        data = ast.literal_eval(literal)
        if not isinstance(data, bytes) or not name or "/" in name:
            sys.exit("%s:%d: expected NAME<TAB>b'...'" % (seeds, n))
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
