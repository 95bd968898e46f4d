/**
 * The one place that imports the CDKTF core. CDKTF was archived in December 2025; its community fork (CDK Terrain,
 * `cdktn`) keeps the same API, so moving means changing this file (and the provider packages), nothing else.
 */
export {
  App,
  Fn,
  LocalBackend,
  Op,
  S3Backend,
  TerraformIterator,
  TerraformOutput,
  TerraformStack,
  TerraformVariable,
  Testing,
  Token,
} from 'cdktf';
export type { ITerraformDependable, TerraformResource } from 'cdktf';
