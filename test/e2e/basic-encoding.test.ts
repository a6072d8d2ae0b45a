// client_secret_basic encodings, checked on the Authorization header that reached the IdP. RFC 6749 §2.3.1
// form-urlencodes client_id and secret before base64: `form` (the default) as URLSearchParams does, `strict` also
// encoding -_.!~*'(); `raw` sends them as they are, for servers that do not decode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { downstreamClient, oidc } from '../support/downstream.js';
import { startIdp, type Idp } from '../support/idp.js';

// RFC 6749 secrets are printable ASCII; oidc-provider rejects anything else at registration.
const ID = 'we:ird+id%&x y';
const SECRET = 'se:cr+et%&! 2';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

let idp: Idp;
let bridge: Bridge;
beforeAll(async () => {
  idp = await startIdp({
    clients: [
      { client_id: ID, client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: 'plain-id', client_secret: 'raw: & ! spaced secret', token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: 'cli-basic.v2_~x', client_secret: 'a-b.c_d~e*f', token_endpoint_auth_method: 'client_secret_basic' },
    ],
  });
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: idp.issuer,
        tokenEndpoint: idp.tokenEndpoint,
        clients: [
          {
            clientId: 'enc-strict',
            clientSecret: 'd1',
            upstream: { method: 'client_secret_basic', clientId: ID, clientSecret: SECRET, basicEncoding: 'strict' },
          },
          { clientId: 'enc-form', clientSecret: 'd4', upstream: { method: 'client_secret_basic', clientId: 'cli-basic.v2_~x', clientSecret: 'a-b.c_d~e*f' } },
          {
            clientId: 'enc-strict2',
            clientSecret: 'd5',
            upstream: { method: 'client_secret_basic', clientId: 'cli-basic.v2_~x', clientSecret: 'a-b.c_d~e*f', basicEncoding: 'strict' },
          },
          { clientId: 'enc-raw', clientSecret: 'd2', upstream: { method: 'client_secret_basic', clientId: ID, clientSecret: SECRET, basicEncoding: 'raw' } },
          {
            clientId: 'raw-ok',
            clientSecret: 'd3',
            upstream: { method: 'client_secret_basic', clientId: 'plain-id', clientSecret: 'raw: & ! spaced secret', basicEncoding: 'raw' },
          },
          { clientId: ID, upstream: { method: 'client_secret_basic' } }, // passthrough with the same awkward credentials
        ],
      },
    },
  });
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
});

async function exchange(clientId: string, secret: string, inbound: 'post' | 'basic' = 'post') {
  idp.clearCaptured();
  const res = await oidc.clientCredentialsGrant(downstreamClient(idp, `${bridge.url}/idp/token`, clientId, secret, { inbound })).catch((e: unknown) => e);
  expect(idp.captured).toHaveLength(1);
  return { res, seen: idp.captured[0]! };
}

describe('outbound client_secret_basic encodings', () => {
  it('form (the default): -._* stay as they are, ~ is %7E; the IdP decodes and accepts it', async () => {
    const { seen } = await exchange('enc-form', 'd4');
    expect(seen.authorization).toBe(`Basic ${b64('cli-basic.v2_%7Ex:a-b.c_d%7Ee*f')}`);
    expect(seen.status).toBe(200);
  });

  it('strict: -_.~* encoded too; a decoding IdP accepts it as well', async () => {
    const { seen } = await exchange('enc-strict2', 'd5');
    expect(seen.authorization).toBe(`Basic ${b64('cli%2Dbasic%2Ev2%5F%7Ex:a%2Db%2Ec%5Fd%7Ee%2Af')}`);
    expect(seen.status).toBe(200);
  });

  it('strict: form-urlencoded before base64, and the IdP accepts it', async () => {
    const { seen } = await exchange('enc-strict', 'd1');
    expect(seen.authorization).toBe(`Basic ${b64('we%3Aird%2Bid%25%26x+y:se%3Acr%2Bet%25%26%21+2')}`);
    expect(seen.status).toBe(200);
    expect(seen.rawBody).not.toContain('client_secret');
  });

  it('raw: base64 of id:secret exactly as configured', async () => {
    const { seen } = await exchange('enc-raw', 'd2');
    expect(seen.authorization).toBe(`Basic ${b64(`${ID}:${SECRET}`)}`);
    // oidc-provider decodes per RFC 6749, so raw credentials with `:` `+` `%` in them cannot match there
    expect(seen.status).toBeGreaterThanOrEqual(400);
  });

  it('raw: accepted by the IdP when the credentials need no encoding to survive decoding', async () => {
    const { seen } = await exchange('raw-ok', 'd3');
    expect(seen.authorization).toBe(`Basic ${b64('plain-id:raw: & ! spaced secret')}`);
    expect(seen.status).toBe(200);
  });
});

describe('inbound credentials with the same characters', () => {
  it.each(['post', 'basic'] as const)('client_secret_%s in, decoded and re-encoded for the IdP (passthrough)', async (inbound) => {
    const { seen } = await exchange(ID, SECRET, inbound);
    expect(seen.authorization).toBe(`Basic ${b64('we%3Aird%2Bid%25%26x+y:se%3Acr%2Bet%25%26%21+2')}`);
    expect(seen.status).toBe(200);
  });
});
