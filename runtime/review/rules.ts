/**
 * The plan-review rules. Each rule has a stable id (users suppress and grep by it, SARIF and JUnit carry it),
 * a default severity and a fix hint; `docs/ci.md` lists the same table (a test checks the two agree).
 * Rules read only ResourceViews, so a `terraform show -json` plan and a synthesized cdk.tf.json are reviewed alike.
 */
import { arr, at, block, blocks, get, isObj, str, stringMap, type Json, type JsonObject } from './json';
import { containers, k8sObject, podSpec, POD_FIELDS, resolveNamespaceRefs, securityContext, selectsAll, type K8sObject } from './k8s';
import { UNKNOWN, type ReviewInput, type ResourceView } from './resources';

export type Severity = 'blocking' | 'warning';

export interface RuleSpec {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly description: string;
  readonly fix: string;
}

export const RULES = [
  { id: 'GLM-ENC-001', title: 'Storage not encrypted at rest', severity: 'blocking', description: 'A volume, database, file system, topic, queue or EKS secrets store is created without encryption at rest.', fix: 'Turn encryption on (encrypted / storage_encrypted = true, encryption_config for EKS secrets) with a customer-managed KMS key.' },
  { id: 'GLM-ENC-002', title: 'Encryption without a customer-managed key', severity: 'blocking', description: 'Storage is encrypted with a provider-owned or AWS-managed key (SSE-S3, aws/ebs, aws/s3, ...) instead of a customer-managed KMS key (CMK) whose policy we control and whose use CloudTrail records.', fix: 'Set the KMS key attribute (kms_key_id, kms_master_key_id, key_arn, kms_key) to the ARN of a KMS key from the stack (modules: the HSM-backed data key).' },
  { id: 'GLM-KMS-001', title: 'Symmetric KMS key without rotation', severity: 'warning', description: 'A symmetric KMS key outside a custom key store has automatic rotation off. (Keys in a CloudHSM key store cannot rotate automatically and are exempt; their rotation is the documented manual procedure.)', fix: 'Set enable_key_rotation = true (and rotation_period_in_days), or move the key into the CloudHSM custom key store and follow its manual rotation procedure.' },
  { id: 'GLM-NET-001', title: 'Public endpoint in a zone at SL 2 or above', severity: 'blocking', description: 'A load balancer, NodePort/LoadBalancer Service, Ingress, public EKS API endpoint, public database, public IP or world-open security group rule serves a zone whose IEC 62443 security level is 2 or above (or whose level cannot be determined: the review fails closed).', fix: 'Make the endpoint internal (internal = true, ClusterIP, aws-load-balancer-scheme: internal, endpoint_public_access = false) and reach it through the DMZ conduit; or label/tag it with a zone at SL 1 if it truly is one.' },
  { id: 'GLM-MESH-001', title: 'Istio PeerAuthentication not STRICT', severity: 'blocking', description: 'A PeerAuthentication sets mTLS mode PERMISSIVE or DISABLE (for the workload or one of its ports), or a mesh-wide one leaves the mode unset (which means PERMISSIVE).', fix: 'Set spec.mtls.mode: STRICT and remove PERMISSIVE/DISABLE portLevelMtls entries.' },
  { id: 'GLM-MESH-002', title: 'No mesh-wide STRICT PeerAuthentication', severity: 'blocking', description: 'The plan manages Istio security policies but none is a mesh-wide (root namespace, no selector) PeerAuthentication with mode STRICT, so workloads without their own policy accept plaintext.', fix: 'Add a PeerAuthentication named default in istio-system with spec.mtls.mode: STRICT and no selector.' },
  { id: 'GLM-NETPOL-001', title: 'Namespace without a default-deny ingress NetworkPolicy', severity: 'blocking', description: 'A namespace the plan manages (or `default`, when the plan deploys into it) has no NetworkPolicy that selects every pod (podSelector {}) with policy type Ingress and no allow-all rule, so every pod accepts traffic from anywhere. A namespace labelled glimmer.io/default-deny-exempt=<reason> is reported as a warning with its reason.', fix: 'Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress, Egress] and no rules in each namespace, then open only the conduits of the zone model with further policies.' },
  { id: 'GLM-NETPOL-002', title: 'Namespace without a default-deny egress NetworkPolicy', severity: 'warning', description: 'A namespace has no NetworkPolicy that denies egress by default, so a compromised pod can reach any zone.', fix: 'Add Egress to the policyTypes of the default-deny policy and allow DNS and the zone conduits explicitly.' },
  { id: 'GLM-S3-001', title: 'Audit bucket without S3 Object Lock', severity: 'blocking', description: 'The audit bucket (named or tagged "audit", or carrying an Object Lock configuration) is created without object_lock_enabled, so sealed segments can be deleted or overwritten.', fix: 'Create the bucket with object_lock_enabled = true (it cannot be turned on later without a new bucket) and add an aws_s3_bucket_object_lock_configuration in COMPLIANCE mode.' },
  { id: 'GLM-S3-002', title: 'Audit retention missing, shortened or too short', severity: 'blocking', description: 'The audit bucket has no default Object Lock retention, its retention is below the minimum (default 365 days), or the plan shortens it.', fix: 'Set rule.default_retention to mode COMPLIANCE with days/years of at least the minimum; never lower an existing retention.' },
  { id: 'GLM-S3-003', title: 'Audit retention in GOVERNANCE mode', severity: 'warning', description: 'GOVERNANCE-mode retention can be bypassed by anyone with s3:BypassGovernanceRetention; sealed audit segments need COMPLIANCE mode.', fix: 'Set rule.default_retention.mode = "COMPLIANCE".' },
  { id: 'GLM-LIFE-001', title: 'Destroy or replace of an HSM, a KMS key or the audit bucket', severity: 'blocking', description: 'The plan deletes (destroys, or replaces by destroy and create) a CloudHSM cluster or HSM, a KMS key or custom key store, the audit bucket or its Object Lock configuration, or a resource marked glimmer:protected = "true". Destroying a key loses every record encrypted or signed under it.', fix: 'Find the change that forces replacement (action_reason, `# forces replacement` in terraform plan), revert it or migrate with moved/import blocks; add lifecycle { prevent_destroy = true }. Destroy on purpose only with a reviewed key-retirement record.' },
  { id: 'GLM-POD-001', title: 'Privileged pod', severity: 'blocking', description: 'A workload runs privileged, allows privilege escalation, sets runAsNonRoot false or runAsUser 0, uses the host network, PID or IPC namespace, or adds Linux capabilities beyond NET_BIND_SERVICE.', fix: 'Remove privileged/hostNetwork/hostPID/hostIPC, set allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities.drop: [ALL] (Pod Security "restricted").' },
  { id: 'GLM-POD-002', title: 'Pod hardening not explicit', severity: 'warning', description: 'A container leaves allowPrivilegeEscalation, runAsNonRoot, readOnlyRootFilesystem or capabilities.drop [ALL] unset, so it depends on cluster defaults.', fix: 'Set securityContext: allowPrivilegeEscalation false, runAsNonRoot true, readOnlyRootFilesystem true, capabilities.drop [ALL], seccompProfile RuntimeDefault.' },
] as const satisfies readonly RuleSpec[];

export type RuleId = (typeof RULES)[number]['id'];

export interface Finding {
  readonly ruleId: RuleId;
  readonly severity: Severity;
  readonly address: string;
  readonly message: string;
  readonly fix: string;
  readonly pointer: string;
  readonly constructPath?: string;
}

export interface RuleOptions {
  /** Minimum default retention of the audit bucket, in days. @default 365 */
  readonly minRetentionDays?: number;
  /** IEC 62443 security level per zone name (the zone model of config/glimmer.yml). @default - none: only labels and tags */
  readonly zoneLevels?: ReadonlyMap<string, number>;
}

export const DEFAULT_MIN_RETENTION_DAYS = 365;

// --- value helpers ----------------------------------------------------------------------------------------------------

const isUnknown = (v: Json | undefined): boolean => v === UNKNOWN;
const isTrue = (v: Json | undefined): boolean => v === true || v === 'true';
const isFalse = (v: Json | undefined): boolean => v === false || v === 'false';
const isSet = (v: Json | undefined): boolean => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
const ruleSpec = (id: RuleId): RuleSpec => RULES.find((r) => r.id === id) as RuleSpec;

class Collector {
  readonly findings: Finding[] = [];
  add(id: RuleId, view: ResourceView, message: string, fix?: string, severity?: Severity): void {
    const spec = ruleSpec(id);
    this.findings.push({
      ruleId: id, severity: severity ?? spec.severity, address: view.address, message, fix: fix ?? spec.fix, pointer: view.pointer,
      ...(view.constructPath === undefined ? {} : { constructPath: view.constructPath }),
    });
  }
}

function isDeleteOnly(v: ResourceView): boolean {
  return v.actions.length === 1 && v.actions[0] === 'delete';
}

/** True when `sub` (an S3 sub-resource) configures `bucket`: by reference, or by the literal bucket name. */
function belongsTo(sub: ResourceView, bucket: ResourceView): boolean {
  if (sub.refs.has(bucket.configAddress)) return true;
  const name = get(sub.values, 'bucket');
  if (typeof name !== 'string' || name === UNKNOWN) return false;
  return name === get(bucket.values, 'bucket') || name === get(bucket.values, 'id');
}

// --- zones ------------------------------------------------------------------------------------------------------------

const SL_KEY = /(security[-_.]?level|(^|[./:_-])sl)$/i;
const ZONE_KEY = /(^|[./:_-])zone$/i;

function parseLevel(v: string): number | undefined {
  const m = /^(?:SL[-_ ]?)?([1-4])$/i.exec(v.trim());
  return m ? Number(m[1]) : undefined;
}

class ZoneResolver {
  private readonly namespaces = new Map<string, number | undefined>();
  constructor(private readonly zoneLevels: ReadonlyMap<string, number>, objects: K8sObject[]) {
    for (const o of objects) if (o.kind === 'Namespace' && o.name !== '') this.namespaces.set(o.name, this.fromLabels(o.labels) ?? this.fromName(o.name));
  }

  /** SL from labels or tags: an explicit security-level key, else a zone key naming a zone of the model. */
  fromLabels(labels: Record<string, string>): number | undefined {
    for (const [k, v] of Object.entries(labels)) if (SL_KEY.test(k)) {
      const l = parseLevel(v);
      if (l !== undefined) return l;
    }
    for (const [k, v] of Object.entries(labels)) if (ZONE_KEY.test(k) && this.zoneLevels.has(v)) return this.zoneLevels.get(v);
    return undefined;
  }

  /** SL of a namespace named after a zone: `safety`, `glimmer-safety`, `zone-safety`. */
  fromName(ns: string): number | undefined {
    if (this.zoneLevels.has(ns)) return this.zoneLevels.get(ns);
    for (const [zone, level] of this.zoneLevels) if (ns.endsWith(`-${zone}`)) return level;
    return undefined;
  }

  namespace(ns: string): number | undefined {
    return this.namespaces.has(ns) ? this.namespaces.get(ns) : this.fromName(ns);
  }

  /** The highest SL of any zone known: what a cluster hosting every zone must meet. */
  highest(): number | undefined {
    const all = [...this.zoneLevels.values(), ...[...this.namespaces.values()].filter((v): v is number => v !== undefined)];
    return all.length === 0 ? undefined : Math.max(...all);
  }
}

function describeLevel(level: number | undefined): string {
  return level === undefined ? 'a zone whose security level is unknown (no zone label/tag; failing closed)' : `a zone at SL ${level}`;
}

// --- rules: encryption ------------------------------------------------------------------------------------------------

/** attribute that must be true, attribute naming the CMK, for storage resources whose encryption is a flag. */
const FLAGGED_STORAGE: Record<string, { flag?: string; key: string; what: string }> = {
  aws_ebs_volume: { flag: 'encrypted', key: 'kms_key_id', what: 'EBS volume' },
  aws_db_instance: { flag: 'storage_encrypted', key: 'kms_key_id', what: 'RDS instance' },
  aws_rds_cluster: { flag: 'storage_encrypted', key: 'kms_key_id', what: 'RDS cluster' },
  aws_efs_file_system: { flag: 'encrypted', key: 'kms_key_id', what: 'EFS file system' },
  aws_cloudwatch_log_group: { key: 'kms_key_id', what: 'CloudWatch log group' },
  aws_secretsmanager_secret: { key: 'kms_key_id', what: 'Secrets Manager secret' },
  aws_sqs_queue: { key: 'kms_master_key_id', what: 'SQS queue' },
};

function checkEncryption(input: ReviewInput, out: Collector): void {
  const live = input.resources.filter((r) => !isDeleteOnly(r));
  for (const r of live) {
    const spec = Object.hasOwn(FLAGGED_STORAGE, r.type) ? FLAGGED_STORAGE[r.type] : undefined;
    if (spec !== undefined) {
      const flag = spec.flag === undefined ? undefined : get(r.values, spec.flag);
      if (spec.flag !== undefined && !isTrue(flag) && !isUnknown(flag)) out.add('GLM-ENC-001', r, `${spec.what} ${r.address} is not encrypted at rest (${spec.flag} = ${JSON.stringify(flag ?? null)})`);
      else if (!isSet(get(r.values, spec.key))) out.add('GLM-ENC-002', r, `${spec.what} ${r.address} has no customer-managed KMS key (${spec.key} unset: a provider-managed key is used)`);
    }
    switch (r.type) {
      case 'aws_sns_topic':
        if (!isSet(get(r.values, 'kms_master_key_id'))) out.add('GLM-ENC-001', r, `SNS topic ${r.address} is not encrypted at rest (kms_master_key_id unset)`);
        break;
      case 'aws_eks_cluster': {
        const enc = blocks(get(r.values, 'encryption_config'))[0];
        if (enc === undefined) out.add('GLM-ENC-001', r, `EKS cluster ${r.address} has no encryption_config: Kubernetes secrets are not envelope-encrypted with our key`);
        else if (!isSet(get(block(enc, 'provider'), 'key_arn'))) out.add('GLM-ENC-002', r, `EKS cluster ${r.address} encryption_config has no provider.key_arn`);
        break;
      }
      case 'aws_dynamodb_table': {
        const sse = blocks(get(r.values, 'server_side_encryption'))[0];
        if (!isTrue(get(sse, 'enabled')) || !isSet(get(sse, 'kms_key_arn'))) out.add('GLM-ENC-002', r, `DynamoDB table ${r.address} uses the AWS-owned key (server_side_encryption with kms_key_arn not set)`);
        break;
      }
      case 'aws_ecr_repository': {
        const enc = blocks(get(r.values, 'encryption_configuration'))[0];
        const type = get(enc, 'encryption_type');
        if (type !== 'KMS' && type !== 'KMS_DSSE' && !isUnknown(type)) out.add('GLM-ENC-002', r, `ECR repository ${r.address} uses ${JSON.stringify(type ?? 'AES256')} instead of a KMS key`);
        else if (!isSet(get(enc, 'kms_key'))) out.add('GLM-ENC-002', r, `ECR repository ${r.address} uses KMS with the AWS-managed aws/ecr key (kms_key unset)`);
        break;
      }
      case 'aws_launch_template':
        for (const bdm of blocks(get(r.values, 'block_device_mappings'))) {
          const ebs = blocks(get(bdm, 'ebs'))[0];
          if (ebs === undefined) continue;
          const dev = str(get(bdm, 'device_name')) ?? '?';
          if (!isTrue(get(ebs, 'encrypted')) && !isUnknown(get(ebs, 'encrypted'))) out.add('GLM-ENC-001', r, `launch template ${r.address} creates unencrypted EBS volume ${dev}`);
          else if (!isSet(get(ebs, 'kms_key_id'))) out.add('GLM-ENC-002', r, `launch template ${r.address} encrypts ${dev} with the default aws/ebs key (kms_key_id unset)`);
        }
        break;
      case 'aws_kms_key': {
        const spec2 = get(r.values, 'customer_master_key_spec');
        const symmetric = spec2 === undefined || spec2 === null || spec2 === 'SYMMETRIC_DEFAULT';
        if (symmetric && !isSet(get(r.values, 'custom_key_store_id')) && !isTrue(get(r.values, 'enable_key_rotation')) && !isUnknown(get(r.values, 'enable_key_rotation'))) {
          out.add('GLM-KMS-001', r, `symmetric KMS key ${r.address} has automatic rotation off and is not in a custom key store`);
        }
        break;
      }
      default:
    }
  }
  checkS3Encryption(input, out);
}

function checkS3Encryption(input: ReviewInput, out: Collector): void {
  const configs = input.resources.filter((r) => r.type === 'aws_s3_bucket_server_side_encryption_configuration' && !isDeleteOnly(r));
  for (const b of input.resources.filter((r) => r.type === 'aws_s3_bucket' && !isDeleteOnly(r))) {
    const rules = [
      ...configs.filter((c) => belongsTo(c, b)).flatMap((c) => blocks(get(c.values, 'rule'))),
      ...blocks(get(b.values, 'server_side_encryption_configuration')).flatMap((c) => blocks(get(c, 'rule'))),
    ];
    const defaults = rules.map((rule) => blocks(get(rule, 'apply_server_side_encryption_by_default'))[0]).filter((d): d is JsonObject => d !== undefined);
    if (defaults.length === 0) {
      out.add('GLM-ENC-002', b, `S3 bucket ${b.address} has no server-side encryption configuration: objects get the default SSE-S3 (AES256), not a customer-managed KMS key`);
      continue;
    }
    const withKms = defaults.some((d) => {
      const alg = get(d, 'sse_algorithm');
      return (alg === 'aws:kms' || alg === 'aws:kms:dsse' || isUnknown(alg)) && isSet(get(d, 'kms_master_key_id'));
    });
    if (!withKms) {
      const alg = defaults.map((d) => get(d, 'sse_algorithm'));
      out.add('GLM-ENC-002', b, `S3 bucket ${b.address} encrypts with ${JSON.stringify(alg[0] ?? null)} without a customer-managed KMS key (kms_master_key_id unset)`);
    }
  }
}

// --- rules: public endpoints ------------------------------------------------------------------------------------------

const WORLD = new Set(['0.0.0.0/0', '::/0']);

function awsTags(r: ResourceView): Record<string, string> {
  return { ...stringMap(get(r.values, 'tags_all')), ...stringMap(get(r.values, 'tags')) };
}

function checkPublicEndpoints(input: ReviewInput, objects: K8sObject[], zones: ZoneResolver, out: Collector): void {
  const report = (r: ResourceView, level: number | undefined, what: string) => {
    if (level === undefined || level >= 2) out.add('GLM-NET-001', r, `${what} in ${describeLevel(level)}`);
  };
  for (const r of input.resources.filter((x) => !isDeleteOnly(x))) {
    const tagLevel = zones.fromLabels(awsTags(r));
    switch (r.type) {
      case 'aws_lb': case 'aws_alb': case 'aws_elb': {
        const internal = get(r.values, 'internal');
        if (!isTrue(internal) && !isUnknown(internal)) report(r, tagLevel, `load balancer ${r.address} is internet-facing (internal != true)`);
        break;
      }
      case 'aws_eks_cluster': {
        const vpc = blocks(get(r.values, 'vpc_config'))[0];
        const pub = get(vpc, 'endpoint_public_access');
        // The provider's default is a public endpoint: unset counts as public.
        if (isTrue(pub) || (pub === undefined && vpc !== undefined)) {
          const cidrs = arr(get(vpc, 'public_access_cidrs')).filter((c): c is string => typeof c === 'string');
          const scope = cidrs.length === 0 || cidrs.some((c) => WORLD.has(c)) ? 'from anywhere' : `from ${cidrs.join(', ')}`;
          report(r, tagLevel ?? zones.highest(), `EKS cluster ${r.address} exposes its Kubernetes API publicly (${scope}); the cluster hosts every zone`);
        }
        break;
      }
      case 'aws_db_instance':
        if (isTrue(get(r.values, 'publicly_accessible'))) report(r, tagLevel, `RDS instance ${r.address} is publicly accessible`);
        break;
      case 'aws_instance':
        if (isTrue(get(r.values, 'associate_public_ip_address'))) report(r, tagLevel, `EC2 instance ${r.address} gets a public IP address`);
        break;
      case 'aws_security_group':
        for (const rule of blocks(get(r.values, 'ingress'))) {
          const cidrs = [...arr(get(rule, 'cidr_blocks')), ...arr(get(rule, 'ipv6_cidr_blocks'))];
          if (cidrs.some((c) => typeof c === 'string' && WORLD.has(c))) report(r, tagLevel, `security group ${r.address} allows ingress on ports ${String(get(rule, 'from_port'))}-${String(get(rule, 'to_port'))} from anywhere`);
        }
        break;
      case 'aws_security_group_rule':
        if (get(r.values, 'type') === 'ingress' && [...arr(get(r.values, 'cidr_blocks')), ...arr(get(r.values, 'ipv6_cidr_blocks'))].some((c) => typeof c === 'string' && WORLD.has(c))) {
          report(r, tagLevel, `security group rule ${r.address} allows ingress from anywhere`);
        }
        break;
      case 'aws_vpc_security_group_ingress_rule': {
        const c4 = get(r.values, 'cidr_ipv4');
        const c6 = get(r.values, 'cidr_ipv6');
        if ((typeof c4 === 'string' && WORLD.has(c4)) || (typeof c6 === 'string' && WORLD.has(c6))) report(r, tagLevel, `security group ingress rule ${r.address} allows ingress from anywhere`);
        break;
      }
      case 'aws_s3_bucket_public_access_block': {
        const off = ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'].filter((k) => isFalse(get(r.values, k)));
        if (off.length > 0) report(r, tagLevel, `S3 public access block ${r.address} leaves ${off.join(', ')} off`);
        break;
      }
      default:
    }
  }
  for (const o of objects) {
    const r = o.view;
    if (isDeleteOnly(r)) continue;
    const internalLb = Object.entries(o.annotations).some(([k, v]) =>
      (k === 'service.beta.kubernetes.io/aws-load-balancer-scheme' && v === 'internal') ||
      (k === 'service.beta.kubernetes.io/aws-load-balancer-internal' && (v === 'true' || v === '0.0.0.0/0')) ||
      (k === 'alb.ingress.kubernetes.io/scheme' && v === 'internal') ||
      (k === 'networking.gke.io/load-balancer-type' && v === 'Internal'));
    const level = zones.namespace(o.namespace);
    if (o.kind === 'Service') {
      const type = get(o.spec, 'type');
      if ((type === 'LoadBalancer' && !internalLb) || type === 'NodePort') report(r, level, `Service ${o.namespace}/${o.name} is of type ${String(type)} (reachable from outside the cluster) in namespace ${o.namespace}`);
    } else if (o.kind === 'Ingress' && !internalLb) {
      report(r, level, `Ingress ${o.namespace}/${o.name} exposes namespace ${o.namespace} through the ingress controller`);
    }
  }
}

// --- rules: Istio -----------------------------------------------------------------------------------------------------

const MESH_ROOT_NAMESPACE = 'istio-system';
const isIstioSecurity = (o: K8sObject) => o.style === 'manifest' && o.apiVersion.startsWith('security.istio.io/');

function checkMesh(objects: K8sObject[], out: Collector): void {
  const security = objects.filter((o) => isIstioSecurity(o) && !isDeleteOnly(o.view));
  const pas = security.filter((o) => o.kind === 'PeerAuthentication');
  let meshWideStrict = false;
  for (const pa of pas) {
    const mode = at(pa.spec, 'mtls', 'mode');
    const selector = get(pa.spec, 'selector');
    const meshWide = pa.namespace === MESH_ROOT_NAMESPACE && (selector === undefined || selector === null);
    const where = `PeerAuthentication ${pa.namespace}/${pa.name}`;
    if (mode === 'PERMISSIVE' || mode === 'DISABLE') out.add('GLM-MESH-001', pa.view, `${where} sets mtls.mode ${mode}: workloads accept plaintext`);
    else if (meshWide && mode !== 'STRICT') out.add('GLM-MESH-001', pa.view, `${where} is mesh-wide and leaves mtls.mode ${mode === undefined ? 'unset' : JSON.stringify(mode)}, which Istio treats as PERMISSIVE`);
    else if (meshWide) meshWideStrict = true;
    const ports = get(pa.spec, 'portLevelMtls');
    if (isObj(ports)) for (const [port, cfg] of Object.entries(ports)) {
      const m = get(cfg, 'mode');
      if (m === 'PERMISSIVE' || m === 'DISABLE') out.add('GLM-MESH-001', pa.view, `${where} sets port ${port} to ${m}`);
    }
  }
  const first = security[0];
  if (first !== undefined && !meshWideStrict) {
    out.add('GLM-MESH-002', first.view, `the plan manages ${security.length} Istio security polic${security.length === 1 ? 'y' : 'ies'} but no mesh-wide STRICT PeerAuthentication (namespace ${MESH_ROOT_NAMESPACE}, no selector)`);
  }
}

// --- rules: NetworkPolicy default deny --------------------------------------------------------------------------------

const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

function denies(o: K8sObject, direction: 'Ingress' | 'Egress'): boolean {
  if (o.kind !== 'NetworkPolicy' || o.spec === undefined) return false;
  const p = o.style === 'provider';
  if (!selectsAll(o, get(o.spec, p ? 'pod_selector' : 'podSelector'))) return false;
  const types = arr(get(o.spec, p ? 'policy_types' : 'policyTypes'));
  const rules = blocks(get(o.spec, direction === 'Ingress' ? 'ingress' : 'egress'));
  // Without policyTypes, Kubernetes infers Ingress always and Egress only when egress rules exist.
  const covers = types.length > 0 ? types.includes(direction) : direction === 'Ingress';
  const peers = direction === 'Ingress' ? 'from' : 'to';
  const allowAll = rules.some((rule) => blocks(get(rule, peers)).length === 0 && arr(get(rule, peers)).length === 0);
  return covers && !allowAll;
}

/** Label with which a namespace opts out of the default-deny rules, visibly in the plan; its value is the reason. */
export const DEFAULT_DENY_EXEMPT_LABEL = 'glimmer.io/default-deny-exempt';

/**
 * Namespaces checked: those the plan manages (Namespace objects), plus `default` when the plan deploys into it (no one
 * manages it, so nothing else gives it a default deny). Namespaces created by another stack are that stack's to check.
 */
function checkNetworkPolicies(objects: K8sObject[], out: Collector): void {
  const live = objects.filter((o) => !isDeleteOnly(o.view));
  const namespaces = new Map<string, K8sObject>();
  for (const o of live) if (o.kind === 'Namespace' && o.name !== '') namespaces.set(o.name, o);
  const intoDefault = live.find((o) => o.namespace === 'default' && (podSpec(o) !== undefined || o.kind === 'Service'));
  if (intoDefault !== undefined && !namespaces.has('default')) namespaces.set('default', intoDefault);
  for (const [ns, obj] of namespaces) {
    if (SYSTEM_NAMESPACES.has(ns)) continue;
    const policies = live.filter((o) => o.kind === 'NetworkPolicy' && o.namespace === ns);
    const exempt = obj.kind === 'Namespace' ? obj.labels[DEFAULT_DENY_EXEMPT_LABEL] : undefined;
    const why = exempt ? ` (exempt by label ${DEFAULT_DENY_EXEMPT_LABEL}: ${JSON.stringify(exempt)})` : '';
    if (!policies.some((p) => denies(p, 'Ingress'))) {
      out.add('GLM-NETPOL-001', obj.view, `namespace ${ns} has no default-deny ingress NetworkPolicy (podSelector {}, policyTypes Ingress, no allow-all rule)${policies.length ? ` among its ${policies.length} policies` : ''}${why}`, undefined, exempt ? 'warning' : undefined);
    } else if (!policies.some((p) => denies(p, 'Egress'))) out.add('GLM-NETPOL-002', obj.view, `namespace ${ns} has no default-deny egress NetworkPolicy${why}`);
  }
}

// --- rules: audit bucket Object Lock and protected resources ----------------------------------------------------------

function retentionDays(v: JsonObject | null | undefined): number | undefined {
  const d = block(blocks(get(v, 'rule'))[0], 'default_retention');
  if (d === undefined) return undefined;
  const days = get(d, 'days');
  const years = get(d, 'years');
  if (typeof days === 'number' && days > 0) return days;
  if (typeof years === 'number' && years > 0) return years * 365;
  return undefined;
}

function isAuditBucket(b: ResourceView, values: JsonObject | null, lockConfigs: ResourceView[]): boolean {
  const names = [b.name, str(get(values, 'bucket')), str(get(values, 'bucket_prefix')), ...Object.entries(awsTags({ ...b, values: values ?? b.values })).flat()];
  if (names.some((n) => n !== undefined && /audit/i.test(n))) return true;
  if (isTrue(get(values, 'object_lock_enabled'))) return true;
  return lockConfigs.some((c) => belongsTo(c, b));
}

function checkObjectLock(input: ReviewInput, minDays: number, out: Collector): void {
  const lockConfigs = input.resources.filter((r) => r.type === 'aws_s3_bucket_object_lock_configuration');
  for (const b of input.resources.filter((r) => r.type === 'aws_s3_bucket' && !isDeleteOnly(r))) {
    if (!isAuditBucket(b, b.values, lockConfigs)) continue;
    const legacy = blocks(get(b.values, 'object_lock_configuration'))[0];
    const enabled = get(b.values, 'object_lock_enabled');
    if (!isTrue(enabled) && !isUnknown(enabled) && get(legacy, 'object_lock_enabled') !== 'Enabled') {
      out.add('GLM-S3-001', b, `audit bucket ${b.address} has no Object Lock (object_lock_enabled = ${JSON.stringify(enabled ?? null)})`);
      continue;
    }
    const mine = lockConfigs.filter((c) => belongsTo(c, b));
    const live = mine.filter((c) => !isDeleteOnly(c));
    const sources: { view: ResourceView; values: JsonObject | null | undefined }[] = [
      ...live.map((c) => ({ view: c, values: c.values })),
      ...(legacy === undefined ? [] : [{ view: b, values: legacy }]),
    ];
    const withRetention = sources.filter((s) => retentionDays(s.values) !== undefined);
    if (withRetention.length === 0) {
      const deleted = mine.find(isDeleteOnly);
      out.add('GLM-S3-002', deleted ?? b, deleted ? `the plan deletes the Object Lock configuration ${deleted.address} of audit bucket ${b.address}: new objects get no retention` : `audit bucket ${b.address} has no default Object Lock retention (aws_s3_bucket_object_lock_configuration with rule.default_retention)`);
      continue;
    }
    for (const s of withRetention) {
      const days = retentionDays(s.values) as number;
      const before = retentionDays(s.view.before);
      if (before !== undefined && days < before) out.add('GLM-S3-002', s.view, `the plan shortens the audit retention of ${b.address} from ${before} to ${days} days`);
      else if (days < minDays) out.add('GLM-S3-002', s.view, `audit retention of ${b.address} is ${days} days, below the minimum of ${minDays}`);
      const mode = get(block(blocks(get(s.values, 'rule'))[0], 'default_retention'), 'mode');
      if (mode === 'GOVERNANCE') out.add('GLM-S3-003', s.view, `audit retention of ${b.address} is in GOVERNANCE mode`);
    }
  }
}

const KMS_TYPES = new Set(['aws_kms_key', 'aws_kms_external_key', 'aws_kms_replica_key', 'aws_kms_replica_external_key', 'aws_kms_custom_key_store']);
const PROTECT_MARK = 'glimmer:protected';

function isMarkedProtected(v: JsonObject | null): boolean {
  const maps = [get(v, 'tags'), get(v, 'tags_all'), get(v, 'labels'), get(block(v, 'metadata'), 'labels'), get(get(get(v, 'manifest'), 'metadata'), 'labels'), get(v, 'input')];
  return maps.some((m) => {
    const s = stringMap(m);
    return s[PROTECT_MARK] === 'true' || s['glimmer.io/protected'] === 'true';
  });
}

function checkDestroy(input: ReviewInput, out: Collector): void {
  if (input.kind !== 'terraform-plan') return;
  const lockConfigs = input.resources.filter((r) => r.type === 'aws_s3_bucket_object_lock_configuration');
  const auditBuckets = input.resources.filter((r) => r.type === 'aws_s3_bucket' && isAuditBucket(r, r.before ?? r.values, lockConfigs));
  for (const r of input.resources) {
    if (!r.actions.includes('delete')) continue;
    let what: string | undefined;
    if (r.type.startsWith('aws_cloudhsm_v2_')) what = 'CloudHSM resource';
    else if (KMS_TYPES.has(r.type)) what = r.type === 'aws_kms_custom_key_store' ? 'KMS custom key store' : 'KMS key';
    else if (auditBuckets.includes(r)) what = 'audit bucket';
    else if (r.type === 'aws_s3_bucket_object_lock_configuration' && auditBuckets.some((b) => belongsTo(r, b))) what = 'Object Lock configuration of the audit bucket';
    else if (isMarkedProtected(r.before) || isMarkedProtected(r.values)) what = `protected resource (${PROTECT_MARK})`;
    if (what === undefined) continue;
    const replace = r.actions.includes('create');
    const verb = !replace ? 'destroys' : r.actions[0] === 'create' ? 'replaces (create before destroy)' : 'replaces (destroy, then create)';
    const why = r.actionReason === undefined ? '' : ` (reason: ${r.actionReason})`;
    out.add('GLM-LIFE-001', r, `the plan ${verb} ${what} ${r.address}${why}`);
  }
}

// --- rules: pods ------------------------------------------------------------------------------------------------------

const CONTAINER_LIST_LABEL: Record<string, string> = {
  container: 'container', containers: 'container', init_container: 'init container', initContainers: 'init container', ephemeralContainers: 'ephemeral container',
};

function checkPods(objects: K8sObject[], out: Collector): void {
  for (const o of objects) {
    if (isDeleteOnly(o.view)) continue;
    const pod = podSpec(o);
    if (pod === undefined) continue;
    const f = POD_FIELDS[o.style];
    const label = `${o.kind} ${o.namespace}/${o.name}`;
    for (const k of [f.hostNetwork, f.hostPID, f.hostIPC]) if (isTrue(get(pod, k))) out.add('GLM-POD-001', o.view, `${label} sets ${k}: true`);
    const podSc = securityContext(o, pod);
    const podNonRoot = get(podSc, f.runAsNonRoot);
    if (isFalse(podNonRoot)) out.add('GLM-POD-001', o.view, `${label} sets pod ${f.runAsNonRoot}: false`);
    if (get(podSc, f.runAsUser) === 0) out.add('GLM-POD-001', o.view, `${label} runs the pod as user 0 (root)`);
    for (const { list, name, c } of containers(o, pod)) {
      const sc = securityContext(o, c);
      const where = `${label} ${CONTAINER_LIST_LABEL[list] ?? 'container'} ${name}`;
      const bad: string[] = [];
      if (isTrue(get(sc, f.privileged))) bad.push(`${f.privileged}: true`);
      if (isTrue(get(sc, f.allowPrivilegeEscalation))) bad.push(`${f.allowPrivilegeEscalation}: true`);
      if (isFalse(get(sc, f.runAsNonRoot))) bad.push(`${f.runAsNonRoot}: false`);
      if (get(sc, f.runAsUser) === 0) bad.push(`${f.runAsUser}: 0`);
      const caps = blocks(get(sc, f.capabilities))[0];
      const added = arr(get(caps, f.add)).filter((c) => typeof c === 'string' && c !== 'NET_BIND_SERVICE');
      if (added.length > 0) bad.push(`capabilities.add ${JSON.stringify(added)}`);
      if (bad.length > 0) out.add('GLM-POD-001', o.view, `${where} is privileged: ${bad.join(', ')}`);
      const missing: string[] = [];
      if (!isFalse(get(sc, f.allowPrivilegeEscalation)) && !isTrue(get(sc, f.allowPrivilegeEscalation))) missing.push(`${f.allowPrivilegeEscalation}: false`);
      if (!isTrue(get(sc, f.runAsNonRoot)) && !isTrue(podNonRoot) && !isFalse(get(sc, f.runAsNonRoot)) && !isFalse(podNonRoot)) missing.push(`${f.runAsNonRoot}: true`);
      if (!isTrue(get(sc, f.readOnlyRootFilesystem))) missing.push(`${f.readOnlyRootFilesystem}: true`);
      if (!arr(get(caps, f.drop)).includes('ALL')) missing.push('capabilities.drop: [ALL]');
      if (missing.length > 0) out.add('GLM-POD-002', o.view, `${where} does not set ${missing.join(', ')}`);
    }
  }
}

/** Runs every rule over the input; findings in a stable order (rule id, then address). */
export function runRules(input: ReviewInput, options: RuleOptions = {}): Finding[] {
  const out = new Collector();
  const objects = resolveNamespaceRefs(input.resources.map(k8sObject).filter((o): o is K8sObject => o !== undefined));
  const zones = new ZoneResolver(options.zoneLevels ?? new Map(), objects);
  checkEncryption(input, out);
  checkPublicEndpoints(input, objects, zones, out);
  checkMesh(objects, out);
  checkNetworkPolicies(objects, out);
  checkObjectLock(input, options.minRetentionDays ?? DEFAULT_MIN_RETENTION_DAYS, out);
  checkDestroy(input, out);
  checkPods(objects, out);
  return out.findings.sort((a, b) => (a.ruleId === b.ruleId ? (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) : a.ruleId < b.ruleId ? -1 : 1));
}
