/**
 * TLS 1.3-only mutual TLS between workloads, with SPIFFE checks on both ends.
 *
 * Server: OpenSSL requests the client certificate (`requestCert`) and checks it against the bundle, but Node's
 * server-side `rejectUnauthorized` destroys a refused socket silently (the server only sees "socket hang up"), which
 * would leave no audit record and no reason. So the server sets `rejectUnauthorized: false` at the TLS layer and makes
 * the decision itself, before any application byte is read: every handshake goes through `validateSvid` (chain,
 * dates, revocation, key usage, SAN, trust domain, expected peer); a refusal is audited with its GLM_ERR_CERT_* code
 * and the socket is destroyed. Only verified sockets reach the application (`onConnection` / the HTTP server).
 * Client: `rejectUnauthorized: true` plus `checkServerIdentity` running the same SPIFFE checks on the server's SVID.
 *
 * Rotation: servers swap their certificate with `setSecureContext` (live connections keep going); clients build a
 * fresh connection pool with the new certificate and let the old pool idle out.
 * Revocation: every handshake checks the revoked serials and SPIFFE IDs; a new entry closes the live connections of
 * that certificate or identity at once, on servers (client certificates) and in client pools (server certificates, and
 * this end's own revoked certificate). A follower's list that turns stale refuses every handshake
 * (GLM_ERR_REVOCATION_FEED_STALE) and closes what is open: the list may be missing a revocation.
 * Key exchange: the groups of the post-quantum TLS mode (pq-tls.ts; X25519MLKEM768 first by default); each verified
 * handshake reports its group through `onHandshake`.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { GlimmerError, asGlimmerError, isGlimmerError, type ErrorCode } from '../errors';
import type { AuditSink } from '../model/messages';
import type { TrustAuditRecord } from './audit';
import type { RevocationList, RevocationTarget } from './revocation';
import type { IdentitySource } from './rotation';
import { readSvidExtensions } from './der';
import { validateSvid, type SvidIdentity, type ValidateSvidOptions } from './svid';
import { normalizeSerial } from './x509';
import { currentTlsPqMode, negotiatedGroup, tlsGroupOptions, type TlsPqMode } from './pq-tls';

export interface MtlsOptions {
  readonly source: IdentitySource;
  readonly revocation?: RevocationList;
  readonly audit?: AuditSink<TrustAuditRecord>;
  /** Called on each refusal with its code and side (e.g. to count it in metrics). */
  readonly onRefusal?: (code: ErrorCode, side: 'server' | 'client') => void;
  /** Post-quantum key-exchange mode of this link. @default - the process's mode (currentTlsPqMode) */
  readonly pqMode?: TlsPqMode;
  /** Called after each handshake that passed the SPIFFE checks, with the negotiated group (e.g. to label a metric). */
  readonly onHandshake?: (side: 'server' | 'client', group: string, mode: TlsPqMode, peer: string | null) => void;
}

export interface MtlsServerOptions extends MtlsOptions {
  /** Restricts which peers may connect; each given field must match (GLM_ERR_CERT_IDENTITY_MISMATCH otherwise). */
  readonly expectPeer?: ValidateSvidOptions['expect'];
}

export interface MtlsClientOptions extends MtlsOptions {
  /** The server identity this client expects; each given field must match. */
  readonly expectServer?: ValidateSvidOptions['expect'];
}

const peers = new WeakMap<tls.TLSSocket, SvidIdentity>();

/** The verified SPIFFE identity of a socket (or an HTTP request's socket) accepted by an mTLS server. */
export function peerIdentity(socketOrRequest: tls.TLSSocket | http.IncomingMessage): SvidIdentity | undefined {
  const socket = 'socket' in socketOrRequest && !(socketOrRequest instanceof tls.TLSSocket) ? socketOrRequest.socket : socketOrRequest;
  return peers.get(socket as tls.TLSSocket);
}

function secureContextOptions(options: MtlsOptions): tls.SecureContextOptions {
  const { certPem, keyPem } = options.source.current;
  return { cert: certPem, key: keyPem, ca: options.source.bundlePem, ...tlsGroupOptions(options.pqMode ?? currentTlsPqMode()) };
}

function refusal(options: MtlsOptions, side: 'server' | 'client', err: GlimmerError, peerDer: Uint8Array | undefined): void {
  let peer: string | null = null;
  let serial: string | null = typeof err.details.serial === 'string' ? err.details.serial : null;
  if (peerDer !== undefined) {
    try {
      serial ??= normalizeSerial(new X509Certificate(peerDer).serialNumber);
      const { uris } = readSvidExtensions(peerDer);
      if (uris.length === 1) peer = (uris[0] as string).slice(0, 300);
    } catch { /* unreadable: keep what we have */ }
  }
  options.onRefusal?.(err.code, side);
  options.audit?.({
    type: 'trust.tls_refused', at: new Date().toISOString(), side, code: err.code, reason: err.message.slice(0, 300),
    peer, serial, subject: options.source.current.spiffeId,
  });
}

function validatePeer(options: MtlsOptions, der: Uint8Array, requiredEku: 'clientAuth' | 'serverAuth', expect: ValidateSvidOptions['expect']): SvidIdentity {
  options.revocation?.assertFresh();
  return validateSvid(der, {
    bundlePem: options.source.bundlePem,
    trustDomain: options.source.trustDomain,
    revokedSerials: options.revocation?.serials,
    revokedSpiffeIds: options.revocation?.spiffeIds,
    requiredEku,
    expect,
  });
}

/** Whether a revocation names this identity (its serial, or its whole SPIFFE ID). */
function hits(target: RevocationTarget, id: { readonly serial: string; readonly spiffeId: string } | undefined): boolean {
  if (id === undefined) return false;
  return target.kind === 'serial' ? id.serial === target.serial : id.spiffeId === target.spiffeId;
}

/** Closes the sockets a revocation (or a stale feed) concerns; returns how many. */
function closeWhere<T extends tls.TLSSocket>(sockets: Iterable<T>, which: (socket: T) => boolean): number {
  let closed = 0;
  for (const socket of [...sockets]) {
    if (socket.destroyed || !which(socket)) continue;
    socket.destroy();
    closed += 1;
  }
  return closed;
}

export interface MtlsServer {
  readonly server: tls.Server;
  /** Verified live connections. */
  readonly connections: ReadonlySet<tls.TLSSocket>;
  listen(port?: number, host?: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

/**
 * A TLS 1.3 server that hands only SPIFFE-verified sockets to `onConnection`. Refusals are audited and counted.
 */
export function createMtlsServer(options: MtlsServerOptions, onConnection: (socket: tls.TLSSocket, peer: SvidIdentity) => void): MtlsServer {
  const connections = new Set<tls.TLSSocket>();
  // noDelay: responses go out as several small writes; with Nagle on, delayed ACKs add tens of milliseconds.
  const server = tls.createServer({ ...secureContextOptions(options), requestCert: true, rejectUnauthorized: false, noDelay: true });
  const mode = options.pqMode ?? currentTlsPqMode();
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const cert = socket.getPeerCertificate(false);
    let peer: SvidIdentity;
    try {
      if (cert === null || cert.raw === undefined) {
        throw new GlimmerError('GLM_ERR_API_UNAUTHENTICATED', 'the client presented no certificate');
      }
      peer = validatePeer(options, cert.raw, 'clientAuth', options.expectPeer);
    } catch (err) {
      refusal(options, 'server', asGlimmerError(err), cert?.raw);
      socket.destroy();
      return;
    }
    peers.set(socket, peer);
    connections.add(socket);
    options.onHandshake?.('server', negotiatedGroup(socket, mode), mode, peer.spiffeId);
    // Backstop: a connection never outlives its client's certificate.
    const expiry = setTimeout(() => socket.destroy(), Math.min(Math.max(0, peer.notAfter.getTime() - Date.now()), 2 ** 31 - 1));
    expiry.unref();
    socket.once('close', () => {
      clearTimeout(expiry);
      connections.delete(socket);
    });
    onConnection(socket, peer);
  });
  // Handshake failures before a certificate is seen (wrong TLS version, no shared cipher) are not SVID refusals.
  server.on('tlsClientError', () => undefined);
  const offRotate = options.source.onRotate(() => server.setSecureContext(secureContextOptions(options)));
  const offRevoke = options.revocation?.onRevoke((target) => closeWhere(connections, (socket) => hits(target, peers.get(socket))));
  const offStale = options.revocation?.onStale(() => void closeWhere(connections, () => true));
  return {
    server,
    connections,
    listen: (port = 0, host = '127.0.0.1') => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    }),
    close: () => new Promise((resolve) => {
      offRotate();
      offRevoke?.();
      offStale?.();
      for (const socket of connections) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * An HTTP/1.1 server behind `createMtlsServer`: the HTTP layer only ever sees verified sockets, and handlers read
 * the caller with `peerIdentity(req)`.
 */
export function createMtlsHttpServer(options: MtlsServerOptions, listener: http.RequestListener): MtlsServer & { readonly http: http.Server } {
  const httpServer = http.createServer({ keepAliveTimeout: 5000 }, listener);
  const mtls = createMtlsServer(options, (socket) => httpServer.emit('connection', socket));
  return {
    ...mtls,
    http: httpServer,
    close: async () => {
      httpServer.closeAllConnections();
      await mtls.close();
    },
  };
}

/** Maps the errors Node's TLS client raises when OpenSSL refuses the server's chain to our codes. */
const OPENSSL_CODES: Readonly<Record<string, ErrorCode>> = {
  CERT_HAS_EXPIRED: 'GLM_ERR_CERT_EXPIRED',
  CERT_NOT_YET_VALID: 'GLM_ERR_CERT_NOT_YET_VALID',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'GLM_ERR_CERT_UNKNOWN_CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'GLM_ERR_CERT_UNKNOWN_CA',
  UNABLE_TO_GET_ISSUER_CERT: 'GLM_ERR_CERT_UNKNOWN_CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'GLM_ERR_CERT_UNKNOWN_CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'GLM_ERR_CERT_UNKNOWN_CA',
  CERT_SIGNATURE_FAILURE: 'GLM_ERR_CERT_UNKNOWN_CA',
  INVALID_PURPOSE: 'GLM_ERR_CERT_KEY_USAGE',
  UNSUPPORTED_CERTIFICATE_PURPOSE: 'GLM_ERR_CERT_KEY_USAGE',
  ERR_TLS_CERT_ALTNAME_INVALID: 'GLM_ERR_CERT_SAN_INVALID',
};

/** Turns a client-side TLS error into a GlimmerError with a GLM_ERR_CERT_* code (others: unchanged). */
export function classifyTlsError(err: unknown): GlimmerError | undefined {
  if (isGlimmerError(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const mapped = typeof code === 'string' ? OPENSSL_CODES[code] : undefined;
  return mapped === undefined ? undefined : new GlimmerError(mapped, `the server certificate was refused by TLS: ${code as string}`, { cause: err });
}

export interface MtlsClient {
  /** The connection pool with the current SVID (replaced on rotation; old pools drain). */
  readonly agent: https.Agent;
  /** Options for `tls.connect` / `https.request` with the current SVID and the SPIFFE server check. */
  connectOptions(): https.RequestOptions & tls.ConnectionOptions;
  /**
   * Sends one request over mTLS; resolves with status, headers and the whole body. A body over `maxBodyBytes` rejects
   * with a RangeError (the response is dropped unread).
   */
  request(url: string | URL, init?: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; maxBodyBytes?: number }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>;
  /** Maps a request error to a GLM_ERR_CERT_* GlimmerError when it is a certificate refusal, auditing it once. */
  classifyError(err: unknown): unknown;
  close(): void;
}

/**
 * The client's connection pool. https.Agent names a pool by concatenating about twenty TLS options on every request
 * (2 KB of garbage per call); every request of this pool uses the pool's one secure context and sets no TLS option of
 * its own, so host, port and server name identify a connection.
 */
class MtlsAgent extends https.Agent {
  constructor(agentOptions: https.AgentOptions, private readonly onSecure?: (socket: tls.TLSSocket) => void) {
    super(agentOptions);
  }

  // Each new pooled connection reports its handshake once (keep-alive reuses it without another handshake).
  override createConnection(...args: Parameters<https.Agent['createConnection']>): ReturnType<https.Agent['createConnection']> {
    const socket = super.createConnection(...args);
    const onSecure = this.onSecure;
    if (onSecure !== undefined && socket instanceof tls.TLSSocket) socket.once('secureConnect', () => onSecure(socket));
    return socket;
  }

  override getName(options: https.RequestOptions & { servername?: string } = {}): string {
    return `${options.host ?? 'localhost'}:${options.port ?? ''}:${options.servername ?? ''}:${options.localAddress ?? ''}:${options.family ?? ''}`;
  }
}

export function createMtlsClient(options: MtlsClientOptions): MtlsClient {
  const checkServerIdentity = (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    try {
      validatePeer(options, cert.raw, 'serverAuth', options.expectServer);
      return undefined;
    } catch (err) {
      return asGlimmerError(err);
    }
  };
  const connectOptions = (): https.RequestOptions & tls.ConnectionOptions => ({
    ...secureContextOptions(options),
    rejectUnauthorized: true,
    checkServerIdentity,
  });
  // The pool holds one secure context (SVID, key, bundle, TLS 1.3 only) instead of the PEM options, which each new
  // connection would parse again (pool naming: MtlsAgent).
  // noDelay is a net.connect option the agent passes through; @types/node's AgentOptions no longer lists it.
  const mode = options.pqMode ?? currentTlsPqMode();
  // Verified connections of every pool with the server's identity, so a revocation (of the server's certificate, or of
  // this end's own) closes them at once instead of when they idle out.
  const live = new Map<tls.TLSSocket, { serial: string; spiffeId: string }>();
  const onSecure = (socket: tls.TLSSocket): void => {
    // secureConnect also fires before checkServerIdentity's verdict is applied: only authorized sockets count.
    if (!socket.authorized) return;
    let peer: string | null = null;
    let serial = '';
    try {
      const raw = socket.getPeerCertificate(false).raw;
      const { uris } = readSvidExtensions(raw);
      if (uris.length === 1) peer = (uris[0] as string).slice(0, 300);
      serial = normalizeSerial(new X509Certificate(raw).serialNumber);
    } catch { /* checked by checkServerIdentity already; the callback only reports */ }
    live.set(socket, { serial, spiffeId: peer ?? '' });
    socket.once('close', () => live.delete(socket));
    options.onHandshake?.('client', negotiatedGroup(socket, mode), mode, peer);
  };
  const newAgent = () => new MtlsAgent({
    secureContext: tls.createSecureContext(secureContextOptions(options)),
    rejectUnauthorized: true,
    checkServerIdentity,
    keepAlive: true,
    maxCachedSessions: 0,
    ...{ noDelay: true },
  }, onSecure);
  let agent = newAgent();
  const retired = new Set<https.Agent>();
  const offRotate = options.source.onRotate(() => {
    const old = agent;
    agent = newAgent();
    retired.add(old);
    // In-flight requests on the old pool finish; its idle sockets close now, busy ones when they become idle.
    old.on('free', (socket) => socket.destroy());
    for (const list of Object.values(old.freeSockets)) for (const s of list ?? []) s.destroy();
  });
  const offRevoke = options.revocation?.onRevoke((target) => {
    const own = { serial: options.source.current.serial, spiffeId: options.source.current.spiffeId };
    return closeWhere(live.keys(), (socket) => hits(target, own) || hits(target, live.get(socket)));
  });
  const offStale = options.revocation?.onStale(() => void closeWhere(live.keys(), () => true));
  const audited = new WeakSet<object>();
  const onError = (err: unknown): unknown => {
    const classified = classifyTlsError(err);
    if (classified !== undefined && !audited.has(err as object)) {
      audited.add(err as object);
      refusal(options, 'client', classified, undefined);
      return classified;
    }
    return err;
  };
  return {
    get agent() {
      return agent;
    },
    connectOptions,
    classifyError: onError,
    request: (url, init = {}) => new Promise((resolve, reject) => {
      const limit = init.maxBodyBytes ?? Infinity;
      const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            res.destroy();
            reject(new RangeError(`the response from ${new URL(url).origin} exceeds ${limit} bytes`));
          } else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks) }));
        res.on('error', (err) => reject(onError(err)));
      });
      req.on('error', (err) => reject(onError(err)));
      req.end(init.body);
    }),
    close: () => {
      offRotate();
      offRevoke?.();
      offStale?.();
      agent.destroy();
      for (const old of retired) old.destroy();
    },
  };
}
