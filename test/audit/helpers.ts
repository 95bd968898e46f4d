/**
 * Shared helpers for the audit tests: temp state dirs, a log signed by a key file, a logger whose lines the test
 * reads, and the independent Python RFC 9162 reference.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pino from 'pino';
import { type AuditLog, type AuditLogOptions, auditDbPath, openAuditLog } from '../../runtime/audit/log';
import type { MerkleAlgorithm } from '../../runtime/audit/merkle';
import { fileSigner } from '../../runtime/audit/signers';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';

export function tempDir(prefix = 'glimmer-audit-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fixed clock for leaf timestamps: 2026-12-01T08:00:00.000Z. */
export const T0 = Date.parse('2026-12-01T08:00:00.000Z');

/** An audit log in `dir` whose checkpoints a key file in `dir` signs. */
export function openTestLog(dir: string, options: Partial<AuditLogOptions> = {}): Promise<AuditLog> {
  return openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: 'glimmer.test/audit' }), ...options });
}

/** Matches a GlimmerError by code and exact message. */
export const refused = (code: ErrorCode, message: string) => (e: unknown) => isGlimmerError(e, code) && (e as Error).message === message;
export const refusedWith = (f: () => unknown, code: ErrorCode, message: string) => assert.throws(f, refused(code, message));

/** A real pino logger whose lines are kept, parsed, for the test to read; `onLine` sees each as it is logged. */
export function capturingLogger(onLine?: (line: Record<string, unknown>) => void): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const keep = (line: Record<string, unknown>) => {
    lines.push(line);
    onLine?.(line);
  };
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) keep(JSON.parse(l) as Record<string, unknown>); done(); } });
  return { logger: pino({ level: 'info' }, stream), lines };
}
export const logged = (lines: Record<string, unknown>[], msg: string) => lines.filter((l) => l.msg === msg);

/** Polls `check` every 10 ms for up to 5 s. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), `timed out waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds the store's write lock from another connection, as an operator's open transaction would. */
export function lockStore(dir: string): { release(): void } {
  const blocker = new Database(auditDbPath(dir));
  blocker.exec('BEGIN IMMEDIATE');
  return {
    release() {
      blocker.exec('ROLLBACK');
      blocker.close();
    },
  };
}

/** This process's file descriptors open on `file`. */
export function descriptorsOn(file: string): string[] {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  });
}

/** A connection to the store with the append-only triggers dropped, to tamper with it. */
export function unlocked(dir: string): Database.Database {
  const db = new Database(auditDbPath(dir));
  db.exec('DROP TRIGGER IF EXISTS entries_append_only_u; DROP TRIGGER IF EXISTS entries_append_only_d;');
  return db;
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
