/**
 * make precommit: checker selection, vulnscan with the real npm client against a registry on loopback (this machine's
 * registry refuses the audit POST, so the advisories come from a local server speaking npm's bulk advisory API),
 * static-analysis with the real eslint + tsc on a small project, sbom-gen with the real cyclonedx-npm on this repo.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { isGlimmerError } from '../../runtime/errors';
import { parseCheckers, sbomGen, staticAnalysis, summarizeAudit, summaryTable, validateSbom, vulnscan } from '../../scripts/precommit';

const ROOT = path.resolve(__dirname, '..', '..');

describe('precommit checker selection', () => {
  test('GIVEN any subset in any separator WHEN parsed THEN the checkers come back in order without duplicates', () => {
    assert.deepEqual(parseCheckers('sbom-gen, vulnscan,sbom-gen'), ['sbom-gen', 'vulnscan']);
    assert.deepEqual(parseCheckers('vulnscan,static-analysis,sbom-gen'), ['vulnscan', 'static-analysis', 'sbom-gen']);
  });
  test('GIVEN an unknown or empty checker list WHEN parsed THEN GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER', () => {
    assert.throws(() => parseCheckers('vulnscan,lint'), (e: unknown) => isGlimmerError(e, 'GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER') && /"lint"/.test(e.message));
    assert.throws(() => parseCheckers(' , '), (e: unknown) => isGlimmerError(e, 'GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER'));
  });
  test('GIVEN an unknown checker WHEN the script runs THEN exit 2 before any checker runs', () => {
    const p = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/precommit.ts'), '--checkers', 'sbom-gen,secrets'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(p.status, 2);
    assert.match(p.stderr, /GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER: unknown checker "secrets"/);
    assert.doesNotMatch(p.stdout, /== precommit: sbom-gen/);
  });
  test('GIVEN results WHEN tabulated THEN the summary has one aligned row per checker', () => {
    const t = summaryTable([{ checker: 'vulnscan', status: 'PASS', details: 'ok', seconds: 1.25 }, { checker: 'sbom-gen', status: 'FAIL', details: 'bad', seconds: 10 }]);
    const lines = t.split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[2] ?? '', /^vulnscan +PASS +1\.3s +ok$/);
    assert.match(lines[3] ?? '', /^sbom-gen +FAIL +10\.0s +bad$/);
    assert.equal(lines[2]?.indexOf('ok'), lines[3]?.indexOf('bad'), 'details column aligned');
  });
});

describe('vulnscan against a registry on loopback', () => {
  let server: http.Server;
  let registry: string;
  let project: string;
  let severity = 'critical';
  let status = 200;
  const requests: string[] = [];
  before(async () => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-audit-'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' }, devDependencies: { 'is-number': '7.0.0' } }));
    fs.writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({
      name: 'p', version: '1.0.0', lockfileVersion: 3, requires: true,
      packages: {
        '': { name: 'p', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' }, devDependencies: { 'is-number': '7.0.0' } },
        'node_modules/left-pad': { version: '1.3.0', resolved: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz', license: 'WTFPL' },
        'node_modules/is-number': { version: '7.0.0', resolved: 'https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz', dev: true, license: 'MIT' },
      },
    }));
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
        if (req.method === 'POST' && req.url?.endsWith('/-/npm/v1/security/advisories/bulk')) {
          requests.push(body.toString());
          res.statusCode = status;
          if (status !== 200) { res.end(); return; }
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ 'left-pad': [{ id: 1001, url: 'https://example.invalid/advisory/1001', title: 'Test advisory', severity, vulnerable_versions: '<=1.3.0', cwe: ['CWE-1321'], cvss: { score: 9.8, vectorString: null } }] }));
          return;
        }
        res.statusCode = 404;
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server.close();
    fs.rmSync(project, { recursive: true, force: true });
  });
  let run = 0;
  // A fresh npm cache per run: npm caches advisory answers.
  const env = () => ({ npm_config_registry: registry, npm_config_audit: 'true', npm_config_cache: path.join(project, `.npm-${++run}`) });

  test('GIVEN a critical advisory on a production dependency WHEN vulnscan runs THEN FAIL naming the package, and dev dependencies were not sent', async () => {
    severity = 'critical'; status = 200;
    const r = await vulnscan({ cwd: project, env: env() });
    assert.equal(r.status, 'FAIL');
    assert.match(r.details, /1 critical, 0 high/);
    assert.match(r.details, /left-pad \(critical\)/);
    assert.ok(requests.length > 0 && requests.every((b) => !b.includes('is-number')), requests.join('\n'));
  });
  test('GIVEN only a moderate advisory WHEN vulnscan runs THEN PASS with the counts', async () => {
    severity = 'moderate'; status = 200;
    const r = await vulnscan({ cwd: project, env: env() });
    assert.equal(r.status, 'PASS');
    assert.match(r.details, /0 critical, 0 high, 1 moderate/);
  });
  test('GIVEN a registry that refuses the audit POST (405, as this machine\'s does) WHEN vulnscan runs THEN ERROR, never PASS', async () => {
    status = 405;
    const r = await vulnscan({ cwd: project, env: env() });
    assert.equal(r.status, 'ERROR');
    assert.match(r.details, /405 Method Not Allowed.*NOT checked/);
  });
  test('GIVEN output that is not JSON WHEN summarized THEN it is an error', () => {
    assert.match(summarizeAudit('npm ERR! network').error ?? '', /no JSON/);
  });
});

describe('static-analysis with the real eslint and tsc', () => {
  let project: string;
  before(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-lint-'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'), 'dir');
    fs.copyFileSync(path.join(ROOT, 'eslint.config.mjs'), path.join(project, 'eslint.config.mjs'));
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'preserve', moduleResolution: 'bundler', target: 'ES2022', lib: ['ES2022'], types: [], skipLibCheck: true }, include: ['runtime'] }));
    fs.mkdirSync(path.join(project, 'runtime'));
  });
  after(() => fs.rmSync(project, { recursive: true, force: true }));

  test('GIVEN clean code WHEN static-analysis runs THEN PASS with zero errors', async () => {
    fs.writeFileSync(path.join(project, 'runtime', 'a.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n');
    const r = await staticAnalysis({ cwd: project, echo: false });
    assert.equal(r.status, 'PASS', r.details);
    assert.match(r.details, /eslint: 0 errors.*tsc: 0 errors/);
  });
  test('GIVEN eval of an expression and a type error WHEN static-analysis runs THEN FAIL counting the security rule and the tsc error', async () => {
    fs.writeFileSync(path.join(project, 'runtime', 'a.ts'), 'export function run(code: string): unknown {\n  return eval(code);\n}\nexport const n: number = "x";\n');
    const r = await staticAnalysis({ cwd: project, echo: false });
    assert.equal(r.status, 'FAIL');
    assert.match(r.details, /eslint: [1-9]\d* errors, \d+ warnings \([1-9]\d* from security rules\); tsc: 1 errors/);
  });
});

describe('sbom-gen with the real cyclonedx-npm', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-sbom-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('GIVEN this repository WHEN sbom-gen runs THEN a schema-valid CycloneDX 1.6 JSON SBOM of the production dependencies is written', async () => {
    const out = path.join(tmp, 'sbom.json');
    const r = await sbomGen({ sbomFile: out });
    assert.equal(r.status, 'PASS', r.details);
    const bom = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.equal(bom.metadata.component.name, 'glimmer');
    const names = new Set((bom.components as { name: string }[]).map((c) => c.name));
    assert.ok(names.has('pino') && names.has('ajv'), 'production dependencies are listed');
    assert.equal(names.has('eslint'), false, 'dev dependencies are omitted');
    const broken = { ...bom, components: [{ type: 'not-a-type', name: 7 }] };
    const v = validateSbom(broken);
    assert.equal(v.ok, false);
    assert.ok(v.errors.some((e) => e.startsWith('/components/0')), v.errors.join('\n'));
  });
  test('GIVEN a document that is not CycloneDX WHEN validated THEN it is refused', () => {
    assert.equal(validateSbom({ spdxVersion: 'SPDX-2.3' }).ok, false);
  });
});
