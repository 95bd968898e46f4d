/**
 * The Kubernetes and Helm providers of a stack. `eks`: endpoint and CA of the EKS cluster named `clusterName`, and a
 * token from `aws eks get-token` run by the providers for each connection (exec auth): a token read once at plan
 * (aws_eks_cluster_auth) lives 15 minutes and expires during the Helm waits of an install. Terraform must run where the
 * private endpoint is reachable (docs/deploy.md). `kubeconfig`: an existing cluster (edge).
 */
import { Construct } from 'constructs';
import { DataAwsEksCluster } from '@cdktf/provider-aws/lib/data-aws-eks-cluster';
import { HelmProvider } from '@cdktf/provider-helm/lib/provider';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { Fn } from './tf';
import { invalidProp } from './validate';

export type ClusterAccessProps =
  | {
      readonly mode: 'eks';
      /** EKS cluster name (literal or token). */
      readonly clusterName: string;
      /** Region of the cluster, passed to `aws eks get-token` (literal or token). */
      readonly region: string;
    }
  | {
      readonly mode: 'kubeconfig';
      /** Path of the kubeconfig (literal or token). */
      readonly configPath: string;
      /** Context in it. @default - the current context */
      readonly configContext?: string;
    };

export class ClusterAccess extends Construct {
  readonly kubernetes: KubernetesProvider;
  readonly helm: HelmProvider;

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    if (props.mode === 'eks') {
      const cluster = new DataAwsEksCluster(this, 'cluster', { name: props.clusterName });
      const exec = {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'aws',
        args: ['eks', 'get-token', '--cluster-name', props.clusterName, '--region', props.region, '--output', 'json'],
      };
      const conn = {
        host: cluster.endpoint,
        clusterCaCertificate: Fn.base64decode(cluster.certificateAuthority.get(0).data),
      };
      this.kubernetes = new KubernetesProvider(this, 'kubernetes', { ...conn, exec: [exec] });
      this.helm = new HelmProvider(this, 'helm', { kubernetes: { ...conn, exec } });
    } else if (props.mode === 'kubeconfig') {
      const conn = { configPath: props.configPath, configContext: props.configContext };
      this.kubernetes = new KubernetesProvider(this, 'kubernetes', conn);
      this.helm = new HelmProvider(this, 'helm', { kubernetes: conn });
    } else {
      invalidProp(this, 'mode', (props as { mode: unknown }).mode, 'one of eks, kubeconfig');
    }
  }
}
