/**
 * A KMS custom key store on the CloudHSM cluster and a symmetric data key in it.
 *
 * Keys in a CloudHSM key store cannot rotate automatically: the rotation procedure (new key, move the alias, re-encrypt,
 * retire the old key) is in docs/infrastructure.md. The key store can only be created once the cluster is initialised
 * and can only hold keys once it is connected, so creation follows `stage` (CLUSTER -> KEY_STORE -> KEYS).
 * The key store password comes from a sensitive Terraform variable and never appears in the synthesized JSON.
 */
import { Construct } from 'constructs';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsCustomKeyStore } from '@cdktf/provider-aws/lib/kms-custom-key-store';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { adminStatement, policyDocument } from './key-policy';
import { optionalAttr } from './refs';
import { Fn, Token, type ITerraformDependable } from './tf';
import { checkOneOf, invalidProp, isUnresolved } from './validate';

export const HSM_STAGES = ['CLUSTER', 'KEY_STORE', 'KEYS'] as const;

export interface HsmKeyStoreProps {
  readonly accountRootArn: string;
  readonly cloudHsmClusterId: string;
  /** The `kmsuser` crypto user's password: a reference to a sensitive Terraform variable, never a literal. */
  readonly keyStorePassword: string;
  /** PEM of the CA certificate that signed the cluster CSR (a Terraform variable). */
  readonly trustAnchorCertificate: string;
  /** How far the HSM ceremony has come: CLUSTER, KEY_STORE or KEYS, or a Terraform token. @default 'CLUSTER' */
  readonly stage?: string;
  /** The role allowed Decrypt/GenerateDataKey on the data key. */
  readonly consumerRoleArn: string;
  /**
   * The workload the key is bound to: EKS Pod Identity session tags the role's sessions carry (eks-cluster-name,
   * kubernetes-namespace, kubernetes-service-account). Only sessions of these pods may use the key. @default - any session of the role
   */
  readonly workload?: { readonly clusterName: string; readonly namespaces: readonly string[]; readonly serviceAccounts: readonly string[] };
  /**
   * Nitro Enclaves only: Decrypt/GenerateDataKey also require an enclave attestation document whose image SHA-384
   * equals `attestationImageSha384`. EKS pods are not enclaves (their requests carry no attestation): turn this on only
   * for enclave node groups. A boolean or a token. @default false
   */
  readonly enforceAttestation?: unknown;
  /** Hex SHA-384 of the attested image (PCR0), usually `tpm_attestation.pcr_policy_hash`. @default '' */
  readonly attestationImageSha384?: string;
  /** The data key's alias, `alias/...`. @default 'alias/glimmer/data' */
  readonly aliasName?: string;
  /** Name of the key store. @default 'glimmer-hsm' */
  readonly keyStoreName?: string;
  /** The HSMs: the key store needs active HSMs. @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class HsmKeyStore extends Construct {
  readonly keyStore: KmsCustomKeyStore;
  readonly dataKey: KmsKey;
  readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: HsmKeyStoreProps) {
    super(scope, id);
    if (!isUnresolved(props.keyStorePassword)) {
      invalidProp(this, 'keyStorePassword', '<literal redacted>', 'a reference to a sensitive Terraform variable (a literal would be written into cdk.tf.json)');
    }
    const stage = checkOneOf(this, 'stage', props.stage ?? 'CLUSTER', HSM_STAGES as unknown as string[]);
    const storeCount = Token.asNumber(Fn.conditional(Fn.contains(['KEY_STORE', 'KEYS'], stage), 1, 0));
    const keyCount = Token.asNumber(Fn.conditional(Fn.contains(['KEYS'], stage), 1, 0));
    const enforce = props.enforceAttestation ?? false;

    this.keyStore = new KmsCustomKeyStore(this, 'store', {
      count: storeCount,
      customKeyStoreName: props.keyStoreName ?? 'glimmer-hsm',
      customKeyStoreType: 'AWS_CLOUDHSM',
      cloudHsmClusterId: props.cloudHsmClusterId,
      keyStorePassword: props.keyStorePassword,
      trustAnchorCertificate: props.trustAnchorCertificate,
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });

    const use = ['kms:Decrypt', 'kms:GenerateDataKey'];
    // Measured boot is proven by the runtime itself against the signed release manifest; the key is bound to the
    // workload's identity (Pod Identity session tags), which every pod request carries.
    const w = props.workload;
    const workload = w
      ? { StringEquals: { 'aws:PrincipalTag/eks-cluster-name': w.clusterName, 'aws:PrincipalTag/kubernetes-namespace': [...w.namespaces], 'aws:PrincipalTag/kubernetes-service-account': [...w.serviceAccounts] } }
      : {};
    const attested = {
      Sid: 'RuntimeDataKeyUseOnlyFromAttestedEnclave',
      Effect: 'Allow',
      Principal: { AWS: props.consumerRoleArn },
      Action: use,
      Resource: '*',
      Condition: { ...workload, StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': props.attestationImageSha384 ?? '' } },
    };
    const unattested = { Sid: 'RuntimeDataKeyUseFromItsWorkload', Effect: 'Allow', Principal: { AWS: props.consumerRoleArn }, Action: use, Resource: '*', ...(w ? { Condition: workload } : {}) };
    const describe = { Sid: 'RuntimeDescribesDataKey', Effect: 'Allow', Principal: { AWS: props.consumerRoleArn }, Action: ['kms:DescribeKey'], Resource: '*' };
    const useStatements = isUnresolved(enforce) ? Fn.conditional(enforce, [attested], [unattested]) : enforce ? [attested] : [unattested];

    this.dataKey = new KmsKey(this, 'data-key', {
      count: keyCount,
      description: 'Glimmer data key in the CloudHSM key store (manual rotation: docs/infrastructure.md)',
      keyUsage: 'ENCRYPT_DECRYPT',
      customerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      customKeyStoreId: optionalAttr(this.keyStore, 'id'),
      enableKeyRotation: false,
      deletionWindowInDays: 30,
      policy: Fn.jsonencode(policyDocument(Fn.concat([[adminStatement(props.accountRootArn), describe], useStatements]))),
      lifecycle: { preventDestroy: true },
    });
    this.alias = new KmsAlias(this, 'alias', {
      count: keyCount,
      name: props.aliasName ?? 'alias/glimmer/data',
      targetKeyId: optionalAttr(this.dataKey, 'key_id'),
    });
  }

  /** ARN of the data key, null before stage KEYS. */
  get dataKeyArn(): string {
    return optionalAttr(this.dataKey, 'arn');
  }

  get keyStoreId(): string {
    return optionalAttr(this.keyStore, 'id');
  }
}
