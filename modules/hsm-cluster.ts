/**
 * A CloudHSM v2 cluster of hsm2m.medium HSMs in FIPS mode, one HSM in each of (at least) two availability zones.
 * Initialising it (signing the cluster CSR with your CA, activating the admin, creating the `kmsuser` crypto user)
 * is a manual ceremony: see docs/infrastructure.md.
 */
import { Construct } from 'constructs';
import { CloudhsmV2Cluster } from '@cdktf/provider-aws/lib/cloudhsm-v2-cluster';
import { CloudhsmV2Hsm } from '@cdktf/provider-aws/lib/cloudhsm-v2-hsm';
import { checkInt, checkOneOf, invalidProp } from './validate';

export const HSM_TYPES = ['hsm2m.medium', 'hsm1.medium'] as const;
export const HSM_MODES = ['FIPS', 'NON_FIPS'] as const;

export interface HsmClusterProps {
  /** Private subnets, one per availability zone (at least `hsmCount`). */
  readonly subnetIds: readonly string[];
  /** HSM type. @default 'hsm2m.medium' */
  readonly hsmType?: (typeof HSM_TYPES)[number];
  /** Cluster mode; NON_FIPS is an explicit, visible opt-out. @default 'FIPS' */
  readonly mode?: (typeof HSM_MODES)[number];
  /** HSMs, each in the next subnet (so the next AZ). KMS custom key stores need at least two. @default 2 */
  readonly hsmCount?: number;
}

export class HsmCluster extends Construct {
  readonly cluster: CloudhsmV2Cluster;
  readonly hsms: CloudhsmV2Hsm[];

  constructor(scope: Construct, id: string, props: HsmClusterProps) {
    super(scope, id);
    const hsmType = checkOneOf(this, 'hsmType', props.hsmType ?? 'hsm2m.medium', HSM_TYPES);
    const mode = checkOneOf(this, 'mode', props.mode ?? 'FIPS', HSM_MODES);
    const count = checkInt(this, 'hsmCount', props.hsmCount ?? 2, 2, 28);
    if (props.subnetIds.length < count) invalidProp(this, 'subnetIds', props.subnetIds.length, `at least hsmCount (${count}) subnets in distinct AZs`);
    this.cluster = new CloudhsmV2Cluster(this, 'cluster', {
      hsmType,
      mode,
      subnetIds: [...props.subnetIds],
      tags: { Name: 'glimmer-hsm' },
      lifecycle: { preventDestroy: true },
    });
    this.hsms = Array.from({ length: count }, (_, i) =>
      new CloudhsmV2Hsm(this, `hsm-${i}`, { clusterId: this.cluster.clusterId, subnetId: props.subnetIds[i] as string }),
    );
  }

  /** The cluster CSR to sign during initialisation. */
  get clusterCsr(): string {
    return this.cluster.clusterCertificates.get(0).clusterCsr;
  }
}
