/** Loads @cedar-policy/cedar-wasm (about 0.3 s) on first use, so processes that never decide do not pay for it. */
type CedarModule = typeof import('@cedar-policy/cedar-wasm/nodejs');
export type { DetailedError, AuthorizationAnswer, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';

let loaded: CedarModule | undefined;

export function cedar(): CedarModule {
  loaded ??= require('@cedar-policy/cedar-wasm/nodejs') as CedarModule;
  return loaded;
}
