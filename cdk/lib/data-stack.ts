import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { KafkaCluster } from './kafka-cluster.ts';
import { KvrocksInstance } from './kvrocks-instance.ts';
import type { SecurityGroups } from './network-stack.ts';
import type { DeploySettings } from './settings.ts';

export interface DataStackProps extends StackProps {
  readonly settings: DeploySettings;
  readonly vpc: ec2.IVpc;
  readonly securityGroups: SecurityGroups;
}

export const databaseName = 'ticketing';
export const databaseUser = 'ticketing';

// Everything with state: Postgres (the arbiter of every booking), Kafka (commands not yet
// decided), Kvrocks (seat maps, a projection of Postgres) and the secrets. Each store is
// retained when the stack or the resource is deleted, and the stack has termination
// protection: losing this stack by accident would lose sales.
export class DataStack extends Stack {
  readonly database: rds.DatabaseInstance;
  readonly databaseSecret: secretsmanager.ISecret;
  readonly kafka: KafkaCluster;
  readonly kvrocks: KvrocksInstance;
  readonly jwtSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { terminationProtection: true, ...props });
    const { settings, vpc, securityGroups } = props;
    const isolated = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    const privateSubnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });

    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 });
    const parameters = new rds.ParameterGroup(this, 'DatabaseParameters', {
      engine,
      description: 'Ticketing Postgres',
      parameters: {
        // Clients must use TLS (the services connect with sslmode in DATABASE_URL).
        'rds.force_ssl': '1',
        // A transaction left open by a crashed client must not hold seat locks for long.
        idle_in_transaction_session_timeout: '60000',
        log_min_duration_statement: '500',
        shared_preload_libraries: 'pg_stat_statements',
      },
    });
    // Created here rather than by the instance so that it can be retained: the database
    // outlives the stack, so its password must too.
    const credentials = new rds.DatabaseSecret(this, 'DatabaseCredentials', { username: databaseUser });
    credentials.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.database = new rds.DatabaseInstance(this, 'Database', {
      engine,
      instanceType: new ec2.InstanceType(settings.database.instanceClass),
      vpc,
      vpcSubnets: { subnets: isolated.subnets },
      securityGroups: [securityGroups.database],
      publiclyAccessible: false,
      multiAz: settings.database.multiAz,
      databaseName,
      credentials: rds.Credentials.fromSecret(credentials),
      parameterGroup: parameters,
      storageType: rds.StorageType.GP3,
      allocatedStorage: settings.database.storageGiB,
      maxAllocatedStorage: settings.database.storageMaxGiB,
      storageEncrypted: true,
      backupRetention: Duration.days(settings.database.backupRetentionDays),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      autoMinorVersionUpgrade: true,
      enablePerformanceInsights: true,
      cloudwatchLogsExports: ['postgresql'],
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
    });
    this.databaseSecret = this.database.secret!;

    this.kafka = new KafkaCluster(this, 'Kafka', { settings, subnets: isolated.subnets, securityGroup: securityGroups.kafka });

    this.kvrocks = new KvrocksInstance(this, 'Kvrocks', {
      settings,
      vpc,
      subnet: privateSubnets.subnets[0]!,
      securityGroup: securityGroups.kvrocks,
    });

    this.jwtSecret = new secretsmanager.Secret(this, 'JwtSecret', {
      description: 'HS256 secret for the ticketing bearer tokens (JWT_SECRET)',
      generateSecretString: { excludePunctuation: true, passwordLength: 64 },
      // Replacing it would sign every user out; keep it with the data.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
