/**
 * `glimmer plan-review` as a library: read a plan or cdk.tf.json, run the rules, build a report that the formatters
 * (text, JSON, SARIF 2.1.0, JUnit XML) render. Exit code 1 when any finding is blocking.
 */
import { parseUntrustedJson, readBounded } from './json';
import { toReviewInput, type ReviewInput } from './resources';
import { runRules, type Finding, type RuleOptions } from './rules';
import pkg from '../../package.json';

export const TOOL_NAME = 'glimmer plan-review';
export const TOOL_VERSION: string = pkg.version;

export interface ReviewedFinding extends Finding {
  /** 1-based line of the resource in the input file, when it can be located. */
  readonly line?: number;
}

export interface PlanReviewReport {
  readonly tool: { readonly name: string; readonly version: string };
  readonly input: { readonly file: string; readonly kind: ReviewInput['kind']; readonly formatVersion?: string; readonly terraformVersion?: string };
  readonly resourcesReviewed: number;
  readonly findings: readonly ReviewedFinding[];
  readonly summary: { readonly blocking: number; readonly warning: number };
  /** 0 clean (warnings allowed), 1 at least one blocking finding. */
  readonly exitCode: 0 | 1;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** Plan content is untrusted: no terminal escapes or line breaks reach a report, and lengths stay bounded. */
function clean(s: string, max = 2000): string {
  const t = s.replace(CONTROL, '?');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function lineOf(text: string, needles: string[]): number | undefined {
  let from = 0;
  for (const n of needles) {
    const i = text.indexOf(n, from);
    if (i < 0) return undefined;
    from = i;
  }
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < from; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function locate(text: string | undefined, input: ReviewInput, f: Finding): number | undefined {
  if (text === undefined) return undefined;
  const r = input.resources.find((x) => x.address === f.address && x.pointer === f.pointer);
  if (r === undefined) return undefined;
  if (input.kind === 'terraform-plan') {
    const a = JSON.stringify(r.address);
    return lineOf(text, [`"address":${a}`]) ?? lineOf(text, [`"address": ${a}`]);
  }
  return lineOf(text, [`${JSON.stringify(r.type)}:`, `${JSON.stringify(r.name)}:`]);
}

/** Reviews an already-normalised input; `text` (the file's content) only serves to locate lines. */
export function reviewInput(input: ReviewInput, options: RuleOptions = {}, text?: string): PlanReviewReport {
  const findings = runRules(input, options).map((f): ReviewedFinding => {
    const line = locate(text, input, f);
    return {
      ...f, address: clean(f.address, 512), message: clean(f.message), fix: clean(f.fix),
      ...(f.constructPath === undefined ? {} : { constructPath: clean(f.constructPath, 512) }),
      ...(line === undefined ? {} : { line }),
    };
  });
  const blocking = findings.filter((f) => f.severity === 'blocking').length;
  return {
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    input: {
      file: input.source, kind: input.kind,
      ...(input.formatVersion === undefined ? {} : { formatVersion: input.formatVersion }),
      ...(input.terraformVersion === undefined ? {} : { terraformVersion: clean(input.terraformVersion, 64) }),
    },
    resourcesReviewed: input.resources.length,
    findings,
    summary: { blocking, warning: findings.length - blocking },
    exitCode: blocking > 0 ? 1 : 0,
  };
}

/** Reviews plan or configuration text. Throws only GlimmerError (GLM_ERR_REVIEW_*) on bad input. */
export function reviewText(content: string | Buffer, source: string, options: RuleOptions = {}): PlanReviewReport {
  const doc = parseUntrustedJson(content, source);
  const text = typeof content === 'string' ? content : content.toString('utf8');
  return reviewInput(toReviewInput(doc, source), options, text);
}

/** Reviews a file (size-bounded read). */
export function reviewFile(file: string, options: RuleOptions = {}): PlanReviewReport {
  return reviewText(readBounded(file), clean(file, 512), options);
}
