/**
 * The STRIDE catalogue of the threat model: per component, what an attacker does and what in this repository stops
 * it. A mitigation names the files that implement it; the generator checks they exist in the checkout and turns a
 * missing one into a gap, so the model never claims what the build does not contain. `residual` is the part the
 * mitigation does not cover (an accepted risk or an open item): it makes the threat "partial".
 */
export type Stride = 'S' | 'T' | 'R' | 'I' | 'D' | 'E';
export type TopologyName = 'edge' | 'cloud';
export type ComponentId = 'gateway' | 'opcua' | 'agents' | 'pdp' | 'audit' | 'keys' | 'api' | 'mesh';

export const STRIDE_NAMES: Record<Stride, string> = {
  S: 'Spoofing', T: 'Tampering', R: 'Repudiation', I: 'Information disclosure', D: 'Denial of service', E: 'Elevation of privilege',
};

export interface ComponentSpec {
  readonly id: ComponentId;
  readonly name: string;
  readonly description: string;
}

export const COMPONENTS: readonly ComponentSpec[] = [
  { id: 'gateway', name: 'Modbus/TCP security gateway', description: 'Deny-by-default inspection of every Modbus ADU between client zones and the PLCs (process PLC in control, safety PLC in safety).' },
  { id: 'opcua', name: 'OPC UA client and server', description: 'The Industrial Agent\'s sessions to PLC OPC UA servers and the runtime\'s own OPC UA server for plant and agent state.' },
  { id: 'agents', name: 'Agents and supervisor', description: 'Industrial, Cognitive and Data agents, isolated and supervised, booted through certificate validation and measured boot.' },
  { id: 'pdp', name: 'Policy decision point', description: 'Cedar policies (default deny) deciding every action at the gateway, the API and agent messaging.' },
  { id: 'audit', name: 'Audit log', description: 'RFC 9162 Merkle log with signed C2SP checkpoints, sealed segments, offline verifier.' },
  { id: 'keys', name: 'KMS / HSM', description: 'Checkpoint signing and data keys: CloudHSM-backed KMS key store and KMS signing key (cloud), a PKCS#11 HSM (edge).' },
  { id: 'api', name: 'API and operator console', description: 'HTTP API (bearer token or mTLS client certificate) and the browser console it serves.' },
  { id: 'mesh', name: 'Service mesh and zone network', description: 'Istio STRICT mTLS with default-deny AuthorizationPolicies per conduit, and NetworkPolicies per zone namespace.' },
];

export interface ThreatSpec {
  readonly id: string;
  readonly component: ComponentId;
  readonly stride: Stride;
  readonly threat: string;
  readonly mitigation?: { readonly summary: string; readonly files: readonly string[] };
  /** What stays open even with the mitigation in place. */
  readonly residual?: string;
  /** @default - both topologies */
  readonly topologies?: readonly TopologyName[];
}

export const THREATS: readonly ThreatSpec[] = [
  // --- Modbus/TCP gateway ---
  { id: 'TM-GW-S1', component: 'gateway', stride: 'S', threat: 'A host claims to be in a more trusted zone to get write access (Modbus/TCP carries no identity).',
    mitigation: { summary: 'The zone of a connection is the listener it arrives on, one listener per client zone; only that zone\'s namespace can reach the listener (NetworkPolicy conduits).', files: ['runtime/industrial/modbus/gateway.ts', 'modules/zone-network-policies.ts'] },
    residual: 'Inside one zone every host that reaches the listener is that zone: Modbus/TCP Security (TLS, port 802) is not implemented, so per-client identity rests on the network.' },
  { id: 'TM-GW-T1', component: 'gateway', stride: 'T', threat: 'Malformed, truncated or oversized ADUs (protocol id != 0, length 0 or 65535) to crash the gateway or desynchronise the PLC stream.',
    mitigation: { summary: 'Strict MBAP framing (protocol id 0, bounded and consistent length, known unit id); a bad header closes only that connection; fuzzed with random and mutated ADUs.', files: ['runtime/industrial/modbus/frame.ts', 'runtime/industrial/modbus/inspector.ts'] } },
  { id: 'TM-GW-T2', component: 'gateway', stride: 'T', threat: 'A write that resets the emergency stop, sets the interlock bypass or changes a trip set point, sent from a zone that may not make it.',
    mitigation: { summary: 'Per-address `writable_from` zones and the safety flag from the plant map, function-code allow-lists per zone, then the policy decision; refusals are Modbus exceptions 01/02.', files: ['runtime/industrial/modbus/rules.ts', 'runtime/industrial/plant/map.ts', 'rules/policies/registers.cedar'] } },
  { id: 'TM-GW-R1', component: 'gateway', stride: 'R', threat: 'An operator or agent denies having sent a write that moved the plant.',
    mitigation: { summary: 'Every allowed and denied decision becomes an audit entry (Merkle leaf) with zone, unit, function, address and reason.', files: ['runtime/industrial/modbus/gateway.ts', 'runtime/audit/log.ts'] } },
  { id: 'TM-GW-I1', component: 'gateway', stride: 'I', threat: 'Process values and set points are read off the wire between the gateway and the PLCs.',
    mitigation: { summary: 'The PLC leg stays inside the control and safety zones; the zone NetworkPolicies allow only the gateway to reach the PLCs.', files: ['modules/zone-network-policies.ts'] },
    residual: 'The gateway-to-PLC leg is plaintext Modbus/TCP (the PLCs speak nothing else). Accepted with the compensating zone isolation; revisit when the PLCs support Modbus/TCP Security.' },
  { id: 'TM-GW-D1', component: 'gateway', stride: 'D', threat: 'A flooding or slowloris client starves the other clients or the PLC.',
    mitigation: { summary: 'Per-client rate limits (exception 06), slow-client timeouts, bounded buffers; upstream reconnects with backoff and answers 0A/0B while a PLC is down.', files: ['runtime/industrial/modbus/gateway.ts', 'runtime/industrial/modbus/upstream.ts'] } },
  { id: 'TM-GW-E1', component: 'gateway', stride: 'E', threat: 'A read-only client escalates to writes or diagnostics function codes.',
    mitigation: { summary: 'Function-code allow-list per zone, decided before any request decoding; unknown codes answer exception 01.', files: ['runtime/industrial/modbus/inspector.ts', 'runtime/industrial/modbus/rules.ts'] } },
  // --- OPC UA ---
  { id: 'TM-UA-S1', component: 'opcua', stride: 'S', threat: 'A rogue OPC UA server or client impersonates a PLC or the runtime (node-opcua defaults auto-accept unknown certificates).',
    mitigation: { summary: 'Own certificate manager with trusted/rejected/issuers folders; unknown peer certificates are rejected, never auto-accepted.', files: ['runtime/industrial/opcua/pki.ts'] } },
  { id: 'TM-UA-T1', component: 'opcua', stride: 'T', threat: 'A downgrade to SecurityPolicy None or SecurityMode Sign lets an on-path attacker change values.',
    mitigation: { summary: 'SignAndEncrypt with Basic256Sha256 or Aes256_Sha256_RsaPss only; None is refused unless a conduit sets `allow_insecure_opcua`, and never into a zone at SL 3 or above.', files: ['runtime/industrial/opcua/security.ts', 'runtime/config/schema.ts'] } },
  { id: 'TM-UA-I1', component: 'opcua', stride: 'I', threat: 'An anonymous session browses and reads the address space.',
    mitigation: { summary: 'Anonymous sessions are refused (allowed only on an insecure conduit below SL 3); sessions are encrypted end to end.', files: ['runtime/industrial/opcua/security.ts'] } },
  { id: 'TM-UA-D1', component: 'opcua', stride: 'D', threat: 'A server restart or network loss silently stops the monitored items the agents decide on.',
    mitigation: { summary: 'Subscriptions with session recovery after a server restart; an unreachable PLC raises the PlcUnreachable alert.', files: ['runtime/industrial/opcua/client.ts', 'monitoring/prometheus/custom_rules.yml'] } },
  // --- agents, supervisor, supply chain ---
  { id: 'TM-AG-S1', component: 'agents', stride: 'S', threat: 'A process impersonates an agent of another zone to its peers.',
    mitigation: { summary: 'X.509-SVIDs with exactly one SPIFFE URI `spiffe://<td>/zone/<zone>/agent/<name>`, 1 h TTL, checked at boot and on every TLS 1.3 mTLS call; revocation list.', files: ['runtime/trust/svid.ts', 'runtime/trust/spiffe.ts', 'runtime/trust/mtls.ts', 'runtime/trust/revocation.ts', 'runtime/lifecycle/boot.ts'] } },
  { id: 'TM-AG-T1', component: 'agents', stride: 'T', threat: 'A tampered code bundle, rule file, model, policy or configuration is loaded by an agent.',
    mitigation: { summary: 'Measured boot: every artifact is hashed into an extend-only measurement and checked against the signed release manifest; any mismatch refuses the boot naming the artifact. CI signs the manifest with the release key in KMS.', files: ['runtime/lifecycle/boot.ts', 'runtime/lifecycle/manifest.ts', 'scripts/sign-release.ts'] } },
  { id: 'TM-AG-T2', component: 'agents', stride: 'T', threat: 'A vulnerable or malicious dependency or base image reaches production.',
    mitigation: { summary: '`make precommit` fails on high/critical advisories (npm audit), lints with security rules and writes a validated CycloneDX SBOM; the image is built from digest-pinned bases, distroless, without shell or package manager.', files: ['scripts/precommit.ts', 'deploy/Dockerfile'] },
    residual: 'npm audit only knows published advisories; the SBOM must be fed to a continuous scanner (ECR scan on push in the cloud) to catch later ones.' },
  { id: 'TM-AG-R1', component: 'agents', stride: 'R', threat: 'An agent\'s state changes (pause on a failed policy check, termination) cannot be reconstructed.',
    mitigation: { summary: 'Every lifecycle transition is recorded as an audit entry, a metric and a log line; termination seals the agent\'s final record.', files: ['runtime/lifecycle/state-machine.ts', 'runtime/audit/log.ts'] } },
  { id: 'TM-AG-I1', component: 'agents', stride: 'I', threat: 'Personal data (operator names, badge ids, e-mails) leaves its zone through the Data Agent.',
    mitigation: { summary: 'GDPR filter, default deny: a field leaves only if the export schema names it; personal fields only as keyed pseudonyms; crypto-shredding on erasure.', files: ['runtime/agents/data/filter.ts', 'runtime/audit/gdpr.ts'] } },
  { id: 'TM-AG-D1', component: 'agents', stride: 'D', threat: 'A crashing agent restarts in a loop and takes the swarm or the plant interface down with it.',
    mitigation: { summary: 'Agents run isolated; the supervisor restarts with exponential backoff within a restart budget, then gives the agent up (GLM_ERR_AGENT_CRASH_LOOP) and keeps the others running.', files: ['runtime/lifecycle/supervisor.ts'] } },
  { id: 'TM-AG-E1', component: 'agents', stride: 'E', threat: 'A compromised agent escapes its container or gains node privileges.',
    mitigation: { summary: 'Pods non-root, read-only root filesystem, seccomp RuntimeDefault, all capabilities dropped, no privilege escalation, Pod Security `restricted`; distroless image; plan-review blocks privileged pods (GLM-POD-001).', files: ['modules/agent-workload.ts', 'modules/zone-namespaces.ts', 'deploy/Dockerfile', 'runtime/review/rules.ts'] } },
  // --- policy decision point ---
  { id: 'TM-PDP-S1', component: 'pdp', stride: 'S', threat: 'A caller asserts a zone or security level it does not have to get a permit.',
    mitigation: { summary: 'Principal attributes come from the verified SVID and the zone model, never from the request.', files: ['runtime/trust/policy/principals.ts', 'runtime/trust/spiffe.ts'] } },
  { id: 'TM-PDP-T1', component: 'pdp', stride: 'T', threat: 'Policy files are changed to permit writes to safety registers.',
    mitigation: { summary: 'Policies are validated against the Cedar schema at load (an invalid policy set is refused) and are measured-boot artifacts listed in the signed release manifest.', files: ['runtime/trust/policy/load.ts', 'rules/policies/schema.cedarschema', 'runtime/lifecycle/manifest.ts'] } },
  { id: 'TM-PDP-R1', component: 'pdp', stride: 'R', threat: 'A permit or deny cannot be explained after an incident.',
    mitigation: { summary: 'Every decision carries the determining policies and is audited.', files: ['runtime/trust/audit.ts'] } },
  { id: 'TM-PDP-E1', component: 'pdp', stride: 'E', threat: 'A missing policy or a decision-cache bug permits what the policies deny.',
    mitigation: { summary: 'Cedar denies when no policy permits (default deny); any decision cache is keyed by everything the policy reads and invalidated on policy, identity or zone change.', files: ['rules/policies/agents.cedar', 'runtime/trust/policy/cedar.ts'] } },
  // --- audit log ---
  { id: 'TM-AU-T1', component: 'audit', stride: 'T', threat: 'An insider edits or drops audit records to hide a write.',
    mitigation: { summary: 'RFC 9162 Merkle tree (SHA-512), checkpoints signed by HSM/KMS, consistency proofs between checkpoints; `glimmer audit verify` recomputes every root and proof offline.', files: ['runtime/audit/merkle.ts', 'runtime/audit/note.ts', 'runtime/audit/verify.ts'] } },
  { id: 'TM-AU-T2', component: 'audit', stride: 'T', threat: 'Sealed segments are deleted from storage (log truncation).', topologies: ['cloud'],
    mitigation: { summary: 'Sealed segments go to an S3 bucket with Object Lock in COMPLIANCE mode, SSE-KMS, public access blocked; plan-review blocks disabling or shortening it (GLM-S3-001/002) and destroying the bucket (GLM-LIFE-001).', files: ['modules/audit-bucket.ts', 'runtime/review/rules.ts'] } },
  { id: 'TM-AU-T3', component: 'audit', stride: 'T', threat: 'Sealed segments are deleted from the runtime\'s volume (log truncation).', topologies: ['edge'],
    mitigation: { summary: 'Truncation is detectable: the last signed checkpoint held by any verifier proves the lost entries existed (consistency proof fails).', files: ['runtime/audit/verify.ts'] },
    residual: 'The edge topology has no WORM store: segments live on the runtime\'s persistent volume. Copy sealed segments and checkpoints to write-once storage outside the plant (operator procedure) to make deletion recoverable, not only detectable.' },
  { id: 'TM-AU-R1', component: 'audit', stride: 'R', threat: 'The operator of the log denies having published a checkpoint.',
    mitigation: { summary: 'Checkpoints are signed with a key that never leaves the HSM or KMS (ECC P-384 or ML-DSA), optional ML-DSA-44 cosignature.', files: ['runtime/audit/kms.ts', 'runtime/audit/pkcs11.ts'] } },
  { id: 'TM-AU-I1', component: 'audit', stride: 'I', threat: 'Personal data in audit records outlives an erasure request.',
    mitigation: { summary: 'Subjects are logged as keyed pseudonyms with per-subject keys; erasure crypto-shreds the key while the tree stays verifiable.', files: ['runtime/audit/gdpr.ts'] } },
  { id: 'TM-AU-D1', component: 'audit', stride: 'D', threat: 'The signer is unavailable or storage stalls, and checkpoints stop.',
    mitigation: { summary: 'Signing never blocks appends; the AuditCheckpointOverdue alert fires when the latest checkpoint is too old.', files: ['runtime/audit/log.ts', 'monitoring/prometheus/custom_rules.yml'] } },
  { id: 'TM-AU-E1', component: 'audit', stride: 'E', threat: 'An API caller switches `immutable_logs` off to rewrite history.',
    mitigation: { summary: '`immutable_logs` is a one-way switch: once true it is persisted and never becomes false.', files: ['runtime/audit/config.ts'] } },
  // --- keys ---
  { id: 'TM-KEY-S1', component: 'keys', stride: 'S', threat: 'A workload other than the runtime signs checkpoints or decrypts data with our keys.', topologies: ['cloud'],
    mitigation: { summary: 'Least-privilege key policies: each use granted to a named role for named actions; EKS Pod Identity binds KMS Sign on the signing key to the runtime\'s service account only.', files: ['modules/key-policy.ts', 'modules/runtime-pod-identity.ts'] } },
  { id: 'TM-KEY-S2', component: 'keys', stride: 'S', threat: 'A workload other than the runtime uses the PKCS#11 token to sign checkpoints.', topologies: ['edge'],
    mitigation: { summary: 'The token PIN is read from the state directory (mode 0600) by the runtime only.', files: ['runtime/audit/pkcs11.ts'] },
    residual: 'On the edge the HSM is whatever PKCS#11 token the site provides; SoftHSM2 (development, tests) is software, not FIPS 140-3 L3. Production sites must bring a certified HSM and record it in the site\'s risk assessment.' },
  { id: 'TM-KEY-T1', component: 'keys', stride: 'T', threat: 'An infrastructure change destroys or replaces the HSM cluster or a KMS key, losing every record sealed under it.', topologies: ['cloud'],
    mitigation: { summary: 'Stable construct ids; plan-review blocks any delete or replace of CloudHSM, KMS keys, the key store and the audit bucket (GLM-LIFE-001) in CI.', files: ['modules/hsm-cluster.ts', 'modules/platform-key.ts', 'runtime/review/rules.ts'] } },
  { id: 'TM-KEY-I1', component: 'keys', stride: 'I', threat: 'Key material is extracted, or the key store password leaks through the synthesized configuration.', topologies: ['cloud'],
    mitigation: { summary: 'Keys are non-extractable in CloudHSM hsm2m.medium (FIPS 140-3 level 3) behind a KMS custom key store; its password is a sensitive Terraform variable, never in cdk.tf.json.', files: ['modules/hsm-cluster.ts', 'modules/hsm-key-store.ts'] },
    residual: 'Keys in a CloudHSM key store cannot rotate automatically; rotation is the documented manual procedure and must be scheduled.' },
  { id: 'TM-KEY-D1', component: 'keys', stride: 'D', threat: 'Losing one HSM stops decryption and signing.', topologies: ['cloud'],
    mitigation: { summary: 'HSMs in two availability zones in one cluster.', files: ['modules/hsm-cluster.ts'] } },
  { id: 'TM-KEY-E1', component: 'keys', stride: 'E', threat: 'A key administrator grants itself use of the key.', topologies: ['cloud'],
    mitigation: { summary: 'The account root may administer keys through IAM but policies never grant it Sign/Decrypt; admin and use are separate principals.', files: ['modules/key-policy.ts'] },
    residual: 'An account administrator can still rewrite a key policy; CloudTrail alerting on PutKeyPolicy is outside this repository.' },
  // --- API and console ---
  { id: 'TM-API-S1', component: 'api', stride: 'S', threat: 'A stolen admin token or forged client certificate is used to call the API.',
    mitigation: { summary: 'Bearer token compared in constant time, stored 0600 in the state directory, never in a query string or log (the console takes it from the URL fragment); or an mTLS client certificate chained to the trust bundle.', files: ['runtime/api/auth.ts', 'runtime/lifecycle/state-dir.ts'] },
    residual: 'The admin token is one shared credential: no per-operator identity, MFA or expiry. Put the console behind the site\'s SSO proxy and prefer client certificates per operator.' },
  { id: 'TM-API-T1', component: 'api', stride: 'T', threat: 'Script injection or framing in the console acts with the operator\'s token.',
    mitigation: { summary: 'The console is served with a restrictive Content-Security-Policy and X-Frame-Options DENY, without any CDN.', files: ['runtime/api/routes/console.ts'] } },
  { id: 'TM-API-R1', component: 'api', stride: 'R', threat: 'Configuration changes through the API cannot be attributed to a person.',
    mitigation: { summary: 'Audit configuration changes are audit entries.', files: ['runtime/audit/config.ts'] },
    residual: 'With the shared admin token an entry names the token, not the person (see TM-API-S1).' },
  { id: 'TM-API-I1', component: 'api', stride: 'I', threat: 'Errors leak stack traces, paths or secrets to clients.',
    mitigation: { summary: 'Clients get only a stable error code and message; stacks stay in the server log.', files: ['runtime/errors.ts', 'runtime/api/server.ts'] } },
  { id: 'TM-API-D1', component: 'api', stride: 'D', threat: 'Large or slow request bodies exhaust memory.',
    mitigation: { summary: 'Bounded request bodies (GLM_ERR_API_BODY_TOO_LARGE, 413).', files: ['runtime/api/server.ts'] } },
  { id: 'TM-API-E1', component: 'api', stride: 'E', threat: 'The API is reachable from zones that should not reach it.',
    mitigation: { summary: 'Binds 127.0.0.1 by default; in the clusters it is reachable only through the mesh with an AuthorizationPolicy per conduit, never as a public endpoint at SL >= 2 (plan-review GLM-NET-001).', files: ['runtime/config/load.ts', 'modules/mesh-policies.ts', 'runtime/review/rules.ts'] } },
  // --- mesh and zone network ---
  { id: 'TM-MESH-S1', component: 'mesh', stride: 'S', threat: 'A pod impersonates a workload of another zone.',
    mitigation: { summary: 'Istio STRICT PeerAuthentication mesh-wide and an allow-nothing AuthorizationPolicy with explicit ALLOWs per conduit (source identities, ports); plan-review blocks non-STRICT mTLS (GLM-MESH-001/002).', files: ['modules/mesh-policies.ts', 'runtime/review/rules.ts'] } },
  { id: 'TM-MESH-T1', component: 'mesh', stride: 'T', threat: 'Traffic crosses zones outside the conduits (e.g. level 4 straight to levels 0-2).',
    mitigation: { summary: 'One namespace per zone with default-deny NetworkPolicies that open only the conduits of the zone model; plan-review blocks a namespace without default deny (GLM-NETPOL-001).', files: ['modules/zone-namespaces.ts', 'modules/zone-network-policies.ts', 'modules/zone-model.ts'] } },
  { id: 'TM-MESH-I1', component: 'mesh', stride: 'I', threat: 'Traffic is recorded now and decrypted later with a quantum computer.',
    mitigation: { summary: 'With `quantum_safe.kyber_512_hybrid` Istio runs COMPLIANCE_POLICY=pqc: TLS 1.3 with X25519MLKEM768 (ML-KEM-768, not Kyber-512), otherwise fips-140-2.', files: ['modules/istio-mesh.ts'] } },
  { id: 'TM-MESH-E1', component: 'mesh', stride: 'E', threat: 'A pod bypasses its sidecar (NET_ADMIN, host network) or the cluster API is public.',
    mitigation: { summary: 'Pod Security `restricted` per zone namespace; plan-review blocks privileged pods (GLM-POD-001) and public endpoints at SL >= 2 (GLM-NET-001); EKS API endpoint private by default (cloud).', files: ['modules/zone-namespaces.ts', 'modules/eks-cluster.ts', 'runtime/review/rules.ts'] } },
];
