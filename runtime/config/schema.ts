/** JSON Schemas of `config/glimmer.yml` and `config/cognitive.yml`. Unknown keys are refused everywhere. */
const zoneName = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,30}$' } as const;

export const AGENT_KINDS = ['industrial', 'cognitive', 'data'] as const;
export const DEPLOYMENT_MODELS = ['ISA95_ZONED', 'HYPERSCALE'] as const;

export const PLANT_MODES = ['embedded', 'external'] as const;
export const ATTESTATION_MODES = ['none', 'tpm'] as const;

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
/** A host name or IP literal (no scheme, no port, no spaces); checked further at load. */
const host = { type: 'string', minLength: 1, maxLength: 253 } as const;
/** A Sparkplug group, edge node or host id: no MQTT wildcard, level separator or space. */
const sparkplugId = { type: 'string', pattern: '^[^+#/\\s]{1,64}$' } as const;
const filePath = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const plc = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: { host, port, unit_id: { type: 'integer', minimum: 0, maximum: 255 } },
} as const;

/** `plant.external`: the real plant the gateway, the interlocks and the Industrial Agent talk to (plant.mode external). */
const externalPlantSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['plcs'],
  properties: {
    // One PLC per zone of the plant map: `control` serves unit 1 (process), `safety` unit 2 (safety functions).
    plcs: { type: 'object', additionalProperties: false, required: ['control', 'safety'], properties: { control: plc, safety: plc } },
    gateway: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host,
        ports: { type: 'object', maxProperties: 64, additionalProperties: port },
      },
    },
    poll_interval_ms: { type: 'integer', minimum: 20, maximum: 10000 },
    stale_after_ms: { type: 'integer', minimum: 50, maximum: 60000 },
    opcua: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoint_url', 'server_certificate', 'password_file'],
      properties: {
        endpoint_url: { type: 'string', minLength: 1, maxLength: 2048 },
        server_certificate: filePath,
        user: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$' },
        password_file: filePath,
        client_certificate: filePath,
        client_private_key: filePath,
      },
    },
  },
} as const;

export const runtimeConfigSchema = {
  $id: 'glimmer.yml',
  type: 'object',
  additionalProperties: false,
  required: ['topology', 'zones', 'conduits', 'agents'],
  properties: {
    topology: {
      type: 'object',
      additionalProperties: false,
      required: ['deployment_model', 'control_zone', 'safety_zone_level', 'trust_domain'],
      properties: {
        deployment_model: { enum: DEPLOYMENT_MODELS },
        control_zone: { type: 'string', minLength: 1, maxLength: 32 },
        safety_zone_level: { type: 'integer', minimum: 1, maximum: 4 },
        trust_domain: { type: 'string', pattern: '^[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?$' },
        tls_pq_mode: { enum: ['pqc-only', 'hybrid-preferred', 'classical'] },
      },
    },
    zones: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'isa95_level', 'security_level'],
        properties: {
          name: zoneName,
          isa95_level: { enum: [0, 1, 2, 3, 3.5, 4] },
          security_level: { type: 'integer', minimum: 1, maximum: 4 },
        },
      },
    },
    conduits: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to', 'protocols'],
        properties: {
          from: zoneName,
          to: zoneName,
          protocols: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['https', 'a2a', 'opcua', 'modbus'] } },
          allow_insecure_opcua: { type: 'boolean' },
          // Sparkplug NCMD/DCMD from the broker's zone may become plant writes (through the gateway); default false.
          allow_sparkplug_commands: { type: 'boolean' },
        },
      },
    },
    agents: {
      type: 'array',
      minItems: 1,
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'kind', 'zone', 'required_safety_level'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' },
          kind: { enum: AGENT_KINDS },
          zone: zoneName,
          required_safety_level: { type: 'integer', minimum: 1, maximum: 4 },
        },
      },
    },
    supervisor: {
      type: 'object',
      additionalProperties: false,
      properties: {
        restart_backoff_ms: {
          type: 'object',
          additionalProperties: false,
          properties: { initial: { type: 'integer', minimum: 1, maximum: 60000 }, max: { type: 'integer', minimum: 1, maximum: 600000 } },
        },
        max_restarts: { type: 'integer', minimum: 0, maximum: 1000 },
        restart_window_s: { type: 'integer', minimum: 1, maximum: 86400 },
        shutdown_grace_ms: { type: 'integer', minimum: 100, maximum: 120000 },
      },
    },
    plant: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: PLANT_MODES },
        external: externalPlantSchema,
        seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
        tick_ms: { type: 'integer', minimum: 10, maximum: 10000 },
        fault_schedule: {
          type: 'array',
          maxItems: 64,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['at_s', 'asset', 'fault'],
            properties: {
              at_s: { type: 'number', minimum: 0, maximum: 604800 },
              clear_at_s: { type: 'number', minimum: 0, maximum: 604800 },
              asset: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,31}$' },
              fault: { enum: ['bearing_wear', 'leak', 'stuck_sensor'] },
            },
          },
        },
      },
    },
    api: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        mtls_port: { type: 'integer', minimum: 0, maximum: 65535 },
        // Host names the API answers under besides IP addresses (DNS rebinding defence). Default: [localhost].
        allowed_hosts: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$' } },
      },
    },
    // The Sparkplug B edge node of a Data Agent (docs/northbound.md).
    northbound: {
      type: 'object',
      additionalProperties: false,
      required: ['broker', 'group_id', 'ca_file'],
      properties: {
        broker: { type: 'string', maxLength: 512, pattern: '^mqtts://[^/\\s]+:[0-9]{1,5}/?$' },
        zone: zoneName,
        agent: { type: 'string', minLength: 1, maxLength: 64 },
        group_id: sparkplugId,
        edge_node_id: sparkplugId,
        primary_host_id: sparkplugId,
        ca_file: { type: 'string', minLength: 1, maxLength: 1024 },
        server_name: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,253}$' },
        publish_interval_ms: { type: 'integer', minimum: 100, maximum: 60000 },
        deadbands: { type: 'object', maxProperties: 4096, propertyNames: { pattern: '^[a-z][a-z0-9_]{0,31}[.][a-z][a-z0-9_]{0,63}$' }, additionalProperties: { type: 'number', minimum: 0 } },
        replay_max_messages_per_s: { type: 'integer', minimum: 1, maximum: 1000000 },
        command_zone: zoneName,
        store: {
          type: 'object', additionalProperties: false,
          properties: { safety_budget_mb: { type: 'number', exclusiveMinimum: 0, maximum: 1048576 }, trend_budget_mb: { type: 'number', exclusiveMinimum: 0, maximum: 1048576 } },
        },
      },
    },
    // The MCP server for AI copilots: an OAuth 2.1 resource server (docs/mcp.md).
    mcp: {
      type: 'object',
      additionalProperties: false,
      required: ['resource', 'issuers'],
      properties: {
        resource: { type: 'string', minLength: 1, maxLength: 512, pattern: '^https?://' },
        issuers: {
          type: 'array', minItems: 1, maxItems: 8,
          items: {
            type: 'object', additionalProperties: false, required: ['issuer', 'jwks_uri'],
            properties: {
              issuer: { type: 'string', minLength: 1, maxLength: 512 },
              // https, or http to a loopback address (a test or sidecar issuer); checked again at start.
              jwks_uri: { type: 'string', minLength: 1, maxLength: 512, pattern: '^(https://|http://(127[.]0[.]0[.]1|localhost|\\[::1\\])[:/])' },
              jwks_refresh_min_s: { type: 'integer', minimum: 0, maximum: 3600 },
            },
          },
        },
        max_calls_per_minute: { type: 'integer', minimum: 1, maximum: 100000 },
        write_zone: { type: 'string', minLength: 1, maxLength: 64 },
        max_pending_writes: { type: 'integer', minimum: 1, maximum: 1024 },
      },
    },
    // The plant OPC UA server on a plant network: bind address, advertised host names, certificate SANs.
    opcua: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host,
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        advertised_hosts: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,253}$' } },
        certificate_dns: { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z0-9*.-]{1,253}$' } },
        certificate_ips: { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', pattern: '^[0-9A-Fa-f.:]{2,45}$' } },
        // Lifetime of the OPC UA application certificates Glimmer's issuer signs, and the renewal lead time (seconds).
        certificate_lifetime_s: { type: 'integer', minimum: 10, maximum: 3650 * 86400 },
        certificate_renew_before_s: { type: 'integer', minimum: 1, maximum: 3650 * 86400 },
      },
    },
    // Agent-to-agent A2A endpoints: where this process's agents listen, and where agents of other pods are reached.
    a2a: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        peers: {
          type: 'object',
          propertyNames: { pattern: '^[A-Za-z0-9._-]{1,64}$' },
          additionalProperties: { type: 'string', pattern: '^https://[^/\\s]{1,253}$' },
        },
      },
    },
    // The revocation feed: how often the authority re-signs and pushes it (and followers fetch it), how old a follower's
    // feed may be before its enforcement points refuse (fail closed), and in a cluster where the authority serves it.
    revocation: {
      type: 'object',
      additionalProperties: false,
      properties: {
        refresh_ms: { type: 'integer', minimum: 100, maximum: 60000 },
        max_age_s: { type: 'integer', minimum: 1, maximum: 3600 },
        feed_url: { type: 'string', pattern: '^https://[^\\s]{1,2000}$' },
      },
    },
    cognitive_config: { type: 'string', minLength: 1 },
    // TPM 2.0 attestation before each SVID: off unless asked for (the laptop demo has no TPM); edge nodes turn it on.
    attestation: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: {
        mode: { enum: ATTESTATION_MODES },
        tcti: { type: 'string', pattern: '^(swtpm|device|mssim):[A-Za-z0-9=,./:_-]{1,200}$' },
        ek_ca_file: filePath,
      },
    },
  },
} as const;

export const cognitiveConfigSchema = {
  $id: 'cognitive.yml',
  type: 'object',
  additionalProperties: false,
  required: ['hybrid_reasoning'],
  properties: {
    hybrid_reasoning: {
      type: 'object',
      additionalProperties: false,
      required: ['neural_components', 'symbolic_components'],
      properties: {
        neural_components: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'model', 'precision', 'quantization'],
            properties: {
              type: { enum: ['transformer'] },
              model: { type: 'string', minLength: 1, maxLength: 128 },
              precision: { enum: ['int8', 'fp32'] },
              quantization: { enum: ['dynamic', 'none'] },
              path: { type: 'string', minLength: 1 },
              threshold: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
            },
          },
        },
        symbolic_components: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'rulesets'],
            properties: {
              type: { enum: ['prolog-engine'] },
              version: { type: 'string' },
              rulesets: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9_./-]+\\.pl$' } },
              inference_limit: { type: 'integer', minimum: 1000, maximum: 100000000 },
            },
          },
        },
      },
    },
  },
} as const;
