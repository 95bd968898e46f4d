/**
 * A VPC over three availability zones: private subnets for nodes, HSMs and endpoints; small public subnets only for
 * the NAT gateways; interface endpoints so KMS, ECR, STS and EKS Auth calls stay inside the VPC; flow logs of all
 * traffic to a CloudWatch log group with a retention (evidence of what crossed the VPC, kept as long as asked).
 */
import { Construct } from 'constructs';
import { DataAwsAvailabilityZones } from '@cdktf/provider-aws/lib/data-aws-availability-zones';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { Eip } from '@cdktf/provider-aws/lib/eip';
import { Ec2TransitGatewayVpcAttachment } from '@cdktf/provider-aws/lib/ec2-transit-gateway-vpc-attachment';
import { FlowLog } from '@cdktf/provider-aws/lib/flow-log';
import { Route } from '@cdktf/provider-aws/lib/route';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
import { Fn, Token } from './tf';
import { checkInt, checkOneOf, checkPattern } from './validate';

export const NAT_MODES = ['one-per-az', 'single', 'none'] as const;
export const DEFAULT_INTERFACE_ENDPOINTS = ['kms', 'ecr.api', 'ecr.dkr', 'sts', 'eks-auth', 'logs', 'ec2'] as const;

export interface NetworkProps {
  /** IPv4 CIDR of the VPC (a literal or a Terraform variable). @default '10.42.0.0/16' */
  readonly cidr?: string;
  /** Region, for endpoint service names. */
  readonly region: string;
  /** Availability zones used. @default 3 */
  readonly azCount?: number;
  /** NAT gateways for egress (image pulls from outside ECR); 'none' for fully private clusters. @default 'one-per-az' */
  readonly natGateways?: (typeof NAT_MODES)[number];
  /** Interface endpoints (service suffixes after com.amazonaws.<region>.). @default DEFAULT_INTERFACE_ENDPOINTS */
  readonly interfaceEndpoints?: readonly string[];
  /** Name tag prefix; also tags the subnets for the cluster's internal load balancers. @default 'glimmer' */
  readonly name?: string;
  /** Extra tags of the private subnets (Karpenter's discovery tag). @default {} */
  readonly privateSubnetTags?: Readonly<Record<string, string>>;
}

export class Network extends Construct {
  readonly vpc: Vpc;
  readonly privateSubnets: Subnet[];
  readonly publicSubnets: Subnet[];
  readonly endpointSecurityGroup: SecurityGroup;
  private readonly name: string;
  private privateRouteTables: RouteTable[] = [];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const cidr = checkPattern(this, 'cidr', props.cidr ?? '10.42.0.0/16', /^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|20)$/, 'an IPv4 CIDR with a prefix /16../20');
    const azCount = checkInt(this, 'azCount', props.azCount ?? 3, 2, 6);
    const nat = checkOneOf(this, 'natGateways', props.natGateways ?? 'one-per-az', NAT_MODES);
    const name = checkPattern(this, 'name', props.name ?? 'glimmer', /^[a-z][a-z0-9-]{0,30}$/, 'a lower-case name of up to 31 characters');
    this.name = name;
    const azs = new DataAwsAvailabilityZones(this, 'azs', { state: 'available', filter: [{ name: 'opt-in-status', values: ['opt-in-not-required'] }] });
    const az = (i: number): string => Token.asString(Fn.element(azs.names, i));

    this.vpc = new Vpc(this, 'vpc', { cidrBlock: cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name } });
    this.privateSubnets = [];
    this.publicSubnets = [];
    for (let i = 0; i < azCount; i++) {
      this.privateSubnets.push(new Subnet(this, `private-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az(i),
        cidrBlock: Fn.cidrsubnet(cidr, 3, i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-private-${i}`, 'kubernetes.io/role/internal-elb': '1', ...(props.privateSubnetTags ?? {}) },
      }));
      this.publicSubnets.push(new Subnet(this, `public-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az(i),
        cidrBlock: Fn.cidrsubnet(cidr, 8, 240 + i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-${i}` },
      }));
    }

    const natIds: string[] = [];
    if (nat !== 'none') {
      const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: { Name: name } });
      const publicRt = new RouteTable(this, 'public-rt', { vpcId: this.vpc.id, route: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }], tags: { Name: `${name}-public` } });
      this.publicSubnets.forEach((s, i) => new RouteTableAssociation(this, `public-rta-${i}`, { subnetId: s.id, routeTableId: publicRt.id }));
      const natCount = nat === 'single' ? 1 : azCount;
      for (let i = 0; i < natCount; i++) {
        const eip = new Eip(this, `nat-eip-${i}`, { domain: 'vpc', tags: { Name: `${name}-nat-${i}` } });
        natIds.push(new NatGateway(this, `nat-${i}`, { allocationId: eip.id, subnetId: (this.publicSubnets[i] as Subnet).id, tags: { Name: `${name}-${i}` }, dependsOn: [igw] }).id);
      }
    }
    const privateRts = (this.privateRouteTables = this.privateSubnets.map((s, i) => {
      const natId = natIds.length === 0 ? undefined : natIds[Math.min(i, natIds.length - 1)];
      const rt = new RouteTable(this, `private-rt-${i}`, {
        vpcId: this.vpc.id,
        route: natId === undefined ? [] : [{ cidrBlock: '0.0.0.0/0', natGatewayId: natId }],
        tags: { Name: `${name}-private-${i}` },
      });
      new RouteTableAssociation(this, `private-rta-${i}`, { subnetId: s.id, routeTableId: rt.id });
      return rt;
    }));

    new VpcEndpoint(this, 'endpoint-s3', {
      vpcId: this.vpc.id,
      serviceName: `com.amazonaws.${props.region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: privateRts.map((rt) => rt.id),
    });
    this.endpointSecurityGroup = new SecurityGroup(this, 'endpoint-sg', {
      vpcId: this.vpc.id,
      name: `${name}-endpoints`,
      description: 'HTTPS from inside the VPC to the interface endpoints',
      ingress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: [this.vpc.cidrBlock], description: 'HTTPS from the VPC' }],
    });
    for (const service of props.interfaceEndpoints ?? DEFAULT_INTERFACE_ENDPOINTS) {
      checkPattern(this, 'interfaceEndpoints', service, /^[a-z0-9][a-z0-9.-]{0,40}$/, 'AWS service suffixes like kms or ecr.api');
      new VpcEndpoint(this, `endpoint-${service.replace(/\./g, '-')}`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${props.region}.${service}`,
        vpcEndpointType: 'Interface',
        privateDnsEnabled: true,
        subnetIds: this.privateSubnets.map((s) => s.id),
        securityGroupIds: [this.endpointSecurityGroup.id],
      });
    }
  }

  /** Flow logs of all traffic to a log group with this retention, encrypted with this key (its policy admits CloudWatch Logs). */
  flowLogs(retentionDays: number, kmsKeyArn: string): void {
    const name = this.name;
    const group = new CloudwatchLogGroup(this, 'flow-log-group', { namePrefix: `/glimmer/${name}/vpc-flow-logs-`, retentionInDays: retentionDays, kmsKeyId: kmsKeyArn });
    const role = new IamRole(this, 'flow-log-role', {
      namePrefix: `${name}-flow-logs-`,
      assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'vpc-flow-logs.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
    new IamRolePolicy(this, 'flow-log-policy', {
      role: role.id,
      name: 'write-flow-logs',
      policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], Resource: `${group.arn}:*` }] }),
    });
    new FlowLog(this, 'flow-log', { vpcId: this.vpc.id, trafficType: 'ALL', logDestinationType: 'cloud-watch-logs', logDestination: group.arn, iamRoleArn: role.arn });
  }

  /**
   * The way from the private subnets to the plant network (where the Industrial Agent's PLCs are): a transit gateway
   * attachment and a route in every private route table, created when `count` is 1 (a token: the plant_network
   * variable is set). The transit gateway (with its Site-to-Site VPN or Direct Connect to the plant) is the site's.
   */
  routeToPlant(count: number, cidr: string, transitGatewayId: string): void {
    const attachment = new Ec2TransitGatewayVpcAttachment(this, 'plant-attachment', {
      count,
      transitGatewayId,
      vpcId: this.vpc.id,
      subnetIds: this.privateSubnetIds,
      tags: { Name: `${this.name}-plant` },
    });
    this.privateRouteTables.forEach((rt, i) => new Route(this, `plant-route-${i}`, {
      count,
      routeTableId: rt.id,
      destinationCidrBlock: cidr,
      transitGatewayId,
      dependsOn: [attachment],
    }));
  }

  get privateSubnetIds(): string[] {
    return this.privateSubnets.map((s) => s.id);
  }
}
