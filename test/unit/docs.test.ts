// docs/metrics.md and docs/errors.md are written from the code (npm run docs): this fails when they are stale.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS_DOC, METRICS_DOC, renderErrorsDoc, renderMetricsDoc } from '../../scripts/write-docs.js';
import { ERROR_CODES, reasonOf, type AnsweredCode } from '../../src/errors.js';

describe('generated docs', () => {
  it('docs/metrics.md is what npm run docs writes from the registry and the label constants', async () => {
    expect(readFileSync(METRICS_DOC, 'utf8')).toBe(await renderMetricsDoc());
  });

  it('docs/errors.md is what npm run docs writes from ERROR_CODES', async () => {
    expect(readFileSync(ERRORS_DOC, 'utf8')).toBe(await renderErrorsDoc());
  });

  it('every client_auth and upstream reason is a listed value of its label in docs/metrics.md', () => {
    const doc = readFileSync(METRICS_DOC, 'utf8');
    const row = (label: string) => doc.split('\n').find((l) => l.startsWith(`| \`${label}\` |`)) ?? '';
    for (const code of Object.keys(ERROR_CODES) as AnsweredCode[]) {
      const category = ERROR_CODES[code];
      if (category === 'request') continue;
      expect(row(category === 'client_auth' ? 'reason' : 'kind'), code).toContain(`\`${reasonOf(code)}\``);
    }
    expect(row('reason')).toContain('`secret_too_short`');
  });
});
