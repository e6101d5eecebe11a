import closeWithGrace from 'close-with-grace';
import { loadConfig } from '@ticketing/shared/config';
import { createLogger } from '@ticketing/shared/telemetry/logger';
import { stopTracing } from '@ticketing/shared/telemetry/tracing';
import { startTicketingService } from './service.ts';

const config = loadConfig();
const logger = createLogger({ name: 'ticketing-service', level: config.logLevel });
try {
  const service = await startTicketingService(config, logger);
  closeWithGrace({ delay: 20_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    await service.stop();
    // Last, so the spans of the shutdown itself are exported too.
    await stopTracing().catch((error: unknown) => logger.warn({ err: error }, 'exporting the last spans failed'));
  });
} catch (error) {
  logger.fatal({ err: error }, 'ticketing service failed to start');
  process.exit(1);
}
