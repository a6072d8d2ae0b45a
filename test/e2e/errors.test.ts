// Bad input gets a clear RFC 6749 §5.2 answer with the right status, and never reaches the IdP.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/outbound/client-secret-basic.js';
import { down, postForm, startScenario, type Scenario } from '../support/scenario.js';

let s: Scenario;
beforeAll(async () => {
  s = await startScenario();
});
afterAll(() => s?.stop());
beforeEach(() => s.idp.clearCaptured());

const cc = (clientId: string, secret: string) => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });

function expectOAuthError(res: Awaited<ReturnType<typeof postForm>>, status: number, error: string) {
  expect(res.status, res.text).toBe(status);
  expect(Object.keys(res.json).sort()).toEqual(['error', 'error_description']);
  expect(res.json.error).toBe(error);
  expect(res.json.error_description).toEqual(expect.any(String));
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
  expect(s.idp.captured, 'an error authbridge answers itself never reaches the IdP').toHaveLength(0);
}

describe('client authentication failures: 401 invalid_client, nothing sent upstream', () => {
  it('wrong downstream secret (client_secret_post)', async () => {
    const res = await postForm(s.tokenUrl(), cc('broker-es256', 'not-the-secret'));
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(s.idp.captured).toHaveLength(0);
  });

  it('wrong downstream secret via Basic answers with WWW-Authenticate: Basic', async () => {
    const res = await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basicAuthorization('broker-es256', 'nope', 'rfc6749') });
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="authbridge"/);
    expect(s.idp.captured).toHaveLength(0);
  });

  it('unknown client', async () => {
    expectOAuthError(await postForm(s.tokenUrl(), cc('who-is-this', 'x')), 401, 'invalid_client');
  });

  it('missing client authentication', async () => {
    expectOAuthError(await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }), 401, 'invalid_client');
    expectOAuthError(await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'broker-post' }), 401, 'invalid_client');
  });

  it('a client assertion from the caller is not an accepted inbound method', async () => {
    const res = await postForm(s.tokenUrl(), {
      grant_type: 'client_credentials',
      client_id: 'broker-post',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'e30.e30.x',
    });
    expectOAuthError(res, 401, 'invalid_client');
  });

  it('an unsupported Authorization scheme', async () => {
    const res = await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }, { authorization: 'Bearer abc' });
    expectOAuthError(res, 401, 'invalid_client');
  });
});

describe('malformed requests: 400 invalid_request', () => {
  it('two authentication mechanisms at once (RFC 6749 §2.3)', async () => {
    const res = await postForm(s.tokenUrl(), cc('broker-post', down('post')), { authorization: basicAuthorization('broker-post', down('post'), 'rfc6749') });
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('client_id in the body that differs from Basic', async () => {
    const res = await postForm(
      s.tokenUrl(),
      { grant_type: 'client_credentials', client_id: 'broker-es256' },
      { authorization: basicAuthorization('broker-post', down('post'), 'rfc6749') },
    );
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('a repeated parameter (RFC 6749 §3.2)', async () => {
    const res = await postForm(s.tokenUrl(), `grant_type=client_credentials&scope=a&scope=b&client_id=broker-post&client_secret=${down('post')}`);
    expectOAuthError(res, 400, 'invalid_request');
    expect(res.json.error_description).toBe('parameter scope is included more than once');
  });

  it('repeated resource parameters are allowed (RFC 8707) and forwarded', async () => {
    const res = await postForm(
      s.tokenUrl(),
      `grant_type=client_credentials&resource=urn%3Aa&resource=urn%3Ab&client_id=broker-post&client_secret=${down('post')}`,
    );
    expect(s.idp.captured[0]!.params.resource).toEqual(['urn:a', 'urn:b']);
    expect(res.status).toBe(s.idp.captured[0]!.status);
  });

  it('a malformed Basic header', async () => {
    expectOAuthError(await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }, { authorization: 'Basic !!!' }), 400, 'invalid_request');
    const noColon = `Basic ${Buffer.from('just-an-id').toString('base64')}`;
    expectOAuthError(await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }, { authorization: noColon }), 400, 'invalid_request');
  });

  it('wrong content type', async () => {
    const res = await fetch(s.tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(cc('broker-post', down('post'))),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: 'content type must be application/x-www-form-urlencoded' });
    expect(s.idp.captured).toHaveLength(0);
  });

  it('malformed percent-encoding', async () => {
    expectOAuthError(await postForm(s.tokenUrl(), 'grant_type=client_credentials&scope=%zz'), 400, 'invalid_request');
  });

  it('missing grant_type', async () => {
    expectOAuthError(await postForm(s.tokenUrl(), { client_id: 'broker-post', client_secret: down('post') }), 400, 'invalid_request');
  });

  it('GET on the token endpoint is 405', async () => {
    const res = await fetch(s.tokenUrl());
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('grant allow-list', () => {
  it("a grant outside the client's grantTypes is 400 unauthorized_client", async () => {
    const res = await postForm(s.tokenUrl(), { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'broker-cc-only', client_secret: down('cc-only') });
    expectOAuthError(res, 400, 'unauthorized_client');
    expect(s.idp.captured).toHaveLength(0);
  });

  it('a grant inside it goes through', async () => {
    expect((await postForm(s.tokenUrl(), cc('broker-cc-only', down('cc-only')))).status).toBe(200);
  });
});

describe('size, routing and upstream failures', () => {
  it('a body over maxBodyBytes is 413 (declared length)', async () => {
    const res = await postForm(s.tokenUrl(), `grant_type=client_credentials&pad=${'x'.repeat(5000)}`);
    expectOAuthError(res, 413, 'invalid_request');
  });

  it('a body over maxBodyBytes is 413 (chunked, no length declared)', async () => {
    const chunk = new TextEncoder().encode('a'.repeat(1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(s.tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('unknown upstream is 404', async () => {
    expectOAuthError(await postForm(`${s.bridge.url}/nowhere/token`, cc('broker-post', down('post'))), 404, 'invalid_request');
  });

  it('upstream down is 502', async () => {
    const res = await postForm(s.tokenUrl('down'), cc('c', 'x'));
    expectOAuthError(res, 502, 'temporarily_unavailable');
    expect(res.json.error_description).toBe('upstream token endpoint unreachable');
  });

  it('upstream slow is 504 after timeoutMs', async () => {
    const started = Date.now();
    const res = await postForm(s.tokenUrl('slow'), cc('c', 'x'));
    expectOAuthError(res, 504, 'temporarily_unavailable');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('discovery unreachable is 502, and a later request tries discovery again', async () => {
    expectOAuthError(await postForm(s.tokenUrl('nodisc'), cc('c', 'x')), 502, 'temporarily_unavailable');
    expectOAuthError(await postForm(s.tokenUrl('nodisc'), cc('c', 'x')), 502, 'temporarily_unavailable');
  });

  it('health and readiness', async () => {
    expect(await (await fetch(`${s.bridge.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${s.bridge.url}/readyz`)).json()).toMatchObject({ status: 'ready', store: 'memory' });
  });

  it('an unknown path is a JSON 404', async () => {
    const res = await fetch(`${s.bridge.url}/a/b/c`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
