import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { serviceImages } from '../lib/images.ts';
import { logicalId, onlyResource, synthesize } from './synth.ts';

// The app as `cdk synth` builds it, images included: offline, environment-agnostic, in order.

const whole = synthesize({}, serviceImages);
const assembly = whole.app.synth();
const stacks = [whole.stacks.network, whole.stacks.data, whole.stacks.services];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

describe('the CDK app', () => {
  test('three stacks, environment-agnostic, needing no lookups (synth runs without AWS credentials)', () => {
    assert.deepEqual(assembly.stacks.map((stack) => stack.stackName).sort(), ['ticketing-data', 'ticketing-network', 'ticketing-services']);
    for (const stack of assembly.stacks) assert.equal(stack.environment.name, 'aws://unknown-account/unknown-region');
    assert.equal(assembly.manifest.missing, undefined, 'no context lookups');
  });

  test('deploys in order: network, data, services', () => {
    const dependencies = (name: string) => assembly.getStackByName(name).dependencies.map((dependency) => dependency.id).filter((id) => !id.endsWith('.assets')).sort();
    assert.deepEqual(dependencies('ticketing-network'), []);
    assert.deepEqual(dependencies('ticketing-data'), ['ticketing-network']);
    assert.deepEqual(dependencies('ticketing-services'), ['ticketing-data', 'ticketing-network']);
  });

  test('no construct reports an error or a warning', () => {
    for (const stack of stacks) {
      assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.anyValue()), [], stack.stackName);
      assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.anyValue()), [], stack.stackName);
    }
  });

  test('both images are built from docker/Dockerfile, one per service, from the allow-listed context', () => {
    const manifest = JSON.parse(readFileSync(join(assembly.directory, 'ticketing-services.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile: string; dockerBuildArgs: Record<string, string>; platform?: string } }>;
    };
    const images = Object.values(manifest.dockerImages).map((image) => image.source);
    assert.deepEqual(images.map((source) => source.dockerBuildArgs.SERVICE).sort(), ['reservation-service', 'ticketing-service']);
    for (const source of images) {
      assert.equal(source.dockerFile, 'docker/Dockerfile');
      assert.equal(source.platform, 'linux/amd64');
      const files = filesUnder(join(assembly.directory, source.directory));
      for (const needed of ['package.json', 'package-lock.json', 'shared/src/config.ts', 'ticketing-service/src/main.ts', 'reservation-service/src/main.ts', 'docker/healthcheck.ts', 'cdk/package.json']) {
        assert.ok(files.includes(needed), `${needed} is in the build context`);
      }
      const leaked = files.filter((file) => /(^|\/)(node_modules|test|cdk\.out)\/|\.test\.ts$|(^|\/)\.env/.test(file) || file.startsWith('cdk/lib') || file.startsWith('benchmarks'));
      assert.deepEqual(leaked, []);
    }
  });
});

describe('the load-test stack', () => {
  test('is absent unless asked for', () => {
    assert.equal(whole.stacks.loadTest, undefined);
  });

  const scripts = mkdtempSync(join(tmpdir(), 'k6-scripts-'));
  writeFileSync(join(scripts, 'sellout.js'), 'export default function () {}\n');
  after(() => rmSync(scripts, { recursive: true, force: true }));

  test('with -c loadTest=true: one private instance with k6 and the scripts, reachable only through SSM', () => {
    const withLoadTest = synthesize({ loadTest: 'true', loadTestScriptsDir: scripts });
    const loadTest = withLoadTest.stacks.loadTest;
    assert.ok(loadTest);
    const template = withLoadTest.template(loadTest);
    const [, instance] = onlyResource(template, 'AWS::EC2::Instance');
    const privateIds = withLoadTest.stacks.network.vpc.privateSubnets.map((subnet) => logicalId(subnet));
    assert.ok(privateIds.some((id) => JSON.stringify(instance.Properties.SubnetId).includes(id)));
    const userData = JSON.stringify(instance.Properties.UserData);
    assert.ok(userData.includes(`k6-v${withLoadTest.settings.loadTest.k6Version}-linux-amd64.tar.gz`));
    assert.ok(userData.includes('BASE_URL='));
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.arrayWith([Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':iam::aws:policy/AmazonSSMManagedInstanceCore'])]) })]) });
    const compose = readFileSync(new URL('../../docker/compose.yml', import.meta.url), 'utf8');
    assert.ok(compose.includes(`image: grafana/k6:${withLoadTest.settings.loadTest.k6Version}`), 'the same k6 as the compose runner');
  });

  test('refuses to synthesize without its scripts', () => {
    const missing = join(scripts, 'missing');
    assert.ok(!existsSync(missing));
    assert.throws(() => synthesize({ loadTest: 'true', loadTestScriptsDir: missing }), /does not exist/);
  });
});
