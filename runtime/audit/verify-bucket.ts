/** The audit log's archive verifier: a log checked straight from its Object Lock bucket, without the runtime. */
import { GlimmerError, quote } from '../errors';
import { CompactRange, type MerkleAlgorithm, MERKLE_ALGORITHMS, hasher } from './merkle';
import type { Checkpoint } from './checkpoint-body';
import { parseVerifierKey } from './note';
import { Findings, type VerifyOptions, type VerifyReport, checkLeaf, openNote } from './verify';

/**
 * Verifies the sealed segments of a log straight from its Object Lock bucket (`glimmer audit verify --bucket
 * s3://bucket/prefix`), streaming each object: every leaf re-read, canonical and carrying its index, the segments
 * contiguous from entry 0, every sealed checkpoint's signature checked and its root recomputed from all the leaves
 * before it (so each checkpoint is consistent with the previous one), and every object (log.json too) under Object Lock
 * retention.
 * A prefix holding no `log.json` itself verifies every log below it (each `.../log.json`, e.g. one per agent).
 */
export async function verifyBucket(url: string, options: VerifyOptions & { endpoint?: string; region?: string } = {}): Promise<VerifyReport & { logs?: string[] }> {
  const { parseBucket, s3Client, segmentKey } = await import('./archive');
  const { GetObjectCommand, HeadObjectCommand, paginateListObjectsV2 } = await import('@aws-sdk/client-s3');
  const { bucket, prefix } = parseBucket(url);
  const client = await s3Client({ bucket, prefix, ...(options.region ? { region: options.region } : {}), ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  const body = async (key: string) => (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as NodeJS.ReadableStream & { transformToString(): Promise<string> };
  try {
    // One listing (every page) serves both the choice (a log here, or the logs below) and each log's segments.
    const listed = new Set<string>();
    // S3 lists every object with its key.
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) page.Contents?.forEach((o) => listed.add(o.Key as string));
    const all = [...listed];
    const below = listed.has(`${prefix}log.json`) ? [] : all.filter((k) => k.endsWith('/log.json')).map((k) => k.slice(0, -'log.json'.length));
    if (below.length > 0) {
      const reports = [];
      for (const sub of below) reports.push({ sub, report: await verifyBucketLog(sub, all) });
      return {
        ok: reports.every((r) => r.report.ok),
        size: reports.reduce((n, r) => n + r.report.size, 0),
        checkpoints: reports.reduce((n, r) => n + r.report.checkpoints, 0),
        segments: reports.reduce((n, r) => n + r.report.segments, 0),
        proofsChecked: reports.reduce((n, r) => n + r.report.proofsChecked, 0),
        findings: reports.flatMap((r) => r.report.findings.map((f) => `s3://${bucket}/${r.sub}: ${f}`)),
        logs: reports.map((r) => `s3://${bucket}/${r.sub}`),
      };
    }
    return await verifyBucketLog(prefix, all);
  } finally {
    client.destroy();
  }

  async function verifyBucketLog(p: string, all: readonly string[]): Promise<VerifyReport> {
    const findings = new Findings();
    let meta: { algorithm?: MerkleAlgorithm; origin?: string; keys?: string[] };
    try {
      meta = JSON.parse(await (await body(`${p}log.json`)).transformToString()) as typeof meta;
    } catch (err) {
      throw new GlimmerError('GLM_ERR_AUDIT_VERIFY_FAILED', `s3://${bucket}/${p}log.json cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const checkLocked = async (key: string) => {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const until = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
      if (!head.ObjectLockMode || until <= Date.now()) findings.add(`${key.slice(p.length)} is not under Object Lock retention (mode ${quote(head.ObjectLockMode)})`);
    };
    const algorithm = meta.algorithm;
    if (!MERKLE_ALGORITHMS.includes(algorithm as MerkleAlgorithm)) throw new GlimmerError('GLM_ERR_AUDIT_VERIFY_FAILED', `s3://${bucket}/${p}log.json names unknown algorithm ${quote(algorithm)}`);
    const h = hasher(algorithm);
    // log.json names the verifier keys trusted on first use: it is evidence like the segments.
    await checkLocked(`${p}log.json`);
    const keys = (options.trustedKeys ?? meta.keys ?? []).map(parseVerifierKey);
    if (keys.length === 0) findings.add('no verifier keys: nothing can vouch for the checkpoints');
    // A sealed segment is a checkpoint at exactly the key the archiver writes for its number (the comparison below, not
    // the pattern, decides); a look-alike (nested deeper, padded otherwise) is a stray object like any other, never read
    // as the segment of the same number.
    const sealed = (name: string) => {
      const match = /segments\/([0-9]+)\.checkpoint/.exec(name);
      const id = Number(match?.[1]);
      return match && segmentKey(id, 'checkpoint') === name ? [id] : [];
    };
    // segmentKey pads ids to six digits, not more: ids past 999999 are longer and list before the shorter ones.
    const ids = all.flatMap((k) => (k.startsWith(p) ? sealed(k.slice(p.length)) : [])).sort((a, b) => a - b);
    const range = new CompactRange(h);
    let size = 0;
    let previous: Checkpoint | undefined;
    let since: Checkpoint | undefined;
    if (options.since !== undefined) since = await openNote(options.since, keys, h, 'the --since checkpoint', findings);
    // The root after the --since checkpoint's size (the empty root for size 0); never set when the archive is shorter.
    let sinceRoot = since?.size === 0 ? range.root() : undefined;
    for (const id of ids) {
      const cpKey = `${p}${segmentKey(id, 'checkpoint')}`;
      const leavesKey = `${p}${segmentKey(id, 'leaves')}`;
      await checkLocked(cpKey);
      await checkLocked(leavesKey).catch(() => findings.add(`segment ${id}: ${segmentKey(id, 'leaves')} is missing`));
      const note = await (await body(cpKey)).transformToString();
      const cp = await openNote(note, keys, h, `segment ${id} final checkpoint`, findings);
      const start = size;
      try {
        const { createInterface } = await import('node:readline');
        const lines = createInterface({ input: (await body(leavesKey)) as unknown as NodeJS.ReadableStream, crlfDelay: Infinity });
        for await (const line of lines) {
          const leaf = Buffer.from(line);
          const problem = checkLeaf(leaf, size);
          if (problem) findings.add(`segment ${id}: ${problem}`);
          range.push(h.leaf(leaf));
          size += 1;
          if (size === since?.size) sinceRoot = range.root();
        }
      } catch (err) {
        findings.add(`segment ${id}: ${segmentKey(id, 'leaves')} cannot be read: ${(err as Error).message}`);
        continue;
      }
      if (!cp) continue;
      if (cp.origin !== meta.origin) findings.add(`segment ${id}: checkpoint origin ${quote(cp.origin)}, the log is ${quote(meta.origin)}`);
      if (cp.size !== size) findings.add(`segment ${id}: holds entries ${start}..${size - 1} but its checkpoint covers ${cp.size} (missing, truncated or extended)`);
      else if (!range.root().equals(cp.root)) findings.add(`segment ${id}: the root recomputed from entries 0..${size - 1} differs from the signed checkpoint`);
      else findings.proofs += 1;
      if (previous && cp.size < previous.size) findings.add(`segment ${id}: its checkpoint (size ${cp.size}) is behind the previous one (${previous.size})`);
      previous = cp;
    }
    if (ids.length === 0) findings.add(`no sealed segments under s3://${bucket}/${p}segments/`);
    if (since && !sinceRoot?.equals(since.root)) findings.add(`the --since checkpoint (size ${since.size}) is not a prefix of the archived log`);
    return { ok: findings.list.length === 0, algorithm, size, checkpoints: ids.length, segments: ids.length, proofsChecked: findings.proofs, findings: findings.list };
  }
}
