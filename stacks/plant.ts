/**
 * The real plant the deployed runtime talks to: the `plant` variable of the runtime stacks (the PLC per zone of the
 * plant map, the plant's OPC UA server) and what it becomes in the pods' glimmer.yml (`plant.mode: external`). Pods
 * never start the simulated plant: the gateway in the Industrial Agent's pod forwards to these PLCs and polls the
 * process image from them, and the Industrial Agent opens its OPC UA session to this server.
 */
import type { Construct } from 'constructs';
import { gatewayListenerZones } from '../runtime/model/zones';
import type { RuntimeConfig } from '../runtime/config/types';
import type { FileSet } from '../modules/runtime-config-maps';
import type { SecretMount } from '../modules/agent-workload';
import { Fn, Token, type TerraformVariable } from '../modules/tf';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { LABELS, MODBUS_PORT } from '../modules/zone-model';
import { stackVariable } from './common';

/** Where the pods find the plant's server certificate (ConfigMap glimmer-plant) and the OPC UA credentials (Secret). */
export const PLANT_MOUNT = '/etc/glimmer/plant';
export const PLANT_CREDENTIALS_MOUNT = '/etc/glimmer/plant-credentials';
export const OPCUA_SERVER_CERT_FILE = 'opcua-server.pem';
export const DEFAULT_CREDENTIALS_SECRET = 'glimmer-opcua-credentials';

const HOST = '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9a-fA-F:.]+$';
const plc = (unit: number) => `object({host = string, port = optional(number, 502), unit_id = optional(number, ${unit})})`;

/** `plant`: required, so no runtime stack is planned without saying where its PLCs are. */
export function plantVariable(scope: Construct): TerraformVariable {
  const ok = (zone: string) =>
    `can(regex("${HOST}", var.plant.plcs.${zone}.host)) && var.plant.plcs.${zone}.port >= 1 && var.plant.plcs.${zone}.port <= 65535 && floor(var.plant.plcs.${zone}.port) == var.plant.plcs.${zone}.port && var.plant.plcs.${zone}.unit_id >= 0 && var.plant.plcs.${zone}.unit_id <= 255 && floor(var.plant.plcs.${zone}.unit_id) == var.plant.plcs.${zone}.unit_id`;
  return stackVariable(scope, 'plant', {
    type: `object({network_cidr = string, plcs = object({control = ${plc(1)}, safety = ${plc(2)}}), opcua = object({endpoint_url = string, server_certificate_pem = string, credentials_secret = optional(string, "${DEFAULT_CREDENTIALS_SECRET}")}), poll_interval_ms = optional(number, 250), stale_after_ms = optional(number, 1000)})`,
    nullable: false,
    description:
      'The real plant (the pods run plant.mode external, never the simulator): the plant network (CIDR the Industrial Agent\'s pod may reach, outside the mesh), the Modbus/TCP PLC per zone of the plant map (control: process PLC, map unit 1; safety: safety PLC, map unit 2; unit_id is the id on the PLC), ' +
      'the plant OPC UA server (opc.tcp URL and its certificate PEM), the Secret in the Industrial Agent\'s namespace with `password`, `client.pem`, `client.key`, and the process-image polling.',
    validation: [
      {
        condition: '${can(cidrnetmask(var.plant.network_cidr))}',
        errorMessage: 'plant.network_cidr must be an IPv4 CIDR like 10.10.0.0/16 (the plant network holding the PLCs and the OPC UA server), received "${var.plant.network_cidr}".',
      },
      {
        condition: `\${${ok('control')} && ${ok('safety')}}`,
        errorMessage: 'plant.plcs.control and plant.plcs.safety need host (a host name or an IP address), port 1..65535 and unit_id 0..255, received control ${var.plant.plcs.control.host}:${var.plant.plcs.control.port} unit ${var.plant.plcs.control.unit_id}, safety ${var.plant.plcs.safety.host}:${var.plant.plcs.safety.port} unit ${var.plant.plcs.safety.unit_id}.',
      },
      {
        condition: '${can(regex("^opc\\\\.tcp://[^/@:\\\\s]+(:[0-9]{1,5})?(/.*)?$", var.plant.opcua.endpoint_url))}',
        errorMessage: 'plant.opcua.endpoint_url must be an opc.tcp://host[:port][/path] URL without credentials, received "${var.plant.opcua.endpoint_url}".',
      },
      {
        condition: '${can(regex("-----BEGIN CERTIFICATE-----", var.plant.opcua.server_certificate_pem))}',
        errorMessage: 'plant.opcua.server_certificate_pem must be the PEM of the plant OPC UA server certificate (-----BEGIN CERTIFICATE-----).',
      },
      {
        condition: '${can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.plant.opcua.credentials_secret))}',
        errorMessage: 'plant.opcua.credentials_secret must be a Kubernetes Secret name, received "${var.plant.opcua.credentials_secret}".',
      },
      {
        condition: '${var.plant.poll_interval_ms >= 20 && var.plant.stale_after_ms <= 60000 && var.plant.stale_after_ms > var.plant.poll_interval_ms}',
        errorMessage: 'plant.poll_interval_ms must be >= 20 and plant.stale_after_ms above it and <= 60000, received ${var.plant.poll_interval_ms} and ${var.plant.stale_after_ms}.',
      },
    ],
  });
}

function at(v: TerraformVariable, ...keys: string[]): string {
  return Token.asString(keys.reduce<unknown>((value, key) => Fn.lookup(value, key), v.value));
}

/** `plant` of the pods' glimmer.yml: external mode, the gateway on every interface of the pod (the mesh guards it). */
export function externalPlantConfig(config: RuntimeConfig, plant: TerraformVariable): Record<string, unknown> {
  const ports = Object.fromEntries(gatewayListenerZones(config).map((zone, i) => [zone, MODBUS_PORT + i]));
  const plcOf = (zone: 'control' | 'safety') => ({ host: at(plant, 'plcs', zone, 'host'), port: at(plant, 'plcs', zone, 'port'), unit_id: at(plant, 'plcs', zone, 'unit_id') });
  return {
    mode: 'external',
    external: {
      plcs: { control: plcOf('control'), safety: plcOf('safety') },
      gateway: { host: '0.0.0.0', ports },
      poll_interval_ms: at(plant, 'poll_interval_ms'),
      stale_after_ms: at(plant, 'stale_after_ms'),
      opcua: {
        endpoint_url: at(plant, 'opcua', 'endpoint_url'),
        server_certificate: `${PLANT_MOUNT}/${OPCUA_SERVER_CERT_FILE}`,
        password_file: `${PLANT_CREDENTIALS_MOUNT}/password`,
        client_certificate: `${PLANT_CREDENTIALS_MOUNT}/client.pem`,
        client_private_key: `${PLANT_CREDENTIALS_MOUNT}/client.key`,
      },
    },
  };
}

/** ConfigMap glimmer-plant: the plant server's certificate (public), mounted in every agent pod of a zone. */
export function plantFileSet(plant: TerraformVariable): FileSet {
  return { name: 'glimmer-plant', mountPath: PLANT_MOUNT, files: { [OPCUA_SERVER_CERT_FILE]: at(plant, 'opcua', 'server_certificate_pem') } };
}

/** The OPC UA credentials Secret (created by the operator, never in Terraform state), for the Industrial Agent's pod. */
export function plantCredentialsMount(plant: TerraformVariable): SecretMount {
  return { name: 'plant-credentials', secretName: at(plant, 'opcua', 'credentials_secret'), mountPath: PLANT_CREDENTIALS_MOUNT };
}

/** The OPC UA server's port from the `plant` variable's URL (4840, the IANA port, when the URL names none). */
function opcuaPort(): string {
  return `\${try(tonumber(regex("^opc\\\\.tcp://[^/:]+:([0-9]+)", var.plant.opcua.endpoint_url)[0]), 4840)}`;
}

/**
 * The Industrial Agent's way out to the plant network: a NetworkPolicy allowing egress to `network_cidr` on the PLCs'
 * Modbus ports and the OPC UA port (the zones deny all egress by default), and the pod annotation that keeps that
 * traffic out of the sidecar (the PLCs are not in the mesh; Istio runs REGISTRY_ONLY).
 */
export function plantEgress(plant: TerraformVariable, agent: { readonly name: string; readonly zone: string }): { policy: INetworkPolicy; podAnnotations: Record<string, string> } {
  const port = (p: string) => ({ protocol: 'TCP' as const, port: p });
  return {
    podAnnotations: { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': at(plant, 'network_cidr') },
    policy: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${agent.name}-plant-egress`, namespace: agent.zone, labels: { [LABELS.partOf]: 'glimmer', [LABELS.agent]: agent.name } },
      spec: {
        podSelector: { matchLabels: { [LABELS.name]: 'glimmer', [LABELS.instance]: agent.name } },
        policyTypes: ['Egress'],
        egress: [{
          to: [{ ipBlock: { cidr: at(plant, 'network_cidr') } }],
          ports: [port(at(plant, 'plcs', 'control', 'port')), port(at(plant, 'plcs', 'safety', 'port')), port(opcuaPort())],
        }],
      },
    },
  };
}
