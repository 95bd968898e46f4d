/** What a benchmark scenario module exports (bench/scenarios/<name>.ts). */
import type { Metric } from './report';

export interface ScenarioContext {
  /** Requested duration in seconds; scenarios may finish early once they have enough samples. */
  readonly durationS: number;
  /** Reports progress in 0..1 (drawn as a bar on a TTY). */
  progress(fraction: number, note?: string): void;
  /** Writes an extra artifact (plot, markdown) beside the JSON report; returns its path. */
  artifact(name: string, content: string | Buffer): string;
}

export interface Scenario {
  readonly description: string;
  run(ctx: ScenarioContext): Promise<Record<string, Metric>>;
}
