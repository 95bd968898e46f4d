/**
 * Sealed segments in an S3 Object Lock bucket (cluster mode). Per log, under its prefix:
 *   `log.json`                  {algorithm, origin, keys}: what a verifier needs besides the segments (rewritten when
 *                               a key is added; every version is kept and locked by the bucket's versioning)
 *   `segments/<id>.leaves`      the leaves, one per line, exactly as the local export writes them
 *   `segments/<id>.checkpoint`  the sealed final checkpoint, written last: its presence marks a complete segment
 * Every object is written with its own Object Lock retention (mode and retain-until date) and a SHA-256 checksum the
 * bucket verifies; the checkpoint is read back (HeadObject) to prove the bucket applied the retention, since a bucket
 * without Object Lock would hold the evidence unprotected. The SDK is loaded lazily; credentials and endpoint come from
 * its default chain (AWS_REGION, AWS_ENDPOINT_URL_S3, Pod Identity, ...).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { GlimmerError, quote } from '../errors';

export interface ObjectLockRetention {
  readonly mode: 'COMPLIANCE' | 'GOVERNANCE';
  readonly days: number;
}

/** `name` or `s3://name/prefix/`: the bucket and the prefix it carries. */
export function parseBucket(text: string): { bucket: string; prefix: string } {
  const m = /^(?:s3:\/\/)?([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(text.trim());
  if (!m) throw new GlimmerError('GLM_ERR_CLUSTER_CONFIG_INVALID', `bucket ${quote(text)} is not an S3 bucket name or s3://bucket/prefix`);
  return { bucket: m[1] as string, prefix: normalisePrefix(m[2] ?? '', 'the bucket URL') };
}

export function normalisePrefix(prefix: string, what: string): string {
  if (prefix === '') return '';
  if (!/^[A-Za-z0-9!_.*'()/-]{1,512}$/.test(prefix) || prefix.split('/').some((p) => p === '..' || p === '.')) {
    throw new GlimmerError('GLM_ERR_CLUSTER_CONFIG_INVALID', `${what}: object key prefix ${quote(prefix)} may hold letters, digits and !_.*'()/- only`);
  }
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

export interface ArchivedLog {
  readonly algorithm: string;
  readonly origin: string;
  readonly keys: readonly string[];
}

export interface SegmentToArchive {
  readonly id: number;
  readonly leavesFile: string;
  readonly checkpoint: string;
  readonly sealedAt: number;
}

export interface SegmentArchive {
  /** s3://bucket/prefix */
  readonly location: string;
  put(log: ArchivedLog, segment: SegmentToArchive): Promise<void>;
  close(): Promise<void>;
}

export interface S3Location {
  readonly bucket: string;
  /** '' or ending in '/'. */
  readonly prefix: string;
  /** @default - the SDK's resolution (AWS_REGION) */
  readonly region?: string;
  /** @default - the SDK's resolution (AWS_ENDPOINT_URL_S3, else the regional endpoint) */
  readonly endpoint?: string;
}

export const segmentKey = (id: number, ext: 'leaves' | 'checkpoint') => `segments/${String(id).padStart(6, '0')}.${ext}`;

function failed(message: string, cause?: unknown): GlimmerError {
  return new GlimmerError('GLM_ERR_AUDIT_ARCHIVE_FAILED', message, { cause });
}

/** An S3 client; a custom endpoint (on-premises S3, a VPC endpoint by IP, a test server) is addressed path-style. */
export async function s3Client(location: S3Location): Promise<S3Client> {
  const { S3Client: Client } = await import('@aws-sdk/client-s3');
  const endpoint = location.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new Client({
    ...(location.region ? { region: location.region } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 3,
  });
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file).on('data', (c) => h.update(c)).on('error', reject).on('end', () => resolve(h.digest('base64')));
  });
}

export async function s3SegmentArchive(location: S3Location & { retention: ObjectLockRetention; now?: () => number }): Promise<SegmentArchive> {
  const { PutObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const client = await s3Client(location);
  const where = `s3://${location.bucket}/${location.prefix}`;
  const lock = (sealedAt: number) => ({
    ObjectLockMode: location.retention.mode,
    ObjectLockRetainUntilDate: new Date(sealedAt + location.retention.days * 86_400_000),
  });
  const put = async (key: string, body: Buffer | Readable, length: number, checksum: string, sealedAt: number, contentType: string) => {
    try {
      await client.send(new PutObjectCommand({
        Bucket: location.bucket, Key: `${location.prefix}${key}`, Body: body, ContentLength: length, ContentType: contentType,
        ChecksumAlgorithm: 'SHA256', ChecksumSHA256: checksum, ...lock(sealedAt),
      }));
    } catch (err) {
      throw failed(`PutObject ${quote(`${where}${key}`)} failed: ${(err as Error).name}: ${(err as Error).message}`, err);
    }
  };
  let lastLog = '';
  return {
    location: where,
    async put(log, seg) {
      const logJson = Buffer.from(`${JSON.stringify({ algorithm: log.algorithm, origin: log.origin, keys: log.keys })}\n`);
      if (logJson.toString() !== lastLog) {
        await put('log.json', logJson, logJson.length, crypto.createHash('sha256').update(logJson).digest('base64'), seg.sealedAt, 'application/json');
        lastLog = logJson.toString();
      }
      const size = fs.statSync(seg.leavesFile).size;
      await put(segmentKey(seg.id, 'leaves'), fs.createReadStream(seg.leavesFile), size, await sha256File(seg.leavesFile), seg.sealedAt, 'application/x-ndjson');
      const cp = Buffer.from(seg.checkpoint);
      await put(segmentKey(seg.id, 'checkpoint'), cp, cp.length, crypto.createHash('sha256').update(cp).digest('base64'), seg.sealedAt, 'text/plain');
      let head;
      try {
        head = await client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: `${location.prefix}${segmentKey(seg.id, 'checkpoint')}` }));
      } catch (err) {
        throw failed(`HeadObject ${quote(`${where}${segmentKey(seg.id, 'checkpoint')}`)} failed`, err);
      }
      if (head.ObjectLockMode !== location.retention.mode || !head.ObjectLockRetainUntilDate) {
        throw failed(`bucket ${quote(location.bucket)} stored segment ${seg.id} without Object Lock retention (mode ${quote(head.ObjectLockMode)}); is Object Lock enabled on it?`);
      }
    },
    close: async () => client.destroy(),
  };
}
