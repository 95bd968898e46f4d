/** The API's mTLS listener: machine clients authenticate with their X.509-SVID instead of the bearer token. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createApiServer } from '../../runtime/api/server';
import { systemRoutes } from '../../runtime/api/routes/system';
import { silentLogger } from '../../runtime/observability/logger';
import { createMetrics } from '../../runtime/observability/metrics';
import { ensureCa } from '../../runtime/trust/ca';
import { createMtlsClient, createMtlsHttpServer } from '../../runtime/trust/mtls';
import { fixedIdentity } from '../../runtime/trust/rotation';
import { issueOperatorSvid, issueSvid } from '../../runtime/trust/svid';

test('GIVEN the API behind the mTLS listener WHEN an operator calls with its SVID THEN it is authenticated as that SPIFFE ID; without a certificate or from another CA the handshake is refused and audited', async (t) => {
  const td = 'glimmer.local';
  const ca = await ensureCa(fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-mtls-api-')), td);
  const foreign = await ensureCa(fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-mtls-api-foreign-')), td);
  const seen: string[] = [];
  const api = createApiServer({
    adminToken: 'unused-admin-token-0123456789abcdefghijklmn',
    logger: silentLogger(),
    routes: [
      ...systemRoutes({ agents: () => [], registry: createMetrics().registry }),
      { method: 'GET', path: '/whoami', handle: (ctx) => ({ body: ctx.principal }) },
    ],
    authorize: (principal) => void seen.push(principal.id),
  });
  const refusals: string[] = [];
  const server = createMtlsHttpServer(
    { source: fixedIdentity(await issueSvid(ca, { zone: 'dmz', agent: 'api' }), { bundlePem: ca.bundlePem, trustDomain: td }), audit: (r) => void refusals.push(String((r as { code?: unknown }).code)) },
    api.handler,
  );
  const { port } = await server.listen(0);
  t.after(() => server.close());
  const url = `https://127.0.0.1:${port}`;

  const operator = createMtlsClient({ source: fixedIdentity(await issueOperatorSvid(ca, { operator: 'olivia' }), { bundlePem: ca.bundlePem, trustDomain: td }) });
  const me = await operator.request(`${url}/whoami`);
  assert.equal(me.status, 200);
  assert.deepEqual(JSON.parse(me.body.toString()), { id: 'spiffe://glimmer.local/operator/olivia', kind: 'operator' });
  assert.deepEqual(seen, ['spiffe://glimmer.local/operator/olivia']);
  operator.close();

  const outsider = createMtlsClient({ source: fixedIdentity(await issueOperatorSvid(foreign, { operator: 'mallory' }), { bundlePem: ca.bundlePem, trustDomain: td }) });
  await assert.rejects(outsider.request(`${url}/whoami`));
  outsider.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(refusals.includes('GLM_ERR_CERT_UNKNOWN_CA'), JSON.stringify(refusals));

  // A plain TLS client without a certificate gets no HTTP answer at all.
  const tls = await import('node:tls');
  const noCert = await new Promise<string>((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('close', () => resolve(data));
    s.on('error', () => resolve(data));
  });
  assert.equal(noCert, '');
});
