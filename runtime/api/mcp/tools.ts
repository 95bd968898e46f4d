/**
 * The MCP tools: name, JSON Schema of the arguments (validated before anything else runs), and the Cedar action each
 * call is decided under (rules/policies/copilots.cedar).
 */
import type { PolicyAction } from '../../trust/policy/pdp';

export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown> & { type: 'object' };
  readonly action: PolicyAction;
  /** Reads go to a Tool resource; writes to the Register they would write. */
  readonly target: 'tool' | 'register';
  readonly annotations: { readonly readOnlyHint: boolean; readonly destructiveHint?: boolean };
}

const SIGNAL = { type: 'string', minLength: 3, maxLength: 64, pattern: '^[a-z0-9_]+[.][a-z0-9_]+$', description: 'A plant map signal id, e.g. pump_1.run' };
const VALUE = { type: ['number', 'boolean'], description: 'Engineering value (true/false or 1/0 for coils)' };

export const TOOLS: readonly ToolSpec[] = [
  {
    name: 'read_plant',
    description: 'Current process values of the plant assets (pumps, tanks, valves, safety PLC), from the live process image.',
    inputSchema: { type: 'object', additionalProperties: false, properties: { assets: { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[a-z0-9_]+$' } } } },
    action: 'readPlant', target: 'tool', annotations: { readOnlyHint: true },
  },
  {
    name: 'read_alarms',
    description: 'Active alerts and the most recent gateway decisions (allowed and denied writes, with their reasons).',
    inputSchema: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 100 } } },
    action: 'readAlarms', target: 'tool', annotations: { readOnlyHint: true },
  },
  {
    name: 'explain_decision',
    description: 'Why the cognitive agent decided what it did: the rules that fired with their bindings, the violations, the model scores and the model hash, from its audit record (default: the latest decision), with the record\'s inclusion proof.',
    inputSchema: { type: 'object', additionalProperties: false, properties: { decision_id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } } },
    action: 'readAlarms', target: 'tool', annotations: { readOnlyHint: true },
  },
  {
    name: 'query_audit',
    description: 'One audit log entry with its RFC 9162 inclusion proof against a fresh signed checkpoint (default: the latest entry).',
    inputSchema: { type: 'object', additionalProperties: false, properties: { index: { type: 'integer', minimum: 0, maximum: 9007199254740991 } } },
    action: 'readAudit', target: 'tool', annotations: { readOnlyHint: true },
  },
  {
    name: 'dry_run_write',
    description: 'Which checks of the write decision (zone, policy, process image, interlocks, safety trip) a write would pass or fail, and why. Writes nothing.',
    inputSchema: { type: 'object', additionalProperties: false, required: ['signal', 'value'], properties: { signal: SIGNAL, value: VALUE } },
    action: 'dryRunWrite', target: 'register', annotations: { readOnlyHint: true },
  },
  {
    name: 'request_write',
    description: 'Requests a write: refused when the policy or the write decision refuses it; otherwise queued for an operator\'s approval (unless the policy allows it outright), then executed through the Modbus gateway.',
    inputSchema: {
      type: 'object', additionalProperties: false, required: ['signal', 'value', 'reason'],
      properties: { signal: SIGNAL, value: VALUE, reason: { type: 'string', minLength: 1, maxLength: 500, description: 'Why, for the operator who approves' } },
    },
    action: 'requestWrite', target: 'register', annotations: { readOnlyHint: false, destructiveHint: true },
  },
];
