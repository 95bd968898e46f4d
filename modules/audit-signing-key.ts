/**
 * The audit checkpoint signing keys: ordinary asymmetric KMS keys (CloudHSM key stores hold symmetric keys only), one
 * ECC_NIST_P384 and one ML_DSA_65. Both always exist and the alias points at the active one, so switching the spec
 * moves the alias instead of replacing a `prevent_destroy` key (which Terraform refuses, and which would orphan every
 * checkpoint signed before). Only the runtime role may Sign, and only with the algorithm of the key's spec; anyone in
 * the account may fetch the public keys and Verify, so `glimmer audit verify` works without signing rights.
 */
import { Construct } from 'constructs';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { adminStatement, policyDocument } from './key-policy';
import { Fn, Op, Token } from './tf';
import { checkOneOf, checkPattern, isUnresolved } from './validate';

export const SIGNING_KEY_SPECS = ['ECC_NIST_P384', 'ML_DSA_65'] as const;
/** The KMS signing algorithm that goes with each key spec (the cosigner is ML_DSA_44). */
export const SIGNING_ALGORITHMS: Readonly<Record<(typeof SIGNING_KEY_SPECS)[number] | 'ML_DSA_44', string>> = {
  ECC_NIST_P384: 'ECDSA_SHA_384',
  ML_DSA_65: 'ML_DSA_SHAKE_256',
  ML_DSA_44: 'ML_DSA_SHAKE_256',
};

export interface AuditSigningKeyProps {
  readonly accountRootArn: string;
  /** The role allowed to Sign (the runtime's pod identity role). */
  readonly signerRoleArn: string;
  /** The spec the alias points at: ECC_NIST_P384 or ML_DSA_65, or a token choosing between them. @default 'ECC_NIST_P384' */
  readonly activeSpec?: string;
  /** Alias name without the `alias/` prefix. @default 'glimmer/audit-checkpoint' */
  readonly aliasName?: string;
  /** Alias of the ML_DSA_44 checkpoint cosigner key, without `alias/`. @default 'glimmer/audit-cosigner' */
  readonly cosignerAliasName?: string;
}

export class AuditSigningKey extends Construct {
  /** The ECC_NIST_P384 key (its id predates the ML-DSA key and is kept, so existing deployments keep their key). */
  readonly key: KmsKey;
  readonly mlDsaKey: KmsKey;
  /** The post-quantum cosigner (ML_DSA_44): checkpoints carry its signature beside the active key's. */
  readonly cosignerKey: KmsKey;
  readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: AuditSigningKeyProps) {
    super(scope, id);
    const spec = checkOneOf(this, 'activeSpec', props.activeSpec ?? 'ECC_NIST_P384', SIGNING_KEY_SPECS as unknown as string[]);
    const aliasName = checkPattern(this, 'aliasName', props.aliasName ?? 'glimmer/audit-checkpoint', /^[A-Za-z0-9/_-]{1,250}$/, 'an alias name of letters, digits, /, _ and -');
    const cosignerAlias = checkPattern(this, 'cosignerAliasName', props.cosignerAliasName ?? 'glimmer/audit-cosigner', /^[A-Za-z0-9/_-]{1,250}$/, 'an alias name of letters, digits, /, _ and -');
    const keyOf = (id: string, keySpec: keyof typeof SIGNING_ALGORITHMS) => new KmsKey(this, id, {
      description: `Glimmer audit checkpoint signing key, ${keySpec} (RFC 9162 signed notes)`,
      keyUsage: 'SIGN_VERIFY',
      customerMasterKeySpec: keySpec,
      enableKeyRotation: false,
      deletionWindowInDays: 30,
      policy: JSON.stringify(policyDocument([
        adminStatement(props.accountRootArn),
        {
          Sid: 'RuntimeSignsCheckpointsOnly',
          Effect: 'Allow',
          Principal: { AWS: props.signerRoleArn },
          Action: ['kms:Sign'],
          Resource: '*',
          Condition: { StringEquals: { 'kms:SigningAlgorithm': SIGNING_ALGORITHMS[keySpec] } },
        },
        {
          Sid: 'AccountVerifies',
          Effect: 'Allow',
          Principal: { AWS: props.accountRootArn },
          Action: ['kms:Verify', 'kms:GetPublicKey', 'kms:DescribeKey'],
          Resource: '*',
        },
      ])),
      lifecycle: { preventDestroy: true },
    });
    this.key = keyOf('key', 'ECC_NIST_P384');
    this.mlDsaKey = keyOf('key-ml-dsa', 'ML_DSA_65');
    const target = isUnresolved(spec) ? Fn.conditional(Op.eq(Fn.tostring(spec), 'ML_DSA_65'), this.mlDsaKey.keyId, this.key.keyId) : spec === 'ML_DSA_65' ? this.mlDsaKey.keyId : this.key.keyId;
    this.alias = new KmsAlias(this, 'alias', { name: `alias/${aliasName}`, targetKeyId: Token.asString(target) });
    this.cosignerKey = keyOf('key-cosigner', 'ML_DSA_44');
    new KmsAlias(this, 'cosigner-alias', { name: `alias/${cosignerAlias}`, targetKeyId: this.cosignerKey.keyId });
  }
}
