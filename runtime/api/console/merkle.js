/*
 * RFC 9162 Merkle inclusion proofs, verified in the browser with WebCrypto (crypto.subtle.digest).
 * leaf = H(0x00 || leaf bytes), node = H(0x01 || left || right); the hash is SHA-512 (RFC9162_SHA512, the default)
 * or SHA-256, told apart by the checkpoint root's length. Runs unchanged in Node 20 (globalThis.crypto), where
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

  const api = { algorithmForRootLength, leafHash, nodeHash, rootFromInclusionProof, verifyInclusion, hexToBytes, base64ToBytes, bytesToBase64, parseCheckpoint };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.GlimmerMerkle = api;
})(typeof self !== 'undefined' ? self : globalThis);
