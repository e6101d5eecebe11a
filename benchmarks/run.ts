import { fileURLToPath } from 'node:url';
import { keyValues, launchSettings, numberOption, parseCommandLine, sizeOptionsHelp, sizeOverrides, runCommand } from './lib/cli.ts';
import { runScenarios } from './lib/driver.ts';
import { launchProduct, type LaunchedSystem } from './lib/launch.ts';
import { planScenarios, scenarioNames, type ScenarioName } from './lib/plan.ts';

// The benchmark runner (issue 7). Targets a running system — `npm start` by default — or, with
// --launch, starts the product itself on a private database, Redis prefix and Kafka mock.
// See BENCHMARK.md for what every number means.

const usage = `usage: node benchmarks/run.ts <sellout|sustained|fanout|all> [options]

target
  --url URL                 system under test (default http://127.0.0.1:3000, npm start's)
  --pid N                   pid of the process serving --url (default: found by its port in /proc)
  --jwt-secret S            default: the target's JWT_SECRET from /proc/<pid>/environ, else the dev default
  --database-url URL        the target's Postgres, for outcomes and invariants (default: its DATABASE_URL)
  --setting KEY=VALUE       state a setting of a target that cannot be inspected (repeatable)
  --label NAME              name in result files (default: the target's kind)
  --launch                  start the product for this run instead of using --url

${sizeOptionsHelp}`;

const say = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine({
    url: { type: 'string' },
    pid: { type: 'string' },
    'jwt-secret': { type: 'string' },
    'database-url': { type: 'string' },
    setting: { type: 'string', multiple: true },
    label: { type: 'string' },
    launch: { type: 'boolean', default: false },
  });
  const which = positionals[0] as ScenarioName | 'all' | undefined;
  if (values.help || !which || !(which === 'all' || scenarioNames.includes(which))) {
    say(usage);
    return values.help ? 0 : 2;
  }
  const plan = planScenarios({ smoke: values.smoke, only: which, overrides: sizeOverrides(values) });
  const scenarios = which === 'all' ? scenarioNames : [which];
  const outDir = values.out ?? fileURLToPath(new URL('./results', import.meta.url));

  let launched: LaunchedSystem | undefined;
  try {
    if (values.launch) {
      const settings = launchSettings(values);
      say(`launching the product: ${settings.partitions} partitions, ${settings.reservationInstances} reservation-service process(es)`);
      launched = await launchProduct({ name: 'run', ...settings, keepData: false, say });
      say(`launched at ${launched.url} (pids ${JSON.stringify(launched.pids)})`);
    }
    const pid = numberOption('pid', values.pid);
    const results = await runScenarios({
      url: launched?.url ?? values.url ?? 'http://127.0.0.1:3000',
      ...(pid === undefined ? {} : { pid }),
      ...(values['jwt-secret'] ? { jwtSecret: values['jwt-secret'] } : {}),
      ...(values['database-url'] ? { databaseUrl: values['database-url'] } : {}),
      settings: keyValues(values.setting, 'setting'),
      ...(values.label ? { label: values.label } : {}),
      outDir,
      waitQuietS: numberOption('wait-quiet-s', values['wait-quiet-s']) ?? 0,
      say,
    }, plan, scenarios);
    const failures = results.flatMap((result) => result.failures.map((failure) => `${result.scenario}: ${failure}`));
    say();
    if (failures.length > 0) {
      say(`${failures.length} failure(s):`);
      for (const failure of failures) say(`  ${failure}`);
      return 1;
    }
    say(`done: ${results.length} result(s), no harness failure, all invariants hold`);
    return 0;
  } finally {
    if (launched) {
      say('stopping the launched system');
      await launched.stop();
    }
  }
}

await runCommand('benchmark', usage, main);
