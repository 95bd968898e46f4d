/** `glimmer run`: starts the runtime and keeps it up until SIGTERM/SIGINT, then drives every agent to TERMINATED. */
import { GlimmerError, quote } from '../../errors';
import { logFormat, terminalLogger } from '../../observability/terminal';
import { parseOptions, printHelp, type Command } from '../command';

const HELP = `Usage: glimmer run [--config FILE] [--state-dir DIR] [--api-port 8080] [--api-mtls-port 8443] [--modbus-port 5020] [--opcua-port 4840] [--agent NAME] [--log-format pretty|json|auto]

Runs the agent swarm. The plant it drives comes from the config's plant.mode:
  embedded   the default config (no --config): the edge topology with a simulated plant on loopback, a simulated PLC,
             the plant OPC UA server (--opcua-port) and the zone gateway in front of them (--modbus-port). A demo.
  external   real PLCs (plant.external): no simulator and no OPC UA server of ours. The zone gateway forwards to the
             configured PLCs (listener ports from plant.external.gateway.ports unless --modbus-port is given), the
             interlocks read the process image polled from them and refuse writes while it is older than
             stale_after_ms, and the Industrial Agent opens its session to the plant's OPC UA server.
             Configuration keys, refusals and the pods' setup: docs/deploy.md.
Prints the operator console address with the admin token in its fragment.
--agent NAME (or GLIMMER_AGENT) supervises only that agent of the configuration: one agent per pod.
An agent whose required_safety_level exceeds its zone's security level starts held (PAUSED) with a warning.
SIGHUP re-reads the configuration file and applies changed zone security levels and required safety levels (safety
holds follow at once); a file that changes anything else is refused whole (GLM_ERR_CONFIG_RELOAD_REFUSED).
--log-format (or GLIMMER_LOG_FORMAT): pretty prints log lines for people, after the banner; json prints pino JSON
lines on stderr for collectors; auto (the default) is pretty when stdout and stderr are both a terminal.`;

function port(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new GlimmerError('GLM_ERR_USAGE', `--${name} must be a port number 0..65535, received ${quote(value)}`);
  return n;
}

const command: Command = async (argv) => {
  const values = parseOptions(argv, {
    config: { type: 'string' },
    'state-dir': { type: 'string' },
    'api-port': { type: 'string' },
    'modbus-port': { type: 'string' },
    'opcua-port': { type: 'string' },
    'api-mtls-port': { type: 'string' },
    agent: { type: 'string' },
    'log-format': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(HELP);
  const terminal = terminalLogger(logFormat(values['log-format']));
  if (terminal.format === 'pretty') process.stdout.write('Glimmer is starting (log lines follow the banner)...\n');
  // Signals are taken from the first moment: a SIGTERM while the runtime is still starting (Kubernetes stops pods
  // that are starting) must drain, not kill the process with the default handler.
  let signalled: ((signal: string) => void) | undefined;
  const stopSignal = new Promise<string>((resolve) => {
    signalled = resolve;
  });
  const onSignal = (signal: string) => () => {
    process.stdout.write(`\n${signal}: terminating agents...\n`);
    signalled?.(signal);
  };
  // `on`, not `once`: a second signal during the drain must not kill the process with the default handler.
  process.on('SIGTERM', onSignal('SIGTERM'));
  process.on('SIGINT', onSignal('SIGINT'));
  const { startRuntime } = await import('../../app');
  let runtime: Awaited<ReturnType<typeof startRuntime>>;
  try {
    runtime = await startRuntime({
    configFile: values.config,
    stateDir: values['state-dir'],
    apiPort: port('api-port', values['api-port']),
    modbusPort: port('modbus-port', values['modbus-port']),
    opcuaPort: port('opcua-port', values['opcua-port']),
    apiMtlsPort: port('api-mtls-port', values['api-mtls-port']),
    agent: values.agent,
    logger: terminal.logger,
    ...(terminal.agentStderr ? { agentStderr: terminal.agentStderr } : {}),
  });
  } catch (err) {
    // A failed start shows why: the held log lines come out before the error.
    terminal.release();
    throw err;
  }
  process.on('SIGHUP', () => {
    runtime.reload().then(
      (changes) => process.stdout.write(`SIGHUP: configuration reloaded (${changes.length === 0 ? 'no level changed' : changes.join('; ')})\n`),
      (err: Error & { code?: string }) => process.stdout.write(`SIGHUP: reload refused: ${err.code ?? 'GLM_ERR_INTERNAL'}: ${err.message}\n`),
    );
  });
  const shutdown = (signal: string): Promise<number> =>
    runtime.stop(signal).then(
      () => {
        const states = runtime.supervisor.agents().map((a) => `${a.id}=${a.state}`).join(' ');
        process.stdout.write(`stopped: ${states}\n`);
        return 0;
      },
      () => 1,
    );
  const early = await Promise.race([runtime.supervisor.waitFor(['ACTIVE', 'PAUSED', 'TERMINATED'], 30000).then((ready) => ({ ready })), stopSignal.then((signal) => ({ signal }))]);
  if ('signal' in early) {
    terminal.release();
    return shutdown(early.signal);
  }
  const ready = early.ready;
  const agents = runtime.supervisor.agents();
  process.stdout.write(
    [
      '',
      `Glimmer is running (${runtime.config.topology.deployment_model}, ${agents.length} agents${ready ? '' : ', some still starting'}).`,
      ...agents.map((a) => `  ${a.id.padEnd(14)} ${a.kind.padEnd(10)} zone ${a.zone.padEnd(11)} ${a.state}${a.last_error ? `  (${a.last_error.code}: ${a.last_error.message})` : ''}${a.holds ? `  (safety hold: ${a.holds.map((h) => `${h.by} ${h.codes.join(' ')}`).join(', ')})` : ''}`),
      '',
      `Operator console: ${runtime.consoleUrl}`,
      `Admin token file: ${runtime.stateDir}/admin-token`,
      'Stop with Ctrl-C (SIGINT) or SIGTERM.',
      '',
    ].join('\n'),
  );
  terminal.release();
  return shutdown(await stopSignal);
};
export default command;
