import type { TraceExport } from './settings.ts';

// The AWS Distro for OpenTelemetry collector that runs beside each service in its task:
//  - traces: the service exports OTLP/HTTP to 127.0.0.1:4318; the collector batches them and
//    sends them to X-Ray, or to an OTLP endpoint such as a Jaeger collector;
//  - metrics: it scrapes the service's Prometheus /metrics and publishes a chosen few to
//    CloudWatch (as embedded-metric-format logs), so alarms and dashboards can use them.
//    Only the listed series become CloudWatch metrics: each one is billed.

export const adotImage = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1';
export const cloudWatchNamespace = 'Ticketing';
const scrapeIntervalS = 30;

export const exportedMetrics = [
  'ticketing_bookings_accepted_total',
  'ticketing_http_request_duration_seconds_count',
  'ticketing_kafka_producer_queued',
  'ticketing_sse_open_streams',
  'ticketing_reservation_commands_total',
  'ticketing_nodejs_eventloop_lag_p99_seconds',
] as const;

export function adotConfig(options: { service: string; metricsPort: number; metricsLogGroup: string; traces: TraceExport }): string {
  const traceExporter = options.traces.kind === 'xray' ? 'awsxray' : 'otlphttp';
  const exporterConfig = options.traces.kind === 'xray'
    ? ['  awsxray:', '    indexed_attributes: [booking.id, event.id]']
    : ['  otlphttp:', `    endpoint: ${options.traces.endpoint}`];
  return [
    'extensions:',
    '  health_check:',
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      grpc:',
    '        endpoint: 127.0.0.1:4317',
    '      http:',
    '        endpoint: 127.0.0.1:4318',
    '  prometheus:',
    '    config:',
    '      scrape_configs:',
    `        - job_name: ${options.service}`,
    `          scrape_interval: ${scrapeIntervalS}s`,
    '          static_configs:',
    `            - targets: ["127.0.0.1:${options.metricsPort}"]`,
    'processors:',
    '  batch:',
    '  resourcedetection:',
    '    detectors: [env, ecs]',
    'exporters:',
    ...exporterConfig,
    '  awsemf:',
    `    namespace: ${cloudWatchNamespace}`,
    `    log_group_name: ${options.metricsLogGroup}`,
    '    dimension_rollup_option: NoDimensionRollup',
    '    metric_declarations:',
    '      - dimensions: [[service]]',
    '        metric_name_selectors:',
    ...exportedMetrics.map((name) => `          - "^${name}$"`),
    'service:',
    '  extensions: [health_check]',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      processors: [resourcedetection, batch]',
    `      exporters: [${traceExporter}]`,
    '    metrics:',
    '      receivers: [prometheus]',
    '      processors: [resourcedetection, batch]',
    '      exporters: [awsemf]',
    '',
  ].join('\n');
}
