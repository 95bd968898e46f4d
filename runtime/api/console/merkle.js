/*
 * RFC 9162 Merkle inclusion proofs, verified in the browser with WebCrypto (crypto.subtle.digest).
 * leaf = H(0x00 || leaf bytes), node = H(0x01 || left || right); the hash is SHA-512 (RFC9162_SHA512, the default)
 * or SHA-256, told apart by the checkpoint root's length. Also checks the checkpoint's signatures against the log's
 * verifier keys: Ed25519, ECDSA P-256/P-384, ML-DSA-44/65 and C2SP ML-DSA-44 cosignatures, each only where the
 * browser's WebCrypto implements the algorithm (ML-DSA: Chromium 156 does, many browsers do not yet); a signature
 * the browser cannot check is reported as such, never as verified. Runs unchanged in Node (globalThis.crypto), where
 * test/console/merkle.test.ts checks it against the runtime's own implementation.
 */
/* global self */
(function (root) {
  'use strict';

  function algorithmForRootLength(length) {
    if (length === 64) return 'SHA-512';
    if (length === 32) return 'SHA-256';
    throw new Error('a checkpoint root must be 32 or 64 bytes, received ' + length);
  }

  async function digest(algorithm, parts) {
    let total = 0;
    for (const p of parts) total += p.length;
    const buf = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      buf.set(p, off);
      off += p.length;
    }
    return new Uint8Array(await root.crypto.subtle.digest(algorithm, buf));
  }

  function leafHash(algorithm, leaf) {
    return digest(algorithm, [Uint8Array.of(0), leaf]);
  }

  function nodeHash(algorithm, left, right) {
    return digest(algorithm, [Uint8Array.of(1), left, right]);
  }

  /** RFC 9162 §2.1.3.2. Sizes are JS numbers (exact up to 2^53); shifts are divisions, never 32-bit `>>`. */
  async function rootFromInclusionProof(algorithm, index, size, leaf, path) {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
      throw new Error('index ' + index + ' is not inside a tree of size ' + size);
    }
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of path) {
      if (sn === 0) throw new Error('the proof is longer than the tree is deep');
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(algorithm, p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await nodeHash(algorithm, r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error('the proof is shorter than the tree is deep');
    return r;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  /** Resolves to {ok, reason}: ok when the leaf bytes at `index` are in the tree of `size` whose root is `rootHash`. */
  async function verifyInclusion(leafBytes, index, size, hexPath, rootHash) {
    try {
      const algorithm = algorithmForRootLength(rootHash.length);
      const path = hexPath.map(hexToBytes);
      for (const p of path) {
        if (p.length !== rootHash.length) return { ok: false, reason: 'a proof hash has ' + p.length + ' bytes, the root ' + rootHash.length };
      }
      const computed = await rootFromInclusionProof(algorithm, index, size, await leafHash(algorithm, leafBytes), path);
      if (!equalBytes(computed, rootHash)) return { ok: false, reason: 'the computed root differs from the checkpoint root', computed: bytesToBase64(computed) };
      return { ok: true, algorithm: algorithm, computed: bytesToBase64(computed) };
    } catch (err) {
      return { ok: false, reason: err && err.message ? err.message : String(err) };
    }
  }

  function hexToBytes(hex) {
    if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('not a hex string');
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }

  function base64ToBytes(b64) {
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new Error('not base64');
    // atob throws a DOMException on a bad length ('A'): report it as the same plain Error as any other bad input.
    let bin;
    try {
      bin = root.atob(b64);
    } catch {
      throw new Error('not base64');
    }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function bytesToBase64(bytes) {
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return root.btoa(bin);
  }

  /** C2SP signed note around a tlog checkpoint: body `<origin>\n<size>\n<base64 root>\n[ext...]`, blank line, signatures. */
  function parseCheckpoint(text) {
    const blank = text.indexOf('\n\n');
    if (blank < 0) throw new Error('the checkpoint has no signature block');
    const body = text.slice(0, blank).split('\n');
    if (body.length < 3) throw new Error('the checkpoint body needs origin, size and root');
    if (!/^[1-9][0-9]*$|^0$/.test(body[1])) throw new Error('the checkpoint size is not a number');
    const size = Number(body[1]);
    if (!Number.isSafeInteger(size)) throw new Error('the checkpoint size is too large');
    const rootHash = base64ToBytes(body[2]);
    algorithmForRootLength(rootHash.length);
    const signatures = text
      .slice(blank + 2)
      .split('\n')
      .filter((l) => l.startsWith('\u2014 '))
      .map((l) => l.slice(2).split(' ')[0]);
    return { origin: body[0], size: size, root: rootHash, rootBase64: body[2], extensions: body.slice(3), signatures: signatures };
  }

  // ---- checkpoint signatures (C2SP signed-note; key types of runtime/audit/note.ts) ------------------------------
  const TYPES = [
    { id: [0x01], algorithm: 'ed25519', web: { name: 'Ed25519' }, format: 'raw' },
    { id: [0xff, 0x01], algorithm: 'ecdsa-p256-sha256', web: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }, format: 'spki', der: 32 },
    { id: [0xff, 0x02], algorithm: 'ecdsa-p384-sha384', web: { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }, format: 'spki', der: 48 },
    { id: [0xff, 0x03], algorithm: 'ml-dsa-44', web: { name: 'ML-DSA-44' }, format: 'raw-public' },
    { id: [0xff, 0x04], algorithm: 'ml-dsa-65', web: { name: 'ML-DSA-65' }, format: 'raw-public' },
    { id: [0x06], algorithm: 'ml-dsa-44-cosignature', web: { name: 'ML-DSA-44' }, format: 'raw-public', cosignature: true },
  ];

  function concat(parts) {
    let total = 0;
    for (const p of parts) total += p.length;
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** `<name>+<hex id>+<base64(type || key)>` -> {name, id, type, key}; unknown types are skipped by the caller. */
  function parseVerifierKey(text) {
    const first = text.indexOf('+');
    const second = text.indexOf('+', first + 1);
    if (first <= 0 || second < 0) throw new Error('malformed verifier key');
    const raw = base64ToBytes(text.slice(second + 1));
    const type = TYPES.find((t) => equalBytes(raw.subarray(0, t.id.length), Uint8Array.from(t.id)) && (t.id.length === 2 || raw[0] !== 0xff));
    return { name: text.slice(0, first), id: hexToBytes(text.slice(first + 1, second)), type: type, key: type ? raw.subarray(type.id.length) : raw };
  }

  /** ECDSA DER (as KMS and PKCS#11 signers store it) to WebCrypto's fixed-width r || s. */
  function derToRaw(der, width) {
    let p = 2;
    if (der[0] !== 0x30) throw new Error('not a DER signature');
    if (der[1] & 0x80) p = 2 + (der[1] & 0x7f);
    const out = new Uint8Array(2 * width);
    for (let k = 0; k < 2; k++) {
      if (der[p] !== 0x02) throw new Error('not a DER integer');
      let len = der[p + 1];
      let start = p + 2;
      while (len > width && der[start] === 0) {
        start++;
        len--;
      }
      if (len > width) throw new Error('DER integer too long');
      out.set(der.subarray(start, start + len), k * width + width - len);
      p = start + len;
    }
    return out;
  }

  function u64(n) {
    const b = new Uint8Array(8);
    let v = BigInt(n);
    for (let i = 7; i >= 0; i--) {
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return b;
  }

  /** C2SP tlog-cosignature v1.1 cosigned_message of a checkpoint (start 0, end = size). */
  function cosignedMessage(name, timestamp, cp) {
    const enc = new TextEncoder();
    const n = enc.encode(name);
    const o = enc.encode(cp.origin);
    return concat([enc.encode('subtree/v1\n\0'), Uint8Array.of(n.length), n, timestamp, Uint8Array.of(o.length), o, u64(0), u64(cp.size), cp.root]);
  }

  /**
   * Checks every signature line of a signed checkpoint whose name and key ID match a trusted verifier key. Returns one
   * result per such line: status 'verified', 'invalid', or 'unsupported' (this browser's WebCrypto lacks the algorithm).
   */
  async function verifyNoteSignatures(noteText, vkeys) {
    const blank = noteText.lastIndexOf('\n\n');
    if (blank < 0) throw new Error('the checkpoint has no signature block');
    const body = new TextEncoder().encode(noteText.slice(0, blank + 1));
    const cp = parseCheckpoint(noteText);
    const keys = [];
    for (const v of vkeys) {
      const k = parseVerifierKey(v);
      if (k.type) keys.push(k);
    }
    const results = [];
    for (const line of noteText.slice(blank + 2).split('\n')) {
      if (!line.startsWith('\u2014 ')) continue;
      const space = line.lastIndexOf(' ');
      const name = line.slice(2, space);
      const raw = base64ToBytes(line.slice(space + 1));
      const key = keys.find((k) => k.name === name && equalBytes(k.id, raw.subarray(0, 4)));
      if (!key) continue;
      const t = key.type;
      let sig = raw.subarray(4);
      let message = body;
      let status;
      try {
        if (t.cosignature) {
          if (cp.root.length !== 32 || sig.length !== 8 + 2420) throw new Error('malformed cosignature');
          message = cosignedMessage(name, sig.subarray(0, 8), cp);
          sig = sig.subarray(8);
        } else if (t.der) {
          sig = derToRaw(sig, t.der);
        }
        let cryptoKey;
        try {
          cryptoKey = await root.crypto.subtle.importKey(t.format, key.key, t.web, false, ['verify']);
        } catch (err) {
          if (err && (err.name === 'NotSupportedError' || err.name === 'TypeError' || err.name === 'SyntaxError')) status = 'unsupported';
          else throw err;
        }
        if (!status) status = (await root.crypto.subtle.verify(t.web, cryptoKey, sig, message)) ? 'verified' : 'invalid';
      } catch {
        status = 'invalid';
      }
      results.push({ name: name, algorithm: t.algorithm, status: status });
    }
    return results;
  }

  const api = { verifyNoteSignatures, parseVerifierKey, algorithmForRootLength, leafHash, nodeHash, rootFromInclusionProof, verifyInclusion, hexToBytes, base64ToBytes, bytesToBase64, parseCheckpoint };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.GlimmerMerkle = api;
})(typeof self !== 'undefined' ? self : globalThis);
