import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { SETTINGS } from '@ticketing/shared/config';
import { cloudWatchNamespace } from '../lib/adot-collector.ts';
import { ports } from '../lib/network-stack.ts';
import { sseHeartbeatMs, stopTimeoutS } from '../lib/settings.ts';
import { logicalId, onlyResource, refersTo, resourcesOfType, synthesize, type Resource } from './synth.ts';

const { stacks, settings, template } = synthesize();
const services = template(stacks.services);

type Container = {
  Name: string;
  Essential?: boolean;
  Environment?: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
  HealthCheck?: { Command: string[] };
  StopTimeout?: number;
  LogConfiguration?: { LogDriver: string };
  DependsOn?: Array<{ ContainerName: string; Condition: string }>;
  Command?: string[];
};

const taskOf = (service: Resource): Resource => {
  const taskId = (service.Properties.TaskDefinition as { Ref: string }).Ref;
  return services.toJSON().Resources[taskId] as Resource;
};
const containersOf = (service: Resource) => taskOf(service).Properties.ContainerDefinitions as Container[];
const ecsService = (name: 'ticketing-service' | 'reservation-service'): Resource =>
  services.toJSON().Resources[logicalId(name === 'ticketing-service' ? stacks.services.ticketing : stacks.services.reservation)] as Resource;
const appContainer = (name: 'ticketing-service' | 'reservation-service') => containersOf(ecsService(name)).find((container) => container.Name === name)!;
const secretName = /(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)/i;

describe('services stack', () => {
  test('one cluster, two Fargate services, one internet-facing ALB', () => {
    services.resourceCountIs('AWS::ECS::Cluster', 1);
    services.resourceCountIs('AWS::ECS::Service', 2);
    services.resourceCountIs('AWS::ECS::TaskDefinition', 2);
    services.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
  });

  test('tasks run in private subnets without public addresses', () => {
    for (const name of ['ticketing-service', 'reservation-service'] as const) {
      const network = (ecsService(name).Properties.NetworkConfiguration as { AwsvpcConfiguration: { AssignPublicIp: string; Subnets: unknown[] } }).AwsvpcConfiguration;
      assert.equal(network.AssignPublicIp, 'DISABLED');
      const privateIds = stacks.network.vpc.privateSubnets.map((subnet) => logicalId(subnet));
      assert.ok(network.Subnets.every((subnet) => privateIds.some((id) => refersTo(subnet, id))), name);
    }
  });
});

describe('load balancer', () => {
  const [, loadBalancer] = onlyResource(services, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
  const attributes = new Map((loadBalancer.Properties.LoadBalancerAttributes as Array<{ Key: string; Value: string }>).map(({ Key, Value }) => [Key, Value]));

  test('its idle timeout outlasts several SSE heartbeats', () => {
    const idleS = Number(attributes.get('idle_timeout.timeout_seconds'));
    assert.equal(idleS, settings.services.albIdleTimeoutS);
    assert.ok(idleS * 1000 >= 4 * sseHeartbeatMs, `${idleS} s vs heartbeat ${sseHeartbeatMs} ms`);
    assert.ok(idleS >= 120);
    assert.equal(attributes.get('routing.http.drop_invalid_header_fields.enabled'), 'true');
  });

  test('routes to the ticketing tasks, checking /health/ready', () => {
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: ports.ticketingHttp,
      TargetType: 'ip',
      HealthCheckPath: '/health/ready',
      Matcher: { HttpCode: '200' },
    });
    const service = ecsService('ticketing-service');
    assert.deepEqual((service.Properties.LoadBalancers as Array<{ ContainerName: string; ContainerPort: number }>).map(({ ContainerName, ContainerPort }) => [ContainerName, ContainerPort]), [['ticketing-service', ports.ticketingHttp]]);
    assert.equal(service.Properties.HealthCheckGracePeriodSeconds, 60);
  });

  test('keeps /metrics off the internet', () => {
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Priority: 1,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
      Actions: [Match.objectLike({ Type: 'fixed-response', FixedResponseConfig: Match.objectLike({ StatusCode: '404' }) })],
    });
  });

  test('HTTP only without a certificate; HTTPS with HTTP redirected when one is given', () => {
    services.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    services.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    const tls = synthesize({ certificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/abc' });
    const tlsServices = tls.template(tls.stacks.services);
    tlsServices.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS' });
    tlsServices.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [Match.objectLike({ Type: 'redirect' })] });
  });
});

describe('deployments', () => {
  for (const name of ['ticketing-service', 'reservation-service'] as const) {
    test(`${name}: circuit breaker with rollback, no capacity dip during a deployment`, () => {
      const configuration = ecsService(name).Properties.DeploymentConfiguration as { DeploymentCircuitBreaker: unknown; MinimumHealthyPercent: number; MaximumPercent: number };
      assert.deepEqual(configuration.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
      assert.equal(configuration.MinimumHealthyPercent, 100);
      assert.equal(configuration.MaximumPercent, 200);
      assert.equal(ecsService(name).Properties.DesiredCount, undefined, 'a deploy must not reset what autoscaling chose');
    });

    test(`${name}: liveness check, time to drain, logs to CloudWatch`, () => {
      const app = appContainer(name);
      assert.deepEqual(app.HealthCheck?.Command, ['CMD', 'node', '/app/docker/healthcheck.ts']);
      assert.ok((app.StopTimeout ?? 0) >= stopTimeoutS);
      for (const container of containersOf(ecsService(name))) assert.equal(container.LogConfiguration?.LogDriver, 'awslogs', container.Name);
    });
  }
});

describe('configuration and secrets', () => {
  for (const name of ['ticketing-service', 'reservation-service'] as const) {
    test(`${name}: secrets come from Secrets Manager; no variable holds one`, () => {
      const app = appContainer(name);
      for (const variable of app.Environment ?? []) {
        assert.doesNotMatch(variable.Name, secretName, `${variable.Name} is a plain variable`);
      }
      const secrets = new Map((app.Secrets ?? []).map((secret) => [secret.Name, secret.ValueFrom]));
      for (const required of ['JWT_SECRET', 'DATABASE_PASSWORD', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'REDIS_PASSWORD']) {
        assert.ok(secrets.has(required), `${required} is injected as a secret`);
      }
      const databaseUrl = JSON.stringify(app.Environment?.find((variable) => variable.Name === 'DATABASE_URL')?.Value);
      assert.doesNotMatch(databaseUrl, /:\/\/[^@/]*:[^@/]*@/, 'no password in DATABASE_URL');
      assert.match(databaseUrl, /sslmode=/);
    });

    test(`${name}: every variable is a setting the services read`, () => {
      const known = new Set<string>(Object.keys(SETTINGS));
      const app = appContainer(name);
      for (const variable of [...(app.Environment ?? []), ...(app.Secrets ?? [])]) {
        assert.ok(known.has(variable.Name) || variable.Name.startsWith('OTEL_'), `${variable.Name} is not read by anything`);
      }
      const environment = new Map((app.Environment ?? []).map((variable) => [variable.Name, variable.Value]));
      assert.equal(environment.get('NODE_ENV'), 'production');
      assert.equal(environment.get('HOST'), '0.0.0.0');
      assert.equal(environment.get('KAFKA_COMMAND_TOPIC'), settings.kafka.topic);
      assert.equal(environment.get('KAFKA_REPLICATION_FACTOR'), '3');
      assert.equal(environment.get('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://127.0.0.1:4318');
    });
  }

  test('the execution roles can decrypt the SCRAM secret without touching the key policy', () => {
    const policies = resourcesOfType(services, 'AWS::IAM::Policy').map(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument));
    assert.ok(policies.filter((document) => document.includes('kms:Decrypt') && document.includes('kms:ViaService')).length >= 2);
    const key = template(stacks.data).toJSON().Resources[logicalId(stacks.data.kafka.key)] as Resource;
    assert.ok(!JSON.stringify(key.Properties.KeyPolicy).includes('ticketing-services'));
  });
});

describe('telemetry', () => {
  test('an ADOT collector beside each service, non-essential, started before it', () => {
    for (const name of ['ticketing-service', 'reservation-service'] as const) {
      const containers = containersOf(ecsService(name));
      const collector = containers.find((container) => container.Name === 'adot-collector');
      assert.ok(collector, name);
      assert.equal(collector.Essential, false);
      // An Fn::Join around the log group name; the literal parts are the YAML.
      const config = JSON.stringify(collector.Environment?.find((variable) => variable.Name === 'AOT_CONFIG_CONTENT')?.Value);
      assert.match(config, /exporters: \[awsxray\]/);
      assert.ok(config.includes(`targets: [\\"127.0.0.1:${name === 'ticketing-service' ? ports.ticketingHttp : ports.reservationOps}\\"]`), 'scrapes its own service');
      assert.match(config, new RegExp(`namespace: ${cloudWatchNamespace}`));
      assert.deepEqual(appContainer(name).DependsOn, [{ ContainerName: 'adot-collector', Condition: 'START' }]);
    }
  });

  test('traces go to an OTLP endpoint (e.g. Jaeger) instead of X-Ray when one is given', () => {
    const jaeger = synthesize({ tracesEndpoint: 'http://jaeger.internal:4318' });
    const tasks = resourcesOfType(jaeger.template(jaeger.stacks.services), 'AWS::ECS::TaskDefinition');
    for (const [, task] of tasks) {
      const collector = (task.Properties.ContainerDefinitions as Container[]).find((container) => container.Name === 'adot-collector')!;
      // An Fn::Join around the log group name; the literal parts are the YAML.
      const config = JSON.stringify(collector.Environment?.find((variable) => variable.Name === 'AOT_CONFIG_CONTENT')?.Value);
      assert.match(config, /endpoint: http:\/\/jaeger\.internal:4318/);
      assert.match(config, /exporters: \[otlphttp\]/);
    }
  });
});

describe('autoscaling', () => {
  const targets = resourcesOfType(services, 'AWS::ApplicationAutoScaling::ScalableTarget');
  const targetFor = (name: 'ticketing-service' | 'reservation-service') =>
    targets.find(([, target]) => refersTo(target.Properties.ResourceId, logicalId(name === 'ticketing-service' ? stacks.services.ticketing : stacks.services.reservation)))!;
  const policiesFor = (targetId: string) =>
    resourcesOfType(services, 'AWS::ApplicationAutoScaling::ScalingPolicy').filter(([, policy]) => refersTo(policy.Properties.ScalingTargetId, targetId));

  test('ticketing scales between its bounds on CPU and on requests per target', () => {
    const [targetId, target] = targetFor('ticketing-service');
    assert.equal(target.Properties.MinCapacity, settings.services.ticketing.minTasks);
    assert.equal(target.Properties.MaxCapacity, settings.services.ticketing.maxTasks);
    const metrics = policiesFor(targetId).map(([, policy]) => (policy.Properties.TargetTrackingScalingPolicyConfiguration as { PredefinedMetricSpecification: { PredefinedMetricType: string } }).PredefinedMetricSpecification.PredefinedMetricType);
    assert.deepEqual(metrics.sort(), ['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
  });

  test('reservation scales on consumer lag and never beyond the partition count', () => {
    const [targetId, target] = targetFor('reservation-service');
    assert.equal(target.Properties.MinCapacity, settings.services.reservation.minTasks);
    assert.ok(Number(target.Properties.MaxCapacity) <= settings.kafka.partitions);
    const policies = policiesFor(targetId);
    assert.ok(policies.length >= 2 && policies.every(([, policy]) => policy.Properties.PolicyType === 'StepScaling'));
    const alarms = resourcesOfType(services, 'AWS::CloudWatch::Alarm');
    assert.equal(alarms.length, 2);
    for (const [, alarm] of alarms) {
      assert.equal(alarm.Properties.Namespace, 'AWS/Kafka');
      assert.equal(alarm.Properties.MetricName, 'SumOffsetLag');
      const dimensions = new Map((alarm.Properties.Dimensions as Array<{ Name: string; Value: string }>).map(({ Name, Value }) => [Name, Value]));
      assert.deepEqual(Object.fromEntries(dimensions), { 'Cluster Name': stacks.data.kafka.clusterName, 'Consumer Group': settings.kafka.consumerGroup, Topic: settings.kafka.topic });
    }
  });
});
