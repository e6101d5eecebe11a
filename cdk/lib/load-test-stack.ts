import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { DeploySettings } from './settings.ts';

export interface LoadTestStackProps extends StackProps {
  readonly settings: DeploySettings;
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly targetUrl: string;
  readonly jwtSecret: secretsmanager.ISecret;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

// Optional (`-c loadTest=true`): one instance in a private subnet with k6 and the scripts from
// benchmarks/k6, to load the deployment from inside its region. No inbound port: operators
// open a shell with Session Manager and run the scripts (docs/deploy.md). The instance reaches
// the ALB through NAT, like any client, so ingressCidr must admit the NAT addresses.
export class LoadTestStack extends Stack {
  readonly instance: ec2.Instance;

  constructor(scope: Construct, id: string, props: LoadTestStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const scriptsPath = resolve(repoRoot, settings.loadTest.scriptsDir);
    if (!existsSync(scriptsPath)) throw new Error(`loadTest: ${settings.loadTest.scriptsDir} does not exist; the k6 scripts are uploaded from there`);
    const scripts = new s3assets.Asset(this, 'Scripts', { path: scriptsPath });

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    scripts.grantRead(role);
    // The scripts sign their own bearer tokens, as the compose k6 runner does.
    props.jwtSecret.grantRead(role);

    const version = settings.loadTest.k6Version;
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      'dnf install -y unzip',
      `curl -fsSL -o /tmp/k6.tar.gz https://github.com/grafana/k6/releases/download/v${version}/k6-v${version}-linux-amd64.tar.gz`,
      'tar -xzf /tmp/k6.tar.gz -C /tmp && install /tmp/k6-*/k6 /usr/local/bin/k6',
      'mkdir -p /opt/k6/scripts',
    );
    const archive = userData.addS3DownloadCommand({ bucket: scripts.bucket, bucketKey: scripts.s3ObjectKey });
    userData.addCommands(
      `unzip -o ${archive} -d /opt/k6/scripts`,
      `echo "BASE_URL=${props.targetUrl}" > /etc/k6.env`,
      `echo "JWT_SECRET_ARN=${props.jwtSecret.secretArn}" >> /etc/k6.env`,
      `echo "AWS_DEFAULT_REGION=${this.region}" >> /etc/k6.env`,
    );

    this.instance = new ec2.Instance(this, 'Runner', {
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceType: new ec2.InstanceType(settings.loadTest.instanceType),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.X86_64 }),
      securityGroup: props.securityGroup,
      role,
      requireImdsv2: true,
      userData,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(30, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });
    new CfnOutput(this, 'RunnerInstanceId', { value: this.instance.instanceId, description: 'aws ssm start-session --target <this id>' });
  }
}
