/**
 * The audit checkpoint signing key: an ordinary asymmetric KMS key (CloudHSM key stores hold symmetric keys only).
 * Only the runtime role may Sign, and only with the algorithm of the key spec; anyone in the account may fetch the
 * public key and Verify, so `glimmer audit verify` works without signing rights.
 */
import { Construct } from 'constructs';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { adminStatement, policyDocument } from './key-policy';
import { checkOneOf, checkPattern } from './validate';

export const SIGNING_KEY_SPECS = ['ECC_NIST_P384', 'ML_DSA_65'] as const;
/** The KMS signing algorithm that goes with each key spec. */
export const SIGNING_ALGORITHMS: Readonly<Record<(typeof SIGNING_KEY_SPECS)[number], string>> = {
  ECC_NIST_P384: 'ECDSA_SHA_384',
  ML_DSA_65: 'ML_DSA_SHAKE_256',
};

export interface AuditSigningKeyProps {
  readonly accountRootArn: string;
  /** The role allowed to Sign (the runtime's pod identity role). */
  readonly signerRoleArn: string;
  /**
   * Key spec: ECC_NIST_P384 or ML_DSA_65, or a Terraform token choosing between them (a change replaces the key).
   * @default 'ECC_NIST_P384'
   */
  readonly keySpec?: string;
  /** Alias name without the `alias/` prefix. @default 'glimmer/audit-checkpoint' */
  readonly aliasName?: string;
}

export class AuditSigningKey extends Construct {
  readonly key: KmsKey;
  readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: AuditSigningKeyProps) {
    super(scope, id);
    const spec = checkOneOf('AuditSigningKey', 'keySpec', props.keySpec ?? 'ECC_NIST_P384', SIGNING_KEY_SPECS as unknown as string[]);
    const aliasName = checkPattern('AuditSigningKey', 'aliasName', props.aliasName ?? 'glimmer/audit-checkpoint', /^[A-Za-z0-9/_-]{1,250}$/, 'an alias name of letters, digits, /, _ and -');
    const statements = [
      adminStatement(props.accountRootArn),
      {
        Sid: 'RuntimeSignsCheckpointsOnly',
        Effect: 'Allow',
        Principal: { AWS: props.signerRoleArn },
        Action: ['kms:Sign'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:SigningAlgorithm': Object.values(SIGNING_ALGORITHMS) } },
      },
      {
        Sid: 'AccountVerifies',
        Effect: 'Allow',
        Principal: { AWS: props.accountRootArn },
        Action: ['kms:Verify', 'kms:GetPublicKey', 'kms:DescribeKey'],
        Resource: '*',
      },
    ];
    this.key = new KmsKey(this, 'key', {
      description: 'Glimmer audit checkpoint signing key (RFC 9162 signed notes)',
      keyUsage: 'SIGN_VERIFY',
      customerMasterKeySpec: spec,
      enableKeyRotation: false,
      deletionWindowInDays: 30,
      policy: JSON.stringify(policyDocument(statements)),
      lifecycle: { preventDestroy: true },
    });
    this.alias = new KmsAlias(this, 'alias', { name: `alias/${aliasName}`, targetKeyId: this.key.keyId });
  }
}
