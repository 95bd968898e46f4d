/**
 * Facts as data, and their Prolog text. Fact arguments are atoms (JS strings) or numbers; nothing else reaches the
 * engine, so plant state can never inject code into a query: atoms are always quoted and escaped, numbers are finite.
 */
import { GlimmerError, quote } from '../errors';

export type Atomic = string | number;

export interface Fact {
  readonly pred: string;
  readonly args: readonly Atomic[];
}

export interface FactDelta {
  readonly op: 'add' | 'del';
  readonly fact: Fact;
}

const PRED = /^[a-z][a-zA-Z0-9_]{0,63}$/;

/** An always-quoted Prolog atom: 'text' with \\ and \' escaped and control characters as \xHH\. */
export function atomText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}\\`)}'`;
}

/** Integers as integers; other numbers as floats with a decimal point (readable by SWI-Prolog and tau-prolog alike). */
export function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new GlimmerError('GLM_ERR_RULES_FACTS_INVALID', `fact argument must be a finite number, received ${quote(n)}`);
  if (Number.isInteger(n)) {
    if (!Number.isSafeInteger(n)) throw new GlimmerError('GLM_ERR_RULES_FACTS_INVALID', `fact argument ${quote(n)} is outside the safe integer range`);
    return String(n);
  }
  if (Math.abs(n) >= 1e15 || Math.abs(n) < 1e-6) throw new GlimmerError('GLM_ERR_RULES_FACTS_INVALID', `fact argument ${quote(n)} is outside the float range facts use`);
  return n.toFixed(6);
}

export function argText(a: Atomic): string {
  return typeof a === 'number' ? numberText(a) : atomText(a);
}

export function factText(fact: Fact): string {
  if (!PRED.test(fact.pred)) throw new GlimmerError('GLM_ERR_RULES_FACTS_INVALID', `fact predicate must match ${PRED.source}, received ${quote(fact.pred)}`);
  return fact.args.length === 0 ? fact.pred : `${fact.pred}(${fact.args.map(argText).join(',')})`;
}

export function deltaText(d: FactDelta): string {
  return `${d.op}(${factText(d.fact)})`;
}

/** A cheap identity for a fact (type-tagged, so 1 and '1' differ); Prolog text is made for deltas only. */
function factKey(f: Fact): string {
  let key = f.pred;
  for (const a of f.args) key += typeof a === 'number' ? `\u0001${a}` : `\u0002${a}`;
  return key;
}

/**
 * Keeps the engine's facts equal to the latest full fact set by sending only the differences (assert/retract
 * deltas), never reconsulting.
 */
export class FactDiff {
  private current = new Map<string, Fact>();

  /** The deltas that turn the current fact set into `next`; the caller applies them, then the diff is committed. */
  deltas(next: readonly Fact[]): FactDelta[] {
    const wanted = new Map<string, Fact>();
    for (const f of next) wanted.set(factKey(f), f);
    const out: FactDelta[] = [];
    for (const [key, fact] of this.current) if (!wanted.has(key)) out.push({ op: 'del', fact });
    for (const [key, fact] of wanted) if (!this.current.has(key)) out.push({ op: 'add', fact });
    this.pending = wanted;
    return out;
  }

  commit(): void {
    if (this.pending) this.current = this.pending;
    this.pending = undefined;
  }

  reset(): void {
    this.current = new Map();
    this.pending = undefined;
  }

  get size(): number {
    return this.current.size;
  }

  private pending: Map<string, Fact> | undefined;
}

/** A term as the engines hand it back: atoms and numbers as such, compound terms as {name, args}. */
export type Term = Atomic | { readonly name: string; readonly args: readonly Term[] };

export function termToString(t: Term): string {
  if (typeof t === 'number') return String(t);
  if (typeof t === 'string') return /^[a-z][a-zA-Z0-9_]*$/.test(t) ? t : atomText(t);
  return `${t.name}(${t.args.map(termToString).join(',')})`;
}
