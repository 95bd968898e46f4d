/**
 * The Kubernetes and Helm providers of a stack. `eks`: endpoint, CA and a short-lived token from the EKS cluster named
 * `clusterName` (Terraform must run where the private endpoint is reachable). `kubeconfig`: an existing cluster (edge).
 */
import { Construct } from 'constructs';
import { DataAwsEksCluster } from '@cdktf/provider-aws/lib/data-aws-eks-cluster';
import { DataAwsEksClusterAuth } from '@cdktf/provider-aws/lib/data-aws-eks-cluster-auth';
import { HelmProvider } from '@cdktf/provider-helm/lib/provider';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { Fn } from './tf';
import { invalidProp } from './validate';

export type ClusterAccessProps =
  | { readonly mode: 'eks'; /** EKS cluster name (literal or token). */ readonly clusterName: string }
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
      const auth = new DataAwsEksClusterAuth(this, 'auth', { name: props.clusterName });
      const conn = {
        host: cluster.endpoint,
        clusterCaCertificate: Fn.base64decode(cluster.certificateAuthority.get(0).data),
        token: auth.token,
      };
      this.kubernetes = new KubernetesProvider(this, 'kubernetes', conn);
      this.helm = new HelmProvider(this, 'helm', { kubernetes: conn });
    } else if (props.mode === 'kubeconfig') {
      const conn = { configPath: props.configPath, configContext: props.configContext };
      this.kubernetes = new KubernetesProvider(this, 'kubernetes', conn);
      this.helm = new HelmProvider(this, 'helm', { kubernetes: conn });
    } else {
      invalidProp('ClusterAccess', 'mode', (props as { mode: unknown }).mode, 'one of eks, kubeconfig');
    }
  }
}
