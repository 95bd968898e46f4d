/**
 * TPM 2.0 quotes verified without a TPM: the wire structures of TPM 2.0 Part 2 (TPMS_ATTEST with TPMS_QUOTE_INFO,
 * TPMT_SIGNATURE for ECDSA) parsed defensively, the quote's signature checked against the attestation key, and the
 * PCR digest and PolicyPCR digest computed as the TPM computes them. Used by the supervisor before it issues an SVID
 * and by `glimmer attest` for an auditor, so both check the same thing.
 */
import crypto from 'node:crypto';
import { GlimmerError, quote as q } from '../../errors';

/** TCG PC Client "application support" PCR: resettable, so each agent is measured from a known zero start. */
export const ATTESTATION_PCR = 23;
const TPM_GENERATED_VALUE = 0xff544347;
const TPM_ST_ATTEST_QUOTE = 0x8018;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_ECDSA = 0x0018;
const TPM_CC_POLICY_PCR = 0x0000017f;

export interface QuoteEvidence {
  /** TPMS_ATTEST bytes as the TPM signed them. */
  readonly message: Buffer;
  /** TPMT_SIGNATURE bytes. */
  readonly signature: Buffer;
  /** The verifier's fresh nonce. */
  readonly nonce: Buffer;
  /** Attestation key, SPKI PEM (ECDSA P-256). */
  readonly akPublicPem: string;
}

export interface ParsedQuote {
  readonly qualifiedSigner: Buffer;
  readonly extraData: Buffer;
  readonly resetCount: number;
  readonly pcrs: readonly number[];
  readonly pcrDigest: Buffer;
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer, private readonly what: string) {}
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw bad(`${this.what} ends at byte ${this.buf.length}, ${n} more needed at ${this.at}`);
  }
  u8(): number { this.need(1); return this.buf.readUInt8(this.at++); }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.at); this.at += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32BE(this.at); this.at += 4; return v; }
  bytes(n: number): Buffer { this.need(n); const v = this.buf.subarray(this.at, this.at + n); this.at += n; return v; }
  sized(): Buffer { return this.bytes(this.u16()); }
  end(): void { if (this.at !== this.buf.length) throw bad(`${this.what} has ${this.buf.length - this.at} trailing bytes`); }
}

function bad(message: string): GlimmerError {
  return new GlimmerError('GLM_ERR_ATTESTATION_QUOTE_INVALID', `TPM quote: ${message}`);
}

/** Parses a TPMS_ATTEST of type quote; anything else is GLM_ERR_ATTESTATION_QUOTE_INVALID. */
export function parseQuote(message: Buffer): ParsedQuote {
  const r = new Reader(message, 'TPMS_ATTEST');
  const magic = r.u32();
  if (magic !== TPM_GENERATED_VALUE) throw bad(`magic is 0x${magic.toString(16)}, not TPM_GENERATED_VALUE (not made by a TPM)`);
  const type = r.u16();
  if (type !== TPM_ST_ATTEST_QUOTE) throw bad(`type is 0x${type.toString(16)}, not TPM_ST_ATTEST_QUOTE`);
  const qualifiedSigner = r.sized();
  const extraData = r.sized();
  r.bytes(8); // clock
  const resetCount = r.u32();
  r.u32(); // restartCount
  r.u8(); // safe
  r.bytes(8); // firmwareVersion
  const count = r.u32();
  if (count > 16) throw bad(`${count} PCR selections`);
  const pcrs: number[] = [];
  for (let i = 0; i < count; i++) {
    const alg = r.u16();
    const size = r.u8();
    const select = r.bytes(size);
    if (alg !== TPM_ALG_SHA256) throw bad(`PCR bank 0x${alg.toString(16)} is not sha256`);
    for (let byte = 0; byte < select.length; byte++) for (let bit = 0; bit < 8; bit++) if (((select[byte] as number) >> bit) & 1) pcrs.push(byte * 8 + bit);
  }
  const pcrDigest = r.sized();
  r.end();
  return { qualifiedSigner, extraData, resetCount, pcrs, pcrDigest };
}

/** TPMT_SIGNATURE (ECDSA, SHA-256) to r||s, the IEEE P1363 form node:crypto verifies. */
export function ecdsaSignature(signature: Buffer): Buffer {
  const r = new Reader(signature, 'TPMT_SIGNATURE');
  const alg = r.u16();
  if (alg !== TPM_ALG_ECDSA) throw bad(`signature algorithm 0x${alg.toString(16)} is not ECDSA`);
  const hash = r.u16();
  if (hash !== TPM_ALG_SHA256) throw bad(`signature hash 0x${hash.toString(16)} is not SHA-256`);
  const rr = r.sized();
  const ss = r.sized();
  r.end();
  if (rr.length > 32 || ss.length > 32) throw bad('ECDSA r or s longer than 32 bytes');
  return Buffer.concat([Buffer.alloc(32 - rr.length), rr, Buffer.alloc(32 - ss.length), ss]);
}

/** PCR value after extending each digest into a PCR reset to zero (equal to the measured-boot chain). */
export function pcrAfter(digestsHex: readonly string[]): Buffer {
  let pcr = Buffer.alloc(32);
  for (const d of digestsHex) pcr = crypto.createHash('sha256').update(pcr).update(Buffer.from(d, 'hex')).digest();
  return pcr;
}

/** TPML_PCR_SELECTION for one sha256 PCR. */
function selection(pcr: number): Buffer {
  const select = Buffer.alloc(3);
  select[Math.floor(pcr / 8)] = 1 << (pcr % 8);
  return Buffer.concat([Buffer.from([0, 0, 0, 1, 0, TPM_ALG_SHA256, 3]), select]);
}

/** The digest a quote of one PCR carries: SHA-256 over the selected PCR values. */
export function pcrDigest(pcrValue: Buffer): Buffer {
  return crypto.createHash('sha256').update(pcrValue).digest();
}

/** TPM2_PolicyPCR's policy digest from an empty policy: what a key sealed to "PCR = value" is bound to. */
export function pcrPolicyDigest(pcrValue: Buffer, pcr = ATTESTATION_PCR): Buffer {
  const cc = Buffer.alloc(4);
  cc.writeUInt32BE(TPM_CC_POLICY_PCR);
  return crypto.createHash('sha256').update(Buffer.alloc(32)).update(cc).update(selection(pcr)).update(pcrDigest(pcrValue)).digest();
}

/**
 * Checks a quote: the AK's signature over the attest bytes, the nonce (no replay), the quoted PCR set, and the PCR
 * digest against the expected PCR value. Each failure has its own code; the mismatch names the PCR and both digests.
 */
export function verifyQuote(evidence: QuoteEvidence, expectedPcrValue: Buffer, pcr = ATTESTATION_PCR): ParsedQuote {
  const parsed = parseQuote(evidence.message);
  let ok = false;
  try {
    ok = crypto.verify('sha256', evidence.message, { key: evidence.akPublicPem, dsaEncoding: 'ieee-p1363' }, ecdsaSignature(evidence.signature));
  } catch (err) {
    if (err instanceof GlimmerError) throw err;
    ok = false;
  }
  if (!ok) throw new GlimmerError('GLM_ERR_ATTESTATION_SIGNATURE_INVALID', 'TPM quote: the signature does not verify against the attestation key');
  if (parsed.extraData.length !== evidence.nonce.length || !crypto.timingSafeEqual(parsed.extraData, evidence.nonce)) {
    throw new GlimmerError('GLM_ERR_ATTESTATION_NONCE_MISMATCH', `TPM quote: nonce ${parsed.extraData.toString('hex')} is not the fresh nonce ${evidence.nonce.toString('hex')} (a replayed or foreign quote)`);
  }
  if (parsed.pcrs.length !== 1 || parsed.pcrs[0] !== pcr) throw bad(`quotes PCRs ${q(parsed.pcrs)}, expected exactly [${pcr}]`);
  const expected = pcrDigest(expectedPcrValue);
  if (!crypto.timingSafeEqual(parsed.pcrDigest.length === 32 ? parsed.pcrDigest : Buffer.alloc(32), expected) || parsed.pcrDigest.length !== 32) {
    throw new GlimmerError('GLM_ERR_ATTESTATION_PCR_MISMATCH', `TPM quote: PCR ${pcr} digest ${parsed.pcrDigest.toString('hex')} differs from the expected ${expected.toString('hex')} (PCR value expected ${expectedPcrValue.toString('hex')} from the signed release manifest)`, {
      details: { pcr, expected: expected.toString('hex'), quoted: parsed.pcrDigest.toString('hex') },
    });
  }
  return parsed;
}
