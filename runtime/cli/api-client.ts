/**
 * The CLI's calls to a running runtime's API (`glimmer trust`, `glimmer opcua`): a bearer token over fetch, or an
 * operator X.509-SVID over https with the client certificate (TLS 1.3), and one way to print the answer.
 */
import https from 'node:https';

export interface ApiAuth {
  readonly token?: string;
  readonly tls?: { cert: string; key: string; ca: string };
}

export interface ApiAnswer {
  readonly ok: boolean;
  readonly status: number;
  /** The parsed JSON body, or the text when it is not JSON. */
  readonly json: unknown;
}

export function callApi(base: string, auth: ApiAuth, method: string, pathname: string, body?: unknown): Promise<ApiAnswer> {
  const url = new URL(pathname, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}) };
  const parse = (status: number, text: string): ApiAnswer => {
    let json: unknown = text;
    try { json = JSON.parse(text); } catch { /* keep the text */ }
    return { ok: status >= 200 && status < 300, status, json };
  };
  if (auth.tls === undefined) {
    return fetch(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}) }).then(async (res) => parse(res.status, await res.text()));
  }
  return new Promise((resolve, reject) => {
    // An SVID names no host (its URI SAN is the identity): the chain to --ca is what identifies the API here.
    const req = https.request(url, { method, headers, ...auth.tls, minVersion: 'TLSv1.3', rejectUnauthorized: true, checkServerIdentity: () => undefined }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(parse(res.statusCode ?? 0, text)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Prints an API answer and returns the exit code: a refusal's code and message on stderr (1), else the JSON answer
 * (`--json`) or its rendering on stdout (0).
 */
export function printAnswer(command: string, answer: ApiAnswer, asJson: boolean, render: (json: unknown) => string): number {
  if (!answer.ok) {
    const e = answer.json as { error?: { code?: string; message?: string } };
    process.stderr.write(`glimmer ${command}: ${e.error?.code ?? answer.status}: ${e.error?.message ?? JSON.stringify(answer.json)}\n`);
    return 1;
  }
  process.stdout.write(`${asJson ? JSON.stringify(answer.json, null, 2) : render(answer.json)}\n`);
  return 0;
}
