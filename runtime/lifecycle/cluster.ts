/**
 * Cluster mode (`GLIMMER_RUNTIME_MODE=cluster`, set by the runtime stacks on every agent container): the runtime uses
 * what the stacks provision and refuses to start without it, never falling back to a local or ephemeral key:
 *  - checkpoints signed by the KMS key GLIMMER_AUDIT_SIGNING_KEY (credentials from the SDK's default chain: EKS Pod
 *    Identity in the cloud topology, a mounted credentials file or an on-prem endpoint at the edge);
 *  - sealed segments exported to the Object Lock bucket GLIMMER_AUDIT_BUCKET under GLIMMER_AUDIT_PREFIX, each object
 *    with its own retention (GLIMMER_AUDIT_RETENTION_MODE, GLIMMER_AUDIT_RETENTION_DAYS);
 *  - GDPR data keys wrapped by the KMS key GLIMMER_DATA_KEY;
 *  - the audit store on the pod's persistent volume (the state directory must already exist and must not be tmpfs);
 *  - one trust anchor for every pod (GLIMMER_TRUST_CA_DIR: the mounted CA Secret), so the agents' X.509-SVIDs verify
 *    across pods; a CA of its own per pod would make every cross-pod A2A call fail.
 */
import fs from 'node:fs';
import { normalisePrefix, parseBucket, type ObjectLockRetention } from '../audit/archive';
import { GlimmerError, quote } from '../errors';

export const RUNTIME_MODE_ENV = 'GLIMMER_RUNTIME_MODE';

export interface ClusterSettings {
  /** KMS key id, ARN or alias of the asymmetric checkpoint key. */
  readonly signingKey: string;
  readonly bucket: string;
  /** Object key prefix of this agent's log ('' or ending in '/'). */
  readonly prefix: string;
  readonly retention: ObjectLockRetention;
  /** KMS key id, ARN or alias of the symmetric key wrapping the GDPR data key. */
  readonly dataKey: string;
  /** Directory with the shared CA (ca.crt, ca.key). */
  readonly trustCaDir: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Whether the runtime runs in cluster mode; any value other than cluster or local (or none) is refused. */
export function isClusterMode(env: Env = process.env): boolean {
  const mode = env[RUNTIME_MODE_ENV];
  if (mode === undefined || mode === '' || mode === 'local') return false;
  if (mode === 'cluster') return true;
  throw new GlimmerError('GLM_ERR_CLUSTER_CONFIG_INVALID', `${RUNTIME_MODE_ENV}=${quote(mode)}: allowed: cluster, local`);
}

/** The cluster settings from the environment; names every missing variable at once. */
export function clusterSettings(env: Env = process.env): ClusterSettings {
  const missing = ['GLIMMER_AUDIT_SIGNING_KEY', 'GLIMMER_AUDIT_BUCKET', 'GLIMMER_DATA_KEY', 'GLIMMER_TRUST_CA_DIR'].filter((k) => !env[k]?.trim());
  if (missing.length > 0) {
    throw new GlimmerError(
      'GLM_ERR_CLUSTER_SIGNER_REQUIRED',
      `${RUNTIME_MODE_ENV}=cluster needs a durable checkpoint signer, segment archive, data key and shared trust anchor, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set; the runtime does not fall back to a local key`,
      { details: { missing } },
    );
  }
  const { bucket, prefix: urlPrefix } = parseBucket(env.GLIMMER_AUDIT_BUCKET as string);
  const prefix = env.GLIMMER_AUDIT_PREFIX ? normalisePrefix(env.GLIMMER_AUDIT_PREFIX, 'GLIMMER_AUDIT_PREFIX') : '';
  const mode = env.GLIMMER_AUDIT_RETENTION_MODE ?? 'COMPLIANCE';
  if (mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE') {
    throw new GlimmerError('GLM_ERR_CLUSTER_CONFIG_INVALID', `GLIMMER_AUDIT_RETENTION_MODE=${quote(mode)}: allowed: COMPLIANCE, GOVERNANCE`);
  }
  const daysText = env.GLIMMER_AUDIT_RETENTION_DAYS ?? '2555';
  const days = Number(daysText);
  if (!/^[0-9]{1,5}$/.test(daysText) || days < 1 || days > 36500) {
    throw new GlimmerError('GLM_ERR_CLUSTER_CONFIG_INVALID', `GLIMMER_AUDIT_RETENTION_DAYS=${quote(daysText)}: allowed: a whole number of days, 1..36500`);
  }
  return {
    signingKey: (env.GLIMMER_AUDIT_SIGNING_KEY as string).trim(),
    bucket,
    prefix: `${urlPrefix}${prefix}`,
    retention: { mode, days },
    dataKey: (env.GLIMMER_DATA_KEY as string).trim(),
    trustCaDir: (env.GLIMMER_TRUST_CA_DIR as string).trim(),
  };
}

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * The state directory must be the pod's persistent volume: it exists before the runtime starts (a mount; the runtime
 * never creates it in cluster mode), it is a writable directory, and it is not memory-backed.
 */
export function assertDurableStore(stateDir: string): void {
  const refuse = (why: string) => {
    throw new GlimmerError('GLM_ERR_CLUSTER_STORE_NOT_DURABLE', `state directory ${quote(stateDir)} ${why}; in cluster mode it must be the agent's persistent volume`);
  };
  let st: fs.Stats;
  try {
    st = fs.statSync(stateDir);
  } catch {
    return refuse('does not exist (no volume is mounted there)');
  }
  if (!st.isDirectory()) refuse('is not a directory');
  try {
    fs.accessSync(stateDir, fs.constants.W_OK);
  } catch {
    refuse('is not writable');
  }
  const type = fs.statfsSync(stateDir).type;
  if (type === TMPFS_MAGIC || type === RAMFS_MAGIC) refuse('is on tmpfs/ramfs (an emptyDir in memory): it would not survive a restart');
}
