import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { DeploySettings } from './settings.ts';

export interface KafkaClusterProps {
  readonly settings: DeploySettings;
  readonly subnets: readonly ec2.ISubnet[];
  readonly securityGroup: ec2.ISecurityGroup;
}

export const brokerCount = 3;
export const replicationFactor = 3;
export const minInsyncReplicas = 2;

// Broker defaults for every topic: an acknowledged write (acks=all) is on two of three
// replicas, a replica that missed writes never becomes leader, and topics are created on
// purpose with their partition count (the partition of a subsection must not move).
// `allow.everyone.if.no.acl.found`: clients are authenticated by SCRAM and reach the brokers
// only from the service security groups; per-principal ACLs would need an admin step that
// CloudFormation cannot run.
export const serverProperties = [
  `default.replication.factor=${replicationFactor}`,
  `min.insync.replicas=${minInsyncReplicas}`,
  'unclean.leader.election.enable=false',
  'auto.create.topics.enable=false',
  `offsets.topic.replication.factor=${replicationFactor}`,
  `transaction.state.log.replication.factor=${replicationFactor}`,
  `transaction.state.log.min.isr=${minInsyncReplicas}`,
  'allow.everyone.if.no.acl.found=true',
].join('\n');

// Amazon MSK through the L1 resources (there is no stable L2 for provisioned clusters):
// three brokers, one per AZ, TLS between clients and brokers and between brokers, and
// SASL/SCRAM authentication with the credentials in Secrets Manager.
//
// Why SCRAM and not IAM: the services use kafkajs, which speaks SASL/SCRAM natively but not
// the AWS_MSK_IAM mechanism (that needs a signing plugin outside kafkajs). SCRAM also works
// unchanged against any Kafka, so the same client configuration serves MSK and self-hosted.
export class KafkaCluster extends Construct {
  readonly cluster: msk.CfnCluster;
  readonly clusterName: string;
  readonly credentials: secretsmanager.Secret;
  // Encrypts the broker volumes and the SCRAM secret; readers of the secret need kms:Decrypt.
  readonly key: kms.Key;
  readonly bootstrapBrokers: string;
  readonly topic?: msk.CfnTopic;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    const { settings } = props;
    if (props.subnets.length !== brokerCount) throw new Error(`MSK needs ${brokerCount} subnets in distinct AZs, got ${props.subnets.length}`);
    this.clusterName = `${settings.name}-kafka`;

    // MSK refuses SCRAM secrets encrypted with the default Secrets Manager key and requires
    // the AmazonMSK_ name prefix.
    const key = this.key = new kms.Key(this, 'Key', {
      description: `${this.clusterName}: data at rest and SCRAM credentials`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.credentials = new secretsmanager.Secret(this, 'ScramCredentials', {
      secretName: `AmazonMSK_${settings.name}_services`,
      description: 'SASL/SCRAM user of the ticketing services',
      encryptionKey: key,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'ticketing' }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 40,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const configuration = new msk.CfnConfiguration(this, 'Configuration', {
      name: `${Stack.of(this).stackName}-kafka`,
      description: 'Replication and topic rules of the ticketing cluster',
      kafkaVersionsList: [settings.kafka.version],
      serverProperties,
    });

    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });

    this.cluster = new msk.CfnCluster(this, 'Cluster', {
      clusterName: this.clusterName,
      kafkaVersion: settings.kafka.version,
      numberOfBrokerNodes: brokerCount,
      brokerNodeGroupInfo: {
        instanceType: settings.kafka.brokerInstanceType,
        clientSubnets: props.subnets.map((subnet) => subnet.subnetId),
        securityGroups: [props.securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: settings.kafka.brokerStorageGiB } },
      },
      configurationInfo: { arn: configuration.attrArn, revision: configuration.attrLatestRevisionRevision },
      encryptionInfo: {
        encryptionAtRest: { dataVolumeKmsKeyId: key.keyArn },
        encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
      },
      clientAuthentication: {
        sasl: { scram: { enabled: true }, iam: { enabled: false } },
        unauthenticated: { enabled: false },
      },
      // DEFAULT already publishes the consumer-lag metrics (SumOffsetLag, …) the reservation
      // service scales on; the finer levels cost extra CloudWatch metrics.
      enhancedMonitoring: 'DEFAULT',
      loggingInfo: { brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } } },
    });
    this.cluster.applyRemovalPolicy(RemovalPolicy.RETAIN);

    const scramAssociation = new msk.CfnBatchScramSecret(this, 'ScramAssociation', {
      clusterArn: this.cluster.attrArn,
      secretArnList: [this.credentials.secretArn],
    });

    // CloudFormation exposes no broker endpoints for AWS::MSK::Cluster; ask the Kafka API once
    // the cluster exists (a Lambda-backed call at deploy time, nothing at synth).
    const brokers = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onUpdate: {
        service: 'Kafka',
        action: 'GetBootstrapBrokers',
        parameters: { ClusterArn: this.cluster.attrArn },
        physicalResourceId: cr.PhysicalResourceId.of(this.cluster.attrArn),
        outputPaths: ['BootstrapBrokerStringSaslScram'],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.cluster.attrArn] }),
      installLatestAwsSdk: false,
    });
    brokers.node.addDependency(scramAssociation);
    this.bootstrapBrokers = brokers.getResponseField('BootstrapBrokerStringSaslScram');

    if (settings.kafka.topicManagement === 'cloudformation') {
      // min.insync.replicas comes from the cluster configuration above. Retained: deleting
      // the stack must never delete the commands still waiting in it. CloudFormation would
      // add partitions in place if kafkaPartitions grew, which moves subsections to other
      // partitions while commands for them are in flight: treat that as a migration, not a
      // setting change.
      this.topic = new msk.CfnTopic(this, 'CommandTopic', {
        clusterArn: this.cluster.attrArn,
        topicName: settings.kafka.topic,
        partitionCount: settings.kafka.partitions,
        replicationFactor,
      });
      this.topic.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
  }
}
