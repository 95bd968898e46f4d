/**
 * The plant OPC UA server alone in its own process, for a network namespace: bound to HOST, advertising HOST, its
 * certificate naming HOST, the Industrial Agent's account and certificate provisioned. Prints `READY <json>`.
 * Usage: node --import tsx opcua-netns-server.ts STATE_DIR HOST PORT
 */
import { CONDUITS, ZONES } from '../helpers';
import { provisionOpcuaTrust } from '../../../runtime/industrial/opcua/client';
import { opcuaNetwork } from '../../../runtime/industrial/opcua/network';
import { identityFor } from '../../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../../runtime/industrial/opcua/security';
import { startPlantOpcuaServer } from '../../../runtime/industrial/plant/plc-opcua';
import { PlantRuntime } from '../../../runtime/industrial/plant/runtime';

async function main(): Promise<void> {
  const [stateDir, host, port] = process.argv.slice(2) as [string, string, string];
  const network = opcuaNetwork({ host, advertised_hosts: [host] });
  const plant = new PlantRuntime({ seed: 11, tickMs: 100 });
  plant.start();
  await provisionOpcuaTrust(stateDir, 'industrial-1', network);
  const opcua = await startPlantOpcuaServer({
    plant, stateDir, port: Number(port), network, security: opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS }, 'control'),
    users: [{ name: 'industrial-1', zone: 'control' }],
  });
  process.stdout.write(`\nREADY ${JSON.stringify({ endpoint_url: opcua.endpointUrl, server_certificate: identityFor(stateDir, 'plant-server').certificateFile })}\n`);
  process.once('SIGTERM', () => { void opcua.stop().then(() => { plant.stop(); process.exit(0); }); });
}
main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
