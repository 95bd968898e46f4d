/**
 * The one catalogue of Glimmer errors. Codes are stable: users grep for them, runbooks cite them, and
 * `docs/errors.md` is generated from this table (a test checks the two agree).
 * Each domain keeps its codes together; add new codes to your domain's block.
 */
export interface ErrorSpec {
  /** HTTP status when the error reaches an API client. */
  readonly status: number;
  /** One line for the docs: when this error happens. */
  readonly doc: string;
}

export const ERROR_CATALOGUE = {
  // --- generic ---
  GLM_ERR_INTERNAL: { status: 500, doc: 'An unexpected internal failure; details are in the server log, never sent to clients.' },
  GLM_ERR_USAGE: { status: 400, doc: 'A CLI command was called with missing or invalid arguments.' },

  // --- configuration ---
  GLM_ERR_CONFIG_INVALID: { status: 400, doc: 'A configuration file does not match its schema; the message names the file, the path inside it, the value and what is allowed.' },
  GLM_ERR_CONFIG_UNREADABLE: { status: 400, doc: 'A configuration file cannot be read or is not valid YAML/JSON.' },
  GLM_ERR_CONFIG_RELOAD_REFUSED: { status: 400, doc: 'A configuration reload (SIGHUP) changed more than the zone security levels and required safety levels, which are all a running swarm takes; nothing was applied.' },
  GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID: { status: 400, doc: 'plant.mode external: a PLC address, gateway listen port or OPC UA endpoint URL is malformed or inconsistent (two listeners on one port, a port for a zone without a listener); the message names the field path and the value.' },
  GLM_ERR_CONFIG_PLANT_FILE_UNREADABLE: { status: 400, doc: 'plant.mode external: a configured OPC UA certificate, private key or password file cannot be read or is not what it should be (a PEM/DER X.509 certificate, a PEM key); the message names the field path and the file.' },

  // --- lifecycle and supervision ---
  GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION: { status: 409, doc: 'An agent was asked to move between lifecycle states that are not connected (e.g. INIT to ACTIVE).' },
  GLM_ERR_LIFECYCLE_HOOK_FAILED: { status: 500, doc: 'A transition hook refused the transition; the agent stays in its previous state or terminates.' },
  GLM_ERR_BOOT_ARTIFACT_MISMATCH: { status: 500, doc: 'Measured boot: an artifact hash differs from the signed release manifest; the message names the artifact.' },
  GLM_ERR_BOOT_ARTIFACT_MISSING: { status: 500, doc: 'Measured boot: an artifact listed in the release manifest is missing, or the agent loads one the manifest does not list.' },
  GLM_ERR_BOOT_MANIFEST_SIGNATURE: { status: 500, doc: 'Measured boot: the release manifest signature does not verify against the release public key.' },
  GLM_ERR_BOOT_CONFIG_PIN_INVALID: { status: 500, doc: 'GLIMMER_CONFIG_SHA256 is not a list of <file name>=<sha256> pins of the deployment configuration.' },
  GLM_ERR_STATE_DIR_UNUSABLE: { status: 500, doc: 'The state directory cannot be created or written (permissions, a read-only or full file system, a file in the way) or lies on a kernel pseudo file system (/proc, /sys, cgroup); the message names the path and the reason.' },
  GLM_ERR_BOOT_MANIFEST_INVALID: { status: 500, doc: 'Measured boot: the release manifest is missing or malformed.' },
  GLM_ERR_CLUSTER_SIGNER_REQUIRED: { status: 500, doc: 'GLIMMER_RUNTIME_MODE=cluster without a durable signer, archive or data key: GLIMMER_AUDIT_SIGNING_KEY, GLIMMER_AUDIT_BUCKET, GLIMMER_DATA_KEY and GLIMMER_TRUST_CA_DIR (the shared CA every pod mounts) must all be set (the runtime never falls back to an ephemeral or per-pod key in a cluster); the message names what is missing.' },
  GLM_ERR_CLUSTER_STORE_NOT_DURABLE: { status: 500, doc: 'GLIMMER_RUNTIME_MODE=cluster with a state directory that is not a mounted persistent volume (missing, not writable, or on tmpfs): the audit log would not survive a restart.' },
  GLM_ERR_CLUSTER_CONFIG_INVALID: { status: 500, doc: 'A cluster-mode variable has a malformed value (GLIMMER_RUNTIME_MODE, GLIMMER_AUDIT_RETENTION_MODE, GLIMMER_AUDIT_RETENTION_DAYS, GLIMMER_AUDIT_PREFIX, GLIMMER_RULES_SHA256); the message names the variable and the value.' },
  GLM_ERR_ATTESTATION_TPM_UNAVAILABLE: { status: 503, doc: 'attestation: tpm is set and the TPM cannot be reached or refused a command; no SVID is issued (fail closed). The message names the TCTI and the tool.' },
  GLM_ERR_ATTESTATION_EK_UNTRUSTED: { status: 500, doc: 'attestation: the TPM\'s EK certificate does not chain to the configured CA, or its attestation key is not bound to that EK (credential activation failed).' },
  GLM_ERR_ATTESTATION_QUOTE_INVALID: { status: 500, doc: 'attestation: a TPM quote is malformed, quotes other PCRs or another bank than the one the verifier asked for.' },
  GLM_ERR_ATTESTATION_SIGNATURE_INVALID: { status: 500, doc: 'attestation: a TPM quote\'s signature does not verify against the attestation key.' },
  GLM_ERR_ATTESTATION_NONCE_MISMATCH: { status: 500, doc: 'attestation: a TPM quote carries another nonce than the verifier\'s fresh one (a replayed or foreign quote).' },
  GLM_ERR_ATTESTATION_PCR_MISMATCH: { status: 500, doc: 'attestation: the quoted PCR digest differs from the one the signed release manifest predicts for the agent; the message names the PCR and both digests.' },
  GLM_ERR_ATTESTATION_UNSEAL_REFUSED: { status: 500, doc: 'attestation: the TPM refused to unseal an agent\'s SVID key because the PCR does not hold the value the key was sealed to.' },
  GLM_ERR_ATTESTATION_POLICY_MISMATCH: { status: 500, doc: 'attestation: the PolicyPCR digest computed from the release manifest differs from the deployment\'s pcr_policy_hash (GLIMMER_PCR_POLICY_HASH).' },
  GLM_ERR_AGENT_CRASH_LOOP: { status: 503, doc: 'An agent crashed more often than the restart budget allows; the supervisor gave up on it.' },
  GLM_ERR_AGENT_UNKNOWN: { status: 404, doc: 'No agent with that id exists in the swarm.' },
  GLM_ERR_AGENT_MESSAGE_REFUSED: { status: 502, doc: 'Another agent did not complete an A2A message: its policy denied the call or its handler failed.' },
  GLM_ERR_SAFETY_HELD: { status: 409, doc: 'An agent under a safety hold was asked to resume; it resumes only when every holder (the ordering rules, its configured levels) releases it.' },
  GLM_ERR_SAFETY_TARGET_UNKNOWN: { status: 404, doc: 'A safety order names neither a plant unit nor an agent this process can reach; the order is audited as not delivered.' },
  GLM_ERR_SAFETY_ORDER_UNDELIVERED: { status: 502, doc: 'A safety order could not be delivered: the target agent\'s endpoint is unknown or not answering, or no Industrial agent exists for a plant unit.' },
  GLM_ERR_SAFETY_ORDER_INVALID: { status: 400, doc: 'A safety order received over A2A is malformed (target, action, decision id or codes); it is refused and audited.' },
  GLM_ERR_SAFETY_HOLD_NOT_ENFORCED: { status: 500, doc: 'An agent under a safety hold did not reach PAUSED in time; the supervisor keeps asking and the process reports not ready.' },
  GLM_ERR_DATA_RECORD_INVALID: { status: 400, doc: 'The Data Agent received a record that is not a bounded JSON object of scalars.' },
  GLM_ERR_DATA_NO_CONDUIT: { status: 403, doc: 'The Data Agent was asked to move records between zones that no conduit connects.' },

  // --- northbound (Sparkplug B over MQTT, store-and-forward) ---
  GLM_ERR_NORTHBOUND_CONFIG_INVALID: { status: 400, doc: 'The northbound section is invalid (broker URL not mqtts://, a Sparkplug id with + / # characters, a certificate file that cannot be read, a stream budget that is not positive); the message names the field and the value.' },
  GLM_ERR_NORTHBOUND_PAYLOAD_INVALID: { status: 400, doc: 'A Sparkplug B payload from the broker (an NCMD, DCMD or STATE message) is oversized or does not decode; it is dropped and counted.' },
  GLM_ERR_NORTHBOUND_COMMAND_REFUSED: { status: 403, doc: 'An NCMD/DCMD from the enterprise would write to the plant and the write decision refused it (no conduit from the broker\'s zone carries sparkplug writes to the signal\'s zone, the signal is not writable from that zone, the gateway\'s policy or an interlock refused it), or it names no known metric. Audited.' },
  GLM_ERR_NORTHBOUND_TOPIC_DENIED: { status: 403, doc: 'The Cedar policy does not let the Data Agent\'s zone publish this Sparkplug topic (a device\'s births and data); the device is left out of the northbound data.' },
  GLM_ERR_NORTHBOUND_QUEUE_FULL: { status: 507, doc: 'The store-and-forward queue refused a record: a stream that is never dropped (safety events) is over its budget and no droppable stream (trends) holds anything left to drop.' },
  GLM_ERR_NORTHBOUND_STORE_UNUSABLE: { status: 500, doc: 'The store-and-forward SQLite file in the state dir cannot be opened or written (permissions, a full disk, a damaged file); records are not acknowledged.' },

  // --- identity and mTLS (runtime/trust) ---
  GLM_ERR_CERT_UNKNOWN_CA: { status: 401, doc: 'A certificate does not chain to the trust bundle.' },
  GLM_ERR_CERT_EXPIRED: { status: 401, doc: 'A certificate is past its notAfter.' },
  GLM_ERR_CERT_NOT_YET_VALID: { status: 401, doc: 'A certificate is before its notBefore.' },
  GLM_ERR_CERT_SAN_INVALID: { status: 401, doc: 'A certificate has no, or more than one, SPIFFE URI SAN, or it is malformed.' },
  GLM_ERR_CERT_IDENTITY_MISMATCH: { status: 401, doc: 'A certificate SPIFFE ID names another agent or zone than the one booting.' },
  GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN: { status: 401, doc: 'A certificate SPIFFE ID belongs to another trust domain.' },
  GLM_ERR_CERT_REVOKED: { status: 401, doc: 'A certificate serial, or the SPIFFE ID it carries, is on the revocation list (also: the CA issues no SVID to a revoked SPIFFE ID).' },
  GLM_ERR_CERT_KEY_USAGE: { status: 401, doc: 'A certificate lacks the key usage / extended key usage its role requires.' },
  GLM_ERR_CERT_UNREADABLE: { status: 400, doc: 'A certificate or key file cannot be parsed.' },
  GLM_ERR_CERT_RENEWAL_FAILED: { status: 503, doc: 'The supervisor issued no next SVID for an agent; the agent keeps its current SVID and retries.' },
  GLM_ERR_TLS_PQ_MODE_INVALID: { status: 400, doc: 'The post-quantum TLS mode (GLIMMER_TLS_PQ_MODE or topology.tls_pq_mode) is not pqc-only, hybrid-preferred or classical; the message names the source and the value.' },

  // --- HTTP API ---
  GLM_ERR_API_UNAUTHENTICATED: { status: 401, doc: 'The request has no valid bearer token or client certificate.' },
  GLM_ERR_API_FORBIDDEN: { status: 403, doc: 'The policy decision point denied the request.' },
  GLM_ERR_API_NOT_FOUND: { status: 404, doc: 'No such route.' },
  GLM_ERR_API_METHOD_NOT_ALLOWED: { status: 405, doc: 'The route exists but not for this method.' },
  GLM_ERR_API_BODY_INVALID: { status: 400, doc: 'The request body is not valid JSON or does not match the schema; the message names the field path.' },
  GLM_ERR_API_LISTEN_FAILED: { status: 500, doc: 'The API (or the mTLS API) cannot listen on its address: the port is in use or not permitted; the message names the host, the port and the reason.' },
  GLM_ERR_API_HOST_REFUSED: { status: 421, doc: 'The request\'s Host header is neither an IP address nor a name in api.allowed_hosts (DNS rebinding defence): the API answers no route under a foreign name.' },
  GLM_ERR_API_BODY_TOO_LARGE: { status: 413, doc: 'The request body exceeds the limit.' },
  GLM_ERR_API_TOO_MANY_STREAMS: { status: 503, doc: 'GET /v1/events refused a new live stream: too many consoles are connected; close one and retry.' },

  // --- MCP server for AI copilots (runtime/api/mcp) ---
  GLM_ERR_MCP_TOKEN_INVALID: { status: 401, doc: 'An MCP request has no bearer token, or its JWT fails validation: signature against the configured issuer keys, issuer, audience (must be this server\'s resource), expiry; the message says which check failed.' },
  GLM_ERR_MCP_NOT_CONFIGURED: { status: 400, doc: 'The mcp section of the configuration is missing or inconsistent (no issuer, a JWKS URI that is neither https nor loopback http); the message names the field.' },
  GLM_ERR_MCP_ARGUMENTS_INVALID: { status: 400, doc: 'A tool call\'s arguments do not match the tool\'s JSON Schema or exceed the size bound; the message names the path, the value and what is allowed.' },
  GLM_ERR_MCP_RATE_LIMITED: { status: 429, doc: 'An MCP client made more tool calls than mcp.max_calls_per_minute allows; the call was refused before any policy decision.' },
  GLM_ERR_MCP_TOOL_DENIED: { status: 403, doc: 'The Cedar policy denied an MCP tool call for this client (scopes, forbid policies); the message names the deciding policies.' },
  GLM_ERR_MCP_WRITE_REFUSED: { status: 409, doc: 'A write requested by an MCP client was refused by the write decision (zone, policy, process image, interlock, safety trip); the message names the step and the reason. Nothing was written.' },
  GLM_ERR_MCP_APPROVAL_UNKNOWN: { status: 404, doc: 'No pending write request with that id: it was never queued, already decided, or expired.' },

  // --- benchmark harness ---
  GLM_ERR_BENCH_UNKNOWN_SCENARIO: { status: 400, doc: 'make benchmark was given a SCENARIO that does not exist.' },
  GLM_ERR_BENCH_DURATION_INVALID: { status: 400, doc: 'make benchmark was given a DURATION that is not like 30s, 5m or 1h.' },
  GLM_ERR_BENCH_NOT_BUILT: { status: 400, doc: 'A scenario that times the bundled runtime ran before `make build` produced its bundle.' },

  // --- industrial (runtime/industrial) ---
  GLM_ERR_PLANT_ASSET_UNKNOWN: { status: 404, doc: 'The simulated plant has no asset with that id (or no asset of that kind).' },
  GLM_ERR_PLANT_FAULT_INVALID: { status: 400, doc: 'A fault was injected that does not apply to that kind of asset (e.g. bearing_wear on a tank).' },
  GLM_ERR_PLANT_COMMAND_INVALID: { status: 400, doc: 'A plant command or simulation parameter is out of range (speed, trip setpoint, step, seed).' },
  GLM_ERR_PLANT_SIMULATOR_ABSENT: { status: 409, doc: 'The request needs the simulated plant (fault injection, a fault schedule) but the runtime runs against real PLCs (plant.mode external).' },
  GLM_ERR_PLANT_IMAGE_STALE: { status: 503, doc: 'External plant: no fresh process image (the PLCs did not answer the polls within plant.external.stale_after_ms, or this pod polls no PLC); interlocked writes are refused meanwhile (fail closed).' },
  GLM_ERR_MODBUS_FRAME_MALFORMED: { status: 400, doc: 'Modbus gateway: an ADU is malformed (protocol id not 0, MBAP length 0/too short/inconsistent with the PDU); the gateway closes that connection only.' },
  GLM_ERR_MODBUS_FRAME_OVERSIZE: { status: 413, doc: 'Modbus gateway: an MBAP length announces more than 254 PDU bytes; the gateway closes that connection only.' },
  GLM_ERR_MODBUS_UNIT_UNKNOWN: { status: 404, doc: 'Modbus gateway: the unit id routes to no upstream PLC, or not one reachable from the client zone (exception 0A, gateway path unavailable).' },
  GLM_ERR_MODBUS_FUNCTION_DENIED: { status: 403, doc: 'Modbus gateway: the function code is not on the client zone\'s allow-list (exception 01).' },
  GLM_ERR_MODBUS_ADDRESS_DENIED: { status: 403, doc: 'Modbus gateway: the address range is outside the plant map or not readable from the client zone (exception 02).' },
  GLM_ERR_MODBUS_VALUE_INVALID: { status: 400, doc: 'Modbus gateway: a quantity, byte count or written value is out of the range the Modbus specification allows (exception 03).' },
  GLM_ERR_MODBUS_WRITE_DENIED: { status: 403, doc: 'Modbus gateway: a write to a register the client zone may not write (not in writable_from, exception 01).' },
  GLM_ERR_MODBUS_POLICY_DENIED: { status: 403, doc: 'Modbus gateway: the policy decision point or a safety interlock refused a safety write (exception 01).' },
  GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE: { status: 502, doc: 'Modbus gateway: the upstream PLC for that unit id is not connected (exception 0A, gateway path unavailable).' },
  GLM_ERR_MODBUS_UPSTREAM_TIMEOUT: { status: 504, doc: 'Modbus gateway: the upstream PLC did not answer in time or failed (exception 0B, gateway target failed to respond).' },
  GLM_ERR_MODBUS_RATE_LIMITED: { status: 429, doc: 'Modbus gateway: a client exceeded its request rate (exception 06, server device busy).' },
  GLM_ERR_MODBUS_CLIENT_TIMEOUT: { status: 408, doc: 'Modbus gateway: a client left a partial frame unfinished or stayed idle too long; the connection is closed.' },
  GLM_ERR_MODBUS_BUFFER_OVERFLOW: { status: 503, doc: 'Modbus gateway: a client has too many requests in flight or does not read its responses; the connection is closed.' },
  GLM_ERR_MODBUS_AUDIT_UNAVAILABLE: { status: 503, doc: 'Modbus gateway: the audit log cannot make the write\'s decision record durable (disk full, I/O error), so the write is refused (exception 04); writes that move the plant to its safe state (tripping the emergency stop, stopping a pump) still go through.' },
  GLM_ERR_MODBUS_CONNECTION_LIMIT: { status: 503, doc: 'Modbus gateway: a connection was refused (the zone listener or the client address is at its connection budget) or evicted (a connection that never sent a complete ADU made room for a new one); counted in glimmer_gateway_connections_refused_total and aggregated in the audit log.' },
  GLM_ERR_MODBUS_CONFIG_INVALID: { status: 400, doc: 'Modbus gateway: its options (listeners, zones, routes, limits) are inconsistent; the message names the value.' },
  GLM_ERR_OPCUA_SECURITY_REFUSED: { status: 403, doc: 'OPC UA: security mode None or anonymous login asked for where no conduit allows it (never at security level 3 or above).' },
  GLM_ERR_OPCUA_CERT_UNTRUSTED: { status: 401, doc: 'OPC UA: the peer certificate is not in the trusted folder of the certificate manager (it is moved to rejected, never auto-accepted).' },
  GLM_ERR_OPCUA_CONNECT_FAILED: { status: 502, doc: 'OPC UA: the client cannot open a secure session with the plant server (endpoint, security policy or certificate).' },
  GLM_ERR_OPCUA_SERVER_START_FAILED: { status: 500, doc: 'OPC UA: the plant server cannot start (port in use, certificate store unreadable).' },
  GLM_ERR_OPCUA_CERT_UNKNOWN: { status: 404, doc: 'OPC UA: no certificate with this thumbprint in the server\'s trusted or rejected folder (list them with `glimmer opcua certs list`).' },
  GLM_ERR_OPCUA_CERT_INVALID: { status: 400, doc: 'OPC UA: an issuer certificate or CRL given to the trust workflow cannot be parsed (PEM or DER expected).' },
  GLM_ERR_OPCUA_CERT_RENEWAL_FAILED: { status: 500, doc: 'OPC UA: an application certificate (the plant server\'s or an industrial agent\'s client) could not be renewed (issuer unreadable, disk full); the current certificate stays in use, the renewal is retried, and the OpcuaCertificateExpiringSoon alert fires when half the lead time passes without one.' },
  GLM_ERR_OPCUA_ISSUER_UNREADABLE: { status: 500, doc: 'OPC UA: Glimmer\'s OPC UA issuer (<state-dir>/opcua/ca/) cannot be read or parsed; nothing is issued with it.' },
  GLM_ERR_OPCUA_USER_INVALID: { status: 400, doc: 'OPC UA: an account name, role or password does not meet the rules (role viewer, operator or engineer; password of 12 characters or more), or the account store is unreadable.' },
  GLM_ERR_INDUSTRIAL_COMMAND_FAILED: { status: 502, doc: 'Industrial agent: a plant command (e.g. a safety shutdown) could not be executed through the gateway or OPC UA.' },

  // --- policy (runtime/trust) ---
  GLM_ERR_POLICY_INVALID: { status: 500, doc: 'A Cedar policy file or the schema in rules/policies/ does not parse or does not validate against the schema; the message names the file, line and policy id. The policy set is refused at load.' },
  GLM_ERR_POLICY_DENIED: { status: 403, doc: 'The policy decision point denied the request (default deny, or a forbid policy); the message names the deciding policies.' },
  GLM_ERR_POLICY_REQUEST_INVALID: { status: 400, doc: 'An authorization request names an unknown action or resource type, or a malformed resource; it is denied.' },

  // --- audit (runtime/audit) ---
  GLM_ERR_AUDIT_RECORD_INVALID: { status: 400, doc: 'An audit record is not a plain JSON object with a non-empty string `type`, holds a value JSON cannot represent, or is too large; the message names the field path.' },
  GLM_ERR_AUDIT_RANGE_INVALID: { status: 400, doc: 'An entries, inclusion or consistency request names indices or tree sizes outside the log (or not integers).' },
  GLM_ERR_AUDIT_PROOF_INVALID: { status: 400, doc: 'An inclusion or consistency proof is malformed or does not lead to the expected root.' },
  GLM_ERR_AUDIT_CHECKPOINT_INVALID: { status: 400, doc: 'A checkpoint or signed note is malformed (C2SP tlog-checkpoint / signed-note syntax), or a verifier key is.' },
  GLM_ERR_AUDIT_SIGNATURE_INVALID: { status: 400, doc: 'A checkpoint signature from a trusted key does not verify, or no trusted key signed it.' },
  GLM_ERR_AUDIT_SIGNER_UNAVAILABLE: { status: 503, doc: 'The checkpoint signer (KMS, PKCS#11 token or key file) cannot sign right now; appends continue and checkpoints catch up later.' },
  GLM_ERR_AUDIT_IMMUTABLE: { status: 409, doc: 'immutable_logs was switched on for this log and can never be switched off again.' },
  GLM_ERR_AUDIT_ALGORITHM_LOCKED: { status: 409, doc: 'The hash algorithm of an audit log is fixed when the log is created: the API cannot change it, and a log holding entries cannot be reopened with another.' },
  GLM_ERR_AUDIT_CLOSED: { status: 503, doc: 'The audit log was closed, or it failed closed after a storage error; reopen it to recover.' },
  GLM_ERR_AUDIT_STORAGE_FAILED: { status: 503, doc: 'The audit store could not make entries durable (disk full, I/O error); the pending appends were not acknowledged.' },
  GLM_ERR_AUDIT_STATE_CORRUPT: { status: 500, doc: 'At open, the stored log disagrees with itself (missing entries, or a root that differs from its latest signed checkpoint).' },
  GLM_ERR_AUDIT_ARCHIVE_FAILED: { status: 503, doc: 'A sealed segment could not be written to the Object Lock bucket (or read back from it for verification); the segment stays on the volume and the upload is retried.' },
  GLM_ERR_DATA_KEY_UNAVAILABLE: { status: 503, doc: 'The GDPR data key could not be generated or unwrapped by the KMS key (GLIMMER_DATA_KEY), or a wrapped store was opened without it: personal-data pseudonyms are refused rather than keyed in clear.' },
  GLM_ERR_AUDIT_KEY_UNPINNED: { status: 500, doc: 'At open, the audit store lists a checkpoint verifier key, or the configured signer has a key, that is not pinned in <state-dir>/trust/audit-keys.txt; the runtime refuses to start (a store re-signed with another key, or a replaced key file). Add the key there when it was rotated on purpose.' },
  GLM_ERR_AUDIT_VERIFY_FAILED: { status: 500, doc: '`glimmer audit verify` found tampering: a bad signature, a recomputed root or proof that differs, or missing entries.' },
  GLM_ERR_AUDIT_SUBJECT_ERASED: { status: 410, doc: 'The data subject was erased (crypto-shredded); its pseudonyms can no longer be linked to it.' },
  GLM_ERR_AUDIT_PIN_MISSING: { status: 400, doc: 'The PKCS#11 signer has no user PIN (set a PIN file or the GLIMMER_PKCS11_PIN environment variable).' },
  GLM_ERR_EXPLAIN_NOT_A_DECISION: { status: 404, doc: 'The audit entry named (`glimmer explain <index>`, GET /v1/decisions/explain) is no safety decision and carries no decision_id of one within the search window.' },
  GLM_ERR_ALARM_UNKNOWN: { status: 404, doc: 'An acknowledge or shelve request names an alarm the console does not hold (it returned to normal and was acknowledged, or never existed).' },

  // --- reasoning (runtime/reasoning) ---
  GLM_ERR_RULES_UNREADABLE: { status: 400, doc: 'A rule file or fact file cannot be read (missing, not UTF-8, or larger than 1 MiB); the message names the file.' },
  GLM_ERR_RULES_SYNTAX: { status: 400, doc: 'A rule file or fact file has a Prolog syntax error; the message names the file and line.' },
  GLM_ERR_RULES_DIRECTIVE: { status: 400, doc: 'A rule file has a directive other than dynamic/1 or discontiguous/1 (engines disagree on the rest, tau-prolog ignores unknown ones silently); the message names the file and line.' },
  GLM_ERR_RULES_REDEFINED: { status: 400, doc: 'A rule file defines clauses for a built-in predicate, a host hook (log_compliance_violation/2, enforce_safety_shutdown/1, glimmer_*), or a predicate another rule file already defines; the message names the file and line.' },
  GLM_ERR_RULES_FACTS_INVALID: { status: 400, doc: 'A fact file holds something other than ground facts of the fact vocabulary (a rule, a directive, a variable, an unknown predicate); the message names the file and line.' },
  GLM_ERR_RULES_INFERENCE_LIMIT: { status: 500, doc: 'A rule evaluation exceeded the inference limit (runaway rules); nothing of that evaluation is acted on. Set hybrid_reasoning.symbolic_components[].inference_limit.' },
  GLM_ERR_RULES_EVALUATION: { status: 500, doc: 'A rule evaluation raised a Prolog error (e.g. a type error in arithmetic); nothing of that evaluation is acted on.' },
  GLM_ERR_MODEL_UNREADABLE: { status: 500, doc: 'The anomaly model file cannot be read or is not a valid ONNX model for onnxruntime.' },
  GLM_ERR_MODEL_CONTRACT: { status: 500, doc: 'The anomaly model does not keep the input/output contract (input `windows` float32 [batch, 60, 16], outputs `class_probs` [batch, 4] and `asset_probs` [batch, 6]); the message names what differs.' },
  GLM_ERR_MODEL_UNTRUSTED: { status: 500, doc: 'The anomaly model\'s sha256 is not the one the signed release manifest lists for its path.' },

  // --- infrastructure, plan review, threat model (stacks, modules, runtime/cli) ---
  // infrastructure (stacks/, modules/): refused at synth, before any Terraform runs
  GLM_ERR_INFRA_TOPOLOGY_INVALID: { status: 400, doc: 'make synth / the cdktf app: the topology (TOPOLOGY, --topology, GLIMMER_TOPOLOGY or cdktf.json context `topology`) is not one of edge, cloud, all.' },
  GLM_ERR_INFRA_PROP_INVALID: { status: 400, doc: 'A construct in modules/ received a property outside its allowed values; the message names the construct, the property, the value received and what is allowed.' },
  GLM_ERR_INFRA_ZONE_MODEL_INVALID: { status: 400, doc: 'The zone model (config/glimmer.yml zones and conduits) breaks the ISA-95 rules the stacks enforce: a direct level 4 to level 0-2 conduit, or an agent or conduit naming no zone.' },
  GLM_ERR_INFRA_ALERT_RULES_INVALID: { status: 400, doc: 'monitoring/prometheus/custom_rules.yml is present but is not a Prometheus rule file (`groups:` of named rule lists), so no PrometheusRule can be built from it.' },
  // plan review, threat model and CI gates (runtime/review, scripts/precommit.ts, scripts/sign-release.ts)
  GLM_ERR_COMPLIANCE_CATALOGUE_INVALID: { status: 500, doc: 'compliance: a control catalogue under rules/compliance/catalogue/ cannot be read or breaks its rules (schema, a duplicate requirement, a met row without a test); the message names the file and the requirement.' },
  GLM_ERR_REVIEW_INPUT_UNREADABLE: { status: 400, doc: 'plan-review: the plan file cannot be read (missing, a directory, permission denied).' },
  GLM_ERR_REVIEW_INPUT_TOO_LARGE: { status: 413, doc: 'plan-review: the plan file is larger than the limit (64 MiB) or nested deeper than 256 levels.' },
  GLM_ERR_REVIEW_INPUT_NOT_JSON: { status: 400, doc: 'plan-review: the file is not JSON (or not UTF-8); the message gives the parser\'s position.' },
  GLM_ERR_REVIEW_FORMAT_VERSION: { status: 400, doc: 'plan-review: the plan\'s format_version is missing, malformed or of a major version this build does not read (supported: 1.x).' },
  GLM_ERR_REVIEW_INPUT_UNRECOGNIZED: { status: 400, doc: 'plan-review: valid JSON that is neither a `terraform show -json` plan nor a synthesized cdk.tf.json, or whose structure is malformed; the message names the JSON path.' },
  GLM_ERR_THREAT_UNKNOWN_TOPOLOGY: { status: 400, doc: 'threat-model: --topology names a topology that does not exist (allowed: edge, cloud).' },
  GLM_ERR_THREAT_SAFETY_FUNCTIONS_INVALID: { status: 400, doc: 'threat-model: the safety function catalogue does not match its schema (risk parameters S/F/P, category, MTTFd, DCavg, interlock).' },
  GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER: { status: 400, doc: 'make precommit: CHECKERS names a checker that does not exist (allowed: vulnscan, static-analysis, sbom-gen).' },
  GLM_ERR_RELEASE_SIGN_FAILED: { status: 500, doc: 'sign-release: the release manifest could not be signed with the release key (KMS refused, wrong key spec, or the manifest is malformed).' },
  // --- revocation feed (runtime/trust/revocation.ts) ---
  GLM_ERR_REVOCATION_FEED_STALE: { status: 503, doc: 'The revocation feed of this process is older than revocation.max_age_s (the authority or the supervisor stopped sending it): enforcement points that need it refuse every peer until a fresh signed feed arrives; the message names its age.' },
  GLM_ERR_REVOCATION_FEED_INVALID: { status: 502, doc: 'A revocation feed was refused: its signature does not verify against the trust bundle, it names another trust domain, it is older than the feed in force (replay), or it does not match its schema.' },
  GLM_ERR_REVOCATION_NOT_AUTHORITY: { status: 409, doc: 'A revocation was sent to a runtime that follows another runtime\'s feed (revocation.feed_url is set): revoke at the authority the feed comes from.' },
  GLM_ERR_A2A_CARD_UNSIGNED: { status: 502, doc: 'A peer\'s A2A Agent Card carries no signature (A2A 1.0 section 8.4); it is not trusted and the peer is not called.' },
  GLM_ERR_A2A_CARD_SIGNATURE_INVALID: { status: 502, doc: 'No signature of a peer\'s Agent Card verifies: the card was altered after signing, the signature is malformed or not ES256, or its signer certificate (x5c) is not an SVID of the trust domain; the message lists why for each signature.' },
  GLM_ERR_A2A_CARD_SIGNER_MISMATCH: { status: 502, doc: 'A peer\'s Agent Card is validly signed, but by another SPIFFE ID than the SVID the peer presented on the mTLS connection that delivered it (a card re-signed or relayed by another workload).' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class GlimmerError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Structured, safe-to-log details (never secrets, never untrusted objects spread into log fields). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GlimmerError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** The shape API clients see: code and message, never a stack. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isGlimmerError(err: unknown, code?: ErrorCode): err is GlimmerError {
  return err instanceof GlimmerError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a GlimmerError so callers see a stable code; unknown failures become GLM_ERR_INTERNAL. */
export function asGlimmerError(err: unknown): GlimmerError {
  if (err instanceof GlimmerError) return err;
  return new GlimmerError('GLM_ERR_INTERNAL', 'internal error', { cause: err });
}

/** Quotes an untrusted value for an error message: bounded length, no control characters. */
export function quote(value: unknown, max = 80): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    try {
      text = String(value);
    } catch {
      // A value nested deeper than the stack (a hostile 5,000-level body) has no printable form.
      text = Array.isArray(value) ? '[deeply nested array]' : `[unprintable ${typeof value}]`;
    }
  }
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
