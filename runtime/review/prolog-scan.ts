/**
 * A small, bounded scanner of Prolog source: splits clauses (outside quotes, comments and brackets) and reports each
 * clause's head predicate (name/arity), the quoted atoms it mentions and the predicates its body calls by name. It is
 * not a Prolog parser: it serves the threat model's inventory of interlock predicates and codes, and the engine
 * (runtime/reasoning) remains the authority on what the rules do.
 */
export interface ScannedClause {
  readonly file: string;
  readonly line: number;
  /** `name/arity` of the head; `:-/1` for directives. */
  readonly predicate: string;
  readonly head: string;
  readonly body: string;
  /** Quoted atoms ('IL-01-...') anywhere in the clause. */
  readonly atoms: readonly string[];
}

const MAX_CLAUSES = 20_000;

/** Splits source into clause texts with their starting line, skipping comments. */
function clauses(src: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let cur = '';
  let depth = 0;
  let line = 1;
  let start = 1;
  for (let i = 0; i < src.length && out.length < MAX_CLAUSES; i++) {
    const c = src[i] as string;
    if (c === '\n') line++;
    if (cur.trim() === '') start = line;
    if (c === '%') { while (i < src.length && src[i] !== '\n') i++; if (src[i] === '\n') { line++; cur += '\n'; } continue; }
    if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); const end = e < 0 ? src.length : e + 2; for (let k = i; k < end; k++) if (src[k] === '\n') line++; i = end - 1; cur += ' '; continue; }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && !(src[j] === c && src[j + 1] !== c)) { if (src[j] === '\\' || (src[j] === c && src[j + 1] === c)) j++; if (src[j] === '\n') line++; j++; }
      cur += src.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === '0' && src[i + 1] === "'" && /[^\w]/.test(src[i - 1] ?? ' ')) { cur += src.slice(i, i + 3); i += 2; continue; }
    if (c === '(' || c === '[' || c === '{') depth++;
    if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    if (c === '.' && depth === 0 && (i + 1 === src.length || /^[\s%]$/.test(src[i + 1] as string)) && !/[#$&*+\-./:<=>?@^~\\]/.test(src[i - 1] ?? '')) {
      if (cur.trim() !== '') out.push({ text: cur.trim(), line: start });
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== '' && out.length < MAX_CLAUSES) out.push({ text: cur.trim(), line: start });
  return out;
}

/** Index of the top-level `:-` (neck) of a clause, or -1. */
function neck(text: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text[i] as string;
    if (quote) { if (c === quote) quote = undefined; continue; }
    if (c === "'" || c === '"') { quote = c; continue; }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && c === ':' && text[i + 1] === '-') return i;
  }
  return -1;
}

function arity(args: string): number {
  let depth = 0;
  let n = 1;
  let quote: string | undefined;
  for (const c of args) {
    if (quote) { if (c === quote) quote = undefined; continue; }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) n++;
  }
  return n;
}

export function scanProlog(src: string, file: string): ScannedClause[] {
  return clauses(src).map(({ text, line }) => {
    const n = neck(text);
    const head = (n < 0 ? text : text.slice(0, n)).trim();
    const body = n < 0 ? '' : text.slice(n + 2).trim();
    const atoms = [...text.matchAll(/'((?:[^'\\]|\\.|'')*)'/g)].map((m) => m[1] as string);
    let predicate = ':-/1';
    if (head !== '') {
      const m = /^([a-z][A-Za-z0-9_]*|'(?:[^'\\]|\\.)*')\s*(\()?/.exec(head);
      if (m) {
        const name = (m[1] as string).replace(/^'|'$/g, '');
        predicate = m[2] ? `${name}/${arity(head.slice(m[0].length, head.lastIndexOf(')')))}` : `${name}/0`;
      } else predicate = `?/${0}`;
    }
    return { file, line, predicate, head, body, atoms };
  });
}

/** Defined predicates (name/arity) of the scanned clauses, directives excluded. */
export function definedPredicates(cls: readonly ScannedClause[]): Set<string> {
  return new Set(cls.filter((c) => c.predicate !== ':-/1').map((c) => c.predicate));
}
