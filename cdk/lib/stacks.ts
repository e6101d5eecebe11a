import type { App, Environment } from 'aws-cdk-lib';
import { DataStack } from './data-stack.ts';
import type { ServiceImages } from './images.ts';
import { LoadTestStack } from './load-test-stack.ts';
import { NetworkStack } from './network-stack.ts';
import { ServicesStack } from './services-stack.ts';
import type { DeploySettings } from './settings.ts';

export interface TicketingStacks {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly services: ServicesStack;
  readonly loadTest?: LoadTestStack;
}

// The app's stacks and their order: network -> data -> services (-> load test). Each later
// stack receives what it needs from the earlier ones as typed props, which also gives CDK the
// dependency order for `cdk deploy --all`.
export function createStacks(app: App, settings: DeploySettings, images: ServiceImages): TicketingStacks {
  const env: Environment | undefined = settings.env;
  const prefix = settings.name;
  const network = new NetworkStack(app, `${prefix}-network`, { env, settings, description: 'Ticketing: VPC over three AZs and security groups' });
  const data = new DataStack(app, `${prefix}-data`, {
    env, settings, vpc: network.vpc, securityGroups: network.securityGroups,
    description: 'Ticketing: Postgres, Kafka (MSK), Kvrocks and secrets (retained, termination-protected)',
  });
  const services = new ServicesStack(app, `${prefix}-services`, {
    env, settings, vpc: network.vpc, securityGroups: network.securityGroups, data, images,
    description: 'Ticketing: ECS Fargate services, ALB, autoscaling',
  });
  const loadTest = settings.loadTest.enabled
    ? new LoadTestStack(app, `${prefix}-loadtest`, {
      env, settings, vpc: network.vpc, securityGroup: network.securityGroups.loadTest, targetUrl: services.url, jwtSecret: data.jwtSecret,
      description: 'Ticketing: k6 load generator (optional)',
    })
    : undefined;
  return { network, data, services, loadTest };
}
