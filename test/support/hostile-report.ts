// The figures of the hostile suites, for `npm run test:hostile`'s table: one JSON line per case, appended to
// the file named by AUTHBRIDGE_HOSTILE_REPORT (nothing is written when it is not set, as in `npm test`).
import { appendFileSync } from 'node:fs';

export interface HostileFigure {
  /** which suite: property, faults, limits, … */
  suite: string;
  case: string;
  /** requests (or inputs) tried */
  requests: number;
  /** requests that got no answer at all */
  lost: number;
  status?: number;
  detail?: string;
}

export function reportHostile(figure: HostileFigure): void {
  const file = process.env.AUTHBRIDGE_HOSTILE_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(figure)}\n`);
}
