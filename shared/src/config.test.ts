import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, SETTINGS } from './config.ts';

test('defaults point at local services and are frozen', () => {
  const config = loadConfig({});
  assert.equal(config.http.port, 3000);
  assert.equal(config.postgres.url, 'postgres://postgres@127.0.0.1:5432/ticketing');
  assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
  assert.deepEqual(config.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(config.limits.bookingQuantityMax, 4);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.kafka) && Object.isFrozen(config.kafka.brokers));
  assert.throws(() => {
    (config.http as { port: number }).port = 1;
  });
});

test('values are parsed and bounded', () => {
  const config = loadConfig({ PORT: '8080', KAFKA_BROKERS: 'a:9092, b:9092 ,', DATABASE_MIGRATE_ON_START: 'false', BOOKING_QUANTITY_MAX: '6' });
  assert.equal(config.http.port, 8080);
  assert.deepEqual(config.kafka.brokers, ['a:9092', 'b:9092']);
  assert.equal(config.postgres.migrateOnStart, false);
  assert.equal(config.limits.bookingQuantityMax, 6);
});

test('every problem is reported at once', () => {
  const error = (() => {
    try {
      loadConfig({ PORT: 'eighty', BOOKING_QUANTITY_MAX: '11', LOG_LEVEL: 'loud', DATABASE_URL: 'not a url', JWT_SECRET: 'short' });
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  assert.ok(error instanceof ConfigError);
  assert.equal(error.problems.length, 5, error.message);
  assert.match(error.message, /PORT must be an integer/);
  assert.match(error.message, /BOOKING_QUANTITY_MAX must be between 1 and 10/);
  assert.match(error.message, /JWT_SECRET must be at least 32 characters/);
});

test('production refuses the development JWT secret', () => {
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }), /JWT_SECRET must be set in production/);
  assert.equal(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }).env, 'production');
});

test('every setting documents itself and has a valid default', () => {
  for (const [name, setting] of Object.entries(SETTINGS)) {
    assert.ok(setting.description.length > 10, `${name} needs a description`);
    assert.ok('default' in setting, `${name} needs a default`);
  }
  assert.doesNotThrow(() => loadConfig({}));
});
