/**
 * Live checks: what a running system (a state dir or an API), the installed release and the synthesized stacks show
 * today. A check answers pass or fail with a one-line detail, or `not-run` when its input was not given, so the
 * matrix never claims evidence it did not look at.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readAuditRecords } from '../audit/records';
import { verifyRemote, verifyStateDir } from '../audit/verify';
import { asGlimmerError, quote } from '../errors';
import { measuredBoot, parseManifest } from '../lifecycle/manifest';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, SIGNATURE_FILE, releaseFiles } from '../lifecycle/release';
import { loadReviewInput, type ResourceView } from '../review/resources';
import { at } from '../review/json';
import { runRules, type RuleId } from '../review/rules';

/** Five years, with a leap day: the Machinery Regulation's minimum keeping period for safety-software logs. */
export const FIVE_YEARS_DAYS = 1826;

export interface LiveInputs {
  /** Repository (release) root. */
  readonly root: string;
  readonly stateDir?: string;
  readonly url?: string;
  readonly token?: string;
  /** A `cdktf synth` output directory (holds stacks/<name>/cdk.tf.json). */
  readonly stacksDir?: string;
}

export type Outcome = 'pass' | 'fail' | 'not-run';
export interface CheckResult {
  readonly id: string;
  readonly outcome: Outcome;
  readonly detail: string;
}

type Needs = 'runtime' | 'state-dir' | 'stacks' | 'release';
interface LiveCheck {
  readonly id: string;
  readonly title: string;
  readonly needs: Needs;
  run(inputs: LiveInputs, cache: Cache): Promise<{ ok: boolean; detail: string }>;
}

interface Cache {
  findings?: StackFindings;
}

interface StackFindings {
  readonly stacks: string[];
  readonly byRule: Map<string, string[]>;
  readonly resources: ResourceView[];
}

function stackFiles(dir: string): string[] {
  const stacks = path.join(dir, 'stacks');
  if (!fs.existsSync(stacks)) return [];
  return fs.readdirSync(stacks).map((s) => path.join(stacks, s, 'cdk.tf.json')).filter((f) => fs.existsSync(f)).sort();
}

/** Reviews every synthesized stack once (plan-review's rules, with the five-year retention minimum). */
function reviewStacks(dir: string): StackFindings {
  const files = stackFiles(dir);
  const byRule = new Map<string, string[]>();
  const resources: ResourceView[] = [];
  for (const file of files) {
    const stack = path.basename(path.dirname(file));
    const input = loadReviewInput(file);
    resources.push(...input.resources);
    for (const f of runRules(input, { minRetentionDays: FIVE_YEARS_DAYS })) {
      if (f.severity !== 'blocking') continue;
      const list = byRule.get(f.ruleId) ?? [];
      list.push(`${stack}: ${f.address}`);
      byRule.set(f.ruleId, list);
    }
  }
  return { stacks: files.map((f) => path.basename(path.dirname(f))), byRule, resources };
}

/** What a check needs to find in the stacks at all, so an empty plan never passes for lack of findings. */
interface Required {
  readonly what: string;
  readonly match: (r: ResourceView) => boolean;
}

function stackRule(id: string, title: string, rules: readonly RuleId[], requires?: Required): LiveCheck {
  return {
    id,
    title,
    needs: 'stacks',
    async run(inputs, cache) {
      const review = (cache.findings ??= reviewStacks(inputs.stacksDir as string));
      if (review.stacks.length === 0) return { ok: false, detail: `no synthesized stack under ${quote(inputs.stacksDir)} (run make synth)` };
      if (requires && !review.resources.some(requires.match)) return { ok: false, detail: `no ${requires.what} in ${review.stacks.length} stacks` };
      const hits = rules.flatMap((r) => (review.byRule.get(r) ?? []).map((a) => `${r} ${a}`));
      return hits.length === 0
        ? { ok: true, detail: `${review.stacks.length} stacks reviewed, no ${rules.join('/')} finding` }
        : { ok: false, detail: `${hits.length} finding(s), first: ${hits[0]}` };
    },
  };
}

function auditRecords(inputs: LiveInputs): AsyncGenerator<Record<string, unknown>> {
  return readAuditRecords(inputs.stateDir ? { stateDir: inputs.stateDir } : { url: inputs.url as string, token: inputs.token ?? '' });
}

const CHECKS: readonly LiveCheck[] = [
  {
    id: 'audit-log-verifies',
    title: 'the audit log verifies: every checkpoint signature, recomputed root, proof and sealed segment',
    needs: 'runtime',
    async run(inputs) {
      const report = inputs.stateDir ? await verifyStateDir(inputs.stateDir) : await verifyRemote(inputs.url as string, inputs.token ?? '');
      return report.ok
        ? { ok: true, detail: `${report.size} entries, ${report.checkpoints} checkpoint(s), ${report.proofsChecked} proofs` }
        : { ok: false, detail: `${report.findings.length} finding(s), first: ${report.findings[0] ?? '?'}` };
    },
  },
  {
    id: 'agents-have-identities',
    title: 'no agent booted without a verified X.509-SVID (identity checked before measured boot)',
    needs: 'runtime',
    async run(inputs) {
      const identified = new Set<string>();
      const booted = new Set<string>();
      const unverified: string[] = [];
      for await (const r of auditRecords(inputs)) {
        const agent = typeof r.agent === 'string' ? r.agent : undefined;
        if (!agent) continue;
        if (r.type === 'agent.identity.valid') identified.add(agent);
        if (r.type === 'agent.boot.measured') {
          booted.add(agent);
          if (!identified.has(agent)) unverified.push(agent);
        }
      }
      if (booted.size === 0) return { ok: false, detail: 'no agent boot is recorded in the audit log' };
      return unverified.length === 0
        ? { ok: true, detail: `${booted.size} agent(s) booted, each after its identity was verified` }
        : { ok: false, detail: `booted without a verified identity: ${unverified.join(', ')}` };
    },
  },
  {
    id: 'state-dir-private',
    title: 'the state dir is 0700 and the admin token 0600',
    needs: 'state-dir',
    async run(inputs) {
      const dir = inputs.stateDir as string;
      const mode = (p: string) => fs.statSync(p).mode & 0o777;
      const token = path.join(dir, 'admin-token');
      if (!fs.existsSync(token)) return { ok: false, detail: 'no admin-token in the state dir' };
      const bad = [[dir, 0o700], [token, 0o600]].filter(([p, want]) => (mode(p as string) & ~(want as number)) !== 0);
      return bad.length === 0
        ? { ok: true, detail: 'state dir 0700, admin-token 0600' }
        : { ok: false, detail: bad.map(([p]) => `${path.basename(p as string)} is ${mode(p as string).toString(8)}`).join(', ') };
    },
  },
  {
    id: 'release-verifies',
    title: 'the installed release matches its signed manifest (measured boot)',
    needs: 'release',
    async run(inputs) {
      const manifestFile = path.join(inputs.root, MANIFEST_FILE);
      if (!fs.existsSync(manifestFile)) return { ok: false, detail: `no release manifest at ${MANIFEST_FILE} (run make build)` };
      try {
        const listed = parseManifest(fs.readFileSync(manifestFile), manifestFile).artifacts.map((a) => a.path);
        const m = measuredBoot({
          root: inputs.root,
          manifestFile,
          signatureFile: path.join(inputs.root, SIGNATURE_FILE),
          publicKeyPem: fs.readFileSync(path.join(inputs.root, PUBLIC_KEY_FILE), 'utf8'),
          artifacts: [...new Set([...listed, ...releaseFiles(inputs.root)])],
        });
        return { ok: true, detail: `${m.artifacts.length} artifacts match, measurement ${m.value.slice(0, 16)}…` };
      } catch (err) {
        const e = asGlimmerError(err);
        return { ok: false, detail: `${e.code}: ${e.message}` };
      }
    },
  },
  {
    id: 'policies-default-deny',
    title: 'the Cedar policies grant nothing unconditionally (default deny)',
    needs: 'release',
    async run(inputs) {
      const dir = path.join(inputs.root, 'rules', 'policies');
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cedar'));
      const open: string[] = [];
      for (const f of files) {
        const source = fs.readFileSync(path.join(dir, f), 'utf8').replace(/\/\/[^\n]*/g, '');
        if (/permit\s*\(\s*principal\s*,\s*action\s*,\s*resource\s*\)\s*;/.test(source)) open.push(f);
      }
      if (files.length === 0) return { ok: false, detail: 'no Cedar policy file' };
      return open.length === 0
        ? { ok: true, detail: `${files.length} policy files, no unconditional permit` }
        : { ok: false, detail: `unconditional permit in ${open.join(', ')}` };
    },
  },
  stackRule('stacks-default-deny', 'every namespace the stacks manage has a default-deny NetworkPolicy', ['GLM-NETPOL-001'], {
    what: 'NetworkPolicy',
    match: (r) => r.type === 'kubernetes_network_policy_v1' || (r.type === 'kubernetes_manifest' && at(r.values, 'manifest', 'kind') === 'NetworkPolicy'),
  }),
  stackRule('stacks-mesh-mtls-strict', 'Istio mTLS is STRICT mesh-wide and nowhere relaxed', ['GLM-MESH-001', 'GLM-MESH-002']),
  stackRule('stacks-encrypted-cmk', 'storage is encrypted at rest with customer-managed KMS keys', ['GLM-ENC-001', 'GLM-ENC-002']),
  stackRule('stacks-no-public-endpoint', 'no public endpoint serves a zone at SL 2 or above', ['GLM-NET-001']),
  stackRule('stacks-pod-hardening', 'no workload runs privileged or as root', ['GLM-POD-001']),
  stackRule('stacks-audit-retention-5y', 'sealed audit segments are kept under COMPLIANCE Object Lock for at least five years', ['GLM-S3-001', 'GLM-S3-002'], {
    what: 'Object Lock configuration',
    match: (r) => r.type === 'aws_s3_bucket_object_lock_configuration',
  }),
  stackRule('stacks-keys-protected', 'no plan destroys an HSM, a KMS key or the audit bucket', ['GLM-LIFE-001']),
];

export const LIVE_CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

export function liveCheckTitle(id: string): string | undefined {
  return CHECKS.find((c) => c.id === id)?.title;
}

function available(needs: Needs, inputs: LiveInputs): boolean {
  switch (needs) {
    case 'runtime': return Boolean(inputs.stateDir || inputs.url);
    case 'state-dir': return Boolean(inputs.stateDir);
    case 'stacks': return Boolean(inputs.stacksDir);
    case 'release': return true;
  }
}

/** Runs the named checks (each once). A check that throws is a failure naming its error, never a pass. */
export async function runChecks(ids: Iterable<string>, inputs: LiveInputs): Promise<Map<string, CheckResult>> {
  const cache: Cache = {};
  const results = new Map<string, CheckResult>();
  for (const id of new Set(ids)) {
    const check = CHECKS.find((c) => c.id === id);
    if (!check) {
      results.set(id, { id, outcome: 'fail', detail: `unknown live check ${quote(id)}` });
      continue;
    }
    if (!available(check.needs, inputs)) {
      results.set(id, { id, outcome: 'not-run', detail: `needs ${check.needs === 'runtime' ? '--state-dir or --url' : check.needs === 'state-dir' ? '--state-dir' : '--stacks'}` });
      continue;
    }
    try {
      const r = await check.run(inputs, cache);
      results.set(id, { id, outcome: r.ok ? 'pass' : 'fail', detail: r.detail });
    } catch (err) {
      const e = asGlimmerError(err);
      results.set(id, { id, outcome: 'fail', detail: `${e.code}: ${e.message}` });
    }
  }
  return results;
}
