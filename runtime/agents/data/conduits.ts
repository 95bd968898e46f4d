/** Whether the zone model lets records move between two zones: only over a conduit that carries a data protocol. */
import type { Conduit } from '../../config/types';

const DATA_PROTOCOLS = new Set(['https', 'a2a']);

export function conduitBetween(conduits: readonly Conduit[], a: string, b: string): Conduit | undefined {
  return conduits.find((c) => ((c.from === a && c.to === b) || (c.from === b && c.to === a)) && c.protocols.some((p) => DATA_PROTOCOLS.has(p)));
}
