import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The on-sale dashboard for the compose stack, as data: `node docker/grafana/dashboard.ts`
// writes docker/grafana/dashboards/ticketing.json, which Grafana provisions. A new panel is one
// entry in `rows` below; layout, ids and data sources are derived. docker/test checks that the
// committed JSON is current and that every query names a metric the services export.

export interface Query {
  readonly expr: string;
  readonly legend: string;
}

export interface Panel {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly Query[];
  // Grafana's grid is 24 columns wide.
  readonly width?: number;
  readonly stack?: boolean;
}

export interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

const rateWindow = '$__rate_interval';
const panelHeight = 8;
const gridWidth = 24;

const quantiles = (metric: string, selector: string, by = ''): Query[] =>
  [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${selector}[${rateWindow}])))`,
    legend: `p${q * 100}${by ? ` {{${by}}}` : ''}`,
  }));

export const rows: readonly Row[] = [
  {
    title: 'Bookings',
    panels: [
      {
        title: 'Bookings accepted per second',
        description: 'POST /bookings answered with a booking: new (202) or a retry of a known id (200).',
        unit: 'reqps',
        stack: true,
        queries: [{ expr: `sum by (result) (rate(ticketing_bookings_accepted_total[${rateWindow}]))`, legend: '{{result}}' }],
      },
      {
        title: 'Bookings decided per second',
        description: 'Booking transitions written by the reservation service, by resulting status and reason (SOLD_OUT, SEATS_UNAVAILABLE, LIMIT_EXCEEDED, HOLD_EXPIRED, …).',
        unit: 'ops',
        stack: true,
        queries: [{ expr: `sum by (status, reason) (rate(ticketing_bookings_decided_total[${rateWindow}]))`, legend: '{{status}} {{reason}}' }],
      },
      {
        title: 'Seats left per event',
        description: 'Seats neither reserved nor sold, per live event (every ticketing instance reports the same Postgres counters; max over instances).',
        unit: 'short',
        queries: [{ expr: 'max by (event_id, event) (ticketing_event_seats_available)', legend: '{{event}}' }],
      },
    ],
  },
  {
    title: 'Latency',
    panels: [
      {
        title: 'Accept latency (POST /bookings → 202)',
        description: 'Validation, the Redis id claim and the Kafka acknowledgement (acks = all), as the service measures it.',
        unit: 's',
        queries: quantiles('ticketing_booking_accept_duration_seconds', '{outcome="accepted"}'),
      },
      {
        title: 'Decision latency (accept → decided)',
        description: "From a reserve command's acceptance (its atMs) until its slice is in Postgres and Redis: Kafka, consumer lag and the slice. Clock skew between hosts shows here.",
        unit: 's',
        queries: quantiles('ticketing_booking_decision_latency_seconds', '{type="reserve"}'),
      },
      {
        title: 'Slice duration',
        description: 'Time to decide, persist and project one slice of commands (one Postgres transaction, one Redis pipeline).',
        unit: 's',
        queries: quantiles('ticketing_reservation_slice_seconds', ''),
      },
    ],
  },
  {
    title: 'Kafka',
    panels: [
      {
        title: 'Consumer lag per partition',
        description: 'Commands fetched or known (high watermark) but not yet decided and committed. A partition whose lag only grows has a stuck or dead consumer.',
        unit: 'short',
        queries: [
          { expr: 'max by (partition) (ticketing_kafka_consumer_lag)', legend: 'partition {{partition}}' },
          { expr: 'sum(max by (partition) (ticketing_kafka_consumer_lag))', legend: 'total' },
        ],
      },
      {
        title: 'Commands waiting for Kafka, and in the outbox',
        description: 'Producer queue per ticketing instance (at KAFKA_PRODUCE_QUEUE_MAX bookings get 503) and commands parked in the Postgres outbox while Kafka is unavailable.',
        unit: 'short',
        queries: [
          { expr: 'sum by (instance) (ticketing_kafka_producer_queued)', legend: 'queued {{instance}}' },
          { expr: 'sum by (instance) (ticketing_outbox_depth)', legend: 'outbox {{instance}}' },
        ],
      },
      {
        title: 'Batch sizes',
        description: 'Commands per Kafka produce request (ticketing) and per decided slice (reservation); bigger under load, capped by KAFKA_PRODUCE_BATCH_MAX and RESERVATION_BATCH_MAX.',
        unit: 'short',
        queries: [
          { expr: `histogram_quantile(0.5, sum by (le) (rate(ticketing_kafka_produce_batch_records_bucket[${rateWindow}])))`, legend: 'produce p50' },
          { expr: `histogram_quantile(0.5, sum by (le) (rate(ticketing_reservation_slice_commands_bucket[${rateWindow}])))`, legend: 'slice p50' },
          { expr: `histogram_quantile(0.99, sum by (le) (rate(ticketing_reservation_slice_commands_bucket[${rateWindow}])))`, legend: 'slice p99' },
        ],
      },
    ],
  },
  {
    title: 'Errors',
    panels: [
      {
        title: 'Error ratio',
        description: 'Share of responses with status 5xx (503 is load shedding or a dependency down) and 4xx.',
        unit: 'percentunit',
        queries: [
          {
            expr: `sum(rate(ticketing_http_request_duration_seconds_count{status=~"5.."}[${rateWindow}])) / clamp_min(sum(rate(ticketing_http_request_duration_seconds_count[${rateWindow}])), 1e-9)`,
            legend: '5xx',
          },
          {
            expr: `sum(rate(ticketing_http_request_duration_seconds_count{status=~"4.."}[${rateWindow}])) / clamp_min(sum(rate(ticketing_http_request_duration_seconds_count[${rateWindow}])), 1e-9)`,
            legend: '4xx',
          },
        ],
      },
      {
        title: 'Errors per second by code',
        description: 'Error answers by route and stable code (OVERLOADED, DEPENDENCY_UNAVAILABLE, RATE_LIMITED, EVENT_NOT_ON_SALE, …).',
        unit: 'reqps',
        stack: true,
        queries: [{ expr: `sum by (route, code) (rate(ticketing_http_errors_total[${rateWindow}]))`, legend: '{{route}} {{code}}' }],
      },
      {
        title: 'Consumer trouble',
        description: 'Poison commands skipped, slices decided again after a conflicting writer, failed payment attempts. All should be zero.',
        unit: 'ops',
        queries: [
          { expr: `sum(rate(ticketing_reservation_poison_total[${rateWindow}]))`, legend: 'poison' },
          { expr: `sum(rate(ticketing_reservation_conflicts_total[${rateWindow}]))`, legend: 'conflicts' },
          { expr: `sum(rate(ticketing_payments_total{outcome="failed"}[${rateWindow}]))`, legend: 'payment failures' },
        ],
      },
    ],
  },
  {
    title: 'Dependencies',
    panels: [
      {
        title: 'Postgres p99 by operation',
        description: 'Round trips by prepared statement (reservation.write-plan is the slice) or first SQL keyword.',
        unit: 's',
        queries: [{ expr: `histogram_quantile(0.99, sum by (le, service, operation) (rate(ticketing_postgres_query_duration_seconds_bucket[${rateWindow}])))`, legend: '{{service}} {{operation}}' }],
      },
      {
        title: 'Redis p99 by command',
        description: 'Commands from the moment the client sends them (pipelined and auto-pipelined included).',
        unit: 's',
        queries: [{ expr: `histogram_quantile(0.99, sum by (le, service, command) (rate(ticketing_redis_command_duration_seconds_bucket[${rateWindow}])))`, legend: '{{service}} {{command}}' }],
      },
      {
        title: 'Holds expiring per second',
        description: 'Holds the sweepers found run out and sent to their partition, and the expiries decided.',
        unit: 'ops',
        queries: [
          { expr: `sum(rate(ticketing_holds_expiry_requested_total[${rateWindow}]))`, legend: 'requested' },
          { expr: `sum(rate(ticketing_bookings_decided_total{status="EXPIRED"}[${rateWindow}]))`, legend: 'expired' },
        ],
      },
    ],
  },
  {
    title: 'Live updates (SSE)',
    panels: [
      {
        title: 'Open SSE streams',
        description: 'Per ticketing instance; at SSE_CONNECTIONS_MAX new streams get 503.',
        unit: 'short',
        stack: true,
        queries: [{ expr: 'sum by (instance) (ticketing_sse_open_streams)', legend: '{{instance}}' }],
      },
      {
        title: 'SSE messages per second',
        description: 'Messages written, by stream kind.',
        unit: 'ops',
        stack: true,
        queries: [{ expr: `sum by (stream) (rate(ticketing_sse_messages_total[${rateWindow}]))`, legend: '{{stream}}' }],
      },
      {
        title: 'Requests per second by route',
        description: 'Every route, including health checks and SSE connects.',
        unit: 'reqps',
        stack: true,
        queries: [{ expr: `sum by (method, route) (rate(ticketing_http_request_duration_seconds_count[${rateWindow}]))`, legend: '{{method}} {{route}}' }],
      },
    ],
  },
  {
    title: 'Processes',
    panels: [
      {
        title: 'Event-loop lag p99',
        description: 'Above ~1 s the ticketing service sheds load with 503.',
        unit: 's',
        queries: [{ expr: 'max by (service, instance) (ticketing_nodejs_eventloop_lag_p99_seconds)', legend: '{{service}} {{instance}}' }],
      },
      {
        title: 'Resident memory',
        description: 'RSS per process.',
        unit: 'bytes',
        queries: [{ expr: 'sum by (service, instance) (ticketing_process_resident_memory_bytes)', legend: '{{service}} {{instance}}' }],
      },
      {
        title: 'CPU',
        description: 'CPU seconds per second per process (1 = one core).',
        unit: 'short',
        queries: [{ expr: `sum by (service, instance) (rate(ticketing_process_cpu_seconds_total[${rateWindow}]))`, legend: '{{service}} {{instance}}' }],
      },
      {
        title: 'Reservation instances',
        description: 'Instances Prometheus scrapes successfully.',
        unit: 'short',
        queries: [{ expr: 'sum(up{job="reservation-service"})', legend: 'up' }],
      },
    ],
  },
];

const prometheus = { type: 'prometheus', uid: 'prometheus' };

function timeseries(panel: Panel, id: number, gridPos: object) {
  return {
    id,
    type: 'timeseries',
    title: panel.title,
    description: panel.description,
    datasource: prometheus,
    gridPos,
    fieldConfig: {
      defaults: {
        unit: panel.unit,
        min: 0,
        custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: panel.stack ? 20 : 0, stacking: { mode: panel.stack ? 'normal' : 'none' } },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: panel.queries.map((query, index) => ({
      datasource: prometheus,
      refId: String.fromCharCode(65 + index),
      expr: query.expr,
      legendFormat: query.legend,
      range: true,
    })),
  };
}

export function buildDashboard() {
  const panels: object[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: gridWidth, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    const defaultWidth = Math.floor(gridWidth / row.panels.length);
    for (const panel of row.panels) {
      const width = panel.width ?? defaultWidth;
      if (x + width > gridWidth) {
        x = 0;
        y += panelHeight;
      }
      panels.push(timeseries(panel, id++, { h: panelHeight, w: width, x, y }));
      x += width;
    }
    y += panelHeight;
  }
  return {
    uid: 'ticketing-onsale',
    title: 'Ticketing: on-sale',
    description: 'An on-sale: throughput, latency percentiles, consumer lag, errors, seats left per event, dependencies and processes.',
    tags: ['ticketing'],
    timezone: 'browser',
    editable: false,
    graphTooltip: 1,
    refresh: '5s',
    time: { from: 'now-15m', to: 'now' },
    schemaVersion: 39,
    version: 1,
    templating: { list: [] },
    annotations: { list: [] },
    panels,
  };
}

export const dashboardPath = fileURLToPath(new URL('dashboards/ticketing.json', import.meta.url));

export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(dashboardPath, renderDashboard());
  console.log(`wrote ${dashboardPath}`);
}
