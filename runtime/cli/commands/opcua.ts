/**
 * `glimmer opcua certs list|trust|reject|revoke|issuer|crl` and `glimmer opcua users list|add|remove`: the plant OPC UA
 * server's trust workflow and role accounts, through the API of a running runtime (so a revoke drops live sessions and
 * every change is audited with the caller's identity). Exit 0 on success, 1 when the API refuses, 2 on usage errors.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { GlimmerError, quote } from '../../errors';
import { callApi, printAnswer, type ApiAnswer } from '../api-client';
import type { Command } from '../command';

const USAGE = `Usage: glimmer opcua certs list|trust|reject|revoke [THUMBPRINT] --url URL (--token T | --token-file F) [--json]
       glimmer opcua certs add FILE | issuer FILE | crl FILE     --url URL (--token T | --token-file F)
       glimmer opcua certs own | renew APPLICATION               --url URL (--token T | --token-file F) [--json]
       glimmer opcua users list | add NAME --role viewer|operator|engineer [--zone Z] | remove NAME  --url URL ...

The plant OPC UA server's client certificates and accounts, through a running runtime's API.
  certs list       certificates the server has seen: thumbprint, status (trusted|rejected), subject, URI, expiry
  certs trust T    trust the certificate with SHA-1 thumbprint T (it leaves rejected/)
  certs reject T   refuse new secure channels with it (moved to rejected/)
  certs revoke T   refuse it from now on and drop its live sessions at once (one Glimmer's OPC UA issuer signed
                   goes on the issuer's CRL, status revoked)
  certs add F      trust a peer certificate (PEM or DER) before it ever connects
  certs own        Glimmer's own OPC UA application certificates: expiry and when they renew
  certs renew A    renew application A's certificate now, with a new key (plant-server or an industrial agent)
  certs issuer F   add an issuer (CA) certificate, PEM or DER
  certs crl F      add an issuer's CRL, PEM or DER: certificates it lists are refused (BadCertificateRevoked)
  users add NAME   provision a role account; prints its password once
Options:
  --url URL        base URL of the runtime's API (e.g. http://127.0.0.1:8080)
  --token T        bearer token (or --token-file FILE)
  --json           print the API's JSON answer
`;

function usage(message: string): never {
  throw new GlimmerError('GLM_ERR_USAGE', `${message}\n\n${USAGE}`);
}

function readToken(file: string): string {
  try { return fs.readFileSync(file, 'utf8').trim(); } catch { return usage(`cannot read --token-file ${quote(file)}`); }
}

function readArg(file: string | undefined, what: string): string {
  if (file === undefined) return usage(`${what} needs a FILE`);
  try {
    const data = fs.readFileSync(file);
    return data.includes('-----BEGIN') ? data.toString('utf8') : data.toString('base64');
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
        url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, role: { type: 'string' }, zone: { type: 'string' },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) { process.stdout.write(USAGE); return values.help ? 0 : 2; }
  const [group, action, arg] = positionals;
  if (values.url === undefined) usage('--url is required');
  const token = values.token ?? (values['token-file'] !== undefined ? readToken(values['token-file']) : undefined);
  if (!token) usage('--token or --token-file is required');
  const base = values.url as string;
  let r: ApiAnswer;
  if (group === 'certs') {
    if (action === 'list') r = await callApi(base, { token }, 'GET', '/v1/opcua/certs');
    else if (action === 'trust' || action === 'reject' || action === 'revoke') {
      if (!arg) usage(`certs ${action} needs a THUMBPRINT (see certs list)`);
      r = await callApi(base, { token }, 'POST', `/v1/opcua/certs/${action}`, { thumbprint: arg });
    } else if (action === 'issuer') r = await callApi(base, { token }, 'POST', '/v1/opcua/certs/issuers', { certificate: Buffer.from(readArg(arg, 'certs issuer'), readArg(arg, 'certs issuer').includes('-----BEGIN') ? 'utf8' : 'base64').toString('utf8') });
    else if (action === 'crl') r = await callApi(base, { token }, 'POST', '/v1/opcua/certs/crl', { crl: readArg(arg, 'certs crl') });
    else if (action === 'add') r = await callApi(base, { token }, 'POST', '/v1/opcua/certs', { certificate: readArg(arg, 'certs add') });
    else if (action === 'own') r = await callApi(base, { token }, 'GET', '/v1/opcua/certs/own');
    else if (action === 'renew') {
      if (!arg) usage('certs renew needs an APPLICATION (see certs own)');
      r = await callApi(base, { token }, 'POST', '/v1/opcua/certs/own/renew', { application: arg });
    }
    else return usage(`unknown certs action ${quote(action ?? '')}`);
  } else if (group === 'users') {
    if (action === 'list') r = await callApi(base, { token }, 'GET', '/v1/opcua/users');
    else if (action === 'add') {
      if (!arg || !values.role) usage('users add needs NAME and --role');
      r = await callApi(base, { token }, 'POST', '/v1/opcua/users', { name: arg, role: values.role, ...(values.zone ? { zone: values.zone } : {}) });
    } else if (action === 'remove') {
      if (!arg) usage('users remove needs NAME');
      r = await callApi(base, { token }, 'DELETE', `/v1/opcua/users?name=${encodeURIComponent(arg)}`);
    } else return usage(`unknown users action ${quote(action ?? '')}`);
  } else {
    return usage(`unknown opcua subcommand ${quote(group ?? '')}`);
  }
  return printAnswer('opcua', r, values.json, (json) => render(group, action ?? '', json));
};

function render(group: string, action: string, json: unknown): string {
  if (group === 'certs' && action === 'list') {
    const rows = json as { thumbprint: string; status: string; subject: string; application_uri: string; not_after: string }[];
    if (rows.length === 0) return 'no client certificates seen';
    return rows.map((c) => `${c.thumbprint}  ${c.status.padEnd(8)}  ${c.subject}  ${c.application_uri}  until ${c.not_after}`).join('\n');
  }
  if (group === 'certs' && (action === 'own' || action === 'renew')) {
    const rows = (Array.isArray(json) ? json : [json]) as { application: string; role: string; thumbprint: string; not_after: string; renews_at: string }[];
    return rows.map((c) => `${c.application.padEnd(14)}  ${c.role.padEnd(6)}  ${c.thumbprint}  until ${c.not_after}  renews ${c.renews_at}`).join('\n');
  }
  if (group === 'users' && action === 'list') {
    const rows = json as { name: string; role: string; zone: string }[];
    return rows.length === 0 ? 'no OPC UA accounts' : rows.map((u) => `${u.name}  ${u.role}  zone ${u.zone}`).join('\n');
  }
  if (group === 'users' && action === 'add') {
    const u = json as { name: string; role: string; password: string };
    return `OPC UA account ${u.name} (${u.role}) provisioned; password (shown once): ${u.password}`;
  }
  return JSON.stringify(json);
}

export default command;
