#!/usr/bin/env python3
"""An independent RFC 9162 reference (Python hashlib, the recursive definitions of sections 2.1.1, 2.1.3.1 and
2.1.4.1 written out literally), used to check Glimmer's TypeScript Merkle tree and to generate the committed test
vectors in test/audit/vectors/. Shares no code with the TypeScript implementation.

Usage: rfc9162_reference.py ALGORITHM < request.json > answer.json
request: {"leaves": [hex...], "roots": [n...], "inclusion": [[m, n]...], "consistency": [[m, n]...]}
"""
import hashlib
import json
import sys


def make(algorithm):
    H = {"RFC9162_SHA256": hashlib.sha256, "RFC9162_SHA512": hashlib.sha512}[algorithm]

    def mth(d):
        n = len(d)
        if n == 0:
            return H(b"").digest()
        if n == 1:
            return H(b"\x00" + d[0]).digest()
        k = 1
        while k * 2 < n:
            k *= 2
        return H(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()

    def path(m, d):
        n = len(d)
        if n == 1:
            return []
        k = 1
        while k * 2 < n:
            k *= 2
        if m < k:
            return path(m, d[:k]) + [mth(d[k:])]
        return path(m - k, d[k:]) + [mth(d[:k])]

    def subproof(m, d, b):
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return subproof(m, d[:k], b) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    def proof(m, d):
        if m == 0 or m == len(d):
            return []
        return subproof(m, d, True)

    return mth, path, proof


def main():
    algorithm = sys.argv[1]
    req = json.load(sys.stdin)
    mth, path, proof = make(algorithm)
    leaves = [bytes.fromhex(x) for x in req["leaves"]]
    out = {
        "algorithm": algorithm,
        "roots": {str(n): mth(leaves[:n]).hex() for n in req.get("roots", [])},
        "inclusion": [
            {"index": m, "size": n, "hashes": [h.hex() for h in path(m, leaves[:n])]} for m, n in req.get("inclusion", [])
        ],
        "consistency": [
            {"first": m, "second": n, "hashes": [h.hex() for h in proof(m, leaves[:n])]}
            for m, n in req.get("consistency", [])
        ],
    }
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
