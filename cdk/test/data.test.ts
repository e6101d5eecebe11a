import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { kvrocksConfPath } from '../lib/kvrocks-instance.ts';
import { logicalId, onlyResource, refersTo, resourcesOfType, synthesize } from './synth.ts';

const { app, stacks, settings, template } = synthesize();
const data = template(stacks.data);
const retained = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
const isolatedSubnetIds = stacks.network.vpc.isolatedSubnets.map((subnet) => logicalId(subnet));

function userDataOf(launchTemplate: { Properties: Record<string, unknown> }): string {
  // UserData is Fn::Base64 of an Fn::Join of literal parts and tokens; the literal parts are
  // what the instance runs.
  return JSON.stringify((launchTemplate.Properties.LaunchTemplateData as { UserData: unknown }).UserData);
}

describe('data stack', () => {
  test('is termination-protected', () => {
    const artifact = app.synth().getStackByName(stacks.data.stackName);
    assert.equal(artifact.terminationProtection, true);
  });

  test('holds one of each store', () => {
    data.resourceCountIs('AWS::RDS::DBInstance', 1);
    data.resourceCountIs('AWS::MSK::Cluster', 1);
    data.resourceCountIs('AWS::MSK::Configuration', 1);
    data.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    data.resourceCountIs('AWS::EC2::Volume', 1);
    // Postgres credentials, SCRAM credentials, Kvrocks password, JWT secret.
    data.resourceCountIs('AWS::SecretsManager::Secret', 4);
  });
});

describe('Postgres', () => {
  const [, database] = onlyResource(data, 'AWS::RDS::DBInstance');

  test('is Postgres 17, encrypted, private, Multi-AZ by default and protected from deletion', () => {
    assert.equal(database.Properties.Engine, 'postgres');
    assert.match(String(database.Properties.EngineVersion), /^17/);
    assert.equal(database.Properties.StorageEncrypted, true);
    assert.equal(database.Properties.PubliclyAccessible, false);
    assert.equal(database.Properties.MultiAZ, true);
    assert.equal(database.Properties.DeletionProtection, true);
    assert.ok(Number(database.Properties.BackupRetentionPeriod) >= 7);
    assert.equal(database.DeletionPolicy, 'Retain');
    assert.equal(database.UpdateReplacePolicy, 'Retain');
  });

  test('Multi-AZ is an option', () => {
    const single = synthesize({ dbMultiAz: 'false' });
    single.template(single.stacks.data).hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: false });
  });

  test('lives in the isolated subnets and requires TLS through its parameter group', () => {
    const [, subnetGroup] = onlyResource(data, 'AWS::RDS::DBSubnetGroup');
    const subnets = subnetGroup.Properties.SubnetIds as unknown[];
    assert.equal(subnets.length, 3);
    assert.ok(subnets.every((subnet) => isolatedSubnetIds.some((id) => refersTo(subnet, id))));
    const [parameterGroupId, parameterGroup] = onlyResource(data, 'AWS::RDS::DBParameterGroup');
    assert.equal((parameterGroup.Properties.Parameters as Record<string, string>)['rds.force_ssl'], '1');
    assert.ok(refersTo(database.Properties.DBParameterGroupName, parameterGroupId));
  });

  test('its credentials are generated into Secrets Manager, never written in the template', () => {
    assert.equal(database.Properties.MasterUserPassword === undefined || refersTo(database.Properties.MasterUserPassword, 'resolve:secretsmanager'), true);
  });
});

describe('Kafka (MSK)', () => {
  const [, cluster] = onlyResource(data, 'AWS::MSK::Cluster');
  const [, configuration] = onlyResource(data, 'AWS::MSK::Configuration');
  const properties = new Map(String(configuration.Properties.ServerProperties).split('\n').map((line) => line.split('=') as [string, string]));

  test('three brokers, one per isolated subnet, behind the Kafka security group', () => {
    assert.equal(cluster.Properties.NumberOfBrokerNodes, 3);
    const nodes = cluster.Properties.BrokerNodeGroupInfo as { ClientSubnets: unknown[]; SecurityGroups: unknown[]; ConnectivityInfo?: unknown };
    assert.equal(nodes.ClientSubnets.length, 3);
    assert.ok(nodes.ClientSubnets.every((subnet) => isolatedSubnetIds.some((id) => refersTo(subnet, id))));
    assert.ok(refersTo(nodes.SecurityGroups, logicalId(stacks.network.securityGroups.kafka)));
    assert.equal(nodes.ConnectivityInfo, undefined, 'no public access');
  });

  test('replication 3, min.insync.replicas 2, no unclean election, no auto-created topics', () => {
    assert.equal(properties.get('default.replication.factor'), '3');
    assert.equal(properties.get('min.insync.replicas'), '2');
    assert.equal(properties.get('unclean.leader.election.enable'), 'false');
    assert.equal(properties.get('auto.create.topics.enable'), 'false');
    assert.equal(properties.get('offsets.topic.replication.factor'), '3');
    assert.deepEqual(cluster.Properties.ConfigurationInfo, {
      Arn: { 'Fn::GetAtt': [logicalId(stacks.data.kafka.node.findChild('Configuration')), 'Arn'] },
      Revision: { 'Fn::GetAtt': [logicalId(stacks.data.kafka.node.findChild('Configuration')), 'LatestRevision.Revision'] },
    });
  });

  test('TLS everywhere and SASL/SCRAM only: no plaintext, no unauthenticated clients', () => {
    assert.deepEqual((cluster.Properties.EncryptionInfo as { EncryptionInTransit: unknown }).EncryptionInTransit, { ClientBroker: 'TLS', InCluster: true });
    assert.ok((cluster.Properties.EncryptionInfo as { EncryptionAtRest?: unknown }).EncryptionAtRest);
    assert.deepEqual(cluster.Properties.ClientAuthentication, { Sasl: { Scram: { Enabled: true }, Iam: { Enabled: false } }, Unauthenticated: { Enabled: false } });
  });

  test('the SCRAM secret is encrypted with a customer key and named as MSK requires', () => {
    const [, association] = onlyResource(data, 'AWS::MSK::BatchScramSecret');
    const secretId = logicalId(stacks.data.kafka.credentials);
    assert.ok(refersTo(association.Properties.SecretArnList, secretId));
    data.hasResourceProperties('AWS::SecretsManager::Secret', { Name: Match.stringLikeRegexp('^AmazonMSK_'), KmsKeyId: Match.anyValue() });
  });

  test('the command topic is created with replication 3 and the configured partitions, and retained', () => {
    const [, topic] = onlyResource(data, 'AWS::MSK::Topic');
    assert.equal(topic.Properties.ReplicationFactor, 3);
    assert.equal(topic.Properties.PartitionCount, settings.kafka.partitions);
    assert.equal(topic.Properties.TopicName, settings.kafka.topic);
    assert.equal(topic.DeletionPolicy, 'Retain');
  });

  test('without AWS::MSK::Topic, the services create the topic in an init container instead', () => {
    const fallback = synthesize({ kafkaTopicManagement: 'init-container' });
    fallback.template(fallback.stacks.data).resourceCountIs('AWS::MSK::Topic', 0);
    const tasks = resourcesOfType(fallback.template(fallback.stacks.services), 'AWS::ECS::TaskDefinition');
    for (const [, task] of tasks) {
      const containers = task.Properties.ContainerDefinitions as Array<{ Name: string; Command?: string[]; DependsOn?: Array<{ ContainerName: string; Condition: string }> }>;
      assert.ok(containers.some((container) => container.Name === 'create-topic' && container.Command?.at(-1) === 'shared/src/messaging/topics-cli.ts'));
      assert.ok(containers.some((container) => container.DependsOn?.some((dependency) => dependency.ContainerName === 'create-topic' && dependency.Condition === 'SUCCESS')));
    }
  });

  test('is retained with its key and credentials', () => {
    data.hasResource('AWS::MSK::Cluster', retained);
    data.hasResource('AWS::KMS::Key', retained);
  });
});

describe('Kvrocks', () => {
  const [, group] = onlyResource(data, 'AWS::AutoScaling::AutoScalingGroup');
  const [, volume] = onlyResource(data, 'AWS::EC2::Volume');
  const [, launchTemplate] = onlyResource(data, 'AWS::EC2::LaunchTemplate');
  const userData = userDataOf(launchTemplate);

  test('one instance in an auto-recovering group in one subnet', () => {
    assert.equal(group.Properties.MinSize, '1');
    assert.equal(group.Properties.MaxSize, '1');
    assert.equal((group.Properties.VPCZoneIdentifier as unknown[]).length, 1);
  });

  test('data on an encrypted, retained gp3 volume in the same AZ as the group', () => {
    assert.equal(volume.Properties.VolumeType, 'gp3');
    assert.equal(volume.Properties.Encrypted, true);
    assert.equal(volume.DeletionPolicy, 'Retain');
    // Both name the first AZ of the region: the volume directly, the group through the first
    // private subnet (which the network stack places in that AZ).
    assert.deepEqual(volume.Properties.AvailabilityZone, { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] });
    assert.ok(refersTo(group.Properties.VPCZoneIdentifier, logicalId(stacks.network.vpc.privateSubnets[0]!)));
    assert.equal(stacks.network.vpc.privateSubnets[0]!.availabilityZone, stacks.data.kvrocks.volume.availabilityZone);
  });

  test('runs the compose stack\'s Kvrocks config, with the synced WAL, plus a password from Secrets Manager', () => {
    const conf = readFileSync(kvrocksConfPath, 'utf8');
    assert.match(conf, /^rocksdb\.write_options\.sync yes$/m);
    assert.ok(userData.includes('rocksdb.write_options.sync yes'), 'the sync setting reaches the instance');
    assert.ok(userData.includes('requirepass'));
    assert.ok(refersTo(userData, logicalId(stacks.data.kvrocks.password)));
    assert.ok(userData.includes(settings.kvrocks.image));
  });

  test('re-attaches its volume and address at boot, and only formats an empty volume', () => {
    assert.ok(userData.includes('attach-volume') && userData.includes('attach-network-interface'));
    assert.ok(userData.includes('blkid \\"$DEVICE\\" || mkfs.xfs'));
  });

  test('requires IMDSv2 and encrypts its root volume', () => {
    const launchData = launchTemplate.Properties.LaunchTemplateData as { MetadataOptions: { HttpTokens: string }; BlockDeviceMappings: Array<{ Ebs: { Encrypted: boolean } }> };
    assert.equal(launchData.MetadataOptions.HttpTokens, 'required');
    assert.ok(launchData.BlockDeviceMappings.every((mapping) => mapping.Ebs.Encrypted));
  });

  test('the same Kvrocks image as the compose stack', () => {
    const compose = readFileSync(new URL('../../docker/compose.yml', import.meta.url), 'utf8');
    assert.match(compose, new RegExp(`image: ${settings.kvrocks.image.replaceAll('.', '\\.')}\\b`));
  });
});

describe('secrets', () => {
  test('every secret is generated by Secrets Manager and retained', () => {
    for (const [id, secret] of resourcesOfType(data, 'AWS::SecretsManager::Secret')) {
      assert.ok(secret.Properties.GenerateSecretString, `${id} is generated`);
      assert.equal(secret.Properties.SecretString, undefined, `${id} has no literal value`);
      assert.equal(secret.DeletionPolicy, 'Retain', id);
    }
  });
});
