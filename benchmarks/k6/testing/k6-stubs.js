// Stand-ins for the k6 modules the scripts import, just enough to run their pure parts in
// Node: crypto and encoding behave like k6's; http records requests instead of sending them.
import { createHmac, randomBytes as nodeRandomBytes } from 'node:crypto';

export const requests = [];

export default {
  hmac(algorithm, secret, data, encoding) {
    if (encoding !== 'base64rawurl') throw new Error(`stub supports base64rawurl only, got ${encoding}`);
    return createHmac(algorithm, secret).update(data).digest('base64url');
  },
  randomBytes: (size) => nodeRandomBytes(size).buffer.slice(0, size),
  b64encode(input, encoding) {
    if (encoding !== 'rawurl') throw new Error(`stub supports rawurl only, got ${encoding}`);
    return Buffer.from(input).toString('base64url');
  },
  post(url, body, params) {
    requests.push({ url, body, params });
    return { status: 202, json: () => undefined, body: '' };
  },
  get: (url) => ({ status: 200, json: () => 0, url }),
  expectedStatuses: (...statuses) => ({ statuses }),
  open: () => ({ status: 200 }),
  url: String.raw,
  scenario: { iterationInTest: 0 },
};

export const check = (value, checks) => Object.values(checks).every((test) => test(value));
export const sleep = () => {};
export class Counter { add() {} }
export class Trend { add() {} }
export class Gauge { add() {} }
