import { execFileSync } from 'node:child_process';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, readdir, writeFile } from 'node:fs/promises';
import { X509Certificate, generateKeyPairSync, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueLeaf, issueOperatorSvid, issueSvid, validateSvid, type IssuedSvid, type ValidateSvidOptions } from '../../runtime/trust/svid';
import { readSvidExtensions } from '../../runtime/trust/der';
import { importKeyPairPem, normalizeSerial, x509, EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM } from '../../runtime/trust/x509';
import { parseSpiffeId } from '../../runtime/trust/spiffe';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';

const TD = 'plant.example';
let ca: Ca;
let good: IssuedSvid;
let opts: ValidateSvidOptions;

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'glimmer-svid-'));
}

function rejectsWith(code: ErrorCode, fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isGlimmerError(err, code), `expected ${code}, got ${String((err as { code?: string }).code ?? err)}`);
    return true;
  });
}

const hour = 3600_000;
let foreignBundle: string;

// The clock around the issue of `good`: its validity is checked against these, not against a guess at how long ago it was.
let issuedAfter: number;
let issuedBefore: number;

before(async () => {
  ca = await ensureCa(await tempDir(), TD);
  issuedAfter = Date.now();
  good = await issueSvid(ca, { zone: 'cell1', agent: 'industrial-1' });
  issuedBefore = Date.now();
  opts = { bundlePem: ca.bundlePem, trustDomain: TD };
  foreignBundle = (await ensureCa(await tempDir(), TD)).bundlePem;
});

test('GIVEN an empty state dir WHEN ensureCa runs THEN it writes pki/ca/ca.key with mode 0600 and a P-256 CA certificate', async () => {
  const dir = await tempDir();
  const created = await ensureCa(dir, TD);
  const key = await stat(path.join(dir, 'pki', 'ca', 'ca.key'));
  assert.equal(key.mode & 0o777, 0o600);
  assert.equal((await stat(path.join(dir, 'pki'))).mode & 0o777, 0o700);
  const cert = new X509Certificate(created.certPem);
  assert.equal(cert.ca, true);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(cert.subjectAltName, `URI:spiffe://${TD}`);
});

test('GIVEN an existing CA WHEN ensureCa runs again (also concurrently) THEN every call loads the same CA', async () => {
  const dir = await tempDir();
  const all = await Promise.all([ensureCa(dir, TD), ensureCa(dir, TD), ensureCa(dir, TD)]);
  const again = await ensureCa(dir, TD);
  for (const c of all) assert.equal(c.certPem, again.certPem);
  assert.deepEqual((await readdir(path.join(dir, 'pki'))).sort(), ['ca']);
  const svid = await issueSvid(all[0] as Ca, { zone: 'z', agent: 'a' });
  validateSvid(svid.certPem, { bundlePem: again.bundlePem, trustDomain: TD });
});

test('GIVEN a CA of another trust domain in the state dir WHEN ensureCa loads it THEN GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', async () => {
  const dir = await tempDir();
  await ensureCa(dir, 'other.example');
  await assert.rejects(ensureCa(dir, TD), (err) => isGlimmerError(err, 'GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN'));
});

test('GIVEN a corrupted CA key WHEN ensureCa loads it THEN GLM_ERR_CERT_UNREADABLE', async () => {
  const dir = await tempDir();
  await ensureCa(dir, TD);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(dir, 'pki', 'ca', 'ca.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  await assert.rejects(ensureCa(dir, TD), (err) => isGlimmerError(err, 'GLM_ERR_CERT_UNREADABLE'));
});

test('GIVEN issueSvid WHEN the certificate is read by openssl-compatible Node THEN it has exactly one URI SAN, digitalSignature, clientAuth+serverAuth, TTL 1h by default', async () => {
  const cert = new X509Certificate(good.certPem);
  assert.equal(cert.subjectAltName, 'URI:spiffe://plant.example/zone/cell1/agent/industrial-1');
  assert.equal(cert.ca, false);
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(readSvidExtensions(cert.raw).keyUsage, 1);
  // X.509 times have whole seconds: notAfter lies in [issue start + 1 h - 1 s, issue end + 1 h].
  assert.ok(good.notAfter.getTime() >= issuedAfter + hour - 1000 && good.notAfter.getTime() <= issuedBefore + hour, `notAfter ${good.notAfter.toISOString()}`);
  assert.equal(new Date(cert.validTo).getTime(), good.notAfter.getTime());
  assert.equal(good.spiffeId, 'spiffe://plant.example/zone/cell1/agent/industrial-1');
  assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(good.keyPem)));
  assert.equal(good.serial, cert.serialNumber.toLowerCase().replace(/^0+/, ''));
});

test('GIVEN a valid agent SVID WHEN validated with the expected identity and clientAuth THEN it returns the identity', () => {
  const id = validateSvid(good.certPem, { ...opts, expect: { zone: 'cell1', agent: 'industrial-1' }, requiredEku: 'clientAuth' });
  assert.equal(id.kind, 'agent');
  assert.equal(id.spiffeId, good.spiffeId);
  assert.equal(id.kind === 'agent' && id.zone, 'cell1');
  assert.equal(id.serial, good.serial);
  // DER input works too (the TLS path passes the peer's raw certificate).
  assert.equal(validateSvid(new X509Certificate(good.certPem).raw, opts).spiffeId, good.spiffeId);
});

test('GIVEN an operator SVID WHEN validated THEN it is an operator identity', async () => {
  const op = await issueOperatorSvid(ca, { operator: 'alice' });
  const id = validateSvid(op.certPem, { ...opts, expect: { operator: 'alice' } });
  assert.equal(id.kind, 'operator');
  assert.equal(id.spiffeId, 'spiffe://plant.example/operator/alice');
});

test('GIVEN a certificate from another CA WHEN validated THEN GLM_ERR_CERT_UNKNOWN_CA', async () => {
  const foreignCa = await ensureCa(await tempDir(), TD);
  const svid = await issueSvid(foreignCa, { zone: 'cell1', agent: 'industrial-1' });
  rejectsWith('GLM_ERR_CERT_UNKNOWN_CA', () => validateSvid(svid.certPem, opts));
});

test('GIVEN the CA certificate itself presented as a leaf WHEN validated THEN GLM_ERR_CERT_KEY_USAGE (a CA is not an SVID)', () => {
  rejectsWith('GLM_ERR_CERT_KEY_USAGE', () => validateSvid(ca.certPem, opts));
});

test('GIVEN an expired certificate WHEN validated THEN GLM_ERR_CERT_EXPIRED', async () => {
  const svid = await issueLeaf(ca, { uris: [good.spiffeId], notBefore: new Date(Date.now() - 2 * hour), notAfter: new Date(Date.now() - hour) });
  rejectsWith('GLM_ERR_CERT_EXPIRED', () => validateSvid(svid.certPem, opts));
  // The same certificate, checked at a time inside its window, is fine: the check uses `now`.
  validateSvid(svid.certPem, { ...opts, now: new Date(Date.now() - 1.5 * hour) });
});

test('GIVEN a certificate whose notBefore is in the future WHEN validated THEN GLM_ERR_CERT_NOT_YET_VALID', async () => {
  const svid = await issueLeaf(ca, { uris: [good.spiffeId], notBefore: new Date(Date.now() + hour), notAfter: new Date(Date.now() + 2 * hour) });
  rejectsWith('GLM_ERR_CERT_NOT_YET_VALID', () => validateSvid(svid.certPem, opts));
});

test('GIVEN a certificate without any URI SAN WHEN validated THEN GLM_ERR_CERT_SAN_INVALID', async () => {
  const svid = await issueLeaf(ca, { uris: [], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  rejectsWith('GLM_ERR_CERT_SAN_INVALID', () => validateSvid(svid.certPem, opts));
});

test('GIVEN a certificate with two URI SANs WHEN validated THEN GLM_ERR_CERT_SAN_INVALID', async () => {
  const svid = await issueLeaf(ca, {
    uris: [good.spiffeId, 'spiffe://plant.example/zone/safety/agent/industrial-1'],
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour),
  });
  rejectsWith('GLM_ERR_CERT_SAN_INVALID', () => validateSvid(svid.certPem, opts));
});

test('GIVEN a certificate whose URI SAN is not a Glimmer SPIFFE ID WHEN validated THEN GLM_ERR_CERT_SAN_INVALID', async () => {
  for (const uri of ['https://plant.example/zone/a/agent/b', 'spiffe://plant.example/zone/a/agent/b?x=1', 'spiffe://plant.example/other/path']) {
    const svid = await issueLeaf(ca, { uris: [uri], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
    rejectsWith('GLM_ERR_CERT_SAN_INVALID', () => validateSvid(svid.certPem, opts));
  }
});

test('GIVEN a certificate for another trust domain signed by a trusted CA WHEN validated THEN GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', async () => {
  const svid = await issueLeaf(ca, { uris: ['spiffe://evil.example/zone/cell1/agent/industrial-1'], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  rejectsWith('GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', () => validateSvid(svid.certPem, opts));
});

test('GIVEN a valid SVID of another agent or zone WHEN validated with an expected identity THEN GLM_ERR_CERT_IDENTITY_MISMATCH', async () => {
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', () => validateSvid(good.certPem, { ...opts, expect: { zone: 'cell1', agent: 'industrial-2' } }));
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', () => validateSvid(good.certPem, { ...opts, expect: { zone: 'safety', agent: 'industrial-1' } }));
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', () => validateSvid(good.certPem, { ...opts, expect: { operator: 'industrial-1' } }));
});

test('GIVEN a revoked serial WHEN validated THEN GLM_ERR_CERT_REVOKED', () => {
  rejectsWith('GLM_ERR_CERT_REVOKED', () => validateSvid(good.certPem, { ...opts, revokedSerials: new Set([good.serial]) }));
});

test('GIVEN a certificate with keyUsage keyEncipherment only WHEN validated THEN GLM_ERR_CERT_KEY_USAGE', async () => {
  const svid = await issueLeaf(ca, { uris: [good.spiffeId], keyUsage: 'keyEncipherment', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  rejectsWith('GLM_ERR_CERT_KEY_USAGE', () => validateSvid(svid.certPem, opts));
});

test('GIVEN a certificate without a keyUsage extension WHEN validated THEN GLM_ERR_CERT_KEY_USAGE', async () => {
  const svid = await issueLeaf(ca, { uris: [good.spiffeId], keyUsage: 'none', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  rejectsWith('GLM_ERR_CERT_KEY_USAGE', () => validateSvid(svid.certPem, opts));
});

test('GIVEN a serverAuth-only certificate WHEN validated as a client (requiredEku clientAuth) THEN GLM_ERR_CERT_KEY_USAGE', async () => {
  const svid = await issueLeaf(ca, { uris: [good.spiffeId], eku: ['serverAuth'], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  rejectsWith('GLM_ERR_CERT_KEY_USAGE', () => validateSvid(svid.certPem, { ...opts, requiredEku: 'clientAuth' }));
  validateSvid(svid.certPem, { ...opts, requiredEku: 'serverAuth' });
});

test('GIVEN a leaf with the CA flag WHEN validated THEN GLM_ERR_CERT_KEY_USAGE', async () => {
  const svid = await issueLeaf(ca, { uris: [good.spiffeId], isCa: true, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  rejectsWith('GLM_ERR_CERT_KEY_USAGE', () => validateSvid(svid.certPem, opts));
});

test('GIVEN bytes that are not a certificate WHEN validated THEN GLM_ERR_CERT_UNREADABLE', async () => {
  rejectsWith('GLM_ERR_CERT_UNREADABLE', () => validateSvid('not a certificate', opts));
  const der = new X509Certificate(good.certPem).raw;
  rejectsWith('GLM_ERR_CERT_UNREADABLE', () => validateSvid(der.subarray(0, der.length - 10), opts));
  rejectsWith('GLM_ERR_CERT_UNREADABLE', () => validateSvid(good.certPem, { ...opts, bundlePem: 'garbage' }));
});

test('GIVEN random byte flips in a valid certificate WHEN validated THEN only GLM_ERR_CERT_* errors come out, never another exception', async () => {
  const der = new X509Certificate(good.certPem).raw;
  const pemKeyless = await readFile(path.join(ca.dir, 'ca.crt'), 'utf8');
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) => {
    const bad = Buffer.from(der);
    for (const [at, x] of flips) bad[at] = (bad[at] as number) ^ x;
    try {
      validateSvid(bad, { bundlePem: pemKeyless, trustDomain: TD });
    } catch (err) {
      assert.ok(isGlimmerError(err) && err.code.startsWith('GLM_ERR_CERT_'), String(err));
    }
  }), { numRuns: 300 });
});

test('GIVEN arbitrary bytes WHEN the DER extension reader parses them THEN it returns or throws RangeError, nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    try {
      readSvidExtensions(bytes);
    } catch (err) {
      assert.ok(err instanceof RangeError, String(err));
    }
  }), { numRuns: 2000 });
});

test('GIVEN malformed SPIFFE IDs WHEN parsed THEN GLM_ERR_CERT_SAN_INVALID', () => {
  for (const uri of ['spiffe://', 'spiffe://Plant/zone/a/agent/b', 'spiffe://p/zone/a/agent/b/', 'spiffe://p/zone/../agent/b',
    'spiffe://p/zone/a%20/agent/b', 'spiffe://u@p/zone/a/agent/b', 'spiffe://p:443/zone/a/agent/b', 'spiffe://p/zone/a/agent/b#f']) {
    assert.throws(() => parseSpiffeId(uri), (err) => isGlimmerError(err, 'GLM_ERR_CERT_SAN_INVALID'), uri);
  }
  assert.deepEqual(parseSpiffeId('spiffe://p/operator/bob'), { kind: 'operator', spiffeId: 'spiffe://p/operator/bob', trustDomain: 'p', operator: 'bob' });
});

test('GIVEN an SVID WHEN validated at the first and the last millisecond of its validity THEN it is valid, and one millisecond outside THEN NOT_YET_VALID or EXPIRED', () => {
  const from = good.notBefore.getTime();
  const to = good.notAfter.getTime();
  assert.equal(validateSvid(good.certPem, { ...opts, now: new Date(from) }).spiffeId, good.spiffeId);
  assert.equal(validateSvid(good.certPem, { ...opts, now: new Date(to) }).notAfter.getTime(), to);
  rejectsWith('GLM_ERR_CERT_NOT_YET_VALID', () => validateSvid(good.certPem, { ...opts, now: new Date(from - 1) }));
  rejectsWith('GLM_ERR_CERT_EXPIRED', () => validateSvid(good.certPem, { ...opts, now: new Date(to + 1) }));
});

test('GIVEN the issuing CA WHEN the check runs at the last millisecond of the CA\'s validity THEN the SVID is valid; one millisecond later THEN GLM_ERR_CERT_EXPIRED names the CA', async () => {
  const caTo = Date.parse(new X509Certificate(ca.certPem).validTo);
  // A leaf valid beyond the CA's end, so only the CA's validity decides.
  const leaf = await issueLeaf(ca, { uris: [good.spiffeId], notBefore: new Date(caTo - hour), notAfter: new Date(caTo + hour) });
  assert.equal(validateSvid(leaf.certPem, { ...opts, now: new Date(caTo) }).spiffeId, good.spiffeId);
  const serial = new X509Certificate(leaf.certPem).serialNumber.toLowerCase().replace(/^0+/, '');
  assert.throws(() => validateSvid(leaf.certPem, { ...opts, now: new Date(caTo + 1) }), (err) => isGlimmerError(err, 'GLM_ERR_CERT_EXPIRED') && /the CA that issued/.test(err.message) && err.details.serial === serial);
});

test('GIVEN expected identities WHEN an agent SVID is checked against each field alone THEN zone, agent and operator are each compared (an agent is never the expected operator)', () => {
  const check = (expect: { zone?: string; agent?: string; operator?: string }) => () => validateSvid(good.certPem, { ...opts, expect });
  assert.equal(check({ zone: 'cell1' })().spiffeId, good.spiffeId);
  assert.equal(check({ agent: 'industrial-1' })().spiffeId, good.spiffeId);
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', check({ zone: 'cell2' }));
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', check({ agent: 'industrial-2' }));
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', check({ operator: 'industrial-1' }));
  assert.throws(check({ zone: 'cell2', agent: 'x' }), (err) => isGlimmerError(err, 'GLM_ERR_CERT_IDENTITY_MISMATCH') && err.message.includes('"zone/cell2/agent/x"'));
});

test('GIVEN each refusal of validateSvid WHEN it is thrown THEN it carries the certificate serial in details and names the serial or the SPIFFE ID in its message (never key material)', async () => {
  const window = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) };
  const foreignCa = await ensureCa(await tempDir(), TD);
  const cases: [ErrorCode, string, ValidateSvidOptions, RegExp][] = [];
  const add = async (code: ErrorCode, certPem: string, o: ValidateSvidOptions, message: RegExp) => { cases.push([code, certPem, o, message]); };
  await add('GLM_ERR_CERT_UNKNOWN_CA', (await issueSvid(foreignCa, { zone: 'cell1', agent: 'industrial-1' })).certPem, opts, /does not chain to the trust bundle/);
  await add('GLM_ERR_CERT_EXPIRED', good.certPem, { ...opts, now: new Date(good.notAfter.getTime() + 1) }, /expired at \d{4}-/);
  await add('GLM_ERR_CERT_NOT_YET_VALID', good.certPem, { ...opts, now: new Date(good.notBefore.getTime() - 1) }, /is not valid before \d{4}-/);
  await add('GLM_ERR_CERT_REVOKED', good.certPem, { ...opts, revokedSerials: new Set([good.serial]) }, /is revoked/);
  await add('GLM_ERR_CERT_KEY_USAGE', (await issueLeaf(ca, { uris: [good.spiffeId], isCa: true, ...window })).certPem, opts, /is a CA certificate/);
  await add('GLM_ERR_CERT_KEY_USAGE', (await issueLeaf(ca, { uris: [good.spiffeId], keyUsage: 'none', ...window })).certPem, opts, /lacks keyUsage digitalSignature/);
  await add('GLM_ERR_CERT_KEY_USAGE', (await issueLeaf(ca, { uris: [good.spiffeId], eku: ['serverAuth'], ...window })).certPem, { ...opts, requiredEku: 'clientAuth' }, /lacks extended key usage clientAuth/);
  await add('GLM_ERR_CERT_SAN_INVALID', (await issueLeaf(ca, { uris: [], ...window })).certPem, opts, /has 0 URI SANs/);
  await add('GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', (await issueLeaf(ca, { uris: ['spiffe://evil.example/zone/cell1/agent/industrial-1'], ...window })).certPem, opts, /belongs to trust domain "evil\.example", not "plant\.example"/);
  await add('GLM_ERR_CERT_IDENTITY_MISMATCH', good.certPem, { ...opts, expect: { agent: 'industrial-2' } }, /is not the expected identity "agent\/industrial-2"/);
  for (const [code, certPem, o, message] of cases) {
    const serial = new X509Certificate(certPem).serialNumber.toLowerCase().replace(/^0+/, '');
    assert.throws(() => validateSvid(certPem, o), (err) => {
      assert.ok(isGlimmerError(err, code), `${code}: got ${String((err as Error).message)}`);
      assert.equal(err.details.serial, serial, `${code} carries the serial`);
      assert.match(err.message, message);
      assert.ok(err.message.includes(serial) || /spiffe:\/\//.test(err.message), `${code} names the certificate: ${err.message}`);
      assert.doesNotMatch(err.message, /PRIVATE KEY|BEGIN/);
      return true;
    });
  }
});

test('GIVEN trust bundles that hold no certificate or one that does not parse WHEN a certificate is validated against them THEN GLM_ERR_CERT_UNREADABLE says which', () => {
  assert.throws(() => validateSvid(good.certPem, { ...opts, bundlePem: 'no pem here' }), (err) => isGlimmerError(err, 'GLM_ERR_CERT_UNREADABLE') && /contains no certificate/.test(err.message));
  const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  assert.throws(() => validateSvid(good.certPem, { ...opts, bundlePem: broken }), (err) => isGlimmerError(err, 'GLM_ERR_CERT_UNREADABLE') && /cannot be parsed/.test(err.message));
  // A bundle with the CA after a certificate of another CA still chains (every bundle entry is tried).
  assert.equal(validateSvid(good.certPem, { ...opts, bundlePem: `${foreignBundle}\n${ca.bundlePem}` }).spiffeId, good.spiffeId);
});

test('GIVEN ttlSeconds WHEN an SVID is issued THEN 60 s up to 30 days are accepted and anything else is GLM_ERR_USAGE naming the value', async () => {
  for (const ttlSeconds of [59, 30 * 24 * 3600 + 1, 90.5]) {
    await assert.rejects(issueSvid(ca, { zone: 'cell1', agent: 'industrial-1', ttlSeconds }), (err) => isGlimmerError(err, 'GLM_ERR_USAGE') && err.message.includes(String(ttlSeconds)));
  }
  for (const ttlSeconds of [60, 30 * 24 * 3600]) {
    const s = await issueSvid(ca, { zone: 'cell1', agent: 'industrial-1', ttlSeconds });
    const lifetime = s.notAfter.getTime() - s.notBefore.getTime();
    // notBefore is backdated by a minute for clock skew; whole seconds in X.509.
    assert.ok(Math.abs(lifetime - (ttlSeconds + 60) * 1000) <= 1000, `lifetime ${lifetime} ms for ${ttlSeconds} s`);
  }
});

/** openssl's view of a certificate's extensions (an independent X.509 parser). */
function opensslText(certPem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: certPem, encoding: 'utf8' });
}

test('GIVEN issued SVIDs WHEN openssl prints them THEN basicConstraints, keyUsage and the URI SAN are critical, the EKU is not, the subject is O=Glimmer, and a leaf asked for no URI or no EKU has no such extension', async () => {
  const text = opensslText(good.certPem);
  assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature/);
  assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/plant\.example\/zone\/cell1\/agent\/industrial-1/);
  assert.match(text, /X509v3 Extended Key Usage:\s*\n/);
  assert.doesNotMatch(text, /Extended Key Usage: critical/);
  assert.match(text, /TLS Web Server Authentication/);
  assert.match(text, /TLS Web Client Authentication/);
  assert.match(text, /Subject: O ?= ?Glimmer/);
  assert.ok(good.certPem.endsWith('-----END CERTIFICATE-----\n'));
  const bare = await issueLeaf(ca, { uris: [], eku: [], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  const bareText = opensslText(bare.certPem);
  assert.doesNotMatch(bareText, /Subject Alternative Name/);
  assert.doesNotMatch(bareText, /Extended Key Usage/);
  assert.equal(bare.spiffeId, '');
});

test('GIVEN an operator SVID WHEN an agent identity, another operator or the same operator is expected THEN only the same operator passes, and the message names what was expected', async () => {
  const alice = await issueOperatorSvid(ca, { operator: 'alice' });
  const check = (expect: { zone?: string; agent?: string; operator?: string }) => () => validateSvid(alice.certPem, { ...opts, expect });
  assert.equal(check({ operator: 'alice' })().spiffeId, 'spiffe://plant.example/operator/alice');
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', check({ zone: 'cell1' }));
  rejectsWith('GLM_ERR_CERT_IDENTITY_MISMATCH', check({ agent: 'alice' }));
  assert.throws(check({ operator: 'bob' }), (err) => isGlimmerError(err, 'GLM_ERR_CERT_IDENTITY_MISMATCH') && err.message.includes('"operator/bob"'));
});

test('GIVEN a leaf that names our CA as issuer (same issuer name and key id) but is signed by another key WHEN validated THEN GLM_ERR_CERT_UNKNOWN_CA (the signature, not the name, decides)', async () => {
  const other = await ensureCa(await tempDir(), TD);
  const forged = await issueLeaf({ ...ca, keys: other.keys }, { uris: [good.spiffeId], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
  assert.equal(new X509Certificate(forged.certPem).checkIssued(new X509Certificate(ca.certPem)), true, 'the names match');
  rejectsWith('GLM_ERR_CERT_UNKNOWN_CA', () => validateSvid(forged.certPem, opts));
});

test('GIVEN text that is not a certificate WHEN validated THEN GLM_ERR_CERT_UNREADABLE says it cannot be parsed as X.509', () => {
  assert.throws(() => validateSvid('not a certificate', opts), (err) => isGlimmerError(err, 'GLM_ERR_CERT_UNREADABLE') && err.message === 'the certificate cannot be parsed as X.509' && err.cause !== undefined);
});

/**
 * A leaf signed by the test CA's key file with exactly the given openssl extension lines: certificates issueLeaf
 * cannot make (keyUsage bits beyond its three choices, a keyUsage BIT STRING written byte by byte).
 */
async function opensslLeaf(extensions: readonly string[]): Promise<{ certPem: string; serial: string }> {
  const dir = await tempDir();
  const file = (name: string) => path.join(dir, name);
  const serial = normalizeSerial(`5${randomBytes(15).toString('hex')}`);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('leaf.key')]);
  run(['req', '-new', '-key', file('leaf.key'), '-subj', '/O=Glimmer', '-out', file('leaf.csr')]);
  await writeFile(file('ext.cnf'), ['[leaf]', ...extensions, 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid', ''].join('\n'));
  run(['x509', '-req', '-in', file('leaf.csr'), '-CA', path.join(ca.dir, 'ca.crt'), '-CAkey', path.join(ca.dir, 'ca.key'),
    '-set_serial', `0x${serial}`, '-days', '1', '-extfile', file('ext.cnf'), '-extensions', 'leaf', '-out', file('leaf.crt')]);
  return { certPem: await readFile(file('leaf.crt'), 'utf8'), serial };
}

const SVID_EXTENSIONS = ['basicConstraints = critical, CA:FALSE', 'extendedKeyUsage = clientAuth, serverAuth'];

test('GIVEN openssl leaves without the CA flag whose keyUsage is digitalSignature plus keyCertSign or cRLSign WHEN validated THEN GLM_ERR_CERT_KEY_USAGE says they have certificate-signing usages, while digitalSignature alone validates', async () => {
  const san = `subjectAltName = critical, URI:${good.spiffeId}`;
  const plain = await opensslLeaf([...SVID_EXTENSIONS, 'keyUsage = critical, digitalSignature', san]);
  assert.equal(validateSvid(plain.certPem, opts).serial, plain.serial);
  for (const [usage, bits] of [['keyCertSign', 1 | 32], ['cRLSign', 1 | 64]] as const) {
    const leaf = await opensslLeaf([...SVID_EXTENSIONS, `keyUsage = critical, digitalSignature, ${usage}`, san]);
    const cert = new X509Certificate(leaf.certPem);
    assert.equal(cert.ca, false, `${usage}: no CA flag`);
    assert.equal(readSvidExtensions(cert.raw).keyUsage, bits);
    assert.throws(() => validateSvid(leaf.certPem, opts), (err) => {
      assert.ok(isGlimmerError(err, 'GLM_ERR_CERT_KEY_USAGE'), `${usage}: ${String(err)}`);
      assert.equal(err.message, `certificate serial ${leaf.serial} lacks keyUsage digitalSignature or has certificate-signing usages`);
      assert.deepEqual(err.details, { serial: leaf.serial });
      return true;
    });
  }
});

test('GIVEN a leaf whose keyUsage BIT STRING ends in two zero octets (Node parses it, the SVID extension reader does not) WHEN validated THEN GLM_ERR_CERT_UNREADABLE says its extensions cannot be parsed, with the reader\'s RangeError as cause', async () => {
  // 03 04 00 80 00 00: BIT STRING, no unused bits, digitalSignature, then two octets DER would have trimmed.
  const leaf = await opensslLeaf([...SVID_EXTENSIONS, '2.5.29.15 = critical, DER:030400800000', `subjectAltName = critical, URI:${good.spiffeId}`]);
  const cert = new X509Certificate(leaf.certPem);
  assert.equal(cert.checkIssued(new X509Certificate(ca.certPem)), true, 'Node parses and chains it');
  assert.equal(cert.subjectAltName, `URI:${good.spiffeId}`);
  assert.throws(() => validateSvid(leaf.certPem, opts), (err) => {
    assert.ok(isGlimmerError(err, 'GLM_ERR_CERT_UNREADABLE'), String(err));
    assert.equal(err.message, `the extensions of certificate serial ${leaf.serial} cannot be parsed`);
    assert.ok(err.cause instanceof RangeError);
    assert.equal(err.cause.message, 'malformed keyUsage');
    return true;
  });
});

test('GIVEN a trust bundle holding only a certificate without the CA flag, which signed the leaf WHEN the leaf is validated THEN GLM_ERR_CERT_UNKNOWN_CA says the issuer is not a CA', async () => {
  const window = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) };
  // No keyUsage on the issuer: with one lacking keyCertSign, OpenSSL would not even match it as the issuer.
  const notCa = await issueLeaf(ca, { uris: [], eku: [], keyUsage: 'none', ...window });
  const notCaCert = new X509Certificate(notCa.certPem);
  const keys = await importKeyPairPem(notCa.keyPem, notCaCert.publicKey.export({ type: 'spki', format: 'der' }));
  const leaf = await issueLeaf({ ...ca, certPem: notCa.certPem, bundlePem: notCa.certPem, keys }, { uris: [good.spiffeId], ...window });
  const cert = new X509Certificate(leaf.certPem);
  assert.equal(notCaCert.ca, false);
  assert.equal(cert.checkIssued(notCaCert) && cert.verify(notCaCert.publicKey), true, 'the bundle certificate issued and signed the leaf');
  assert.throws(() => validateSvid(leaf.certPem, { ...opts, bundlePem: notCa.certPem }), (err) => {
    assert.ok(isGlimmerError(err, 'GLM_ERR_CERT_UNKNOWN_CA'), String(err));
    assert.equal(err.message, `certificate serial ${leaf.serial} is issued by a bundle certificate that is not a CA`);
    assert.deepEqual(err.details, { serial: leaf.serial });
    return true;
  });
});

test('GIVEN a trust bundle with a certificate block that is not DER WHEN a certificate is validated against it THEN GLM_ERR_CERT_UNREADABLE carries Node\'s parse error (ERR_OSSL_ASN1_WRONG_TAG) as cause', () => {
  const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  assert.throws(() => validateSvid(good.certPem, { ...opts, bundlePem: broken }), (err) => {
    assert.ok(isGlimmerError(err, 'GLM_ERR_CERT_UNREADABLE'), String(err));
    assert.equal(err.message, 'the trust bundle contains a certificate that cannot be parsed');
    assert.ok(err.cause instanceof Error);
    assert.equal((err.cause as Error & { code?: string }).code, 'ERR_OSSL_ASN1_WRONG_TAG');
    assert.equal(err.cause.message, 'error:068000A8:asn1 encoding routines::wrong tag');
    return true;
  });
});

test('GIVEN an existing P-256 key as PKCS#8 PEM WHEN issueSvid certifies it THEN the certificate holds exactly that public key and the SVID returns that private key', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const svid = await issueSvid(ca, { zone: 'cell1', agent: 'industrial-1', keyPem });
  const cert = new X509Certificate(svid.certPem);
  assert.deepEqual(cert.publicKey.export({ type: 'spki', format: 'der' }), publicKey.export({ type: 'spki', format: 'der' }));
  assert.ok(cert.checkPrivateKey(privateKey));
  assert.deepEqual(createPrivateKey(svid.keyPem).export({ format: 'jwk' }), privateKey.export({ format: 'jwk' }));
  assert.equal(validateSvid(svid.certPem, opts).spiffeId, good.spiffeId);
});

test('GIVEN a leaf with two subjectAltName extensions (the first a valid SPIFFE ID, the second a DNS name) WHEN validated THEN GLM_ERR_CERT_UNKNOWN_CA: Node\'s OpenSSL does not match a certificate with a duplicated extension to any issuer, so the SVID reader\'s own count is never reached', async () => {
  const X = x509();
  const keys = (await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caCert = new X.X509Certificate(ca.certPem);
  const twoSans = await X.X509CertificateGenerator.create({
    serialNumber: '5a4e', subject: 'O=Glimmer', issuer: caCert.subject, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour),
    signingAlgorithm: EC_SIGNING_ALGORITHM, publicKey: keys.publicKey, signingKey: ca.keys.privateKey,
    extensions: [
      new X.BasicConstraintsExtension(false, undefined, true),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await X.AuthorityKeyIdentifierExtension.create(caCert),
      new X.SubjectAlternativeNameExtension([{ type: 'url', value: good.spiffeId }], true),
      new X.SubjectAlternativeNameExtension([{ type: 'dns', value: 'industrial-1.plant.example' }], false),
      new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature, true),
    ],
  });
  const pem = twoSans.toString('pem');
  const cert = new X509Certificate(pem);
  assert.deepEqual({ ...readSvidExtensions(cert.raw) }, { uris: [good.spiffeId], sanExtensions: 2, keyUsage: 1, isCa: false });
  assert.equal(cert.verify(new X509Certificate(ca.certPem).publicKey), true, 'signed by the CA');
  assert.equal(cert.checkIssued(new X509Certificate(ca.certPem)), false, 'OpenSSL marks the duplicate extension invalid');
  assert.throws(() => validateSvid(pem, opts), (err) => isGlimmerError(err, 'GLM_ERR_CERT_UNKNOWN_CA') && err.message.startsWith('certificate serial 5a4e ('));
});

test('GIVEN a revoked SPIFFE ID WHEN an SVID carrying it is validated THEN GLM_ERR_CERT_REVOKED names the identity and the serial; an SVID of another identity, or an empty revocation set, passes', async () => {
  const other = await issueSvid(ca, { zone: 'cell1', agent: 'industrial-2' });
  const revokedSpiffeIds = new Set([good.spiffeId]);
  assert.throws(() => validateSvid(good.certPem, { ...opts, revokedSpiffeIds }), (err) => {
    assert.ok(isGlimmerError(err, 'GLM_ERR_CERT_REVOKED'), String(err));
    assert.equal(err.message, `"${good.spiffeId}" (certificate serial ${good.serial}) is a revoked identity`);
    assert.deepEqual(err.details, { serial: good.serial });
    return true;
  });
  assert.equal(validateSvid(other.certPem, { ...opts, revokedSpiffeIds }).spiffeId, other.spiffeId);
  assert.equal(validateSvid(good.certPem, { ...opts, revokedSpiffeIds: new Set() }).spiffeId, good.spiffeId);
});
