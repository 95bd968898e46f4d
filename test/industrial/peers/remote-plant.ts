/**
 * A plant in its own process, standing in for a real one: the simulated plant's PLC on Modbus/TCP and its OPC UA
 * server (SignAndEncrypt, own PKI, user login), with the Industrial Agent's client certificate and password
 * provisioned on the plant side as an operator would. Prints `READY <json>` with the ports and the files the runtime's
 * external-plant config names. Usage: node --import tsx remote-plant.ts STATE_DIR MODBUS_PORT OPCUA_PORT
 */
import path from 'node:path';
import { loadConfig } from '../../../runtime/config/load';
import { failSafeOnly } from '../../../runtime/industrial/write-decision';
import { provisionOpcuaTrust } from '../../../runtime/industrial/opcua/client';
import { identityFor, opcuaDir } from '../../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../../runtime/industrial/opcua/security';
import { startSimulatedPlc } from '../../../runtime/industrial/plant/plc-modbus';
import { startPlantOpcuaServer } from '../../../runtime/industrial/plant/plc-opcua';
import { PlantRuntime } from '../../../runtime/industrial/plant/runtime';
import { PROCESS_ZONE } from '../../../runtime/model/plant';

async function main(): Promise<void> {
  const [stateDir, modbusPort, opcuaPort] = process.argv.slice(2) as [string, string, string];
  const plant = new PlantRuntime({ seed: 7, tickMs: 100 });
  plant.start();
  const plc = await startSimulatedPlc({ plant, port: Number(modbusPort) });
  await provisionOpcuaTrust(stateDir, 'industrial-1');
  const opcua = await startPlantOpcuaServer({
    plant, stateDir, port: Number(opcuaPort), security: opcuaSecurityFor(loadConfig(), PROCESS_ZONE),
    users: [{ name: 'industrial-1', zone: 'control' }], decide: failSafeOnly,
  });
  const client = identityFor(stateDir, 'industrial-1');
  process.stdout.write(`\nREADY ${JSON.stringify({
    modbus_port: plc.port, endpoint_url: opcua.endpointUrl,
    server_certificate: identityFor(stateDir, 'plant-server').certificateFile,
    password_file: path.join(opcuaDir(stateDir), 'users', 'industrial-1.password'),
    client_certificate: client.certificateFile, client_private_key: client.privateKeyFile,
  })}\n`);
  const stop = () => { void opcua.stop().then(() => plc.close()).then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
}
main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
