/**
 * Writes copilots requested, waiting for an operator: bounded (the oldest is dropped when full, and audited as
 * expired by the caller's record of it), expiring after 15 minutes (a plant state an approval was given for does not
 * last), each taken at most once.
 */
import crypto from 'node:crypto';
import { GlimmerError, quote } from '../../errors';
import type { WriteRequest } from '../../industrial/write-decision';

export const PENDING_TTL_MS = 15 * 60_000;

export interface PendingWrite {
  readonly id: string;
  readonly client: string;
  readonly principal: string;
  readonly signal: string;
  readonly value: number | boolean;
  readonly reason: string;
  readonly request: WriteRequest;
  /** epoch ms */
  readonly requestedAt: number;
}

export class PendingWrites {
  readonly #items = new Map<string, PendingWrite>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { max: number; now: () => number }) {
    this.#max = options.max;
    this.#now = options.now;
  }

  add(item: Omit<PendingWrite, 'id' | 'requestedAt'>): PendingWrite {
    this.#expire();
    if (this.#items.size >= this.#max) this.#items.delete(this.#items.keys().next().value as string);
    const full: PendingWrite = { ...item, id: crypto.randomUUID(), requestedAt: this.#now() };
    this.#items.set(full.id, full);
    return full;
  }

  /** Removes and returns a pending request; GLM_ERR_MCP_APPROVAL_UNKNOWN when there is none by that id. */
  take(id: string): PendingWrite {
    this.#expire();
    const item = this.#items.get(id);
    if (item === undefined) throw new GlimmerError('GLM_ERR_MCP_APPROVAL_UNKNOWN', `no pending write request ${quote(id)}`);
    this.#items.delete(id);
    return item;
  }

  list(): Omit<PendingWrite, 'request'>[] {
    this.#expire();
    return [...this.#items.values()].map(({ request: _request, ...rest }) => rest);
  }

  #expire(): void {
    const cutoff = this.#now() - PENDING_TTL_MS;
    for (const [id, item] of this.#items) if (item.requestedAt < cutoff) this.#items.delete(id);
  }
}
