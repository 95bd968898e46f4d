/**
 * A `fetch` over the mTLS client: what the A2A SDK's transports and card resolver call. Responses stream (SSE works),
 * and certificate refusals surface as GLM_ERR_CERT_* GlimmerErrors, audited by the mTLS client.
 */
import https from 'node:https';
import { Readable } from 'node:stream';
import type { MtlsClient } from '../mtls';

export function mtlsFetch(client: MtlsClient): typeof fetch {
  return (input, init) => new Promise<Response>((resolve, reject) => {
    const url = typeof input === 'string' || input instanceof URL ? new URL(input) : new URL(input.url);
    if (url.protocol !== 'https:') {
      reject(new TypeError(`mTLS fetch only speaks https, got ${url.protocol}`));
      return;
    }
    const headers: Record<string, string> = {};
    new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).forEach((value, key) => {
      headers[key] = value;
    });
    const body = init?.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      reject(new TypeError('mTLS fetch sends string or byte bodies only'));
      return;
    }
    const req = https.request(url, { method: init?.method ?? 'GET', headers, agent: client.agent, signal: init?.signal ?? undefined }, (res) => {
      const responseHeaders = new Headers();
      for (const [key, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
        else if (value !== undefined) responseHeaders.set(key, value);
      }
      const status = res.statusCode ?? 0;
      const nullBody = status === 204 || status === 304 || init?.method === 'HEAD';
      if (nullBody) res.resume();
      resolve(new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage, headers: responseHeaders }));
    });
    req.on('error', (err) => reject(client.classifyError(err)));
    req.end(body ?? undefined);
  });
}
