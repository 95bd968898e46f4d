/**
 * A small, bounds-checked DER reader for the certificate extensions SVID validation needs (subjectAltName URIs,
 * keyUsage bits, basicConstraints cA). Node's X509Certificate does not expose keyUsage, and a general ASN.1 library costs about 5 ms
 * per certificate, too slow for a per-handshake check. It runs only on certificates whose signature already verified
 * against the trust bundle, and still treats every byte as untrusted: any inconsistency throws RangeError.
 */

interface Tlv {
  readonly tag: number;
  /** Offset of the value. */
  readonly start: number;
  /** Offset just past the value. */
  readonly end: number;
}

function readTlv(buf: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new RangeError('truncated DER header');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('multi-byte DER tags are not used in certificates');
  let len = buf[offset + 1] as number;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) throw new RangeError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new RangeError('DER value runs past its container');
  return { tag, start, end };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const tlv = readTlv(buf, at, parent.end);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

const OID_SAN = Buffer.from([0x55, 0x1d, 0x11]);
const OID_KEY_USAGE = Buffer.from([0x55, 0x1d, 0x0f]);
const OID_BASIC_CONSTRAINTS = Buffer.from([0x55, 0x1d, 0x13]);
const TAG_SEQUENCE = 0x30;
const TAG_OID = 0x06;
const TAG_BOOLEAN = 0x01;
const TAG_OCTET_STRING = 0x04;
const TAG_BIT_STRING = 0x03;
const TAG_EXTENSIONS = 0xa3;
const TAG_URI = 0x86;

export interface SvidExtensions {
  /** URI SANs in order; `sanExtensions` counts the SAN extensions themselves (more than one is malformed). */
  readonly uris: readonly string[];
  readonly sanExtensions: number;
  /** keyUsage as the bit flags of RFC 5280 (digitalSignature = 1, ..., keyCertSign = 32, cRLSign = 64), or undefined. */
  readonly keyUsage: number | undefined;
  /** basicConstraints cA (false when the extension is absent). */
  readonly isCa: boolean;
}

/** Reads SAN URIs and keyUsage from a DER certificate. Throws RangeError on malformed input. */
export function readSvidExtensions(der: Uint8Array): SvidExtensions {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== TAG_SEQUENCE) throw new RangeError('certificate is not a SEQUENCE');
  const tbs = children(der, cert)[0];
  if (tbs?.tag !== TAG_SEQUENCE) throw new RangeError('tbsCertificate is not a SEQUENCE');
  const extWrapper = children(der, tbs).find((t) => t.tag === TAG_EXTENSIONS);
  const uris: string[] = [];
  let sanExtensions = 0;
  let keyUsage: number | undefined;
  let isCa = false;
  if (extWrapper === undefined) return { uris, sanExtensions, keyUsage, isCa };
  const extList = children(der, extWrapper)[0];
  if (extList?.tag !== TAG_SEQUENCE) throw new RangeError('extensions is not a SEQUENCE');
  for (const ext of children(der, extList)) {
    const parts = children(der, ext);
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (ext.tag !== TAG_SEQUENCE || oid?.tag !== TAG_OID || value?.tag !== TAG_OCTET_STRING || parts.length > 3) {
      throw new RangeError('malformed extension');
    }
    if (parts.length === 3 && parts[1]?.tag !== TAG_BOOLEAN) throw new RangeError('malformed extension criticality');
    const oidBytes = der.subarray(oid.start, oid.end);
    if (Buffer.compare(oidBytes, OID_SAN) === 0) {
      sanExtensions += 1;
      const names = readTlv(der, value.start, value.end);
      if (names.tag !== TAG_SEQUENCE) throw new RangeError('subjectAltName is not a SEQUENCE');
      for (const name of children(der, names)) {
        if (name.tag === TAG_URI) uris.push(Buffer.from(der.subarray(name.start, name.end)).toString('latin1'));
      }
    } else if (Buffer.compare(oidBytes, OID_KEY_USAGE) === 0) {
      const bits = readTlv(der, value.start, value.end);
      if (bits.tag !== TAG_BIT_STRING || bits.end - bits.start < 1 || bits.end - bits.start > 3) throw new RangeError('malformed keyUsage');
      // BIT STRING: first octet = unused bits; bit 0 (digitalSignature) is the MSB of the first data octet.
      let flags = 0;
      const data = der.subarray(bits.start + 1, bits.end);
      for (let bit = 0; bit < data.length * 8 && bit < 9; bit++) {
        if (((data[bit >> 3] as number) >> (7 - (bit & 7))) & 1) flags |= 1 << bit;
      }
      keyUsage = flags;
    } else if (Buffer.compare(oidBytes, OID_BASIC_CONSTRAINTS) === 0) {
      const seq = readTlv(der, value.start, value.end);
      if (seq.tag !== TAG_SEQUENCE) throw new RangeError('basicConstraints is not a SEQUENCE');
      const first = children(der, seq)[0];
      isCa = first?.tag === TAG_BOOLEAN && first.end - first.start === 1 && der[first.start] !== 0;
    }
  }
  return { uris, sanExtensions, keyUsage, isCa };
}
