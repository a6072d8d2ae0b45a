// What an upstream says is input too: discovery documents of the wrong shape or pointing elsewhere, statuses
// outside HTTP's range, bodies that are not JSON. Each becomes a clear failure, never a crash or a relay.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { DiscoveryError, EndpointResolver } from '../../../src/upstream/discovery.js';
import { isJsonObjectBody } from '../../../src/upstream/forward.js';
import { UpstreamError } from '../../../src/upstream/failure.js';
import { UpstreamClient } from '../../../src/upstream/http.js';
import { serveHttp } from '../../support/local-http.js';

const log = createLogger({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
});

function http(): UpstreamClient {
  const client = new UpstreamClient({ timeoutMs: 2000 });
  cleanups.push(() => client.close());
  return client;
}

/** An IdP whose discovery document is exactly `text`. */
async function discovery(text: (origin: string) => string) {
  const local = await serveHttp((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(text(local.origin)));
  cleanups.push(() => local.close());
  return local;
}

const resolve = (issuer: string, allowedEndpointOrigins?: string[]) =>
  new EndpointResolver({ issuer, http: http(), log, methods: ['client_secret_basic'], allowedEndpointOrigins }).resolve();

async function failure(promise: Promise<unknown>): Promise<DiscoveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DiscoveryError);
  expect(err).toMatchObject({ code: 'ERR_DISCOVERY_FAILED' });
  return err as DiscoveryError;
}

describe('discovery documents of the wrong shape', () => {
  it.each(['null', '[]', '"a string"', '42', 'true'])('refuses the JSON value %s as not an object', async (doc) => {
    const idp = await discovery(() => doc);
    expect((await failure(resolve(idp.origin))).message).toBe('discovery document is not a JSON object');
  });

  it('quotes a mismatched issuer short and printable', async () => {
    const idp = await discovery(() => JSON.stringify({ issuer: `https://evil.example.com/${'x'.repeat(10_000)}\u0000\n`, token_endpoint: 'https://x/token' }));
    const { message } = await failure(resolve(idp.origin));
    expect(message.length).toBeLessThan(300);
    expect(message).toMatch(/^discovery issuer mismatch: expected http:\/\/127\.0\.0\.1:\d+, got https:\/\/evil\.example\.com\/x+…$/);
  });

  it('quotes a non-string issuer as JSON', async () => {
    const idp = await discovery(() => JSON.stringify({ issuer: { nested: true }, token_endpoint: 'https://x/token' }));
    expect((await failure(resolve(idp.origin))).message).toContain('got {"nested":true}');
  });
});

describe('discovered endpoints on another origin', () => {
  it("refuses a token_endpoint off the issuer's origin: the secret would go there", async () => {
    const idp = await discovery((origin) => JSON.stringify({ issuer: origin, token_endpoint: 'https://collector.example.net/token' }));
    const { message } = await failure(resolve(idp.origin));
    expect(message).toContain('https://collector.example.net');
    expect(message).toContain('allowedEndpointOrigins');
  });

  it('refuses another port of the same host', async () => {
    const idp = await discovery((origin) => JSON.stringify({ issuer: origin, token_endpoint: 'http://127.0.0.1:1/token' }));
    await failure(resolve(idp.origin));
  });

  it('accepts an origin the upstream lists in allowedEndpointOrigins', async () => {
    const idp = await discovery((origin) => JSON.stringify({ issuer: origin, token_endpoint: 'https://oauth2.example.net/token' }));
    expect(await resolve(idp.origin, ['https://oauth2.example.net'])).toBe('https://oauth2.example.net/token');
  });
});

describe('statuses outside 100–599', () => {
  it.each([999, 600, 99])('a %i status is a protocol failure, not a response', async (status) => {
    const server = createServer((socket) => {
      socket.once('data', () => socket.end(`HTTP/1.1 ${status} Odd\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/token`);
    const err = await http()
      .send({ method: 'POST', url, headers: {}, body: 'grant_type=client_credentials' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'protocol' });
  });
});

describe('isJsonObjectBody', () => {
  it.each([
    ['{"access_token":"x"}', true],
    [' \r\n\t{}', true],
    ['<html>502 Bad Gateway</html>', false],
    ['[{}]', false],
    ['', false],
    ['   ', false],
    ['null', false],
  ])('%j → %s', (text, expected) => {
    expect(isJsonObjectBody(Buffer.from(text))).toBe(expected);
  });
});
