import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ports } from '../lib/network-stack.ts';
import { logicalId, refersTo, resourcesOfType, synthesize } from './synth.ts';

const { stacks, template } = synthesize();
const network = template(stacks.network);
const groups = stacks.network.securityGroups;
const id = {
  loadBalancer: logicalId(groups.loadBalancer),
  ticketing: logicalId(groups.ticketing),
  reservation: logicalId(groups.reservation),
  database: logicalId(groups.database),
  kafka: logicalId(groups.kafka),
  kvrocks: logicalId(groups.kvrocks),
  loadTest: logicalId(groups.loadTest),
};

type Rule = { CidrIp?: string; CidrIpv6?: string; SourceSecurityGroupId?: unknown; FromPort?: number; ToPort?: number; IpProtocol?: string };

// Every ingress rule of one group: inline in the group and as separate resources.
function ingressOf(groupId: string): Rule[] {
  const inline = (network.toJSON().Resources[groupId].Properties.SecurityGroupIngress ?? []) as Rule[];
  const separate = resourcesOfType(network, 'AWS::EC2::SecurityGroupIngress')
    .filter(([, resource]) => refersTo(resource.Properties.GroupId, groupId))
    .map(([, resource]) => resource.Properties as Rule);
  return [...inline, ...separate];
}

describe('network stack', () => {
  test('one VPC over three AZs: public, private and isolated subnets in each', () => {
    network.resourceCountIs('AWS::EC2::VPC', 1);
    network.resourceCountIs('AWS::EC2::Subnet', 9);
    assert.equal(stacks.network.vpc.availabilityZones.length, 3);
    for (const kind of ['publicSubnets', 'privateSubnets', 'isolatedSubnets'] as const) {
      assert.equal(stacks.network.vpc[kind].length, 3, kind);
    }
    network.resourceCountIs('AWS::EC2::NatGateway', 3);
  });

  test('the NAT gateway count follows context', () => {
    const cheap = synthesize({ natGateways: '1' });
    cheap.template(cheap.stacks.network).resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  test('isolated subnets (Postgres, Kafka) have no route out at all', () => {
    const routes = resourcesOfType(network, 'AWS::EC2::Route');
    for (const subnet of stacks.network.vpc.isolatedSubnets) {
      const table = logicalId(subnet.node.findChild('RouteTable'));
      assert.ok(!routes.some(([, route]) => refersTo(route.Properties.RouteTableId, table)), `${subnet.node.id} has a route`);
    }
  });

  test('only the load balancer accepts traffic from the internet, on 80 and 443', () => {
    const loadBalancer = ingressOf(id.loadBalancer);
    assert.deepEqual(loadBalancer.map((rule) => [rule.CidrIp, rule.FromPort, rule.ToPort]).sort(), [['0.0.0.0/0', 443, 443], ['0.0.0.0/0', 80, 80]]);
    for (const [name, groupId] of Object.entries(id)) {
      if (name === 'loadBalancer') continue;
      for (const rule of ingressOf(groupId)) {
        assert.equal(rule.CidrIp, undefined, `${name} admits ${rule.CidrIp}`);
        assert.equal(rule.CidrIpv6, undefined, `${name} admits ${rule.CidrIpv6}`);
        assert.notEqual(rule.IpProtocol, '-1', `${name} admits every protocol`);
      }
    }
  });

  test('the ingress CIDR follows context', () => {
    const narrow = synthesize({ ingressCidr: '203.0.113.0/24' });
    const rules = narrow.template(narrow.stacks.network).toJSON().Resources[logicalId(narrow.stacks.network.securityGroups.loadBalancer)].Properties.SecurityGroupIngress as Rule[];
    assert.ok(rules.every((rule) => rule.CidrIp === '203.0.113.0/24'));
  });

  test('ticketing tasks take traffic from the ALB only; reservation tasks and the k6 runner take none', () => {
    const ticketing = ingressOf(id.ticketing);
    assert.equal(ticketing.length, 1);
    assert.ok(refersTo(ticketing[0]!.SourceSecurityGroupId, id.loadBalancer));
    assert.equal(ticketing[0]!.FromPort, ports.ticketingHttp);
    assert.deepEqual(ingressOf(id.reservation), []);
    assert.deepEqual(ingressOf(id.loadTest), []);
  });

  for (const [store, port] of [['database', ports.postgres], ['kafka', ports.kafkaSaslScram], ['kvrocks', ports.kvrocks]] as const) {
    test(`${store} is reachable only from the two services, on its one port`, () => {
      const rules = ingressOf(id[store]);
      assert.equal(rules.length, 2);
      const sources = rules.map((rule) => [id.ticketing, id.reservation].find((source) => refersTo(rule.SourceSecurityGroupId, source)));
      assert.deepEqual(sources.sort(), [id.reservation, id.ticketing].sort());
      for (const rule of rules) assert.deepEqual([rule.FromPort, rule.ToPort, rule.IpProtocol], [port, port, 'tcp']);
    });
  }

  test('Postgres and Kafka open no connections out', () => {
    for (const store of ['database', 'kafka'] as const) {
      const egress = network.toJSON().Resources[id[store]].Properties.SecurityGroupEgress as Rule[];
      assert.ok(egress.every((rule) => rule.CidrIp === '255.255.255.255/32'), `${store} egress: ${JSON.stringify(egress)}`);
    }
  });
});
