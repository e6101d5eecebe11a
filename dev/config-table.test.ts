import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readmePath, withTable } from './config-table.ts';

test('the README configuration table matches the settings the services parse', () => {
  const readme = readFileSync(readmePath, 'utf8');
  assert.equal(readme, withTable(readme), 'run `node dev/config-table.ts --write`');
});
