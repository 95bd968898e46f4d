/**
 * One A2A agent process for the signed-card tests, with an SVID read from a JSON file (an IssuedSvid).
 *   serve <svid.json> <bundle.pem> <td> genuine            the agent's A2A server (createA2aServer, signing its own card)
 *   serve <svid.json> <bundle.pem> <td> tampered           its signed card with a skill added after signing
 *   serve <svid.json> <bundle.pem> <td> resigned <other>   its card, changed and signed with another agent's SVID
 *   serve <svid.json> <bundle.pem> <td> unsigned           its card without signatures
 *   call  <svid.json> <bundle.pem> <td> <url> <zone> <agent>
 * `serve` prints {"url"} and serves until killed (the last three modes over a plain mTLS server with the agent's own
 * SVID); `call` connects (expecting that agent), calls `echo` and prints {"text"} or {"code","message"}, and the
 * trust audit records it made, as one JSON line.
 */
import fs from 'node:fs';
import type { AgentCard } from '@a2a-js/sdk';
import { loadConfig } from '../../runtime/config/load';
import { GlimmerError } from '../../runtime/errors';
import { createA2aClient } from '../../runtime/trust/a2a/client';
import { signAgentCard } from '../../runtime/trust/a2a/card';
import { createA2aServer } from '../../runtime/trust/a2a/server';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { createMtlsHttpServer } from '../../runtime/trust/mtls';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { fixedIdentity } from '../../runtime/trust/rotation';
import type { IssuedSvid } from '../../runtime/trust/svid';

const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');

function readSvid(file: string): IssuedSvid {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as IssuedSvid & { notBefore: string; notAfter: string };
  return { ...raw, notBefore: new Date(raw.notBefore), notAfter: new Date(raw.notAfter) };
}

const ECHO = { id: 'echo', name: 'Echo', description: 'Repeats the text and names the caller' };

async function main(): Promise<void> {
  const [role, svidFile, bundleFile, td, ...rest] = process.argv.slice(2) as [string, string, string, string, ...string[]];
  const svid = readSvid(svidFile);
  const identity = fixedIdentity(svid, { bundlePem: fs.readFileSync(bundleFile, 'utf8'), trustDomain: td });
  const audit: TrustAuditRecord[] = [];
  if (role === 'call') {
    const [url, zone, agent] = rest as [string, string, string];
    const client = createA2aClient({ identity, audit: (r) => audit.push(r) });
    let out: Record<string, unknown>;
    try {
      const peer = await client.connect(url, { zone, agent });
      out = { text: (await peer.call('echo', 'hello')).text };
    } catch (err) {
      out = err instanceof GlimmerError ? { code: err.code, message: err.message } : { error: String(err) };
    }
    client.close();
    process.stdout.write(`${JSON.stringify({ ...out, audit })}\n`);
    return;
  }
  const [mode, otherFile] = rest as [string, string | undefined];
  if (mode === 'genuine') {
    const config = loadConfig();
    const pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: td }, audit: () => undefined });
    const server = createA2aServer({
      identity, pdp, audit: () => undefined, name: svid.spiffeId.split('/').pop() as string, description: 'Hybrid reasoning agent',
      skills: [{ ...ECHO, handle: async (call) => ({ text: `${call.text} from ${call.caller.spiffeId}` }) }],
    });
    await server.listen();
    process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
    return;
  }
  let base = '';
  const card = (): AgentCard => ({
    name: svid.spiffeId.split('/').pop() as string, description: 'Hybrid reasoning agent',
    supportedInterfaces: [{ url: `${base}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: sdk.A2A_PROTOCOL_VERSION }],
    provider: { organization: 'Glimmer', url: 'https://glimmer.local' }, version: '1.0.0',
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: { mtls: { scheme: { $case: 'mtlsSecurityScheme', value: { description: `X.509-SVID of trust domain ${td}` } } } },
    securityRequirements: [{ schemes: { mtls: { list: [] } } }],
    defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'],
    skills: [{ ...ECHO, tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  });
  const injected = { id: 'open-all-valves', name: 'Open all valves', description: 'added after signing', tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] };
  let body = '';
  const server = createMtlsHttpServer({ source: identity }, (req, res) => {
    res.writeHead(req.url === `/${sdk.AGENT_CARD_PATH}` ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === `/${sdk.AGENT_CARD_PATH}` ? body : '{}');
  });
  base = `https://127.0.0.1:${(await server.listen()).port}`;
  if (mode === 'tampered') {
    const json = await signAgentCard(sdk, card(), svid);
    (json.skills as unknown[]).push(sdk.AgentSkill.toJSON(injected));
    body = JSON.stringify(json);
  } else if (mode === 'resigned') {
    const changed = card();
    changed.skills.push(injected);
    body = JSON.stringify(await signAgentCard(sdk, changed, readSvid(otherFile as string)));
  } else {
    body = JSON.stringify(sdk.AgentCard.toJSON(card()));
  }
  process.stdout.write(`${JSON.stringify({ url: base })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
