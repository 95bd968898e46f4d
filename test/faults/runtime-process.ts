/** Process-tree helpers for the fault tests: a `glimmer run` with info logs, its agent processes, its audit records. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditDbPath } from '../../runtime/audit/log';
import { spawnGlimmerRun, type SpawnedGlimmer } from '../helpers/run';

export function startGlimmer(): SpawnedGlimmer & { readonly stateDir: string } {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-fault-run-'));
  return { ...spawnGlimmerRun(stateDir, { logLevel: 'info' }), stateDir };
}

/** Direct children of a process (its agent processes), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch { /* task gone */ }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    // A zombie has exited: only its exit status waits for a parent.
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The record types of the audit log, in order (read after the runtime exited). */
export function auditTypes(stateDir: string): string[] {
  const db = new Database(auditDbPath(stateDir), { readonly: true });
  try {
    return (db.prepare('SELECT leaf FROM entries ORDER BY idx').pluck().all() as Buffer[]).map((l) => (JSON.parse(l.toString('utf8')) as { record: { type: string } }).record.type);
  } finally {
    db.close();
  }
}
