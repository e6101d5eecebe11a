import closeWithGrace from 'close-with-grace';
import { loadConfig } from '@ticketing/shared/config';
import { createLogger } from '@ticketing/shared/telemetry/logger';
import { stopTracing } from '@ticketing/shared/telemetry/tracing';
import { startReservationService } from './service.ts';

const config = loadConfig();
const logger = createLogger({ name: 'reservation-service', level: config.logLevel });
try {
  const service = await startReservationService(config, logger);
  closeWithGrace({ delay: 20_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    await service.stop();
    // Last, so the spans of the shutdown itself are exported too.
    await stopTracing().catch((error: unknown) => logger.warn({ err: error }, 'exporting the last spans failed'));
  });
} catch (error) {
  logger.fatal({ err: error }, 'reservation service failed to start');
  process.exit(1);
}
