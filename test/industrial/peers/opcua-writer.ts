/**
 * A SCADA client in its own process: opens a SignAndEncrypt session with a user name and writes one value with
 * node-opcua's client, as an HMI would. Prints `RESULT <status name>` (or `ERROR <message>`).
 * Usage: node --import tsx opcua-writer.ts ENDPOINT SERVER_CERT CLIENT_CERT CLIENT_KEY APPLICATION_URI USER PASSWORD NODE_ID BOOL
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import * as o from 'node-opcua';

async function main(): Promise<void> {
  const [endpoint, serverCert, cert, key, applicationUri, user, password, nodeId, value] = process.argv.slice(2) as string[];
  const client = o.OPCUAClient.create({
    applicationName: 'scada-writer', applicationUri, certificateFile: cert, privateKeyFile: key,
    securityMode: o.MessageSecurityMode.SignAndEncrypt, securityPolicy: o.SecurityPolicy.Basic256Sha256,
    serverCertificate: Buffer.from(new crypto.X509Certificate(fs.readFileSync(serverCert as string)).raw),
    endpointMustExist: false, connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  try {
    await client.connect(endpoint as string);
    const session = await client.createSession({ type: o.UserTokenType.UserName, userName: user as string, password: password as string });
    const status = await session.write({ nodeId: nodeId as string, attributeId: o.AttributeIds.Value, value: { value: new o.Variant({ dataType: o.DataType.Boolean, value: value === 'true' }) } });
    process.stdout.write(`\nRESULT ${status.name}\n`);
    await session.close();
  } catch (err) {
    process.stdout.write(`\nERROR ${(err as Error).message.split('\n').join(' ')}\n`);
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}
void main().then(() => process.exit(0));
