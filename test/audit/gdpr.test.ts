import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openPseudonymiser } from '../../runtime/audit/gdpr';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';
import { verifyStateDir } from '../../runtime/audit/verify';
import { isGlimmerError } from '../../runtime/errors';
import { tempDir } from './helpers';

const PERSON = { name: 'Grace Hopper', badge: 'BADGE-004711', email: 'Grace.Hopper@plant.example' };

test('GIVEN personal identifiers WHEN pseudonymised THEN pseudonyms are stable, keyed per subject, case-insensitive for e-mails, and nothing personal reaches the log or the key store', async () => {
  const dir = tempDir();
  const ps = openPseudonymiser({ stateDir: dir });
  const p = ps.pseudonym(PERSON.name);
  assert.match(p, /^psn_[A-Za-z0-9_-]{22}$/);
  assert.equal(ps.pseudonym(PERSON.name), p);
  assert.equal(ps.pseudonym(' Grace Hopper '), p);
  assert.equal(ps.pseudonym('grace.hopper@PLANT.example'), ps.pseudonym(PERSON.email));
  assert.notEqual(ps.pseudonym(PERSON.badge), p);
  assert.ok(ps.matches(PERSON.name, p));
  assert.ok(!ps.matches(PERSON.badge, p));

  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: 'glimmer.local/audit' }) });
  await log.append(ps.pseudonymiseFields({ type: 'operator.login', operator: PERSON.name, badge: PERSON.badge, email: PERSON.email, zone: 'control' }, ['operator', 'badge', 'email']));
  await log.close();
  ps.close();
  for (const file of fs.readdirSync(path.join(dir, 'audit'))) {
    if (fs.statSync(path.join(dir, 'audit', file)).isDirectory()) continue;
    const bytes = fs.readFileSync(path.join(dir, 'audit', file)).toString('latin1');
    for (const value of Object.values(PERSON)) assert.ok(!bytes.toLowerCase().includes(value.toLowerCase()), `${value} found in ${file}`);
  }
});

test('GIVEN a subject in the log WHEN erased (crypto-shredded) THEN the key is gone even after restart, the old pseudonym cannot be linked (GLM_ERR_AUDIT_SUBJECT_ERASED), a new one is fresh, and the log still verifies', async () => {
  const dir = tempDir();
  let ps = openPseudonymiser({ stateDir: dir });
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: 'glimmer.local/audit' }) });
  const before = ps.pseudonym(PERSON.badge);
  await log.append({ type: 'badge.scan', badge: before });
  const erased = ps.erase(PERSON.badge);
  assert.deepEqual(erased, { pseudonym: before });
  await log.append({ type: 'gdpr.erasure', subject: erased?.pseudonym ?? '' });
  assert.equal(ps.erase(PERSON.badge), undefined);
  assert.ok(ps.isErased(PERSON.badge));
  assert.throws(() => ps.matches(PERSON.badge, before), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SUBJECT_ERASED'));
  ps.close();
  await log.close();

  ps = openPseudonymiser({ stateDir: dir });
  assert.throws(() => ps.matches(PERSON.badge, before), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SUBJECT_ERASED'));
  const after = ps.pseudonym(PERSON.badge);
  assert.notEqual(after, before);
  assert.ok(!ps.isErased(PERSON.badge));
  ps.close();
  const report = await verifyStateDir(dir);
  assert.deepEqual(report.findings, []);
  assert.equal(report.size, 2);
});

test('GIVEN a personal field that is not a string, or an empty identifier WHEN pseudonymised THEN GLM_ERR_AUDIT_RECORD_INVALID', () => {
  const ps = openPseudonymiser({ stateDir: tempDir() });
  assert.throws(() => ps.pseudonymiseFields({ type: 'x', badge: 4711 }, ['badge']), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_RECORD_INVALID'));
  assert.throws(() => ps.pseudonym('   '), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_RECORD_INVALID'));
  ps.close();
});
