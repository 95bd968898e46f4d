/**
 * An OAuth authorization server's signing side, run here for the MCP tests and benchmark: ES256 keys made with jose,
 * the JWKS served over loopback HTTP, access tokens signed as an issuer would sign them, and key rotation.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export interface TokenClaims {
  readonly sub: string;
  readonly scope?: string;
  readonly aud?: string | string[];
  readonly iss?: string;
  readonly client_id?: string;
  /** Seconds from now (negative: already expired). @default 300 */
  readonly expiresIn?: number;
}

export class TestIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  #keys: Key[];
  #generation = 1;
  readonly #server: http.Server;

  private constructor(server: http.Server, port: number, key: Key) {
    this.#server = server;
    this.issuer = `http://127.0.0.1:${port}`;
    this.jwksUri = `http://127.0.0.1:${port}/jwks.json`;
    this.#keys = [key];
  }

  static async start(): Promise<TestIssuer> {
    const box: { self?: TestIssuer } = {};
    const server = http.createServer((req, res) => {
      if (req.url !== '/jwks.json' || !box.self) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: box.self.#keys.map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    box.self = new TestIssuer(server, (server.address() as AddressInfo).port, await makeKey('k1'));
    return box.self;
  }

  /** The current signing key's id. */
  get kid(): string {
    return (this.#keys[this.#keys.length - 1] as Key).kid;
  }

  /** Replaces the signing key: the JWKS then holds only the new one, so tokens signed with the old key stop verifying. */
  async rotate(): Promise<void> {
    this.#generation += 1;
    this.#keys = [await makeKey(`k${this.#generation}`)];
  }

  async token(claims: TokenClaims, audience: string): Promise<string> {
    const key = this.#keys[this.#keys.length - 1] as Key;
    return signWith(key, { ...claims, iss: claims.iss ?? this.issuer, aud: claims.aud ?? audience });
  }

  /** A token signed by a key this issuer never published, under the current kid (a forger's). */
  async forged(claims: TokenClaims, audience: string): Promise<string> {
    const forger = await makeKey(this.kid);
    return signWith(forger, { ...claims, iss: claims.iss ?? this.issuer, aud: claims.aud ?? audience });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

async function makeKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

function signWith(key: Key, c: TokenClaims & { iss: string; aud: string | string[] }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { client_id: c.client_id ?? `client-${c.sub}` };
  if (c.scope !== undefined) payload.scope = c.scope;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
    .setIssuer(c.iss).setAudience(c.aud).setSubject(c.sub)
    .setIssuedAt(now).setExpirationTime(now + (c.expiresIn ?? 300))
    .sign(key.privateKey);
}

/** A JWT with `alg: none` (no signature): must never be accepted. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}
