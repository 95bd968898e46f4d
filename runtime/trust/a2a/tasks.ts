/**
 * The A2A server's task store: the SDK's in-memory semantics (tasks scoped per tenant and caller, copies in and out,
 * ListTasks filters, newest first, cursor pages) with a bound. The SDK's InMemoryTaskStore keeps every task forever,
 * which on an agent answering calls all day is a leak (about 2 KB per call) and a growing heap for the garbage
 * collector to walk. Here the least recently saved task is evicted once `maxTasks` are held; a caller asking for an
 * evicted task gets the SDK's TaskNotFound answer, as for any unknown id.
 * Each task is kept as its JSON wire form (the SDK's Task.toJSON, what GetTask sends), one flat string: a full store
 * is ten thousand strings the garbage collector never walks, where it was ten thousand graphs of about forty objects
 * that kept the old generation churning under load (at 2,000 calls/s that churn held about half of the rpc
 * benchmark's calls over 1 ms). Saving serializes, loading parses (Task.fromJSON): tasks go in and out as copies.
 */
import type { ListTasksRequest, ListTasksResponse, Task } from '@a2a-js/sdk';
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import { GlimmerError } from '../../errors';

const DEFAULT_PAGE_SIZE = 50;

interface Entry {
  readonly scope: string;
  readonly id: string;
  readonly contextId: string;
  readonly state: number | undefined;
  readonly timestamp: string;
  /** JSON.stringify(Task.toJSON(task)). */
  readonly json: string;
}

let sdkModule: typeof import('@a2a-js/sdk') | undefined;
/** The SDK, loaded on first use (every save goes through its codec: no module lookup per call). */
const sdk = () => (sdkModule ??= require('@a2a-js/sdk') as typeof import('@a2a-js/sdk'));

/** Tenant and owner of a call, as the SDK's resolveUserScope sees them. */
function scopeOf(context: ServerCallContext): string {
  return `${context.tenant ?? ''}\0${context.user?.userName || 'unknown'}`;
}

function pageToken(entry: Entry): string {
  return Buffer.from(`${entry.timestamp}|${entry.id}`).toString('base64');
}

function restore(entry: Entry): Task {
  return sdk().Task.fromJSON(JSON.parse(entry.json));
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
    this.put(task, context);
  }

  /** Stores `task` and returns its stored JSON (what GetTask would answer with). */
  put(task: Task, context: ServerCallContext): string {
    const scope = scopeOf(context);
    const key = `${scope}\0${task.id}`;
    // Serialized first: a task that cannot be throws before the store changes.
    const entry: Entry = { scope, id: task.id, contextId: task.contextId, state: task.status?.state, timestamp: task.status?.timestamp ?? '', json: JSON.stringify(sdk().Task.toJSON(task)) };
    this.#tasks.delete(key);
    this.#tasks.set(key, entry);
    if (this.#tasks.size > this.maxTasks) this.#tasks.delete(this.#tasks.keys().next().value as string);
    return entry.json;
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const entry = this.#tasks.get(`${scopeOf(context)}\0${taskId}`);
    return entry === undefined ? undefined : restore(entry);
  }

  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const sdkErrors = require('@a2a-js/sdk/errors') as typeof import('@a2a-js/sdk/errors');
    const scope = scopeOf(context);
    const after = params.statusTimestampAfter ? new Date(params.statusTimestampAfter).getTime() : undefined;
    let entries: Entry[] = [];
    for (const entry of this.#tasks.values()) {
      if (entry.scope !== scope) continue;
      if (params.contextId && entry.contextId !== params.contextId) continue;
      if (params.status !== undefined && params.status !== 0 && entry.state !== params.status) continue;
      if (after !== undefined && !(entry.timestamp && new Date(entry.timestamp).getTime() > after)) continue;
      entries.push(entry);
    }
    entries.sort((a, b) => (a.timestamp !== b.timestamp ? b.timestamp.localeCompare(a.timestamp) : b.id.localeCompare(a.id)));
    const totalSize = entries.length;
    if (params.pageToken) {
      const [timestamp, ...id] = Buffer.from(params.pageToken, 'base64').toString('utf8').split('|');
      if (id.length === 0) throw new sdkErrors.RequestMalformedError('Invalid page token format.');
      const at = entries.findIndex((e) => e.timestamp === timestamp && e.id === id.join('|'));
      entries = at === -1 ? [] : entries.slice(at + 1);
    }
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
    const page = entries.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      tasks: page.map((e) => {
        const copy = restore(e);
        if (!params.includeArtifacts) copy.artifacts = [];
        return copy;
      }),
      nextPageToken: last !== undefined && entries.length > page.length ? pageToken(last) : '',
      pageSize,
      totalSize,
    };
  }
}
