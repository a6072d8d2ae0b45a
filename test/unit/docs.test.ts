// docs/metrics.md, docs/errors.md and docs/configuration.md are written from the code (npm run docs): this fails
// when they are stale.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONFIG_DOC, ERRORS_DOC, METRICS_DOC, renderConfigurationDoc, renderErrorsDoc, renderMetricsDoc } from '../../scripts/write-docs.js';
import { PROFILES } from '../../src/config/profiles.js';
import { PROFILE_NAMES } from '../../src/config/idp-profile.js';
import { configSchema } from '../../src/config/schema.js';
import { ERROR_CODES, reasonOf, type AnsweredCode } from '../../src/errors.js';

describe('generated docs', () => {
  it('docs/metrics.md is what npm run docs writes from the registry and the label constants', async () => {
    expect(readFileSync(METRICS_DOC, 'utf8')).toBe(await renderMetricsDoc());
  });

  it('docs/errors.md is what npm run docs writes from ERROR_CODES', async () => {
    expect(readFileSync(ERRORS_DOC, 'utf8')).toBe(await renderErrorsDoc());
  });

  it('docs/configuration.md is what npm run docs writes from the config schema', () => {
    expect(readFileSync(CONFIG_DOC, 'utf8')).toBe(renderConfigurationDoc());
  });

  it('docs/configuration.md has a row for every field, with its dotted path, and a subsection per outbound method', () => {
    const doc = readFileSync(CONFIG_DOC, 'utf8');
    for (const path of [
      'server.port',
      'store.redis.sentinels[].host',
      'keys.encryptionKey',
      'throttle.perClient',
      'upstreams.<name>.issuer',
      'upstreams.<name>.clients[].inbound.jwksUri',
    ])
      expect(doc).toContain(`| \`${path}\` |`);
    expect(doc).toMatch(/^\| `upstreams\.<name>\.clients\[\]\.upstream\.basicEncoding` \| one of `auto`, `form`, `strict`, `raw`, `rfc6749` \|/m);
    for (const method of [
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
      'tls_client_auth',
      'self_signed_tls_client_auth',
      'jwt_bearer_assertion',
      'auto',
    ])
      expect(doc).toContain(`\n### method: ${method}\n`);
    expect(doc).toContain('| `server.port` | integer 0–65535 | `8080` |');
  });

  it('every example in the config schema is valid where it stands', () => {
    const examples: { path: string; schema: z.core.$ZodType; example: unknown }[] = [];
    z.toJSONSchema(configSchema, {
      io: 'input',
      unrepresentable: 'any',
      override: ({ zodSchema, jsonSchema, path }) => {
        for (const example of jsonSchema.examples ?? []) examples.push({ path: path.join('/'), schema: zodSchema, example });
      },
    });
    expect(examples.length).toBeGreaterThan(10);
    for (const { path, schema, example } of examples) {
      // an env reference stands for the value (a KEK, a secret): the schema sees it only once substituted
      if (JSON.stringify(example).includes('${') && !(schema instanceof z.ZodObject)) continue;
      const result = z.safeParse(schema, example);
      expect(result.success, `${path}: ${JSON.stringify(example)} ${result.error?.message ?? ''}`).toBe(true);
    }
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

  // The profile table is written by hand from src/config/profile-rows.ts: each row must say what the code does.
  it('docs/idp-profiles.md has a row per profile: its IdP, its demands, its vendor documents and its settings', () => {
    const rows = readFileSync(new URL('../../docs/idp-profiles.md', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('| '));
    for (const name of PROFILE_NAMES.filter((n) => n !== 'generic')) {
      const p = PROFILES[name];
      const row = rows.find((l) => l.startsWith(`| ${p.idp} | ${p.demands} | \`${name}\` | `));
      expect(row, name).toBeDefined();
      const cells = row!.split(' | ');
      const [settings, docs] = [cells[3]!, cells[4]!];
      for (const d of p.docs) expect(docs, `${name}: ${d.url}`).toContain(`](${d.url})`);
      expect(settings, name).toMatch(new RegExp(`^\`${p.audience}\` · `));
      expect(settings, name).toContain(`· \`${p.basicEncoding}\``);
      if (p.signingAlgs.length === 0) continue;
      expect(settings, name).toContain(`**${p.defaultSigningAlg}**`);
      for (const alg of p.signingAlgs) expect(settings, `${name}: ${alg}`).toContain(alg);
      expect(settings, name).toContain(` · ${p.maxAssertionTtlSeconds} s · `);
    }
  });
});
