/**
 * Least-privilege KMS key policy statements. The account root may administer a key (through IAM) but never use it:
 * each use is granted to a named role, for named actions, and where a service acts for it, only through that service.
 */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal: { AWS: string | readonly string[] } | { Service: string } | '*';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Key administration without cryptographic use (no Encrypt, Decrypt, GenerateDataKey*, Sign, ReEncrypt*). */
export const KEY_ADMIN_ACTIONS = [
  'kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*',
  'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
] as const;

export function adminStatement(accountRootArn: string): PolicyStatement {
  return { Sid: 'KeyAdministrationWithoutUse', Effect: 'Allow', Principal: { AWS: accountRootArn }, Action: KEY_ADMIN_ACTIONS, Resource: '*' };
}

export function policyDocument(statements: unknown): { Version: '2012-10-17'; Statement: unknown } {
  return { Version: '2012-10-17', Statement: statements };
}
