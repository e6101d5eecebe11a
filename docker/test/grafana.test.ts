import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildDashboard, dashboardPath, renderDashboard, rows } from '../grafana/dashboard.ts';

// The dashboard is generated; these tests keep the committed JSON current and every query
// pointed at a series that exists, so a renamed metric breaks a test, not an on-sale.

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const sourceDirs = ['shared/src', 'ticketing-service/src', 'reservation-service/src'];
const histogramSuffix = /_(bucket|count|sum)$/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8'));
}

// Names prom-client's default collectors register (before the `ticketing_` prefix).
function promClientDefaultNames(): Set<string> {
  const metricsDir = fileURLToPath(new URL('./metrics/', import.meta.resolve('prom-client/lib/defaultMetrics.js')));
  const names = new Set<string>();
  for (const file of readdirSync(metricsDir).filter((name) => name.endsWith('.js'))) {
    for (const match of readFileSync(join(metricsDir, file), 'utf8').matchAll(/'((?:nodejs|process)_[a-z0-9_]+)'/g)) names.add(match[1]!);
  }
  return names;
}

const queries = rows.flatMap((row) => row.panels.flatMap((panel) => panel.queries.map((query) => ({ panel: panel.title, expr: query.expr }))));

describe('Grafana dashboard', () => {
  test('the committed JSON is what docker/grafana/dashboard.ts generates', () => {
    assert.equal(readFileSync(dashboardPath, 'utf8'), renderDashboard(), 'run: node docker/grafana/dashboard.ts');
  });

  test('every query names a metric the services export', () => {
    const code = sourceDirs.flatMap((dir) => sources(join(repoRoot, dir))).join('\n');
    const defaults = promClientDefaultNames();
    assert.ok(defaults.has('nodejs_eventloop_lag_p99_seconds') && defaults.has('process_resident_memory_bytes'));
    for (const { panel, expr } of queries) {
      const metrics = expr.match(/\bticketing_[a-z0-9_]+/g) ?? [];
      assert.ok(metrics.length > 0 || /\bup\{/.test(expr), `${panel}: ${expr}`);
      for (const metric of metrics) {
        const exported = code.includes(`'${metric}'`) || code.includes(`'${metric.replace(histogramSuffix, '')}'`);
        const defaultMetric = defaults.has(metric.replace(/^ticketing_/, ''));
        assert.ok(exported || defaultMetric, `${panel}: ${metric} is not exported by any service`);
      }
    }
  });

  test('queries select scrape jobs that Prometheus defines', () => {
    const prometheus = parse(readFileSync(join(repoRoot, 'docker/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string }> };
    const jobs = new Set(prometheus.scrape_configs.map((config) => config.job_name));
    for (const { panel, expr } of queries) {
      for (const match of expr.matchAll(/job="([^"]+)"/g)) assert.ok(jobs.has(match[1]!), `${panel}: job ${match[1]}`);
    }
  });

  test('panels have unique ids, fit the 24-column grid and do not overlap', () => {
    const panels = buildDashboard().panels as Array<{ id: number; gridPos: { x: number; y: number; w: number; h: number } }>;
    assert.equal(new Set(panels.map((panel) => panel.id)).size, panels.length);
    const cells = new Set<string>();
    for (const { id, gridPos } of panels) {
      assert.ok(gridPos.x >= 0 && gridPos.x + gridPos.w <= 24, `panel ${id} exceeds the grid`);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          assert.ok(!cells.has(`${x},${y}`), `panel ${id} overlaps another at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  test('the data source uid matches the provisioned Prometheus', () => {
    const provisioned = parse(readFileSync(join(repoRoot, 'docker/grafana/provisioning/datasources/datasources.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string }> };
    const uids = new Set(provisioned.datasources.filter((source) => source.type === 'prometheus').map((source) => source.uid));
    const dashboard = JSON.stringify(buildDashboard());
    for (const match of dashboard.matchAll(/"type":"prometheus","uid":"([^"]+)"/g)) assert.ok(uids.has(match[1]!), match[1]);
  });
});
