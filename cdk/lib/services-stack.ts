import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { adotConfig, adotImage } from './adot-collector.ts';
import type { DataStack } from './data-stack.ts';
import type { ServiceImages, ServiceName } from './images.ts';
import { ports, type SecurityGroups } from './network-stack.ts';
import { serviceEnvironment } from './service-environment.ts';
import { stopTimeoutS, type DeploySettings, type TaskSizing } from './settings.ts';

export interface ServicesStackProps extends StackProps {
  readonly settings: DeploySettings;
  readonly vpc: ec2.IVpc;
  readonly securityGroups: SecurityGroups;
  readonly data: DataStack;
  readonly images: ServiceImages;
}

// MSK publishes consumer lag per consumer group and topic to CloudWatch at the DEFAULT
// monitoring level (namespace AWS/Kafka), once a minute, while the group is stable.
export function consumerLagMetric(options: { clusterName: string; consumerGroup: string; topic: string }): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/Kafka',
    metricName: 'SumOffsetLag',
    dimensionsMap: { 'Cluster Name': options.clusterName, 'Consumer Group': options.consumerGroup, Topic: options.topic },
    statistic: 'Maximum',
    period: Duration.minutes(1),
  });
}

const healthCheckGraceS = 60;
const deregistrationDelayS = 30;
const lagSurgeFactor = 10;

// The stateless part: an ECS cluster with the two Fargate services, the ALB in front of the
// ticketing service, autoscaling, and an ADOT collector in every task. Safe to destroy and
// recreate; every piece of state is in the data stack.
export class ServicesStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly ticketing: ecs.FargateService;
  readonly reservation: ecs.FargateService;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ServicesStackProps) {
    super(scope, id, props);
    const { settings, vpc, securityGroups, data } = props;
    const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    // The ALB closes a connection idle for longer than this; SSE streams send a heartbeat every
    // SSE_HEARTBEAT_MS (15 s), so only dead streams reach it (settings.ts enforces the margin).
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: securityGroups.loadBalancer,
      idleTimeout: Duration.seconds(settings.services.albIdleTimeoutS),
      dropInvalidHeaderFields: true,
    });
    const https = settings.services.certificateArn !== '';
    this.url = `${https ? 'https' : 'http'}://${this.loadBalancer.loadBalancerDnsName}`;

    // Imported by ARN rather than used as the object: granting through the object would add the
    // task roles to the KMS key policy in the data stack, a reference back from the data stack
    // to this one (a cycle). The key policy already trusts the account's IAM policies, so an
    // identity policy on the execution role is enough.
    const kafkaCredentials = secretsmanager.Secret.fromSecretCompleteArn(this, 'KafkaCredentials', data.kafka.credentials.secretArn);
    const metricsLogGroup = new logs.LogGroup(this, 'MetricsLogs', { retention: settings.services.logRetentionDays as logs.RetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    const task = (name: ServiceName, image: ecs.ContainerImage, sizing: TaskSizing, port: number) => {
      const definition = new ecs.FargateTaskDefinition(this, `${name}-task`, {
        cpu: sizing.cpu,
        memoryLimitMiB: sizing.memoryMiB,
        runtimePlatform: {
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
          cpuArchitecture: settings.services.architecture === 'arm64' ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        },
      });
      if (props.images.fromRegistry) {
        definition.obtainExecutionRole().addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonECSTaskExecutionRolePolicy'));
      }
      const logGroup = new logs.LogGroup(this, `${name}-logs`, { retention: settings.services.logRetentionDays as logs.RetentionDays, removalPolicy: RemovalPolicy.DESTROY });
      const { environment, secrets } = serviceEnvironment({ settings, data, kafkaCredentials, service: name, publicUrl: this.url });
      definition.obtainExecutionRole().addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [data.kafka.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
      }));

      const collector = definition.addContainer('adot-collector', {
        containerName: 'adot-collector',
        image: ecs.ContainerImage.fromRegistry(adotImage),
        // Losing telemetry must not take the service down with it.
        essential: false,
        cpu: 128,
        memoryReservationMiB: 128,
        environment: { AOT_CONFIG_CONTENT: adotConfig({ service: name, metricsPort: port, metricsLogGroup: metricsLogGroup.logGroupName, traces: settings.services.traces }) },
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'adot' }),
        healthCheck: { command: ['CMD', '/healthcheck'], interval: Duration.seconds(30), timeout: Duration.seconds(5), retries: 3, startPeriod: Duration.seconds(10) },
      });
      if (settings.services.traces.kind === 'xray') {
        definition.taskRole.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AWSXRayDaemonWriteAccess'));
      }
      metricsLogGroup.grantWrite(definition.taskRole);

      const app = definition.addContainer(name, {
        containerName: name,
        image,
        essential: true,
        environment,
        secrets,
        portMappings: [{ containerPort: port, name: 'http' }],
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'app' }),
        // Liveness only: ECS replaces a task whose process stops answering. Readiness (every
        // dependency reachable) is the ALB's check; using it here would have ECS kill every
        // task whenever Kafka or Postgres blinks, e.g. during an MSK maintenance window.
        healthCheck: {
          command: ['CMD', 'node', '/app/docker/healthcheck.ts'],
          interval: Duration.seconds(10),
          timeout: Duration.seconds(5),
          retries: 3,
          startPeriod: Duration.seconds(healthCheckGraceS),
        },
        stopTimeout: Duration.seconds(stopTimeoutS),
      });
      // Spans sent before the collector listens would be dropped.
      app.addContainerDependencies({ container: collector, condition: ecs.ContainerDependencyCondition.START });

      if (settings.kafka.topicManagement === 'init-container') {
        // Where AWS::MSK::Topic is unavailable: create the topic (or find it) before the
        // service starts. Idempotent, so every task may run it.
        const topics = definition.addContainer('create-topic', {
          containerName: 'create-topic',
          image,
          essential: false,
          command: ['node', '--disable-warning=TimeoutNegativeWarning', 'shared/src/messaging/topics-cli.ts'],
          environment,
          secrets,
          logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'create-topic' }),
        });
        app.addContainerDependencies({ container: topics, condition: ecs.ContainerDependencyCondition.SUCCESS });
      }
      return definition;
    };

    const service = (name: ServiceName, definition: ecs.FargateTaskDefinition, securityGroup: ec2.ISecurityGroup, behindLoadBalancer: boolean) =>
      new ecs.FargateService(this, name, {
        cluster: this.cluster,
        taskDefinition: definition,
        // No desiredCount: CloudFormation would reset the task count to it on every deploy,
        // shrinking a service that autoscaling has grown mid on-sale. Autoscaling raises a
        // new service to minTasks within a minute.
        securityGroups: [securityGroup],
        vpcSubnets: privateSubnets,
        assignPublicIp: false,
        // New tasks start before old ones stop, and a deployment whose tasks never become
        // healthy is rolled back to the last working one.
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        circuitBreaker: { enable: true, rollback: true },
        // Only meaningful with a load balancer: its health checks wait this long after start.
        healthCheckGracePeriod: behindLoadBalancer ? Duration.seconds(healthCheckGraceS) : undefined,
        propagateTags: ecs.PropagatedTagSource.SERVICE,
      });

    const { ticketing, reservation } = settings.services;
    this.ticketing = service('ticketing-service', task('ticketing-service', props.images.ticketing, ticketing, ports.ticketingHttp), securityGroups.ticketing, true);
    this.reservation = service('reservation-service', task('reservation-service', props.images.reservation, reservation, ports.reservationOps), securityGroups.reservation, false);

    const targets = new elbv2.ApplicationTargetGroup(this, 'TicketingTargets', {
      vpc,
      port: ports.ticketingHttp,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      healthCheck: {
        path: '/health/ready',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      // The service ends its SSE streams on SIGTERM; in-flight requests finish well within this.
      deregistrationDelay: Duration.seconds(deregistrationDelayS),
      // An open SSE stream counts as an outstanding request, so new clients go to the task
      // holding the fewest streams rather than round-robin onto a loaded one.
      loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
    });
    this.ticketing.attachToApplicationTargetGroup(targets);

    const listener = https
      ? this.loadBalancer.addListener('Https', {
        port: 443,
        open: false,
        certificates: [elbv2.ListenerCertificate.fromArn(settings.services.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [targets],
      })
      : this.loadBalancer.addListener('Http', { port: 80, open: false, defaultTargetGroups: [targets] });
    if (https) {
      this.loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443 });
    }
    // Prometheus metrics are for the collector inside the task, not for the internet.
    listener.addAction('HideMetrics', {
      priority: 1,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/metrics', '/metrics/*'])],
      action: elbv2.ListenerAction.fixedResponse(404, { contentType: 'application/json', messageBody: '{"error":{"code":"NOT_FOUND","message":"Not found"}}' }),
    });

    const ticketingScaling = this.ticketing.autoScaleTaskCount({ minCapacity: ticketing.minTasks, maxCapacity: ticketing.maxTasks });
    ticketingScaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: ticketing.cpuTargetPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
    ticketingScaling.scaleOnRequestCount('Requests', {
      targetGroup: targets,
      requestsPerTarget: ticketing.requestsPerTargetPerMinute,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });

    // Reservation tasks scale on how far the consumer group is behind, never beyond the
    // partition count (settings.ts refuses a maximum above it: an extra consumer gets no
    // partition). Scale-in is slow because every change of membership is a rebalance.
    const reservationScaling = this.reservation.autoScaleTaskCount({ minCapacity: reservation.minTasks, maxCapacity: reservation.maxTasks });
    reservationScaling.scaleOnMetric('ConsumerLag', {
      metric: consumerLagMetric({ clusterName: data.kafka.clusterName, consumerGroup: settings.kafka.consumerGroup, topic: settings.kafka.topic }),
      scalingSteps: [
        { upper: reservation.lagScaleInBelow, change: -1 },
        { lower: reservation.lagScaleOutAbove, change: +1 },
        { lower: reservation.lagScaleOutAbove * lagSurgeFactor, change: +3 },
      ],
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      cooldown: Duration.minutes(2),
      evaluationPeriods: 2,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.url, description: 'Ticketing API (ALB)' });
    new CfnOutput(this, 'DocsUrl', { value: `${this.url}/docs`, description: 'OpenAPI documentation' });
  }
}
