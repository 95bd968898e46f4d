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
/** The Istio release pinned by default (COMPLIANCE_POLICY=pqc needs >= 1.27). */
export const DEFAULT_ISTIO_VERSION = '1.27.3';
export const ISTIO_VERSION_PATTERN = '^1\\.(2[7-9]|[3-9][0-9])\\.[0-9]+$';
export const DEFAULT_ROOT_KEY_HANDLE = 'aws-kms:///keys/root-key-001';

export interface TopologyVariablesProps {
  /** The deployment model this stack implements; `deployment_model` must equal it. @default 'ISA95_ZONED' */
  readonly deploymentModel?: DeploymentModel;
  /** The zones of the zone model; `control_zone` must name one at ISA-95 level 3.5 (case-insensitive). */
  readonly zones: readonly ZoneSpec[];
  /** Default of `control_zone`. @default - the first zone at ISA-95 level 3.5, upper-cased */
  readonly defaultControlZone?: string;
  /** Default of `safety_zone_level`. @default 3 */
  readonly defaultSafetyZoneLevel?: number;
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

  constructor(scope: Construct, id: string, props: TopologyVariablesProps) {
    super(scope, id);
    const model = props.deploymentModel ?? 'ISA95_ZONED';
    if (!DEPLOYMENT_MODELS.includes(model)) invalidProp('TopologyVariables', 'deploymentModel', model, `one of ${DEPLOYMENT_MODELS.join(', ')}`);
    const dmzZones = props.zones.filter((z) => z.isa95Level === 3.5).map((z) => z.name.toUpperCase());
    if (dmzZones.length === 0) invalidProp('TopologyVariables', 'zones', props.zones.map((z) => z.name), 'a zone model with a zone at ISA-95 level 3.5 (the DMZ)');
    const controlDefault = props.defaultControlZone ?? dmzZones[0];
    if (!dmzZones.includes(String(controlDefault).toUpperCase())) invalidProp('TopologyVariables', 'defaultControlZone', controlDefault, `one of ${dmzZones.join(', ')}`);
    const safetyDefault = props.defaultSafetyZoneLevel ?? 3;
    if (!Number.isInteger(safetyDefault) || safetyDefault < 1 || safetyDefault > 4) invalidProp('TopologyVariables', 'defaultSafetyZoneLevel', safetyDefault, 'an integer 1..4');

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
      description: 'Worker nodes of the cloud cluster (totals across the per-AZ node groups) and the ASG scaling policy.',
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
          errorMessage: 'cluster_autoscaling.metrics_window must be a duration like 300s or 5m, at most 60m (the predictive scaling buffer), received "${var.cluster_autoscaling.metrics_window}".',
        },
      ],
    });
    this.serviceMesh = variable('service_mesh', {
      type: `object({istio_version = optional(string, "${DEFAULT_ISTIO_VERSION}"), encryption_mode = optional(string, "FIPS_140_2")})`,
      default: {},
      nullable: false,
      description: 'Istio chart version (pinned, >= 1.27) and the mesh TLS policy: FIPS_140_2 (COMPLIANCE_POLICY=fips-140-2) or PQC_HYBRID (COMPLIANCE_POLICY=pqc, X25519MLKEM768).',
      validation: [
        {
          condition: `\${can(regex("${ISTIO_VERSION_PATTERN.replace(/\\/g, '\\\\')}", var.service_mesh.istio_version))}`,
          errorMessage: 'service_mesh.istio_version must be a pinned Istio release 1.27.0 or later (like 1.27.3), received "${var.service_mesh.istio_version}".',
        },
        {
          condition: `\${contains(${hclList(MESH_ENCRYPTION_MODES)}, var.service_mesh.encryption_mode)}`,
          errorMessage: `service_mesh.encryption_mode must be one of ${MESH_ENCRYPTION_MODES.join(', ')}, received "\${var.service_mesh.encryption_mode}".`,
        },
      ],
    });
    this.quantumSafe = variable('quantum_safe', {
      type: 'object({kyber_512_hybrid = optional(bool, true), dilithium_aes_fusion = optional(bool, false)})',
      default: {},
      nullable: false,
      description: 'kyber_512_hybrid: hybrid post-quantum key exchange in the mesh (Istio uses X25519MLKEM768, i.e. ML-KEM-768). dilithium_aes_fusion: the audit signing key is ML_DSA_65 instead of ECC_NIST_P384.',
    });
    this.tpmAttestation = variable('tpm_attestation', {
      type: `object({enforce_measured_boot = optional(bool, true), pcr_policy_hash = optional(string, ""), root_key_handle = optional(string, "${DEFAULT_ROOT_KEY_HANDLE}")})`,
      default: {},
      nullable: false,
      description: 'Measured boot: when enforce_measured_boot is on, Decrypt/GenerateDataKey on the HSM data key require a Nitro attestation whose image SHA-384 is pcr_policy_hash. root_key_handle names the data key alias.',
      validation: [
        {
          condition: '${!var.tpm_attestation.enforce_measured_boot || can(regex("^[0-9a-fA-F]{96}$", var.tpm_attestation.pcr_policy_hash))}',
          errorMessage: 'tpm_attestation.pcr_policy_hash must be a SHA-384 digest (96 hex characters) when enforce_measured_boot is true, received "${var.tpm_attestation.pcr_policy_hash}".',
        },
        {
          condition: '${can(regex("^aws-kms:///keys/[A-Za-z0-9/_-]{1,200}$", var.tpm_attestation.root_key_handle))}',
          errorMessage: 'tpm_attestation.root_key_handle must look like aws-kms:///keys/<name> (letters, digits, /, _, -), received "${var.tpm_attestation.root_key_handle}".',
        },
      ],
    });
  }

  /** `pqc` when quantum_safe.kyber_512_hybrid or service_mesh.encryption_mode = PQC_HYBRID, else `fips-140-2`. */
  get compliancePolicy(): string {
    return Token.asString(
      Fn.conditional(
        Op.or(Fn.lookup(this.quantumSafe.value, 'kyber_512_hybrid'), Op.eq(Fn.lookup(this.serviceMesh.value, 'encryption_mode'), 'PQC_HYBRID')),
        'pqc',
        'fips-140-2',
      ),
    );
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

  get pcrPolicyHash(): string {
    return Token.asString(Fn.lookup(this.tpmAttestation.value, 'pcr_policy_hash'));
  }

  /** `alias/<name>` from root_key_handle `aws-kms:///keys/<name>`. */
  get rootKeyAlias(): string {
    return `alias/${Fn.trimprefix(Token.asString(Fn.lookup(this.tpmAttestation.value, 'root_key_handle')), 'aws-kms:///keys/')}`;
  }

  scaling(attribute: 'min_size' | 'max_size' | 'desired_size' | 'scaling_policy' | 'metrics_window'): string {
    return Token.asString(Fn.lookup(this.clusterAutoscaling.value, attribute));
  }
}
