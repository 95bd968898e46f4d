/**
 * A `fetch` over the mTLS client: what the A2A SDK's transports and card resolver call. Certificate refusals surface
 * as GLM_ERR_CERT_* GlimmerErrors, audited by the mTLS client.
 *
 * Event streams (SSE) stream as a web ReadableStream. Every other response is read whole (at most
 * MAX_BUFFERED_BYTES) and handed over as a BufferedResponse: the members of Response the SDK reads (status, ok,
 * headers, text, json, body...) over the bytes already received. Building an undici Response with a web stream per
 * call cost about 80 µs of CPU, most of this fetch's share of an A2A call.
 */
import type http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { MtlsClient } from '../mtls';

/** Largest non-streaming response body accepted. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  return headers;
}

/** A fetch Response whose body has already been received in full. */
export class BufferedResponse {
  readonly type = 'basic';
  readonly redirected = false;
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly url: string;
  #bytes: Buffer;
  #used = false;
  #stream: ReadableStream<Uint8Array> | undefined;

  constructor(bytes: Buffer, init: { status: number; statusText: string; headers: Headers; url: string }) {
    this.#bytes = bytes;
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers;
    this.url = init.url;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  get body(): ReadableStream<Uint8Array> {
    if (this.#stream === undefined) {
      const bytes = this.#take();
      this.#stream = new ReadableStream<Uint8Array>({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(new Uint8Array(bytes));
          controller.close();
        },
      });
    }
    return this.#stream;
  }

  #take(): Buffer {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes;
  }

  async text(): Promise<string> {
    return this.#take().toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(this.#take());
  }

  async blob(): Promise<Blob> {
    return new Blob([new Uint8Array(this.#take())], { type: this.headers.get('content-type') ?? '' });
  }

  async formData(): Promise<never> {
    throw new TypeError('formData() is not supported on A2A responses');
  }

  clone(): BufferedResponse {
    if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(Buffer.from(this.#bytes), this);
  }
}

export function mtlsFetch(client: MtlsClient): typeof fetch {
  return (input, init) => new Promise<Response>((resolve, reject) => {
    const url = typeof input === 'string' || input instanceof URL ? new URL(input) : new URL(input.url);
    if (url.protocol !== 'https:') {
      reject(new TypeError(`mTLS fetch only speaks https, got ${url.protocol}`));
      return;
    }
    const given = init?.headers ?? (input instanceof Request ? input.headers : undefined);
    let headers: Record<string, string> = {};
    if (given !== undefined && Object.getPrototypeOf(given) === Object.prototype && Object.values(given).every((v) => typeof v === 'string')) {
      headers = given as Record<string, string>;
    } else {
      new Headers(given).forEach((value, key) => {
        headers[key] = value;
      });
    }
    const body = init?.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      reject(new TypeError('mTLS fetch sends string or byte bodies only'));
      return;
    }
    const req = https.request(url, { method: init?.method ?? 'GET', headers, agent: client.agent, signal: init?.signal ?? undefined }, (res) => {
      const status = res.statusCode ?? 0;
      const meta = { status, statusText: res.statusMessage ?? '', headers: toHeaders(res.headers), url: url.href };
      if (status === 204 || status === 304 || init?.method === 'HEAD') {
        res.resume();
        resolve(new Response(null, meta));
      } else if (/^text\/event-stream/i.test(res.headers['content-type'] ?? '')) {
        resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, meta));
      } else {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BUFFERED_BYTES) {
            res.destroy();
            reject(new RangeError(`the response from ${url.origin} exceeds ${MAX_BUFFERED_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(new BufferedResponse(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks), meta) as unknown as Response));
        res.on('error', (err) => reject(client.classifyError(err)));
        res.on('close', () => {
          if (!res.complete) reject(new Error(`the response from ${url.origin} was cut short`));
        });
      }
    });
    req.on('error', (err) => reject(client.classifyError(err)));
    req.end(body ?? undefined);
  });
}
