/**
 * The topology variables of the seed as Terraform variables with `validation` blocks, so a bad value fails at
 * `terraform plan` (or `cdktf deploy --var ...`) with a message naming the allowed values. Their names are the user
 * interface (`-var safety_zone_level=3`): the logical ids are pinned, never derived from the construct path.
 */
import { Construct } from 'constructs';
import { invalidProp } from './validate';
import { Fn, Op, TerraformVariable, Token } from './tf';
import type { ZoneSpec } from './zone-model';

export const DEPLOYMENT_MODELS = ['ISA95_ZONED', 'HYPERSCALE'] as const;
export type DeploymentModel = (typeof DEPLOYMENT_MODELS)[number];
export const SCALING_POLICIES = ['AI_PREDICTIVE_2023', 'PREDICTIVE_FORECAST_ONLY', 'NONE'] as const;
export const MESH_ENCRYPTION_MODES = ['FIPS_140_2', 'PQC_HYBRID'] as const;
/** Post-quantum key exchange policy of the mesh and of the runtime's own TLS (one variable, `pq_mode`). */
export const PQ_MODES = ['pqc-only', 'hybrid-preferred', 'classical'] as const;
export const DEFAULT_PQ_MODE = 'hybrid-preferred';
/** Hybrid first, classical fallback: what `hybrid-preferred` offers (meshConfig.tlsDefaults.ecdhCurves). */
export const HYBRID_ECDH_CURVES = ['X25519MLKEM768', 'X25519', 'P-256'] as const;
/** The Istio release pinned by default: the newest patch of a supported minor (1.27 and 1.28 are end of life). */
export const DEFAULT_ISTIO_VERSION = '1.30.3';
export const ISTIO_VERSION_PATTERN = '^1\\.(29|[3-9][0-9])\\.[0-9]+$';
export const DEFAULT_ROOT_KEY_HANDLE = 'aws-kms:///keys/root-key-001';
/** The node's TPM as the pods reach it: the kernel's resource manager device. */
export const NODE_TPM_TCTI = 'device:/dev/tpmrm0';
/** The extended resource a device plugin (smarter-device-manager's naming) advertises for /dev/tpmrm0. */
export const TPM_DEVICE_RESOURCE = 'smarter-devices/tpmrm0';

export interface TopologyVariablesProps {
  /** The deployment model this stack implements; `deployment_model` must equal it. @default 'ISA95_ZONED' */
  readonly deploymentModel?: DeploymentModel;
  /** The zones of the zone model; `control_zone` must name one at ISA-95 level 3.5 (case-insensitive). */
  readonly zones: readonly ZoneSpec[];
  /** Default of `control_zone`. @default - the first zone at ISA-95 level 3.5, upper-cased */
  readonly defaultControlZone?: string;
  /** Default of `safety_zone_level`. @default 3 */
  readonly defaultSafetyZoneLevel?: number;
  /** Extra validations of `cluster_autoscaling` (the cloud stack's node budget against vpc_cidr). @default [] */
  readonly scalingValidations?: ReadonlyArray<{ condition: string; errorMessage: string }>;
}

/** HCL that lists strings, for conditions and messages. */
function hclList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;
}

export class TopologyVariables extends Construct {
  readonly deploymentModel: TerraformVariable;
  readonly controlZone: TerraformVariable;
  readonly safetyZoneLevel: TerraformVariable;
  readonly clusterAutoscaling: TerraformVariable;
  readonly serviceMesh: TerraformVariable;
  readonly quantumSafe: TerraformVariable;
  readonly tpmAttestation: TerraformVariable;
  readonly pqMode: TerraformVariable;

  constructor(scope: Construct, id: string, props: TopologyVariablesProps) {
    super(scope, id);
    const model = props.deploymentModel ?? 'ISA95_ZONED';
    if (!DEPLOYMENT_MODELS.includes(model)) invalidProp(this, 'deploymentModel', model, `one of ${DEPLOYMENT_MODELS.join(', ')}`);
    const dmzZones = props.zones.filter((z) => z.isa95Level === 3.5).map((z) => z.name.toUpperCase());
    if (dmzZones.length === 0) invalidProp(this, 'zones', props.zones.map((z) => z.name), 'a zone model with a zone at ISA-95 level 3.5 (the DMZ)');
    const controlDefault = props.defaultControlZone ?? dmzZones[0];
    if (!dmzZones.includes(String(controlDefault).toUpperCase())) invalidProp(this, 'defaultControlZone', controlDefault, `one of ${dmzZones.join(', ')}`);
    const safetyDefault = props.defaultSafetyZoneLevel ?? 3;
    if (!Number.isInteger(safetyDefault) || safetyDefault < 1 || safetyDefault > 4) invalidProp(this, 'defaultSafetyZoneLevel', safetyDefault, 'an integer 1..4');

    const variable = (name: string, config: ConstructorParameters<typeof TerraformVariable>[2]): TerraformVariable => {
      const v = new TerraformVariable(this, name, config);
      v.overrideLogicalId(name);
      return v;
    };

    this.deploymentModel = variable('deployment_model', {
      type: 'string',
      default: model,
      nullable: false,
      description: `Deployment model: ${DEPLOYMENT_MODELS.join(' | ')}. This stack implements ${model}.`,
      validation: [
        {
          condition: `\${contains(${hclList(DEPLOYMENT_MODELS)}, var.deployment_model)}`,
          errorMessage: `deployment_model must be one of ${DEPLOYMENT_MODELS.join(', ')}, received "\${var.deployment_model}".`,
        },
        {
          condition: `\${var.deployment_model == "${model}"}`,
          errorMessage: `deployment_model must be ${model} in this stack, received "\${var.deployment_model}"; the other model is another topology: make synth TOPOLOGY=${model === 'HYPERSCALE' ? 'edge' : 'cloud'}.`,
        },
      ],
    });
    this.controlZone = variable('control_zone', {
      type: 'string',
      default: controlDefault,
      nullable: false,
      description: `The zone every cross-level flow crosses (ISA-95 level 3.5); the ingress gateway forwards only into it. One of ${dmzZones.join(', ')} (case-insensitive).`,
      validation: [
        {
          condition: `\${contains(${hclList(dmzZones)}, upper(var.control_zone))}`,
          errorMessage: `control_zone must be one of ${dmzZones.join(', ')} (the zones at ISA-95 level 3.5), received "\${var.control_zone}".`,
        },
      ],
    });
    this.safetyZoneLevel = variable('safety_zone_level', {
      type: 'number',
      default: safetyDefault,
      nullable: false,
      description: 'IEC 62443 security level of the safety zone, 1..4.',
      validation: [
        {
          condition: '${var.safety_zone_level >= 1 && var.safety_zone_level <= 4 && floor(var.safety_zone_level) == var.safety_zone_level}',
          errorMessage: 'safety_zone_level must be an integer 1..4 (IEC 62443 SL), received ${var.safety_zone_level}.',
        },
      ],
    });
    this.clusterAutoscaling = variable('cluster_autoscaling', {
      type: 'object({min_size = optional(number, 3), max_size = optional(number, 30), desired_size = optional(number), scaling_policy = optional(string, "AI_PREDICTIVE_2023"), metrics_window = optional(string, "5m")})',
      default: {},
      nullable: false,
      description: 'Worker nodes of the cloud cluster: min_size is the floor held by the per-AZ managed node groups (ceil(min_size/3) each, at most 450), max_size the ceiling Karpenter scales to (checked against the private subnets\' addresses); scaling_policy is Karpenter\'s consolidation (AI_PREDICTIVE_2023: empty or underused nodes, PREDICTIVE_FORECAST_ONLY: empty nodes only, NONE: never), metrics_window how long before it consolidates. desired_size is ignored (Karpenter decides).',
      validation: [
        {
          condition: '${var.cluster_autoscaling.min_size >= 1 && var.cluster_autoscaling.max_size >= var.cluster_autoscaling.min_size && floor(var.cluster_autoscaling.min_size) == var.cluster_autoscaling.min_size && floor(var.cluster_autoscaling.max_size) == var.cluster_autoscaling.max_size}',
          errorMessage: 'cluster_autoscaling: min_size must be an integer >= 1 and max_size an integer >= min_size, received min_size=${var.cluster_autoscaling.min_size}, max_size=${var.cluster_autoscaling.max_size}.',
        },
        {
          condition: '${coalesce(var.cluster_autoscaling.desired_size, var.cluster_autoscaling.min_size) >= var.cluster_autoscaling.min_size && coalesce(var.cluster_autoscaling.desired_size, var.cluster_autoscaling.min_size) <= var.cluster_autoscaling.max_size}',
          errorMessage: 'cluster_autoscaling: desired_size must be within min_size..max_size (or unset).',
        },
        {
          condition: `\${contains(${hclList(SCALING_POLICIES)}, var.cluster_autoscaling.scaling_policy)}`,
          errorMessage: `cluster_autoscaling.scaling_policy must be one of ${SCALING_POLICIES.join(', ')}, received "\${var.cluster_autoscaling.scaling_policy}".`,
        },
        {
          condition: '${can(regex("^[1-9][0-9]*[sm]$", var.cluster_autoscaling.metrics_window)) && try(tonumber(trimsuffix(trimsuffix(var.cluster_autoscaling.metrics_window, "s"), "m")) * (endswith(var.cluster_autoscaling.metrics_window, "m") ? 60 : 1) <= 3600, false)}',
          errorMessage: 'cluster_autoscaling.metrics_window must be a duration like 300s or 5m, at most 60m (how long a node stays empty or underused before Karpenter consolidates it), received "${var.cluster_autoscaling.metrics_window}".',
        },
        ...(props.scalingValidations ?? []),
      ],
    });
    this.serviceMesh = variable('service_mesh', {
      type: `object({istio_version = optional(string, "${DEFAULT_ISTIO_VERSION}"), encryption_mode = optional(string)})`,
      default: {},
      nullable: false,
      description: 'Istio chart version (pinned, >= 1.29; 1.27 and 1.28 are end of life) and the FIPS choice: encryption_mode FIPS_140_2 (COMPLIANCE_POLICY=fips-140-2, needs pq_mode classical) or PQC_HYBRID (a synonym of pq_mode hybrid-preferred or pqc-only); unset: decided by pq_mode alone.',
      validation: [
        {
          condition: `\${can(regex("${ISTIO_VERSION_PATTERN.replace(/\\/g, '\\\\')}", var.service_mesh.istio_version))}`,
          errorMessage: `service_mesh.istio_version must be a pinned Istio release 1.29.0 or later (like ${DEFAULT_ISTIO_VERSION}; 1.27 and 1.28 are end of life), received "\${var.service_mesh.istio_version}".`,
        },
        {
          condition: `\${var.service_mesh.encryption_mode == null || contains(${hclList(MESH_ENCRYPTION_MODES)}, coalesce(var.service_mesh.encryption_mode, "unset"))}`,
          errorMessage: `service_mesh.encryption_mode must be one of ${MESH_ENCRYPTION_MODES.join(', ')} (or unset), received "\${coalesce(var.service_mesh.encryption_mode, "null")}".`,
        },
      ],
    });
    this.quantumSafe = variable('quantum_safe', {
      type: 'object({kyber_512_hybrid = optional(bool), dilithium_aes_fusion = optional(bool, false)})',
      default: {},
      nullable: false,
      description: 'kyber_512_hybrid: kept for the seed command; when set it must agree with pq_mode (true: hybrid-preferred or pqc-only, false: classical). Istio uses X25519MLKEM768, i.e. ML-KEM-768, not Kyber-512. dilithium_aes_fusion: the audit signing key alias points at the ML_DSA_65 key instead of the ECC_NIST_P384 one (both keys exist, so toggling never replaces a key).',
    });
    this.pqMode = variable('pq_mode', {
      type: 'string',
      default: DEFAULT_PQ_MODE,
      nullable: false,
      description: 'Post-quantum key exchange of the mesh and of the runtime\'s TLS: pqc-only (COMPLIANCE_POLICY=pqc: TLS 1.3 with X25519MLKEM768 only, TLS 1.2 clients refused, gateway included), hybrid-preferred (X25519MLKEM768 offered first, X25519/P-256 fallback) or classical (no ML-KEM; FIPS 140-2 when service_mesh.encryption_mode is FIPS_140_2). docs/infrastructure.md.',
      validation: [
        {
          condition: `\${contains(${hclList(PQ_MODES)}, var.pq_mode)}`,
          errorMessage: `pq_mode must be one of ${PQ_MODES.join(', ')}, received "\${var.pq_mode}".`,
        },
        {
          condition: '${var.pq_mode == "classical" || var.service_mesh.encryption_mode != "FIPS_140_2"}',
          errorMessage: 'pq_mode ${var.pq_mode} conflicts with service_mesh.encryption_mode FIPS_140_2: Istio\'s COMPLIANCE_POLICY holds one value (fips-140-2 allows only TLS 1.2 with P-256, no ML-KEM). Set pq_mode=classical for FIPS 140-2, or drop encryption_mode.',
        },
        {
          condition: '${var.pq_mode != "classical" || var.service_mesh.encryption_mode != "PQC_HYBRID"}',
          errorMessage: 'pq_mode classical conflicts with service_mesh.encryption_mode PQC_HYBRID; choose one.',
        },
        {
          condition: '${var.quantum_safe.kyber_512_hybrid == null || (var.quantum_safe.kyber_512_hybrid == true) == (var.pq_mode != "classical")}',
          errorMessage: 'quantum_safe.kyber_512_hybrid disagrees with pq_mode=${var.pq_mode} (true needs hybrid-preferred or pqc-only, false needs classical); pq_mode decides, so drop kyber_512_hybrid or make them agree.',
        },
      ],
    });
    this.tpmAttestation = variable('tpm_attestation', {
      type: `object({enforce_measured_boot = optional(bool, true), pcr_policy_hash = optional(string, ""), root_key_handle = optional(string, "${DEFAULT_ROOT_KEY_HANDLE}"), enclave_attestation = optional(bool, false), node_tpm = optional(bool, false), ek_ca_pem = optional(string, "")})`,
      default: {},
      nullable: false,
      description: 'Measured boot: enforce_measured_boot makes the runtime refuse to start unless its artifacts match the signed release manifest (GLIMMER_ENFORCE_MEASURED_BOOT, pin pcr_policy_hash). The HSM data key is bound to the agents\' Pod Identity (cluster, namespace, service account); enclave_attestation=true additionally requires a Nitro Enclaves attestation with image SHA-384 pcr_policy_hash (enclave node groups only: EKS pods are not enclaves). root_key_handle names the data key alias. ' +
        `node_tpm=true (edge only) says the edge nodes have a TPM 2.0: the pods' glimmer.yml gets attestation: tpm on ${NODE_TPM_TCTI} and each agent pod requests the device as the extended resource ${TPM_DEVICE_RESOURCE} (a device plugin such as smarter-device-manager advertises it); ek_ca_pem holds the TPM manufacturers' EK CA certificates (public) the EK certificate must chain to.`,
      validation: [
        {
          condition: '${!var.tpm_attestation.enforce_measured_boot || can(regex("^([0-9a-fA-F]{64}|[0-9a-fA-F]{96})$", var.tpm_attestation.pcr_policy_hash))}',
          errorMessage: 'tpm_attestation.pcr_policy_hash must be a TPM2 PolicyPCR digest (SHA-256, 64 hex characters) or, for Nitro Enclaves, an image SHA-384 (96 hex characters) when enforce_measured_boot is true, received "${var.tpm_attestation.pcr_policy_hash}".',
        },
        {
          condition: '${!var.tpm_attestation.enclave_attestation || can(regex("^[0-9a-fA-F]{96}$", var.tpm_attestation.pcr_policy_hash))}',
          errorMessage: 'tpm_attestation.enclave_attestation needs pcr_policy_hash to be the enclave image SHA-384 (96 hex characters), received "${var.tpm_attestation.pcr_policy_hash}".',
        },
        {
          condition: '${can(regex("^aws-kms:///keys/[A-Za-z0-9/_-]{1,200}$", var.tpm_attestation.root_key_handle))}',
          errorMessage: 'tpm_attestation.root_key_handle must look like aws-kms:///keys/<name> (letters, digits, /, _, -), received "${var.tpm_attestation.root_key_handle}".',
        },
        {
          condition: '${!var.tpm_attestation.node_tpm || can(regex("-----BEGIN CERTIFICATE-----", var.tpm_attestation.ek_ca_pem))}',
          errorMessage: 'tpm_attestation.node_tpm needs ek_ca_pem: the PEM certificates of the TPM manufacturers\' EK CAs (-----BEGIN CERTIFICATE-----) the nodes\' EK certificates chain to.',
        },
        // EKS nodes are not given a TPM device here (NitroTPM is another attestation path): refused, never ignored.
        ...(model === 'HYPERSCALE' ? [{
          condition: '${!var.tpm_attestation.node_tpm}',
          errorMessage: 'tpm_attestation.node_tpm is for edge nodes with a TPM 2.0 (ISA95_ZONED, make synth TOPOLOGY=edge); the cloud topology does not render TPM attestation.',
        }] : []),
      ],
    });
  }

  /** Istio COMPLIANCE_POLICY: `pqc` for pqc-only, `fips-140-2` for classical with FIPS_140_2, else '' (none). */
  get compliancePolicy(): string {
    const pq = this.pqMode.stringValue;
    const fips = Op.and(Op.eq(pq, 'classical'), Op.eq(Fn.lookup(this.serviceMesh.value, 'encryption_mode'), 'FIPS_140_2'));
    return Token.asString(Fn.conditional(Op.eq(pq, 'pqc-only'), 'pqc', Fn.conditional(fips, 'fips-140-2', '')));
  }

  /** meshConfig.tlsDefaults.ecdhCurves: the hybrid-first list for hybrid-preferred, else [] (the policy decides). */
  get tlsEcdhCurves(): string[] {
    return Token.asList(Fn.conditional(Op.eq(this.pqMode.stringValue, 'hybrid-preferred'), [...HYBRID_ECDH_CURVES], []));
  }

  /** ML_DSA_65 when quantum_safe.dilithium_aes_fusion, else ECC_NIST_P384. */
  get signingKeySpec(): string {
    return Token.asString(Fn.conditional(Fn.lookup(this.quantumSafe.value, 'dilithium_aes_fusion'), 'ML_DSA_65', 'ECC_NIST_P384'));
  }

  /** The namespace of the control zone (zone names are lower-case namespaces). */
  get controlZoneNamespace(): string {
    return Fn.lower(this.controlZone.stringValue);
  }

  get istioVersion(): string {
    return Token.asString(Fn.lookup(this.serviceMesh.value, 'istio_version'));
  }

  get enforceMeasuredBoot(): unknown {
    return Fn.lookup(this.tpmAttestation.value, 'enforce_measured_boot');
  }

  /** Nitro Enclaves attestation on the data key (enclave node groups only). */
  get enclaveAttestation(): unknown {
    return Fn.lookup(this.tpmAttestation.value, 'enclave_attestation');
  }

  get pcrPolicyHash(): string {
    return Token.asString(Fn.lookup(this.tpmAttestation.value, 'pcr_policy_hash'));
  }

  /** The edge nodes have a TPM 2.0 (`node_tpm`): attestation: tpm and the TPM device for every agent pod. */
  get nodeTpm(): unknown {
    return Fn.lookup(this.tpmAttestation.value, 'node_tpm');
  }

  /** PEM of the TPM manufacturers' EK CAs (public certificates). */
  get ekCaPem(): string {
    return Token.asString(Fn.lookup(this.tpmAttestation.value, 'ek_ca_pem'));
  }

  /** `alias/<name>` from root_key_handle `aws-kms:///keys/<name>`. */
  get rootKeyAlias(): string {
    return `alias/${Fn.trimprefix(Token.asString(Fn.lookup(this.tpmAttestation.value, 'root_key_handle')), 'aws-kms:///keys/')}`;
  }

  scaling(attribute: 'min_size' | 'max_size' | 'desired_size' | 'scaling_policy' | 'metrics_window'): string {
    return Token.asString(Fn.lookup(this.clusterAutoscaling.value, attribute));
  }
}
