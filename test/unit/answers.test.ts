// CALLER_ANSWERS (src/http/answers.ts, the status and error columns of docs/errors.md) against what the code throws:
// every OAuthError made in src/ is read (test/support/throw-sites.ts) and must answer as the table says.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, invalidClient, invalidRequest, toOAuthError } from '../../src/errors.js';
import { CALLER_ANSWERS } from '../../src/http/answers.js';
import { scanThrowSites } from '../support/throw-sites.js';

const scan = scanThrowSites();
const listed = (code: string) => CALLER_ANSWERS[code as keyof typeof ERROR_CODES] ?? [];

describe('CALLER_ANSWERS', () => {
  it('reads the throw sites: literal ones, the helpers, their wrappers, and codes from a map', () => {
    const at = (code: string) => scan.sites.filter((s) => s.code === code);
    // new OAuthError(429, …) in inbound/auth-throttle.ts; invalidRequest; authenticationFailed (a wrapper of invalidClient)
    expect(at('ERR_THROTTLED')).toEqual([expect.objectContaining({ status: 429, error: 'temporarily_unavailable' })]);
    expect(at('ERR_CONTENT_TYPE')[0]).toMatchObject({ status: 400, error: 'invalid_request' });
    expect(at('ERR_BAD_SECRET')[0]).toMatchObject({ status: 401, error: 'invalid_client' });
    // a multi-line call, and codes read from UPSTREAM_CODES[err.kind] (upstream/forward.ts)
    expect(at('ERR_ASSERTION_UNAVAILABLE')[0]).toMatchObject({ status: 503 });
    expect(at('ERR_CONNECT')[0]).toMatchObject({ status: 502, error: 'temporarily_unavailable' });
    // a status chosen at run time (http/protocol-errors.ts)
    expect(at('ERR_MALFORMED_REQUEST').some((s) => s.status === undefined)).toBe(true);
    expect(scan.sites.length).toBeGreaterThan(80);
  });

  it('every OAuthError in src/ names its code where it is made (a literal, or a map of the same file)', () => {
    expect(scan.unresolved).toEqual([]);
    for (const site of scan.sites) expect(Object.keys(ERROR_CODES), site.at).toContain(site.code);
  });

  it('lists every status and error a throw site answers its code with', () => {
    for (const site of scan.sites) {
      // answered at run time, or one of a map's values (which the code may have answered before)
      if ((site.status === undefined && site.error === undefined) || site.mapped) continue;
      const matches = listed(site.code).filter(
        (a) => (site.status === undefined || a.status === site.status) && (site.error === undefined || a.error === site.error),
      );
      expect(
        matches.length,
        `${site.at}: ${site.code} answers ${site.status ?? '(a status chosen at run time)'} ${site.error}, not in CALLER_ANSWERS`,
      ).toBeGreaterThan(0);
    }
  });

  it('lists no answer that no throw site gives', () => {
    for (const [code, answers] of Object.entries(CALLER_ANSWERS))
      for (const answer of answers) {
        const given = scan.sites.some(
          (s) => s.code === code && (s.status === undefined || s.status === answer.status) && (s.error === undefined || s.error === answer.error),
        );
        expect(given, `${code}: ${answer.status} ${answer.error} is listed, but no site in src/ answers it`).toBe(true);
      }
  });

  it('a code with several answers says when each applies', () => {
    for (const [code, answers] of Object.entries(CALLER_ANSWERS)) if (answers.length > 1) for (const a of answers) expect(a.when, code).toBeTruthy();
  });

  it('agrees with the helpers themselves', () => {
    expect(invalidRequest('x', 'ERR_CONTENT_TYPE')).toMatchObject(listed('ERR_CONTENT_TYPE')[0]!);
    expect(invalidClient('x', 'ERR_BAD_SECRET')).toMatchObject(listed('ERR_BAD_SECRET')[0]!);
    expect(toOAuthError(new Error('boom'))).toMatchObject({ code: 'ERR_INTERNAL', ...listed('ERR_INTERNAL')[0] });
  });
});
