/**
 * Signed Agent Cards (runtime/trust/a2a/card.ts) between two agent processes over real mTLS: the serving agent is one
 * child process (its own A2A server signing its card with its SVID, or a server presenting that SVID but serving a
 * card altered after signing, re-signed by another agent, or unsigned), the calling agent another; each refusal has
 * its own code and is audited by the caller. In-process: the verifier on fuzzed cards, a signer from another CA, the
 * SDK's canonical form against the RFC 8785 reference implementation, and the card signed again on SVID rotation.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import canonicalize from 'canonicalize';
import type { AgentCard } from '@a2a-js/sdk';
import { loadConfig } from '../../runtime/config/load';
import { GlimmerError } from '../../runtime/errors';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { signAgentCard, verifyAgentCard, type CardJson } from '../../runtime/trust/a2a/card';
import { issueSvid, validateSvid, type IssuedSvid } from '../../runtime/trust/svid';
import { createA2aClient } from '../../runtime/trust/a2a/client';
import { createA2aServer } from '../../runtime/trust/a2a/server';
import { createMtlsClient } from '../../runtime/trust/mtls';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { fixedIdentity, SvidSource } from '../../runtime/trust/rotation';
import { normalizeSerial } from '../../runtime/trust/x509';
import { decodeProtectedHeader } from 'jose';
import { X509Certificate } from 'node:crypto';
import { waitFor } from '../helpers/wait';

const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');
const HELPER = path.join(__dirname, '..', 'helpers', 'a2a-card-peer.ts');

let dir: string;
let td: string;
let ca: Ca;
const files: Record<string, string> = {};
const svids: Record<string, IssuedSvid> = {};
const children: ChildProcess[] = [];

before(async () => {
  td = loadConfig().topology.trust_domain;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-a2a-card-'));
  ca = await ensureCa(path.join(dir, 'ca'), td);
  fs.writeFileSync(path.join(dir, 'bundle.pem'), ca.bundlePem);
  for (const [zone, agent] of [['operations', 'cognitive-1'], ['dmz', 'data-1'], ['control', 'industrial-1']] as const) {
    svids[agent] = await issueSvid(ca, { zone, agent });
    files[agent] = path.join(dir, `${agent}.json`);
    fs.writeFileSync(files[agent], JSON.stringify(svids[agent]));
  }
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

function helper(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', HELPER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

/** Starts the serving agent process and returns its URL. */
async function serve(mode: string, ...extra: string[]): Promise<string> {
  const child = helper(['serve', files['cognitive-1'] as string, path.join(dir, 'bundle.pem'), td, mode, ...extra]);
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the serving agent exited with ${code}`)));
  });
  return (JSON.parse(line) as { url: string }).url;
}

interface CallOutcome {
  readonly text?: string;
  readonly code?: string;
  readonly message?: string;
  readonly audit: { type: string; code?: string; peer?: string | null; subject?: string; reason?: string }[];
}

/** Runs the calling agent (data-1) against `url`, expecting cognitive-1 there. */
async function callFromDataAgent(url: string): Promise<CallOutcome> {
  const child = helper(['call', files['data-1'] as string, path.join(dir, 'bundle.pem'), td, url, 'operations', 'cognitive-1']);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, out);
  return JSON.parse(out) as CallOutcome;
}

const cognitive = () => `spiffe://${td}/zone/operations/agent/cognitive-1`;

test('GIVEN cognitive-1 serving its card signed with its SVID WHEN data-1 (another process) connects over mTLS and calls THEN the card verifies and the call completes, nothing refused', async () => {
  const r = await callFromDataAgent(await serve('genuine'));
  assert.equal(r.text, `hello from spiffe://${td}/zone/dmz/agent/data-1`, JSON.stringify(r));
  assert.equal(r.audit.filter((a) => a.type === 'a2a.card_refused').length, 0);
});

test('GIVEN a card changed after signing (a skill added) behind cognitive-1\'s SVID WHEN data-1 connects THEN GLM_ERR_A2A_CARD_SIGNATURE_INVALID, no call is made, and the refusal is audited with the peer', async () => {
  const r = await callFromDataAgent(await serve('tampered'));
  assert.equal(r.code, 'GLM_ERR_A2A_CARD_SIGNATURE_INVALID', JSON.stringify(r));
  assert.match(r.message ?? '', /does not verify over the card \(altered after signing\)/);
  assert.equal(r.text, undefined);
  const refusal = r.audit.find((a) => a.type === 'a2a.card_refused');
  assert.deepEqual({ code: refusal?.code, peer: refusal?.peer, subject: refusal?.subject }, { code: 'GLM_ERR_A2A_CARD_SIGNATURE_INVALID', peer: cognitive(), subject: `spiffe://${td}/zone/dmz/agent/data-1` });
});

test('GIVEN cognitive-1\'s card changed and re-signed with industrial-1\'s valid SVID, served over cognitive-1\'s mTLS WHEN data-1 connects THEN GLM_ERR_A2A_CARD_SIGNER_MISMATCH naming both identities, audited', async () => {
  const r = await callFromDataAgent(await serve('resigned', files['industrial-1'] as string));
  assert.equal(r.code, 'GLM_ERR_A2A_CARD_SIGNER_MISMATCH', JSON.stringify(r));
  assert.ok(r.message?.includes(`spiffe://${td}/zone/control/agent/industrial-1`) && r.message.includes(cognitive()), r.message);
  const refusal = r.audit.find((a) => a.type === 'a2a.card_refused');
  assert.equal(refusal?.code, 'GLM_ERR_A2A_CARD_SIGNER_MISMATCH');
  assert.equal(refusal?.peer, cognitive());
});

test('GIVEN an unsigned card behind cognitive-1\'s SVID WHEN data-1 connects THEN GLM_ERR_A2A_CARD_UNSIGNED, audited', async () => {
  const r = await callFromDataAgent(await serve('unsigned'));
  assert.equal(r.code, 'GLM_ERR_A2A_CARD_UNSIGNED', JSON.stringify(r));
  assert.equal(r.audit.find((a) => a.type === 'a2a.card_refused')?.code, 'GLM_ERR_A2A_CARD_UNSIGNED');
});

function card(): AgentCard {
  return {
    name: 'cognitive-1', description: 'd',
    supportedInterfaces: [{ url: 'https://127.0.0.1:1/a2a/jsonrpc', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: sdk.A2A_PROTOCOL_VERSION }],
    provider: undefined, version: '1.0.0', capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: { mtls: { scheme: { $case: 'mtlsSecurityScheme', value: { description: 'X.509-SVID' } } } },
    securityRequirements: [], defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'],
    skills: [{ id: 'echo', name: 'Echo', description: 'e', tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  };
}

const check = () => ({ peer: validateSvid(svids['cognitive-1']?.certPem as string, { bundlePem: ca.bundlePem, trustDomain: td }), bundlePem: ca.bundlePem, trustDomain: td });

test('GIVEN a signed card WHEN its security scheme is changed THEN the signature no longer verifies (the scheme is in the signed bytes)', async () => {
  const json = await signAgentCard(sdk, card(), svids['cognitive-1'] as IssuedSvid);
  assert.equal((await verifyAgentCard(sdk, json, check())).spiffeId, cognitive());
  const changed = structuredClone(json) as CardJson & { securitySchemes: Record<string, unknown> };
  changed.securitySchemes = { mtls: { mtlsSecurityScheme: { description: 'anyone' } } };
  await assert.rejects(verifyAgentCard(sdk, changed, check()), (e) => e instanceof GlimmerError && e.code === 'GLM_ERR_A2A_CARD_SIGNATURE_INVALID');
});

test('GIVEN a card signed by an SVID of another CA with the same SPIFFE ID WHEN verified THEN GLM_ERR_A2A_CARD_SIGNATURE_INVALID naming the unknown CA', async () => {
  const rogue = await ensureCa(path.join(dir, 'rogue-ca'), td);
  const json = await signAgentCard(sdk, card(), await issueSvid(rogue, { zone: 'operations', agent: 'cognitive-1' }));
  await assert.rejects(verifyAgentCard(sdk, json, check()), (e) => e instanceof GlimmerError && e.code === 'GLM_ERR_A2A_CARD_SIGNATURE_INVALID' && /GLM_ERR_CERT_UNKNOWN_CA/.test(e.message));
});

test('GIVEN random JSON and random changes to a signed card (fuzz) WHEN verified THEN a typed refusal (one of the three card codes) or, for an unchanged card, the signer; never another error', async () => {
  const signed = await signAgentCard(sdk, card(), svids['cognitive-1'] as IssuedSvid);
  const codes = ['GLM_ERR_A2A_CARD_UNSIGNED', 'GLM_ERR_A2A_CARD_SIGNATURE_INVALID', 'GLM_ERR_A2A_CARD_SIGNER_MISMATCH'];
  const keys = Object.keys(signed);
  const mutated = fc.tuple(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => ({ ...structuredClone(signed), [k]: v }));
  const sigs = fc.array(fc.record({ protected: fc.oneof(fc.string(), fc.constant(signed.signatures && (signed.signatures as { protected: string }[])[0]?.protected)), signature: fc.string(), header: fc.jsonValue({ maxDepth: 1 }) }), { maxLength: 6 })
    .map((signatures) => ({ ...structuredClone(signed), signatures }));
  await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 4 }), mutated, sigs), async (input) => {
    try {
      const signer = await verifyAgentCard(sdk, input, check());
      assert.equal(signer.spiffeId, cognitive());
      assert.equal(sdk.canonicalizeAgentCard(input as unknown as AgentCard), sdk.canonicalizeAgentCard(signed as unknown as AgentCard));
    } catch (err) {
      assert.ok(err instanceof GlimmerError && codes.includes(err.code), String(err));
    }
  }), { numRuns: 300 });
});

test('GIVEN cards with random text, tags and extension parameters (numbers, nesting, non-ASCII) WHEN the SDK canonicalizes them for signing THEN the bytes are RFC 8785 JCS (the reference implementation leaves them unchanged)', () => {
  const text = fc.string({ unit: 'grapheme', maxLength: 12 });
  const params = fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
  fc.assert(fc.property(text, fc.array(text, { maxLength: 4 }), params, (name, tags, p) => {
    const c = card();
    c.name = name;
    (c.skills[0] as { tags: string[] }).tags = tags;
    c.capabilities = { ...c.capabilities, extensions: [{ uri: 'urn:x', description: name, required: false, params: p }] } as AgentCard['capabilities'];
    const bytes = sdk.canonicalizeAgentCard(sdk.AgentCard.toJSON(c) as unknown as AgentCard);
    assert.equal(canonicalize(JSON.parse(bytes)), bytes);
  }), { numRuns: 500 });
});

test('GIVEN an agent serving its signed card WHEN its SVID rotates THEN the card is signed again by the new SVID (its x5c) and a peer still verifies it and calls', async () => {
  const trust = { bundlePem: ca.bundlePem, trustDomain: td };
  const source = await SvidSource.start({ issue: () => issueSvid(ca, { zone: 'operations', agent: 'cognitive-1' }), ...trust });
  const pdp = await PolicyDecisionPoint.create({ model: { ...loadConfig(), trustDomain: td }, audit: () => undefined });
  const server = createA2aServer({ identity: source, pdp, audit: () => undefined, name: 'cognitive-1', description: 'd', skills: [{ id: 'echo', name: 'Echo', description: 'e', handle: async () => ({ text: 'ok' }) }] });
  await server.listen();
  const data = fixedIdentity(svids['data-1'] as IssuedSvid, trust);
  const mtls = createMtlsClient({ source: data });
  const client = createA2aClient({ identity: data, audit: () => undefined });
  const signerSerial = async (): Promise<string> => {
    const json = JSON.parse((await mtls.request(`${server.url}/${sdk.AGENT_CARD_PATH}`)).body.toString('utf8')) as { signatures: { protected: string }[] };
    const x5c = decodeProtectedHeader({ protected: (json.signatures[0] as { protected: string }).protected }).x5c as string[];
    return normalizeSerial(new X509Certificate(Buffer.from(x5c[0] as string, 'base64')).serialNumber);
  };
  try {
    const first = source.current.serial;
    assert.equal(await signerSerial(), first);
    await source.rotate();
    assert.notEqual(source.current.serial, first);
    await waitFor('the card signed by the new SVID', async () => (await signerSerial()) === source.current.serial, 5000);
    const peer = await client.connect(server.url, { agent: 'cognitive-1' });
    assert.equal((await peer.call('echo', 'x')).text, 'ok');
  } finally {
    client.close();
    mtls.close();
    await server.close();
    source.stop();
  }
});
