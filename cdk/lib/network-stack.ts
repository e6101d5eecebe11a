import { Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { DeploySettings } from './settings.ts';

export interface NetworkStackProps extends StackProps {
  readonly settings: DeploySettings;
}

export interface SecurityGroups {
  readonly loadBalancer: ec2.SecurityGroup;
  readonly ticketing: ec2.SecurityGroup;
  readonly reservation: ec2.SecurityGroup;
  readonly database: ec2.SecurityGroup;
  readonly kafka: ec2.SecurityGroup;
  readonly kvrocks: ec2.SecurityGroup;
  readonly loadTest: ec2.SecurityGroup;
}

export const ports = {
  ticketingHttp: 3000,
  reservationOps: 9464,
  postgres: 5432,
  // MSK's listener for SASL/SCRAM over TLS.
  kafkaSaslScram: 9096,
  kvrocks: 6666,
} as const;

const azCount = 3;

// The VPC over three availability zones and every security group, with only the paths the
// system uses: internet -> ALB -> ticketing tasks; both services -> Postgres, Kafka, Kvrocks.
// Nothing else is open. All groups live here so that rules between them never create
// references from one stack back to another.
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly securityGroups: SecurityGroups;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { settings } = props;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(settings.network.cidr),
      maxAzs: azCount,
      natGateways: settings.network.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // Tasks and Kvrocks: outbound through NAT for images, AWS APIs and logs.
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        // Postgres and Kafka: no route to or from the internet at all.
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
    });
    this.vpc.addFlowLog('RejectedFlows', { trafficType: ec2.FlowLogTrafficType.REJECT });

    const group = (name: string, description: string, allowAllOutbound: boolean) =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound });
    const groups: SecurityGroups = {
      loadBalancer: group('LoadBalancerSg', 'Ticketing ALB: HTTP(S) from the allowed CIDR', true),
      ticketing: group('TicketingSg', 'Ticketing tasks: API from the ALB only', true),
      reservation: group('ReservationSg', 'Reservation tasks: no inbound', true),
      // Stores answer; they never open connections, so they get no egress.
      database: group('DatabaseSg', 'Postgres: from the services only', false),
      kafka: group('KafkaSg', 'MSK: SASL/SCRAM over TLS from the services only', false),
      kvrocks: group('KvrocksSg', 'Kvrocks: from the services only', true),
      loadTest: group('LoadTestSg', 'k6 runner: no inbound (SSM Session Manager)', true),
    };

    const ingressPeer = settings.network.ingressCidr === '0.0.0.0/0' ? ec2.Peer.anyIpv4() : ec2.Peer.ipv4(settings.network.ingressCidr);
    groups.loadBalancer.addIngressRule(ingressPeer, ec2.Port.tcp(443), 'HTTPS');
    groups.loadBalancer.addIngressRule(ingressPeer, ec2.Port.tcp(80), 'HTTP (redirects to HTTPS when a certificate is set)');
    groups.ticketing.addIngressRule(groups.loadBalancer, ec2.Port.tcp(ports.ticketingHttp), 'API and SSE from the ALB');
    for (const [client, name] of [[groups.ticketing, 'ticketing'], [groups.reservation, 'reservation']] as const) {
      groups.database.addIngressRule(client, ec2.Port.tcp(ports.postgres), `Postgres from ${name}`);
      groups.kafka.addIngressRule(client, ec2.Port.tcp(ports.kafkaSaslScram), `Kafka from ${name}`);
      groups.kvrocks.addIngressRule(client, ec2.Port.tcp(ports.kvrocks), `Kvrocks from ${name}`);
    }
    this.securityGroups = groups;
  }

  // Environment-agnostic stacks see two AZs by default, and a stack with an explicit region
  // would look its AZs up with credentials. MSK's three brokers need three AZs; Fn::GetAZs
  // resolves them at deploy time, so synth needs no account at all.
  override get availabilityZones(): string[] {
    return Array.from({ length: azCount }, (_, index) => Fn.select(index, Fn.getAzs()));
  }
}
