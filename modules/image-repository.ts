/**
 * The ECR repository of the runtime image (built from deploy/Dockerfile): immutable tags, scan on push, KMS-encrypted
 * with our key, untagged images expired.
 */
import { Construct } from 'constructs';
import { EcrLifecyclePolicy } from '@cdktf/provider-aws/lib/ecr-lifecycle-policy';
import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository';
import { checkInt, checkPattern } from './validate';

export interface ImageRepositoryProps {
  /** Repository name (a literal or a token). @default 'glimmer/runtime' */
  readonly name?: string;
  /** ARN of the KMS key encrypting the images. */
  readonly kmsKeyArn: string;
  /** Days after which untagged images are expired. @default 14 */
  readonly untaggedExpiryDays?: number;
}

export class ImageRepository extends Construct {
  readonly repository: EcrRepository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    const name = checkPattern(this, 'name', props.name ?? 'glimmer/runtime', /^[a-z0-9]+([._/-][a-z0-9]+)*$/, 'an ECR repository name (lower-case, . _ / -)');
    const days = checkInt(this, 'untaggedExpiryDays', props.untaggedExpiryDays ?? 14, 1, 3650);
    this.repository = new EcrRepository(this, 'repository', {
      name,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: [{ encryptionType: 'KMS', kmsKey: props.kmsKeyArn }],
      forceDelete: false,
    });
    new EcrLifecyclePolicy(this, 'lifecycle', {
      repository: this.repository.name,
      policy: JSON.stringify({
        rules: [{ rulePriority: 1, description: 'expire untagged images', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: days }, action: { type: 'expire' } }],
      }),
    });
  }
}
