// The answers of GET|POST /{upstream}/authorize (http/authorize-answers.ts), each through a hono route in process.
import { Hono, type Context } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../../src/http/context.js';
import { errorResponseAt, escapeHtml, redirect, type ResponseTarget } from '../../../src/http/authorize-answers.js';

const target = (over: Partial<ResponseTarget> = {}): ResponseTarget => ({
  redirectUri: 'https://broker.example.com/cb?tenant=a',
  responseMode: 'query',
  state: 's 1',
  iss: 'https://idp.example.com',
  ...over,
});
function serve(answer: (c: Context<AppEnv>) => Response) {
  const app = new Hono<AppEnv>();
  app.all('/', (c) => {
    c.set('requestId', 'rid-1');
    c.set('facts', {});
    return answer(c);
  });
  return app;
}

describe('errorResponseAt', () => {
  it('adds error, error_description, state and iss to the redirect URI as registered; 302 after a GET, 303 after a POST', async () => {
    const app = serve((c) => errorResponseAt(c, target(), 'access_denied', 'no'));
    for (const [method, status] of [
      ['GET', 302],
      ['POST', 303],
    ] as const) {
      const res = await app.request('/', { method });
      expect(res.status).toBe(status);
      expect(res.headers.get('location')).toBe(
        'https://broker.example.com/cb?tenant=a&error=access_denied&error_description=no&state=s+1&iss=https%3A%2F%2Fidp.example.com',
      );
      expect(res.headers.get('x-request-id')).toBe('rid-1');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('an error_description outside RFC 6749 §4.1.2.1 characters has them replaced; no state, no state parameter', async () => {
    const res = await serve((c) => errorResponseAt(c, target({ state: undefined }), 'server_error', 'say "§3" \\ ünïcode')).request('/');
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error_description')).toBe('say ??3? ? ?n?code');
    expect(location.searchParams.has('state')).toBe(false);
  });

  it('fragment mode: the parameters as the fragment', async () => {
    const res = await serve((c) => errorResponseAt(c, target({ responseMode: 'fragment' }), 'server_error')).request('/');
    expect(res.headers.get('location')).toBe('https://broker.example.com/cb?tenant=a#error=server_error&state=s+1&iss=https%3A%2F%2Fidp.example.com');
  });
});

describe('redirect and escapeHtml', () => {
  it('redirect: the location as given', async () => {
    const res = await serve((c) => redirect(c, 'https://idp.example.com/auth?client_id=x&request_uri=urn%3Ay')).request('/');
    expect(res.headers.get('location')).toBe('https://idp.example.com/auth?client_id=x&request_uri=urn%3Ay');
  });
  it('escapeHtml: the five characters that matter in an attribute or text', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });
});
