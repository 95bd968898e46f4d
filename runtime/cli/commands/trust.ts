/**
 * `glimmer trust revoke <spiffe-id|serial>` and `glimmer trust revocations`: SVID revocation through the API of the
 * runtime that is the revocation authority. The API audits the revocation with the caller's identity (the admin
 * token, or the operator SVID of an mTLS client: --cert/--key/--ca against the mTLS listener) and Cedar decides it.
 * Exit 0 on success, 1 when the API refuses, 2 on usage errors.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { GlimmerError, quote } from '../../errors';
import { callApi, printAnswer, type ApiAnswer, type ApiAuth } from '../api-client';
import type { Command } from '../command';

const USAGE = `Usage: glimmer trust revoke (SPIFFE_ID | SERIAL) [--reason TEXT] --url URL (--token T | --token-file F | --cert F --key F --ca F) [--json]
       glimmer trust revocations --url URL (--token T | --token-file F | --cert F --key F --ca F) [--json]

SVID revocation, through the API of the runtime that holds the revocation list (the embedded default, or the
cluster's revocation authority). Every enforcement point refuses the certificate or identity within seconds and closes
what it has open: the agents' A2A endpoints and clients, the mTLS API, the plant OPC UA server, the MCP door.
  revoke SPIFFE_ID   revoke an identity (spiffe://<trust-domain>/zone/<z>/agent/<a>): every SVID carrying it, now and
                     later (the CA issues it no new one)
  revoke SERIAL      revoke one certificate (hex serial, as in the audit log): its holder gets a fresh SVID
  revocations        the list in force: revoked serials and identities, and how old the signed feed is
Options:
  --reason TEXT      why (at most 200 characters), kept in the list and the audit log
  --url URL          base URL of the runtime's API (http://...:8080 with a token, https://...:8443 with --cert)
  --token T          bearer token (or --token-file FILE)
  --cert/--key/--ca  an operator X.509-SVID, its key and the trust bundle (PEM files), for the mTLS listener
  --json             print the API's JSON answer
`;

function usage(message: string): never {
  throw new GlimmerError('GLM_ERR_USAGE', `${message}\n\n${USAGE}`);
}

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return usage(`cannot read ${what} ${quote(file)}`);
  }
}

const command: Command = async (argv) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, reason: { type: 'string' },
        cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) { process.stdout.write(USAGE); return values.help ? 0 : 2; }
  const [action, target, ...rest] = positionals;
  if (rest.length > 0) usage(`unexpected arguments ${rest.map((r) => quote(r)).join(' ')}`);
  if (values.url === undefined) usage('--url is required');
  let auth: ApiAuth;
  if (values.cert !== undefined || values.key !== undefined || values.ca !== undefined) {
    if (values.cert === undefined || values.key === undefined || values.ca === undefined) usage('--cert, --key and --ca go together');
    auth = { tls: { cert: readFile(values.cert, '--cert'), key: readFile(values.key, '--key'), ca: readFile(values.ca, '--ca') } };
  } else {
    const token = values.token ?? (values['token-file'] !== undefined ? readFile(values['token-file'], '--token-file').trim() : undefined);
    if (!token) usage('--token, --token-file or --cert/--key/--ca is required');
    auth = { token };
  }
  let r: ApiAnswer;
  if (action === 'revoke') {
    if (!target) usage('revoke needs a SPIFFE ID or a certificate serial');
    r = await callApi(values.url, auth, 'POST', '/v1/trust/revoke', { target, ...(values.reason !== undefined ? { reason: values.reason } : {}) });
  } else if (action === 'revocations') {
    if (target !== undefined) usage('revocations takes no argument');
    r = await callApi(values.url, auth, 'GET', '/v1/trust/revocations?decoded=1');
  } else {
    return usage(`unknown trust action ${quote(action ?? '')}`);
  }
  return printAnswer('trust', r, values.json, (json) => render(action, json));
};

function render(action: string, json: unknown): string {
  if (action === 'revoke') {
    const x = json as { kind: string; serial: string | null; spiffe_id: string | null; revoked: boolean };
    const what = x.kind === 'spiffe_id' ? `identity ${x.spiffe_id}` : `certificate serial ${x.serial}${x.spiffe_id ? ` (${x.spiffe_id})` : ''}`;
    return x.revoked ? `revoked ${what}` : `${what} was already revoked`;
  }
  const x = json as { issued_at: string; authority: boolean; stale: boolean; entries: { serials: { serial: string; spiffe_id: string | null; reason: string; at: string }[]; spiffe_ids: { spiffe_id: string; reason: string; at: string }[] } };
  const lines = [`feed signed at ${x.issued_at}${x.authority ? ' (this runtime is the authority)' : ''}${x.stale ? ' STALE: peers are refused' : ''}`];
  for (const e of x.entries.spiffe_ids) lines.push(`identity ${e.spiffe_id}  since ${e.at}  ${e.reason}`);
  for (const e of x.entries.serials) lines.push(`serial ${e.serial}${e.spiffe_id ? ` ${e.spiffe_id}` : ''}  since ${e.at}  ${e.reason}`);
  if (lines.length === 1) lines.push('nothing revoked');
  return lines.join('\n');
}

export default command;
