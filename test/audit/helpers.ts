/** Shared helpers for the audit tests: temp state dirs, the independent Python RFC 9162 reference. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MerkleAlgorithm } from '../../runtime/audit/merkle';

export function tempDir(prefix = 'glimmer-audit-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface ReferenceAnswer {
  algorithm: MerkleAlgorithm;
  roots: Record<string, string>;
  inclusion: { index: number; size: number; hashes: string[] }[];
  consistency: { first: number; second: number; hashes: string[] }[];
}

/** Asks test/audit/rfc9162_reference.py (Python hashlib; shares no code with ours) for roots and proofs. */
export function reference(
  algorithm: MerkleAlgorithm,
  leaves: readonly Uint8Array[],
  query: { roots?: number[]; inclusion?: [number, number][]; consistency?: [number, number][] },
): ReferenceAnswer {
  const input = JSON.stringify({ leaves: leaves.map((l) => Buffer.from(l).toString('hex')), ...query });
  const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'rfc9162_reference.py'), algorithm], { input, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.toString('utf8')) as ReferenceAnswer;
}

export function allPairs(max: number, strict: boolean): [number, number][] {
  const out: [number, number][] = [];
  for (let n = 1; n <= max; n++) for (let m = strict ? 0 : 0; strict ? m < n : m <= n; m++) out.push([m, n]);
  return out;
}
