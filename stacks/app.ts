/**
 * The cdktf app: the stacks of the chosen topology, in dependency order.
 *   cloud: cloud -> cloud-platform -> cloud-runtime      edge: edge -> edge-runtime
 */
import { App } from '../modules/tf';
import { CloudStack } from './cloud-stack';
import type { BackendOptions } from './common';
import type { StackInputs } from './inputs';
import { PlatformStack } from './platform-stack';
import { RuntimeStack } from './runtime-stack';
import type { Topology } from './topology';

export const STACKS: Readonly<Record<'cloud' | 'edge', readonly string[]>> = {
  cloud: ['cloud', 'cloud-platform', 'cloud-runtime'],
  edge: ['edge', 'edge-runtime'],
};

export interface BuildOptions {
  readonly topology: Topology;
  readonly inputs: StackInputs;
  /** @default 'cdktf.out' */
  readonly outdir?: string;
  readonly backend?: BackendOptions;
}

export function buildApp(options: BuildOptions): App {
  const app = new App({ outdir: options.outdir ?? 'cdktf.out', stackTraces: false });
  addStacks(app, options);
  return app;
}

export function addStacks(app: App, options: Omit<BuildOptions, 'outdir'>): void {
  const { topology, inputs } = options;
  const backend = options.backend ?? {};
  if (topology === 'cloud' || topology === 'all') {
    const infra = new CloudStack(app, 'cloud', inputs, backend);
    const platform = new PlatformStack(app, 'cloud-platform', 'cloud', inputs, backend);
    const runtime = new RuntimeStack(app, 'cloud-runtime', 'cloud', inputs, backend);
    platform.addDependency(infra);
    runtime.addDependency(platform);
  }
  if (topology === 'edge' || topology === 'all') {
    const platform = new PlatformStack(app, 'edge', 'edge', inputs, backend);
    const runtime = new RuntimeStack(app, 'edge-runtime', 'edge', inputs, backend);
    runtime.addDependency(platform);
  }
}
