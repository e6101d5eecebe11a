import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { IConstruct } from 'constructs';
import type { ServiceImages } from '../lib/images.ts';
import { readSettings, type DeploySettings } from '../lib/settings.ts';
import { createStacks, type TicketingStacks } from '../lib/stacks.ts';

// Builds the app as `cdk synth` would (cdk.json's context, then the test's overrides), but
// with registry images so that no test stages a Docker build context. app.test.ts covers
// the asset path.

const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

export const registryImages: ServiceImages = {
  ticketing: ecs.ContainerImage.fromRegistry('registry.example.com/ticketing-service:test'),
  reservation: ecs.ContainerImage.fromRegistry('registry.example.com/reservation-service:test'),
  fromRegistry: true,
};

export interface Synthesized {
  readonly app: App;
  readonly settings: DeploySettings;
  readonly stacks: TicketingStacks;
  template(stack: Stack): Template;
}

export function synthesize(context: Record<string, unknown> = {}, images: (settings: DeploySettings) => ServiceImages = () => registryImages): Synthesized {
  const app = new App({ context: { ...cdkJson.context, ...context } });
  const settings = readSettings(app.node);
  const stacks = createStacks(app, settings, images(settings));
  const templates = new Map<Stack, Template>();
  return {
    app,
    settings,
    stacks,
    template(stack) {
      let template = templates.get(stack);
      if (!template) {
        template = Template.fromStack(stack);
        templates.set(stack, template);
      }
      return template;
    },
  };
}

export type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string; DependsOn?: unknown };

export function resourcesOfType(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.findResources(type)) as Array<[string, Resource]>;
}

export function onlyResource(template: Template, type: string): [string, Resource] {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0]!;
}

export function logicalId(construct: IConstruct): string {
  const stack = Stack.of(construct);
  const resource = construct.node.defaultChild ?? construct;
  return stack.getLogicalId(resource as Parameters<Stack['getLogicalId']>[0]);
}

// `{ "Fn::GetAtt": [id, "GroupId"] }` or an imported `{ "Fn::ImportValue": … }` naming id.
export function refersTo(value: unknown, id: string): boolean {
  return JSON.stringify(value).includes(id);
}
