/**
 * The A2A server's task store: the SDK's in-memory semantics (tasks scoped per tenant and caller, copies in and out,
 * ListTasks filters, newest first, cursor pages) with a bound. The SDK's InMemoryTaskStore keeps every task forever,
 * which on an agent answering calls all day is a leak (about 2 KB per call) and a growing heap for the garbage
 * collector to walk. Here the least recently saved task is evicted once `maxTasks` are held; a caller asking for an
 * evicted task gets the SDK's TaskNotFound answer, as for any unknown id. Copies use copyTask, not structuredClone.
 */
import type { ListTasksRequest, ListTasksResponse, Task } from '@a2a-js/sdk';
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import { GlimmerError } from '../../errors';

const DEFAULT_PAGE_SIZE = 50;

interface Entry {
  readonly scope: string;
  readonly task: Task;
}

/** Tenant and owner of a call, as the SDK's resolveUserScope sees them. */
function scopeOf(context: ServerCallContext): string {
  return `${context.tenant ?? ''}\0${context.user?.userName || 'unknown'}`;
}

/**
 * A deep copy of a task: the SDK's task objects are plain data (objects, arrays, strings, numbers, booleans,
 * undefined, Uint8Array bytes), which this copies about five times faster than structuredClone (4 µs instead of 20 µs for a small task). Anything else (a class
 * instance in skill data, nesting deeper than 64) goes to structuredClone, which also handles cycles.
 */
export function copyTask<T>(value: T, depth = 0): T {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 64) return structuredClone(value);
  if (Array.isArray(value)) return value.map((v) => copyTask(v as unknown, depth + 1)) as T;
  if (value instanceof Uint8Array) return value.slice() as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = copyTask((value as Record<string, unknown>)[key], depth + 1);
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out as T;
}

function pageToken(task: Task): string {
  return Buffer.from(`${task.status?.timestamp ?? ''}|${task.id}`).toString('base64');
}

export class BoundedTaskStore implements TaskStore {
  readonly maxTasks: number;
  /** scope \0 task id -> task; Map order is save order, oldest first. */
  readonly #tasks = new Map<string, Entry>();

  constructor(maxTasks: number) {
    if (!Number.isInteger(maxTasks) || maxTasks < 1) throw new GlimmerError('GLM_ERR_INTERNAL', `maxTasks must be a positive integer, received ${maxTasks}`);
    this.maxTasks = maxTasks;
  }

  get size(): number {
    return this.#tasks.size;
  }

  async save(task: Task, context: ServerCallContext): Promise<void> {
    this.keep(copyTask(task), context);
  }

  /**
   * Stores `task` itself, not a copy: for a task built for this store whose caller never changes it afterwards (the
   * server's one-shot SendMessage path), which saves copying about 3 KB per call.
   */
  keep(task: Task, context: ServerCallContext): void {
    const scope = scopeOf(context);
    const key = `${scope}\0${task.id}`;
    this.#tasks.delete(key);
    this.#tasks.set(key, { scope, task });
    if (this.#tasks.size > this.maxTasks) this.#tasks.delete(this.#tasks.keys().next().value as string);
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const entry = this.#tasks.get(`${scopeOf(context)}\0${taskId}`);
    return entry === undefined ? undefined : copyTask(entry.task);
  }

  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const sdkErrors = require('@a2a-js/sdk/errors') as typeof import('@a2a-js/sdk/errors');
    const scope = scopeOf(context);
    const after = params.statusTimestampAfter ? new Date(params.statusTimestampAfter).getTime() : undefined;
    let tasks: Task[] = [];
    for (const entry of this.#tasks.values()) {
      const t = entry.task;
      if (entry.scope !== scope) continue;
      if (params.contextId && t.contextId !== params.contextId) continue;
      if (params.status !== undefined && params.status !== 0 && t.status?.state !== params.status) continue;
      if (after !== undefined && !(t.status?.timestamp && new Date(t.status.timestamp).getTime() > after)) continue;
      tasks.push(t);
    }
    const stamp = (t: Task) => t.status?.timestamp ?? '';
    tasks.sort((a, b) => (stamp(a) !== stamp(b) ? stamp(b).localeCompare(stamp(a)) : b.id.localeCompare(a.id)));
    const totalSize = tasks.length;
    if (params.pageToken) {
      const [timestamp, ...id] = Buffer.from(params.pageToken, 'base64').toString('utf8').split('|');
      if (id.length === 0) throw new sdkErrors.RequestMalformedError('Invalid page token format.');
      const at = tasks.findIndex((t) => stamp(t) === timestamp && t.id === id.join('|'));
      tasks = at === -1 ? [] : tasks.slice(at + 1);
    }
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
    const page = tasks.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      tasks: page.map((t) => {
        const copy = copyTask(t);
        if (!params.includeArtifacts) copy.artifacts = [];
        return copy;
      }),
      nextPageToken: last !== undefined && tasks.length > page.length ? pageToken(last) : '',
      pageSize,
      totalSize,
    };
  }
}
