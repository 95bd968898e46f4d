/**
 * The read decision: whether one read (Modbus functions 01-04) goes through the gateway. The zone rules come first (the
 * gateway's compiled tables: the client's zone reaches the unit, may use the function, and the range lies within the
 * unit's table), then the policy: who may read what (Cedar `register-read`: safety signals only from a zone at least
 * as trusted as the signal's zone), asked through the trust PDP's exact frame cache (`gatewayReadPolicy`).
 *
 * The answer depends only on (zone, unit, function, address, quantity) and the policy's version, so the gateway keeps
 * each answer per range until the version changes (modbus/inspector.ts): the per-read cost is one map lookup, and
 * the policy runs once per range and policy change.
 */

/** One read as the gateway decoded it. */
export interface ReadRequest {
  /** Zone of the client (the gateway listener it connected to). */
  readonly zone: string;
  readonly unitId: number;
  readonly functionCode: number;
  /** First PDU address (0-based). */
  readonly address: number;
  readonly quantity: number;
}

export interface ReadDecision {
  readonly allow: boolean;
  /** Free text for the log; never a label. */
  readonly reason?: string;
}

export interface ReadPolicy {
  decide(request: ReadRequest): ReadDecision;
  /** Changes whenever an answer of `decide` may change (a policy or model change): cached answers are dropped then. */
  readonly version: number;
}
