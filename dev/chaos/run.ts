import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScenarioRecord } from './report.ts';

// `npm run chaos`: runs every fault scenario (the chaos-*.test.ts files) on this machine's
// Postgres and Redis and the Kafka mock, collects what each measured, and writes the results
// table of docs/RELIABILITY.md between its markers, stamped with the commit and the machine.
// `npm run chaos -- --check` runs them and prints the table without touching the document.

const scenarioFiles = [
  'reservation-service/test/chaos-consumer.test.ts',
  'reservation-service/test/chaos-duplicates.test.ts',
  'reservation-service/test/chaos-stores.test.ts',
  'reservation-service/test/chaos-postgres.test.ts',
  'reservation-service/test/chaos-shutdown.test.ts',
  'ticketing-service/test/chaos-kafka.test.ts',
  'ticketing-service/test/chaos-overload.test.ts',
];
const documentPath = 'docs/RELIABILITY.md';
const begin = '<!-- chaos-results:begin -->';
const end = '<!-- chaos-results:end -->';

const checkOnly = process.argv.includes('--check');
const reportFile = join(mkdtempSync(join(tmpdir(), 'chaos-')), 'scenarios.jsonl');
const files = scenarioFiles.filter((file) => existsSync(file));
const startedAt = new Date();
const run = spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', '--test', '--test-concurrency=1', '--test-timeout=300000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, CHAOS_REPORT_FILE: reportFile },
});
const records: ScenarioRecord[] = existsSync(reportFile)
  ? readFileSync(reportFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as ScenarioRecord)
  : [];
records.sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`;
const cell = (text: string) => text.replaceAll('|', '\\|');
const table = [
  `Measured by \`npm run chaos\` on ${startedAt.toISOString().slice(0, 10)}, commit ${commit}${dirty ? ' (with uncommitted changes)' : ''}, ${machine}; `
    + 'Postgres and Redis on the same machine, Kafka = librdkafka mock cluster. Recovery is from the end of the fault to every accepted booking decided.',
  '',
  '| Scenario | Fault injected | Attempted | Accepted | Lost | Sold twice | Recovery | Notes |',
  '|---|---|--:|--:|--:|--:|--:|---|',
  ...records.map((record) => `| ${cell(record.scenario)} | ${cell(record.injected)} | ${record.attempted} | ${record.accepted} | ${record.lost} | ${record.doubleSold} | ${(record.recoveryMs / 1000).toFixed(1)} s | ${cell(record.notes ?? '')} |`),
].join('\n');

console.log(`\n${table}\n`);
if (run.status !== 0) {
  console.error(`chaos: a scenario failed (exit ${run.status}); ${documentPath} left as it was`);
  process.exit(run.status ?? 1);
}
if (!checkOnly) {
  const document = readFileSync(documentPath, 'utf8');
  const from = document.indexOf(begin);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${documentPath} has no ${begin} … ${end} section`);
  writeFileSync(documentPath, `${document.slice(0, from + begin.length)}\n${table}\n${document.slice(to)}`);
  console.log(`chaos: ${records.length} scenarios written to ${documentPath}`);
}
