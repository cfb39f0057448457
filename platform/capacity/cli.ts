/**
 * make capacity RATE=<events/s> [SYSTEM=banking]: the plan of model.ts for that rate, with its inputs
 * (docs/capacity.md).
 */
import { formatPlan, plan } from './model.ts';
import { PLATFORM_COSTS, SYSTEMS } from './profiles.ts';

const rate = Number(process.env.RATE ?? process.argv[2]);
const name = process.env.SYSTEM || process.argv[3] || 'banking';
const system = SYSTEMS[name];
if (!(rate > 0) || system === undefined) {
  process.stderr.write(
    `usage: make capacity RATE=<events/s> [SYSTEM=${Object.keys(SYSTEMS).join('|')}] (got RATE=${process.env.RATE ?? ''} SYSTEM=${name})\n`,
  );
  process.exit(64);
}
process.stdout.write(formatPlan(plan(rate, system, PLATFORM_COSTS), system, PLATFORM_COSTS));
