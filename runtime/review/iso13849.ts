/**
 * ISO 13849-1 arithmetic for the threat model's safety-zone checks:
 * - required performance level PLr from the risk graph (Annex A): severity S1/S2, frequency/exposure F1/F2,
 *   possibility of avoidance P1/P2;
 * - performance level achieved by an SRP/CS from its category, MTTFd band and DCavg band with the simplified
 *   procedure (ISO 13849-1:2015 §4.5.4, Table 7 / Figure 5). '-' cells of that table are not allowed combinations.
 */
export type PL = 'a' | 'b' | 'c' | 'd' | 'e';
export type Severity = 'S1' | 'S2';
export type Frequency = 'F1' | 'F2';
export type Avoidance = 'P1' | 'P2';
export type Category = 'B' | '1' | '2' | '3' | '4';
export type Mttfd = 'low' | 'medium' | 'high';
export type DcAvg = 'none' | 'low' | 'medium' | 'high';

const PL_ORDER: readonly PL[] = ['a', 'b', 'c', 'd', 'e'];

/** Risk graph of ISO 13849-1 Annex A, Figure A.1. */
export function requiredPL(s: Severity, f: Frequency, p: Avoidance): PL {
  const score = (s === 'S2' ? 4 : 0) + (f === 'F2' ? 2 : 0) + (p === 'P2' ? 1 : 0);
  // S1F1P1 a, S1F1P2 b, S1F2P1 b, S1F2P2 c, S2F1P1 c, S2F1P2 d, S2F2P1 d, S2F2P2 e
  return (['a', 'b', 'b', 'c', 'c', 'd', 'd', 'e'] as const)[score] as PL;
}

/**
 * Simplified procedure: PL achieved for (category, DCavg) columns and MTTFd rows. Returns undefined for a combination
 * the standard does not allow (e.g. category B with DCavg above none, category 4 without high MTTFd and high DCavg).
 */
export function achievedPL(category: Category, mttfd: Mttfd, dcavg: DcAvg): PL | undefined {
  const row = mttfd === 'low' ? 0 : mttfd === 'medium' ? 1 : 2;
  const table: Record<string, readonly (PL | undefined)[]> = {
    'B/none': ['a', 'b', undefined],
    '1/none': [undefined, undefined, 'c'],
    '2/low': ['a', 'b', 'c'],
    '2/medium': ['b', 'c', 'd'],
    '3/low': ['b', 'c', 'd'],
    '3/medium': ['c', 'd', 'd'],
    '4/high': [undefined, undefined, 'e'],
  };
  return table[`${category}/${dcavg}`]?.[row];
}

export function plAtLeast(achieved: PL, required: PL): boolean {
  return PL_ORDER.indexOf(achieved) >= PL_ORDER.indexOf(required);
}
