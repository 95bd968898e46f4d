/**
 * An S3-protocol server for tests and the rehearsal: moto's standalone server (`moto_server`, Python), which implements
 * Object Lock as S3 does: buckets created with Object Lock enabled (versioned), per-object retention (mode and
 * retain-until date) stored and returned by HeadObject, and deletion of a locked object version refused. The real
 * @aws-sdk/client-s3 talks to it over HTTP (path-style, static test credentials).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface S3TestServer {
  readonly endpoint: string;
  readonly process: ChildProcess;
  close(): Promise<void>;
}

/** Static test credentials; the secret is the one the KMS test server checks SigV4 signatures with (TEST_SECRET). */
export const TEST_AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIAGLIMMERTEST00000', AWS_SECRET_ACCESS_KEY: 'test-secret-not-real', AWS_REGION: 'eu-central-1' } as const;

/** Starts moto_server on `host` (a free port; HTTPS with `tls` files) and resolves once it listens. */
export async function startS3Server(host = '127.0.0.1', tls?: { certFile: string; keyFile: string }, command = 'moto_server'): Promise<S3TestServer> {
  // A shell holds the server and stops it once our end of its stdin pipe closes, so a test process killed before its
  // `after` hook (a mutation run's bail, a timeout, kill -9) leaves no server behind. Background jobs read /dev/null
  // unless redirected, hence the descriptor 3.
  const watchdog = 'exec 3<&0; "$0" "$@" </dev/null & m=$!; (cat <&3 >/dev/null; kill $m 2>/dev/null) & exec 3<&-; wait $m';
  const args = ['-H', host, '-p', '0', ...(tls ? ['-s', '-c', tls.certFile, '-k', tls.keyFile] : [])];
  const child = spawn('/bin/sh', ['-c', watchdog, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`moto_server did not start within 20 s: ${out.slice(-500)}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /Running on (https?:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve((m[1] as string).replace(/\/$/, ''));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command} (moto's S3 server; \`make apt-test\` installs it): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // 127: the shell did not find the command.
      reject(new Error(code === 127 ? `cannot run ${command} (moto's S3 server; \`make apt-test\` installs it): ${out.slice(-500)}` : `moto_server exited with ${code}: ${out.slice(-500)}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    endpoint,
    process: child,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        try {
          process.kill(-(child.pid as number), 'SIGTERM');
        } catch {
          resolve();
        }
      }),
  };
}

/** Creates a bucket with Object Lock enabled (which also turns versioning on), as the stacks' audit bucket is. */
export async function createLockedBucket(endpoint: string, bucket: string, objectLock = true, caPem?: string): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const https = await import('node:https');
  const client = new S3Client({ endpoint, forcePathStyle: true, ...(caPem ? { requestHandler: { httpsAgent: new https.Agent({ ca: caPem }) } } : {}), region: TEST_AWS_ENV.AWS_REGION, credentials: { accessKeyId: TEST_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY } });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: objectLock, CreateBucketConfiguration: { LocationConstraint: TEST_AWS_ENV.AWS_REGION as 'eu-central-1' } }));
  } finally {
    client.destroy();
  }
}
