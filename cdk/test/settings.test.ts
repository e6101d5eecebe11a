import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contextKeys, defaultSettings, readSettings, SettingsError, sseHeartbeatMs } from '../lib/settings.ts';

const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });
const problemsOf = (values: Record<string, unknown>): readonly string[] => {
  try {
    readSettings(context(values));
    return [];
  } catch (error) {
    assert.ok(error instanceof SettingsError);
    return error.problems;
  }
};

describe('deploy settings', () => {
  test('without context: the defaults, environment-agnostic, frozen', () => {
    const settings = readSettings(context({}));
    assert.deepEqual({ ...settings, env: undefined }, { ...defaultSettings, env: undefined });
    assert.equal(settings.env, undefined);
    assert.ok(Object.isFrozen(settings.services.reservation));
  });

  test('defaults follow the services\' own defaults for the topic, partitions and group', () => {
    assert.equal(defaultSettings.kafka.topic, 'ticketing.commands.v1');
    assert.equal(defaultSettings.kafka.partitions, 12);
    assert.equal(defaultSettings.kafka.consumerGroup, 'reservation-service');
  });

  test('context strings from `-c key=value` are parsed into typed values', () => {
    const settings = readSettings(context({ natGateways: '1', dbMultiAz: 'false', kafkaPartitions: '24', reservationMaxTasks: '24', loadTest: 'true', account: '111111111111', region: 'eu-west-1' }));
    assert.equal(settings.network.natGateways, 1);
    assert.equal(settings.database.multiAz, false);
    assert.equal(settings.kafka.partitions, 24);
    assert.equal(settings.services.reservation.maxTasks, 24);
    assert.equal(settings.loadTest.enabled, true);
    assert.deepEqual(settings.env, { account: '111111111111', region: 'eu-west-1' });
  });

  test('typed values from cdk.json are accepted too', () => {
    assert.equal(readSettings(context({ natGateways: 2, dbMultiAz: false })).network.natGateways, 2);
  });

  test('more reservation tasks than partitions is refused: the extra consumers would idle', () => {
    const problems = problemsOf({ kafkaPartitions: '6', reservationMaxTasks: '8' });
    assert.ok(problems.some((problem) => /exceeds kafkaPartitions 6/.test(problem)), problems.join('; '));
    assert.deepEqual(problemsOf({ kafkaPartitions: '6', reservationMaxTasks: '6' }), []);
  });

  test('an ALB idle timeout too close to the SSE heartbeat is refused', () => {
    const tooShortS = (4 * sseHeartbeatMs) / 1000 - 1;
    assert.ok(problemsOf({ albIdleTimeoutS: String(tooShortS) }).some((problem) => /SSE heartbeats/.test(problem)));
  });

  test('every problem is reported at once', () => {
    const problems = problemsOf({ natGateways: 'two', dbMultiAz: 'maybe', kafkaTopicManagement: 'manual', ticketingMinTasks: '5', ticketingMaxTasks: '2', account: '1' });
    assert.equal(problems.length, 5, problems.join('; '));
  });

  test('an image URI must say where the service name goes', () => {
    assert.ok(problemsOf({ imageUri: 'registry.example.com/ticketing:1.0' }).some((problem) => /\{service\}/.test(problem)));
    assert.deepEqual(problemsOf({ imageUri: 'registry.example.com/{service}:1.0' }), []);
  });

  test('log retention must be a value CloudWatch accepts', () => {
    assert.ok(problemsOf({ logRetentionDays: '10' }).length > 0);
    assert.deepEqual(problemsOf({ logRetentionDays: '14' }), []);
  });

  test('the documented context keys are the ones read', () => {
    assert.equal(new Set(contextKeys).size, contextKeys.length);
  });
});
