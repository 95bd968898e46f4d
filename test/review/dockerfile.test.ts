/**
 * deploy/Dockerfile properties, checked by parsing it (no Docker engine on this machine; CI builds the image):
 * multi-stage, digest-pinned bases through ARGs (and the guard that enforces it, run here with a real shell),
 * `npm ci --omit=dev` with ONNXRUNTIME_NODE_INSTALL=skip, esbuild bundle, and a distroless, non-root final stage
 * without RUN (no shell there), root-owned files and one state volume (read-only root filesystem friendly).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DOCKERFILE = path.join(ROOT, 'deploy', 'Dockerfile');

interface Instruction { readonly keyword: string; readonly args: string; readonly line: number }
interface Stage { readonly from: string; readonly name?: string; readonly instructions: Instruction[] }

/** Dockerfile syntax: comments, parser directives, `\` line continuations (joined without the newline, as Docker does). */
function parseDockerfile(text: string): { preamble: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (buf === '' && /^\s*#/.test(line)) return;
    if (buf === '' && line.trim() === '') return;
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(line)) { buf += line.replace(/\\\s*$/, ''); return; }
    buf += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    assert.ok(m, `line ${start}: not an instruction: ${buf}`);
    instructions.push({ keyword: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start });
    buf = '';
  });
  const preamble: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [from, as, name] = ins.args.split(/\s+/);
      stages.push({ from: from as string, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    } else if (stages.length === 0) preamble.push(ins);
    else stages[stages.length - 1]?.instructions.push(ins);
  }
  return { preamble, stages };
}

const parsed = parseDockerfile(fs.readFileSync(DOCKERFILE, 'utf8'));
const stage = (name: string) => {
  const s = parsed.stages.find((x) => x.name === name);
  assert.ok(s, `stage ${name} exists`);
  return s;
};
const final = () => parsed.stages[parsed.stages.length - 1] as Stage;

describe('deploy/Dockerfile', () => {
  test('GIVEN the Dockerfile WHEN parsed THEN it is multi-stage and every FROM is an ARG-selected base, scratch or an earlier stage', () => {
    assert.ok(parsed.stages.length >= 3);
    assert.deepEqual(parsed.preamble.filter((i) => i.keyword === 'ARG').map((i) => i.args).sort(), ['NODE_IMAGE', 'RUNTIME_IMAGE']);
    const names = new Set<string>();
    for (const s of parsed.stages) {
      assert.ok(['${NODE_IMAGE}', '${RUNTIME_IMAGE}', 'scratch'].includes(s.from) || names.has(s.from), `FROM ${s.from} must be pinned through an ARG`);
      if (s.name) names.add(s.name);
    }
    assert.equal(final().from, '${RUNTIME_IMAGE}');
    assert.equal(final().name, 'runtime');
  });

  test('GIVEN the digest guard of the build stage WHEN run by a real shell THEN pinned bases pass and tags without a digest are refused', () => {
    const guard = stage('build').instructions.find((i) => i.keyword === 'RUN' && i.args.includes('sha256'));
    assert.ok(guard, 'the build stage checks the digests');
    const sh = (nodeImage: string, runtimeImage: string) => spawnSync('/bin/sh', ['-c', guard.args], { env: { PATH: process.env.PATH, NODE_IMAGE: nodeImage, RUNTIME_IMAGE: runtimeImage }, encoding: 'utf8' });
    const d = `sha256:${'a1'.repeat(32)}`;
    assert.equal(sh(`docker.io/library/node:26.12.1-trixie@${d}`, `gcr.io/distroless/nodejs26-debian13:nonroot@${d}`).status, 0);
    const tag = sh('docker.io/library/node:26.12.1-trixie', `gcr.io/distroless/nodejs26-debian13@${d}`);
    assert.equal(tag.status, 1);
    assert.match(tag.stderr, /NODE_IMAGE must be pinned by digest/);
    assert.equal(sh(`node@${d}`, `distroless@sha256:${'a1'.repeat(31)}`).status, 1, 'a short digest is refused');
    assert.equal(sh(`node@${d}`, '').status, 1, 'an unset base is refused');
  });

  test('GIVEN the Node guard of the build stage WHEN run by a real shell THEN a base whose Node major differs from .nvmrc is refused', () => {
    const guard = stage('build').instructions.find((i) => i.keyword === 'RUN' && i.args.includes('.nvmrc'));
    assert.ok(guard, 'the build stage checks the Node release');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-nvmrc-'));
    try {
      const sh = (pinned: string) => {
        fs.writeFileSync(path.join(dir, '.nvmrc'), `${pinned}\n`);
        return spawnSync('/bin/sh', ['-c', guard.args], { cwd: dir, env: { PATH: process.env.PATH }, encoding: 'utf8' });
      };
      assert.equal(sh(process.versions.node).status, 0);
      const other = sh(`${Number(process.versions.node.split('.')[0]) - 6}.1.0`);
      assert.equal(other.status, 1);
      assert.match(other.stderr, /NODE_IMAGE runs Node \d+\.\d+\.\d+, \.nvmrc pins \d+\.1\.0/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('GIVEN the build and prod-deps stages WHEN read THEN the bundle is built with scripts/build.mjs and production deps come from npm ci --omit=dev with ONNXRUNTIME_NODE_INSTALL=skip', () => {
    const build = stage('build').instructions;
    assert.ok(build.some((i) => i.keyword === 'RUN' && i.args.includes('node scripts/build.mjs')));
    assert.ok(build.some((i) => i.keyword === 'RUN' && i.args.includes('scripts/release-manifest.ts')), 'the release manifest is built from the bundled artifacts');
    const deps = stage('prod-deps').instructions;
    assert.ok(deps.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev\b/.test(i.args)));
    for (const s of [build, deps]) assert.ok(s.some((i) => i.keyword === 'ENV' && /ONNXRUNTIME_NODE_INSTALL=skip/.test(i.args)));
  });

  test('GIVEN the final stage WHEN read THEN it has no RUN (no shell), runs as a numeric non-root user, and starts node directly in exec form', () => {
    const ins = final().instructions;
    assert.equal(ins.filter((i) => i.keyword === 'RUN').length, 0, 'distroless has no shell: no RUN in the final stage');
    assert.equal(ins.some((i) => i.keyword === 'ADD'), false);
    const users = ins.filter((i) => i.keyword === 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = (users[0] as Instruction).args.split(':').map(Number);
    assert.ok(Number.isInteger(uid) && (uid as number) > 0 && Number.isInteger(gid) && (gid as number) > 0, 'numeric non-root uid:gid');
    const idx = (k: string) => ins.findIndex((i) => i.keyword === k);
    assert.ok(idx('USER') > ins.map((i) => i.keyword).lastIndexOf('COPY'), 'USER comes after every COPY');
    const entry = JSON.parse((ins.find((i) => i.keyword === 'ENTRYPOINT') as Instruction).args) as string[];
    assert.deepEqual(entry, ['/nodejs/bin/node', '/app/dist/cli.js']);
    const cmd = JSON.parse((ins.find((i) => i.keyword === 'CMD') as Instruction).args) as string[];
    assert.equal(cmd[0], 'run');
  });

  test('GIVEN the final stage WHEN read THEN files are root-owned and the only writable path is the state volume the command uses', () => {
    const ins = final().instructions;
    for (const c of ins.filter((i) => i.keyword === 'COPY')) assert.match(c.args, /--chown=0:0/, `line ${c.line}: ${c.args}`);
    const volumes = ins.filter((i) => i.keyword === 'VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
    assert.deepEqual(volumes, ['/var/lib/glimmer']);
    const cmd = JSON.parse((ins.find((i) => i.keyword === 'CMD') as Instruction).args) as string[];
    assert.equal(cmd[cmd.indexOf('--state-dir') + 1], '/var/lib/glimmer');
  });

  test('GIVEN the build recipe WHEN read THEN the bases are node:<.nvmrc>-trixie (glibc like distroless debian13) and distroless nodejs<major>, resolved to digests', () => {
    const script = fs.readFileSync(path.join(ROOT, 'deploy', 'build-image.sh'), 'utf8');
    assert.match(script, /< \.nvmrc/);
    assert.match(script, /node:\$\{NODE_VERSION\}-trixie/);
    assert.match(script, /gcr\.io\/distroless\/nodejs\$\{NODE_VERSION%%\.\*\}-debian13:nonroot/);
    assert.match(script, /imagetools inspect/);
    assert.match(script, /--build-context release=release/);
    assert.equal(spawnSync('bash', ['-n', path.join(ROOT, 'deploy', 'build-image.sh')]).status, 0);
  });

  test('GIVEN the files the build stage needs WHEN looked up THEN they exist and the context filter keeps node_modules and secrets out', () => {
    for (const f of ['package.json', 'package-lock.json', 'scripts/build.mjs', 'scripts/release-manifest.ts', 'config/glimmer.yml', 'rules', 'runtime/api/console']) {
      assert.ok(fs.existsSync(path.join(ROOT, f)), f);
    }
    const ignore = fs.readFileSync(path.join(ROOT, 'deploy', 'Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const p of ['**/node_modules', '.git', '.glimmer', '.glimmer-release', '.tools', 'dist']) assert.ok(ignore.includes(p), p);
  });
});
