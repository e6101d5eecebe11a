import { parseArgs } from 'node:util';
import { loadConfig } from '@ticketing/shared/config';
import { createTokenSigner } from '../ticketing-service/src/plugins/tokens.ts';

// npm run token -- --sub alice --role buyer [--expires-in 3600]
const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    role: { type: 'string', default: 'buyer' },
    'expires-in': { type: 'string', default: String(12 * 3600) },
  },
});
if (!values.sub || (values.role !== 'buyer' && values.role !== 'organizer')) {
  console.error('usage: npm run token -- --sub <user id> --role buyer|organizer [--expires-in <seconds>]');
  process.exit(2);
}
const sign = createTokenSigner(loadConfig().auth.jwtSecret);
console.log(sign({ sub: values.sub, role: values.role, expiresInS: Number(values['expires-in']) }));
