import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildMockKafka, controlMockKafka, startMockKafka, type MockKafka } from './mock-kafka.ts';

// ApiVersions v0 (ApiKey 18), correlation id 1, empty client id: the smallest request
// a broker answers.
const apiVersionsRequest = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0]);

function openSocket(address: string): Promise<Socket> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: host ?? '', port: Number(port) });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

// librdkafka 2.0.2 refuses connections to a broker that is down; other versions accept and close.
async function answersKafka(address: string): Promise<boolean> {
  let socket: Socket;
  try {
    socket = await openSocket(address);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    return false;
  }
  return new Promise((resolve) => {
    socket.on('error', () => {});
    socket.setTimeout(2_000, () => socket.destroy());
    socket.once('data', () => {
      resolve(true);
      socket.destroy();
    });
    socket.once('close', () => resolve(false));
    socket.write(apiVersionsRequest);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('error', () => {});
    if (socket.closed) {
      resolve();
    } else {
      socket.once('close', () => resolve());
    }
  });
}

async function apiVersionsRoundTripMs(address: string): Promise<number> {
  const socket = await openSocket(address);
  try {
    const started = performance.now();
    const reply = new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve());
      socket.once('error', reject);
    });
    socket.write(apiVersionsRequest);
    await reply;
    return performance.now() - started;
  } finally {
    socket.destroy();
  }
}

describe('mock-kafka', () => {
  let kafka: MockKafka;

  before(async () => {
    kafka = await startMockKafka({
      brokers: 3,
      topics: [{ name: 'bookings', partitions: 6 }],
      controlPort: 0,
    });
  });

  after(async () => {
    await kafka?.stop();
  });

  test('prints a bootstrap list of three brokers that answer Kafka requests', async () => {
    assert.equal(kafka.brokers.length, 3);
    for (const address of kafka.brokers) {
      assert.match(address, /^127\.0\.0\.1:\d+$/);
      assert.equal(await answersKafka(address), true, address);
    }
  });

  test('answers ping', async () => {
    assert.equal(await kafka.send('ping'), 'OK pong');
  });

  test('down closes connections and serves no new ones; up serves on the same port', async () => {
    const broker2 = kafka.brokers[1] ?? assert.fail('no broker 2');
    const openClosed = closed(await openSocket(broker2));
    try {
      await kafka.brokerDown(2);
      await openClosed;
      assert.equal(await answersKafka(broker2), false);
      assert.equal(await answersKafka(kafka.brokers[0] ?? ''), true, 'other brokers stay up');
    } finally {
      await kafka.brokerUp(2);
    }
    assert.equal(await answersKafka(broker2), true);
  });

  test('rtt delays every broker response', async () => {
    await kafka.setRtt('all', 5);
    try {
      for (const address of kafka.brokers) {
        assert.ok((await apiVersionsRoundTripMs(address)) >= 4.5, address);
      }
    } finally {
      await kafka.setRtt('all', 0);
    }
  });

  test('replies to concurrent commands in order', async () => {
    const replies = await Promise.all([
      kafka.send('ping'),
      kafka.send('leader bookings 5 3'),
      kafka.send('ping'),
    ]);
    assert.deepEqual(replies, ['OK pong', 'OK', 'OK pong']);
  });

  test('rejects malformed commands and unknown brokers, topics and partitions', async () => {
    await assert.rejects(kafka.send('rtt all'), /ERR usage: rtt/);
    await assert.rejects(kafka.send('fly away'), /ERR unknown command/);
    await assert.rejects(kafka.brokerDown(9), /ERR unknown broker 9/);
    await assert.rejects(
      kafka.send('leader bookings 6 1'),
      /ERR topic bookings has partitions 0\.\.5/,
    );
    await assert.rejects(kafka.send('leader missing 0 1'), /ERR unknown topic missing/);
    await assert.rejects(kafka.send('ping\nping'), /one non-empty line/);
    assert.equal(await kafka.send('ping'), 'OK pong', 'the channel survives errors');
  });

  test('creates topics', async () => {
    assert.equal(await kafka.send('topic seats 2'), 'OK');
    await assert.rejects(kafka.send('topic seats 2'), /already exists/);
    assert.equal(await kafka.send('leader seats 1 2'), 'OK');
  });

  test('fails the next requests of an API with the queued errors', async () => {
    const broker1 = kafka.brokers[0] ?? assert.fail('no broker 1');
    assert.equal(await kafka.send('error 18 _TRANSPORT 2'), 'OK');
    assert.equal(await answersKafka(broker1), false);
    assert.equal(await answersKafka(broker1), false);
    assert.equal(await answersKafka(broker1), true);
    await assert.rejects(kafka.send('error 18 NO_SUCH_ERROR'), /ERR usage: error/);
    await assert.rejects(kafka.send('error 18 0'), /ERR usage: error/);
  });

  test('serves the same commands on the TCP control port', async () => {
    const port = kafka.controlPort ?? assert.fail('no control port');
    assert.equal(await controlMockKafka(port, 'ping'), 'OK pong');
    assert.equal(await controlMockKafka(port, 'rtt 1 0'), 'OK');
    await assert.rejects(controlMockKafka(port, 'up 0'), /ERR unknown broker 0/);
  });

  test('stop ends the process and closes every port', async () => {
    const other = await startMockKafka({ brokers: 1, topics: [], controlPort: 0 });
    await other.stop();
    await other.stop();
    assert.equal(await answersKafka(other.brokers[0] ?? ''), false);
    const controlPort = other.controlPort ?? assert.fail('no control port');
    await assert.rejects(controlMockKafka(controlPort, 'ping'), { code: 'ECONNREFUSED' });
    await assert.rejects(other.send('ping'), /exited with code 0/);
  });

  test('quit exits the process', async () => {
    const other = await startMockKafka({ topics: [] });
    assert.equal(await other.send('quit'), 'OK');
    await assert.rejects(other.send('ping'), /exited with code 0/);
    await other.stop();
  });
});

test('startMockKafka fails with the program stderr on bad arguments', async () => {
  await buildMockKafka();
  await assert.rejects(
    startMockKafka({ topics: [{ name: 'bad/name', partitions: 1 }] }),
    /exited with code 2 before READY:\nmock-kafka: --topic must be NAME:PARTITIONS/,
  );
});
