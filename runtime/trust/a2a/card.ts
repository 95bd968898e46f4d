/**
 * Signed Agent Cards (A2A 1.0 section 8.4): the card's canonical form (the SDK's `canonicalizeAgentCard`: the card
 * normalized through its ProtoJSON codec, `signatures` removed, RFC 8785 JCS) signed as a detached JWS (RFC 7515,
 * flattened, `jose`) and carried in the card's `signatures`.
 *
 * Key: the agent's own X.509-SVID key, with the SVID in the protected header (`x5c`). The verifier then needs nothing
 * but the trust bundle it already has for mTLS: the signer is the workload the supervisor's CA certified, and the
 * card's signer can be compared with the SVID the server presented on the very connection the card came over. A
 * separate card-signing key would need its own certification and distribution for no extra assurance; the cost is a
 * re-signature when the SVID rotates (one ECDSA signature per rotation).
 *
 * The SDK signs and canonicalizes whatever object it is given, but its canonicalization parses that object as
 * ProtoJSON: the card object itself (oneofs as `$case`) would lose its security schemes from the signed bytes. So the
 * card is signed, served and verified in its ProtoJSON form (`AgentCard.toJSON`), and a peer verifies the JSON it
 * received, not the SDK's parse of it.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type { AgentCard } from '@a2a-js/sdk';
import { base64url, decodeProtectedHeader, flattenedVerify, type ProtectedHeaderParameters } from 'jose';
import { GlimmerError, quote, type ErrorCode } from '../../errors';
import type { AuditSink } from '../../model/messages';
import type { TrustAuditRecord } from '../audit';
import type { MtlsClient } from '../mtls';
import type { IdentitySource } from '../rotation';
import { validateSvid, type IssuedSvid, type SvidIdentity } from '../svid';

type Sdk = typeof import('@a2a-js/sdk');

/** The SVID keys are P-256 (runtime/trust/x509.ts). */
const ALGORITHM = 'ES256';
/** Signatures looked at on one card: a card padded with junk signatures costs at most this many verifications. */
export const MAX_CARD_SIGNATURES = 4;
/** Largest card accepted from a peer. */
export const MAX_CARD_BYTES = 256 * 1024;

/** The card as served: ProtoJSON (A2A 1.0's wire form) with its signatures. */
export type CardJson = Record<string, unknown> & { signatures?: unknown };

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64');
}

/** The card in ProtoJSON, signed with the SVID's key; the protected header names the SVID (`kid`) and carries it (`x5c`). */
export async function signAgentCard(sdk: Sdk, card: AgentCard, svid: IssuedSvid): Promise<CardJson> {
  const unsigned = sdk.AgentCard.toJSON({ ...card, signatures: [] }) as CardJson;
  const sign = sdk.generateAgentCardSignature(createPrivateKey(svid.keyPem), { alg: ALGORITHM, typ: 'JOSE', kid: svid.spiffeId, x5c: [pemToDer(svid.certPem).toString('base64')] });
  const signed = await sign(unsigned as unknown as AgentCard);
  return { ...unsigned, signatures: signed.signatures.map((s) => ({ protected: s.protected, signature: s.signature })) };
}

export interface CardCheck {
  /** The SVID the server presented on the connection that delivered the card. */
  readonly peer: SvidIdentity;
  readonly bundlePem: string;
  readonly trustDomain: string;
  readonly revokedSerials?: ReadonlySet<string>;
}

function refused(code: ErrorCode, message: string): GlimmerError {
  return new GlimmerError(code, message);
}

/**
 * Verifies a card received as JSON: one of its signatures (at most MAX_CARD_SIGNATURES looked at) must be an ES256
 * JWS over the card's canonical form by an SVID of the trust domain (x5c, validated against the bundle) whose SPIFFE
 * ID is the one the server presented over mTLS. Returns the signer; throws GLM_ERR_A2A_CARD_UNSIGNED,
 * GLM_ERR_A2A_CARD_SIGNATURE_INVALID (altered card, bad signature, or a signer certificate the bundle does not
 * certify) or GLM_ERR_A2A_CARD_SIGNER_MISMATCH (a valid signature by another identity).
 */
export async function verifyAgentCard(sdk: Sdk, json: unknown, check: CardCheck): Promise<SvidIdentity> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw refused('GLM_ERR_A2A_CARD_SIGNATURE_INVALID', 'the Agent Card is not a JSON object');
  const signatures = (json as CardJson).signatures;
  if (!Array.isArray(signatures) || signatures.length === 0) throw refused('GLM_ERR_A2A_CARD_UNSIGNED', `the Agent Card served by ${quote(check.peer.spiffeId)} carries no signature`);
  let payload: string;
  try {
    payload = base64url.encode(sdk.canonicalizeAgentCard(json as unknown as AgentCard));
  } catch {
    throw refused('GLM_ERR_A2A_CARD_SIGNATURE_INVALID', `the Agent Card served by ${quote(check.peer.spiffeId)} is not a valid A2A 1.0 card`);
  }
  const why: string[] = [];
  let otherSigner: string | undefined;
  for (const entry of signatures.slice(0, MAX_CARD_SIGNATURES) as unknown[]) {
    const s = entry as { protected?: unknown; signature?: unknown; header?: unknown };
    if (typeof s?.protected !== 'string' || typeof s.signature !== 'string') {
      why.push('a signature without protected header or value');
      continue;
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader({ protected: s.protected });
    } catch {
      why.push('an unreadable protected header');
      continue;
    }
    const chain = header.x5c;
    if (header.alg !== ALGORITHM || !Array.isArray(chain) || typeof chain[0] !== 'string') {
      why.push(`a signature with alg ${quote(header.alg)} or without x5c`);
      continue;
    }
    let signer: SvidIdentity;
    let key;
    try {
      const der = Buffer.from(chain[0], 'base64');
      signer = validateSvid(der, { bundlePem: check.bundlePem, trustDomain: check.trustDomain, revokedSerials: check.revokedSerials });
      key = createPublicKey(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'pem' }));
    } catch (err) {
      why.push(`a signer certificate refused (${err instanceof GlimmerError ? err.code : 'unreadable'})`);
      continue;
    }
    try {
      await flattenedVerify({ payload, protected: s.protected, signature: s.signature }, key, { algorithms: [ALGORITHM] });
    } catch {
      why.push(`a signature by ${quote(signer.spiffeId)} that does not verify over the card (altered after signing)`);
      continue;
    }
    if (signer.spiffeId === check.peer.spiffeId) return signer;
    otherSigner = signer.spiffeId;
  }
  if (otherSigner !== undefined) {
    throw refused('GLM_ERR_A2A_CARD_SIGNER_MISMATCH', `the Agent Card served by ${quote(check.peer.spiffeId)} is signed by ${quote(otherSigner)}, not by the SVID presented on the connection`);
  }
  throw refused('GLM_ERR_A2A_CARD_SIGNATURE_INVALID', `the Agent Card served by ${quote(check.peer.spiffeId)} has no valid signature: ${why.join('; ')}`);
}

/**
 * GETs `<baseUrl>/.well-known/agent-card.json` over the mTLS pool, reads the SVID the server presented on that
 * connection, verifies the card against it, and returns the SDK's parse of the verified JSON. A refusal is audited
 * (`a2a.card_refused`) and thrown.
 */
export async function fetchVerifiedCard(
  sdk: Sdk,
  mtls: MtlsClient,
  baseUrl: string,
  o: { identity: IdentitySource; audit: AuditSink<TrustAuditRecord>; revokedSerials?: ReadonlySet<string> },
): Promise<{ card: AgentCard; signer: SvidIdentity }> {
  const url = new URL(sdk.AGENT_CARD_PATH, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const { status, body, peerDer } = await new Promise<{ status: number; body: Buffer; peerDer: Buffer | undefined }>((resolve, reject) => {
    const req = https.request(url, { method: 'GET', headers: { [sdk.A2A_VERSION_HEADER]: sdk.A2A_PROTOCOL_VERSION, accept: 'application/json' }, agent: mtls.agent }, (res: http.IncomingMessage) => {
      const peerDer = (res.socket as tls.TLSSocket).getPeerCertificate?.()?.raw;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_CARD_BYTES) {
          res.destroy();
          reject(new GlimmerError('GLM_ERR_A2A_CARD_SIGNATURE_INVALID', `the Agent Card at ${url.origin} exceeds ${MAX_CARD_BYTES} bytes`));
        } else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), peerDer }));
      res.on('error', (err) => reject(mtls.classifyError(err)));
    });
    req.on('error', (err) => reject(mtls.classifyError(err)));
    req.end();
  });
  if (status === 403) throw new GlimmerError('GLM_ERR_POLICY_DENIED', `the peer at ${url.origin} refused to serve its Agent Card (HTTP 403)`);
  if (status !== 200) throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', `the peer at ${url.origin} answered HTTP ${status} for its Agent Card`);
  let peer: SvidIdentity | undefined;
  try {
    if (peerDer === undefined) throw new GlimmerError('GLM_ERR_A2A_CARD_SIGNER_MISMATCH', 'no server certificate on the connection');
    peer = validateSvid(peerDer, { bundlePem: o.identity.bundlePem, trustDomain: o.identity.trustDomain, revokedSerials: o.revokedSerials });
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new GlimmerError('GLM_ERR_A2A_CARD_SIGNATURE_INVALID', `the Agent Card at ${url.origin} is not JSON`);
    }
    const signer = await verifyAgentCard(sdk, json, { peer, bundlePem: o.identity.bundlePem, trustDomain: o.identity.trustDomain, revokedSerials: o.revokedSerials });
    return { card: sdk.AgentCard.fromJSON(json), signer };
  } catch (err) {
    const e = err instanceof GlimmerError ? err : new GlimmerError('GLM_ERR_A2A_CARD_SIGNATURE_INVALID', 'the Agent Card could not be verified');
    o.audit({ type: 'a2a.card_refused', at: new Date().toISOString(), code: e.code, reason: e.message.slice(0, 300), peer: peer?.spiffeId ?? null, url: url.href.slice(0, 300), subject: o.identity.current.spiffeId });
    throw e;
  }
}
