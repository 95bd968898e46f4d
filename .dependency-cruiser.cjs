/**
 * The layering of the code, checked by test/layering.test.ts in `make test` (docs/architecture.md draws it).
 * Layers of runtime/, lowest first; a folder may import its own layer's folders only where a rule below allows it:
 *   0  errors.ts (the one error catalogue), model/ (shared vocabulary)
 *   1  config/, observability/
 *   2  trust/, audit/, industrial/, reasoning/        (the domains)
 *   3  lifecycle/, agents/
 *   4  api/, review/, compliance/, app.ts, cli/       (composition and user-facing surfaces)
 * Each rule's comment is the reason it exists; a violation prints it.
 */
const ABOVE = {
  1: '^runtime/(trust|audit|industrial|reasoning|northbound|lifecycle|agents|api|review|compliance|cli)/|^runtime/app[.]ts$',
  2: '^runtime/(lifecycle|agents|api|review|compliance|cli)/|^runtime/app[.]ts$',
  lifecycle: '^runtime/(agents|api|review|compliance|cli)/|^runtime/app[.]ts$',
  agents: '^runtime/(api|review|compliance|cli)/|^runtime/app[.]ts$',
};

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A file cycle makes load order decide behaviour and keeps either file from being moved or split alone.',
      from: { path: '^(runtime|stacks|modules)/' },
      to: { circular: true },
    },
    {
      name: 'model-imports-nothing',
      severity: 'error',
      comment: 'Every layer (and stacks/, modules/) imports the model, so it can depend on nothing of theirs.',
      from: { path: '^runtime/model/' },
      to: { path: '^(runtime/(?!model/)|stacks/|modules/)' },
    },
    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      comment: 'The error catalogue is imported everywhere, so it imports nothing of the code base.',
      from: { path: '^runtime/errors[.]ts$' },
      to: { path: '^(runtime|stacks|modules)/', pathNot: '^runtime/errors[.]ts$' },
    },
    {
      name: 'trust-imports-no-industrial-or-audit',
      severity: 'error',
      comment: 'Identity and policy are the root the plant gateway and the evidence log build on; never the reverse.',
      from: { path: '^runtime/trust/' },
      to: { path: '^runtime/(industrial|audit)/' },
    },
    {
      name: 'industrial-imports-no-reasoning',
      severity: 'error',
      comment: 'The per-frame gateway path must never reach Prolog or ONNX (a query costs milliseconds, a frame microseconds).',
      from: { path: '^runtime/industrial/' },
      to: { path: '^runtime/reasoning/' },
    },
    {
      name: 'audit-imports-no-domain',
      severity: 'error',
      comment: 'The evidence log depends on nothing it records, so no recorded component can change how it is kept.',
      from: { path: '^runtime/audit/' },
      to: { path: '^runtime/(trust|industrial|reasoning)/' },
    },
    {
      name: 'northbound-imports-no-plant-access',
      comment: 'The link to the enterprise holds no way into the plant: its commands reach PLCs only through the gateway, driven by the Data Agent.',
      severity: 'error',
      from: { path: '^runtime/northbound/' },
      to: { path: '^runtime/(industrial|trust|audit|reasoning)/' },
    },
    {
      name: 'base-layer-imports-no-domain',
      severity: 'error',
      comment: 'Configuration and observability sit under every domain; importing one would make it depend on itself.',
      from: { path: '^runtime/(config|observability)/' },
      to: { path: ABOVE[1] },
    },
    {
      name: 'domains-import-no-orchestration',
      severity: 'error',
      comment: 'Domains are driven by the lifecycle, agents and API; shared types go to runtime/model instead.',
      from: { path: '^runtime/(trust|audit|industrial|reasoning|northbound)/' },
      to: { path: ABOVE[2] },
    },
    {
      name: 'lifecycle-imports-no-agents',
      severity: 'error',
      comment: 'Agents run inside the lifecycle; the lifecycle knows behaviours only through runtime/model types.',
      from: { path: '^runtime/lifecycle/' },
      to: { path: ABOVE.lifecycle },
    },
    {
      name: 'agents-import-no-composition',
      severity: 'error',
      comment: 'An agent process bundles only what it runs: the API, reviews and the CLI are the supervisor\'s.',
      from: { path: '^runtime/agents/' },
      to: { path: ABOVE.agents },
    },
    {
      name: 'surfaces-import-no-cli-or-root',
      severity: 'error',
      comment: 'The composition root and the CLI sit on top: nothing they start may import them back.',
      from: { path: '^runtime/(api|review|compliance)/|^runtime/app[.]ts$' },
      to: { path: '^runtime/cli/|^runtime/app[.]ts$' },
    },
    {
      name: 'modules-import-only-model-and-errors',
      severity: 'error',
      comment: 'Constructs are deployable without the runtime: they share only its model (zone rules) and error catalogue.',
      from: { path: '^modules/' },
      to: { path: '^runtime/', pathNot: '^runtime/(model/|errors[.]ts$)' },
    },
    {
      name: 'stacks-import-only-model-errors-and-config',
      severity: 'error',
      comment: 'Stacks read glimmer.yml through the runtime loader (one validation, one zone model) and nothing else of it.',
      from: { path: '^stacks/' },
      to: { path: '^runtime/', pathNot: '^runtime/(model/|errors[.]ts$|config/(load|types|schema|plant)[.]ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|cdktf[.]out)/|^runtime/api/console/vendor/' },
    // Type-only imports are edges too: they are what couples the files when one of them changes.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
