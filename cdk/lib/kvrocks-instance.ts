import { readFileSync } from 'node:fs';
import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ports } from './network-stack.ts';
import type { DeploySettings } from './settings.ts';

export interface KvrocksInstanceProps {
  readonly settings: DeploySettings;
  readonly vpc: ec2.IVpc;
  // One subnet: the instance, its data volume and its network interface share one AZ.
  readonly subnet: ec2.ISubnet;
  readonly securityGroup: ec2.ISecurityGroup;
}

// The Kvrocks configuration is the compose stack's file, so both deployments run the same
// durability settings (`rocksdb.write_options.sync yes`); only the password is added here.
export const kvrocksConfPath = new URL('../../docker/kvrocks/kvrocks.conf', import.meta.url);
const dataDir = '/var/lib/kvrocks';
const attachAttemptsMax = 60;
const attachRetryDelayS = 5;

// Kvrocks on EC2 (ElastiCache cannot run it), as the Python system ran it: one instance in an
// auto-recovering group of exactly one. The state lives outside the instance: a gp3 volume
// and a network interface with a fixed private IP, both created here, retained, and attached
// by the instance at boot. When EC2 replaces a failed instance, the new one re-attaches both,
// so clients keep the same address and the data survives. Writes are fsynced to the WAL
// before they are acknowledged, so an instance loss loses no acknowledged write.
export class KvrocksInstance extends Construct {
  readonly endpoint: string;
  readonly password: secretsmanager.Secret;
  readonly group: autoscaling.AutoScalingGroup;
  readonly volume: ec2.Volume;

  constructor(scope: Construct, id: string, props: KvrocksInstanceProps) {
    super(scope, id);
    const { settings, subnet } = props;
    const stack = Stack.of(this);

    this.password = new secretsmanager.Secret(this, 'Password', {
      description: 'Kvrocks requirepass',
      generateSecretString: { excludePunctuation: true, passwordLength: 40 },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.volume = new ec2.Volume(this, 'Data', {
      availabilityZone: subnet.availabilityZone,
      size: Size.gibibytes(settings.kvrocks.volumeGiB),
      volumeType: ec2.EbsDeviceVolumeType.GP3,
      iops: 3000,
      throughput: 125,
      encrypted: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const networkInterface = new ec2.CfnNetworkInterface(this, 'Address', {
      subnetId: subnet.subnetId,
      groupSet: [props.securityGroup.securityGroupId],
      description: 'Kvrocks: stable address that follows the instance',
    });
    this.endpoint = networkInterface.attrPrimaryPrivateIpAddress;

    const serverLogs = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      // Shell access through Session Manager; no SSH key, no inbound port.
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    const instanceArns = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ec2:AttachVolume'],
      resources: [stack.formatArn({ service: 'ec2', resource: 'volume', resourceName: this.volume.volumeId }), instanceArns],
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ec2:AttachNetworkInterface'],
      resources: [stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: networkInterface.ref }), instanceArns],
    }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeVolumes', 'ec2:DescribeNetworkInterfaces'], resources: ['*'] }));
    this.password.grantRead(role);
    serverLogs.grantWrite(role);

    const cpuType = settings.kvrocks.architecture === 'arm64' ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64;
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: new ec2.InstanceType(settings.kvrocks.instanceType),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType }),
      role,
      securityGroup: props.securityGroup,
      requireImdsv2: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(20, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
      userData: this.userData({ settings, volumeId: this.volume.volumeId, networkInterfaceId: networkInterface.ref, logGroup: serverLogs.logGroupName }),
    });

    this.group = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: { subnets: [subnet] },
      launchTemplate,
      minCapacity: 1,
      maxCapacity: 1,
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
      // The replacement must not start before the old instance is gone: both want the same
      // volume and address.
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: 0 }),
    });
  }

  private userData(options: { settings: DeploySettings; volumeId: string; networkInterfaceId: string; logGroup: string }): ec2.UserData {
    const stack = Stack.of(this);
    const conf = readFileSync(kvrocksConfPath, 'utf8');
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      'dnf install -y docker',
      'systemctl enable --now docker',
      'TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
      'INSTANCE_ID=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
      `export AWS_DEFAULT_REGION=${stack.region}`,
      // The previous instance may still hold the volume and the interface while it terminates.
      `attach() { for attempt in $(seq 1 ${attachAttemptsMax}); do "$@" && return 0; sleep ${attachRetryDelayS}; done; return 1; }`,
      `attach aws ec2 attach-network-interface --network-interface-id ${options.networkInterfaceId} --instance-id "$INSTANCE_ID" --device-index 1`,
      `attach aws ec2 attach-volume --volume-id ${options.volumeId} --instance-id "$INSTANCE_ID" --device /dev/sdf`,
      // Nitro instances name EBS devices by volume id, not by the requested device name.
      `DEVICE=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$(echo ${options.volumeId} | tr -d -)`,
      `for attempt in $(seq 1 ${attachAttemptsMax}); do [ -e "$DEVICE" ] && break; sleep 2; done`,
      // A filesystem is made only on a new, empty volume; an existing one keeps its data.
      'blkid "$DEVICE" || mkfs.xfs "$DEVICE"',
      `mkdir -p ${dataDir} /etc/kvrocks`,
      `echo "$DEVICE ${dataDir} xfs defaults,nofail 0 2" >> /etc/fstab`,
      `mount ${dataDir}`,
      `cat > /etc/kvrocks/kvrocks.conf <<'KVROCKS_CONF'\n${conf.trimEnd()}\nKVROCKS_CONF`,
      `echo "requirepass $(aws secretsmanager get-secret-value --secret-id ${this.password.secretArn} --query SecretString --output text)" >> /etc/kvrocks/kvrocks.conf`,
      'chmod 600 /etc/kvrocks/kvrocks.conf',
      [
        'docker run -d --name kvrocks --restart always --network host',
        `-v ${dataDir}:${dataDir} -v /etc/kvrocks:/etc/kvrocks:ro`,
        `--log-driver awslogs --log-opt awslogs-group=${options.logGroup} --log-opt awslogs-region=${stack.region}`,
        `--entrypoint kvrocks ${options.settings.kvrocks.image} -c /etc/kvrocks/kvrocks.conf`,
      ].join(' '),
      `for attempt in $(seq 1 ${attachAttemptsMax}); do docker exec kvrocks redis-cli -p ${ports.kvrocks} ping | grep -qE 'PONG|NOAUTH' && exit 0; sleep 2; done`,
      'exit 1',
    );
    return userData;
  }
}
