/** References to resources that carry `count` (0 or 1): `one(type.name[*].attr)` is null when the resource is absent. */
import type { TerraformResource } from './tf';

export function optionalAttr(resource: TerraformResource, attribute: string): string {
  return `\${one(${resource.terraformResourceType}.${resource.friendlyUniqueId}[*].${attribute})}`;
}
