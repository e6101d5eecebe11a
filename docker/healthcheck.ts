// The container health check: `node docker/healthcheck.ts [path]`, exit 0 when the service
// answers 2xx on `path` (default /health/live). The images carry no curl or wget, and Node is
// already there. The port follows the same variables the services read, so an operator who
// moves a port does not have to move the check too.
//
// This runs outside the services and their config module, in a fresh process per probe, so it
// reads the environment directly and stays dependency-free.
const probeTimeoutMs = 3000;

const service = process.env.SERVICE ?? 'ticketing-service';
const port = service === 'reservation-service'
  ? process.env.RESERVATION_HTTP_PORT || '9464'
  : process.env.PORT || '3000';
const path = process.argv[2] ?? '/health/live';

try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(probeTimeoutMs) });
  if (!response.ok) console.error(`${path} answered ${response.status}: ${await response.text()}`);
  process.exitCode = response.ok ? 0 : 1;
} catch (error) {
  console.error(`${path} unreachable on port ${port}: ${(error as Error).message}`);
  process.exitCode = 1;
}
