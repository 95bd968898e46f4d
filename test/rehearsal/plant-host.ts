/**
 * The rehearsal's plant, run inside the plant network namespace: the simulated plant's PLC on Modbus/TCP and its OPC UA
 * server (SignAndEncrypt, own PKI, user login) on the plant address, with the Industrial Agent's client certificate and
 * password provisioned on the plant side, as an operator would. Prints `READY <json>`.
 * Hazards are injected at the PLC on stdin: `hazard <n>` makes P-1 report a discharge pressure above its limit (what an
 * overpressure looks like to everything upstream of the PLC) until P-1 stops; the moment the stop write reaches the
 * PLC it prints `STOPPED <n> <ms>`, timed on this process's clock from the injection. `reset` restarts P-1.
 * Usage: node --import tsx plant-host.ts STATE_DIR HOST MODBUS_PORT OPCUA_PORT
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../runtime/config/load';
import { failSafeOnly } from '../../runtime/industrial/write-decision';
import { provisionOpcuaTrust } from '../../runtime/industrial/opcua/client';
import { identityFor, opcuaDir } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { startSimulatedPlc } from '../../runtime/industrial/plant/plc-modbus';
import { startPlantOpcuaServer } from '../../runtime/industrial/plant/plc-opcua';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { PROCESS_ZONE, SIMULATED_PLANT_PROFILE, type PlantSnapshot, type PumpSnapshot } from '../../runtime/model/plant';

/** kPa above P-1's limit while a hazard is active (the rules compare kPa). */
const OVERPRESSURE_KPA = (SIMULATED_PLANT_PROFILE.pressureLimitKPa.pump_1 as number) + 120;

async function main(): Promise<void> {
  // A fast PLC's server (minimumSamplingIntervalMs 0 below): exception-based read-only signals, publishing down to 10 ms.
  const [stateDir, host, modbusPort, opcuaPort] = process.argv.slice(2) as [string, string, string, string];
  const plant = new PlantRuntime({ seed: 7, tickMs: 100 });
  // The sensor value the PLC reports: overridden while a hazard is injected.
  let hazard: { n: number; t0: number; at: number } | undefined;
  const sim = (plant as unknown as { sim: { snapshot(): PlantSnapshot } }).sim;
  const read = sim.snapshot.bind(sim);
  sim.snapshot = () => {
    const s = read();
    const p1 = s.assets.pump_1 as PumpSnapshot | undefined;
    if (!hazard || !p1?.running) return s;
    return { ...s, assets: { ...s.assets, pump_1: { ...p1, values: { ...p1.values, discharge_pressure_bar: OVERPRESSURE_KPA / 100 } } } };
  };
  plant.onSnapshot((s) => {
    if (hazard && !(s.assets.pump_1 as PumpSnapshot).run_command) {
      process.stdout.write(`STOPPED ${hazard.n} ${(performance.now() - hazard.t0).toFixed(3)} ${hazard.at}\n`);
      hazard = undefined;
    }
  });
  plant.start();
  const plc = await startSimulatedPlc({ plant, port: Number(modbusPort), host, unitIds: [1, 2] });
  await provisionOpcuaTrust(stateDir, 'industrial-1');
  const opcua = await startPlantOpcuaServer({
    plant, stateDir, port: Number(opcuaPort), network: { host, advertisedHosts: [host], certificateDns: [], certificateIps: [host] }, minimumSamplingIntervalMs: 0, security: opcuaSecurityFor(loadConfig(), PROCESS_ZONE),
    users: [{ name: 'industrial-1', zone: 'control' }], decide: failSafeOnly,
  });
  const client = identityFor(stateDir, 'industrial-1');
  process.stdout.write(`\nREADY ${JSON.stringify({
    modbus_port: plc.port, endpoint_url: opcua.endpointUrl,
    server_certificate: identityFor(stateDir, 'plant-server').certificateFile,
    password_file: path.join(opcuaDir(stateDir), 'users', 'industrial-1.password'),
    client_certificate: client.certificateFile, client_private_key: client.privateKeyFile,
  })}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'hazard') {
      hazard = { n: Number(arg), t0: performance.now(), at: Date.now() };
      plant.tick(0);
    } else if (cmd === 'reset') {
      hazard = undefined;
      plant.write('pump_1.run', true);
      process.stdout.write('RESET\n');
    }
  });
  const stop = () => { void opcua.stop().then(() => plc.close()).then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.stdin.once('end', stop);
}
main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
