/**
 * `npm run demo`: the whole job on loopback, in one process tree.
 *   broker (openid-client, client_secret_post) → authbridge (memory store) → IdP (oidc-provider, private_key_jwt)
 * The IdP fetches authbridge's JWKS to verify the assertion. Each hop is printed, then the token's claims.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { startFromFile } from '../src/lifecycle/proxy.js';
import { createLogger } from '../src/log.js';
import { listenIdp } from '../test/support/idp.js';
import { writeKeyFile } from '../test/support/keys.js';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (n: number, title: string) => console.log(`\n${bold(`${n}. ${title}`)}`);
const show = (value: unknown) => console.log(JSON.stringify(value, null, 2).replace(/^/gm, '   '));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-demo-'));
  const keyFile = writeKeyFile('ec-p256', 'pem', dir);
  const brokerSecret = randomBytes(24).toString('base64url');
  process.env.DEMO_BROKER_SECRET = brokerSecret;
  process.env.DEMO_KEY_FILE = keyFile;

  // Both on ports the kernel picks: the IdP listens first (authbridge's config names its issuer), authbridge
  // starts, then the IdP registers the client whose jwks_uri is authbridge's real URL.
  const pendingIdp = await listenIdp({ apiAudience: 'urn:demo:api' });
  const configFile = join(dir, 'authbridge.yaml');
  writeFileSync(
    configFile,
    `server: { host: 127.0.0.1, port: 0, metricsPort: 0 }
store: { type: memory }
upstreams:
  acme:
    issuer: ${pendingIdp.issuer}
    clients:
      - clientId: broker
        clientSecret: \${DEMO_BROKER_SECRET}
        grantTypes: [client_credentials]
        upstream:
          clientId: acme-upstream
          method: private_key_jwt
          alg: ES256
          key:
            file: \${DEMO_KEY_FILE}
      # an M2M service whose tokens are cached: one IdP request per token lifetime (docs/token-cache.md)
      - clientId: billing
        clientSecret: \${DEMO_BROKER_SECRET}
        grantTypes: [client_credentials]
        tokenCache: { enabled: true }
        upstream: { clientId: acme-upstream, method: private_key_jwt, alg: ES256, key: { file: \${DEMO_KEY_FILE} } }
`,
  );
  const logLines: string[] = [];
  const log = createLogger({ destination: new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }) });
  const bridge = await startFromFile(configFile, { log });
  const bridgeUrl = bridge.url;
  const idp = await pendingIdp.start([
    {
      client_id: 'acme-upstream',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridgeUrl}/acme/jwks.json`,
    },
  ]);
  step(1, `A local IdP (oidc-provider) at ${idp.issuer}`);
  console.log(`   client "acme-upstream" must authenticate with private_key_jwt; its jwks_uri is ${bridgeUrl}/acme/jwks.json`);
  step(2, `authbridge at ${bridge.url} (memory store), config ${configFile}:`);
  console.log(`   upstream "acme": broker --client_secret_post--> authbridge --private_key_jwt (ES256)--> IdP`);
  const jwks = (await (await fetch(`${bridgeUrl}/acme/jwks.json`)).json()) as { keys: { kid: string; alg: string }[] };
  console.log(`   JWKS published for the IdP: ${jwks.keys.map((k) => `${k.alg} kid=${k.kid}`).join(', ')}`);

  step(3, 'The broker asks for a token with client_secret_post (openid-client)');
  const tokenUrl = `${bridgeUrl}/acme/token`;
  const server: oidc.ServerMetadata = { issuer: idp.issuer, token_endpoint: tokenUrl };
  const config = new oidc.Configuration(server, 'broker', {}, oidc.ClientSecretPost(brokerSecret));
  oidc.allowInsecureRequests(config); // loopback http, demo only
  console.log(`   POST ${tokenUrl}  grant_type=client_credentials&client_id=broker&client_secret=[${brokerSecret.length} chars]`);
  const tokens = await oidc.clientCredentialsGrant(config, { resource: 'urn:demo:api' });

  step(4, 'What reached the IdP (captured on its side)');
  const seen = idp.captured.at(-1)!;
  console.log(
    `   POST ${seen.path}  Authorization header: ${seen.authorization ? 'present' : 'none'}, client_secret in body: ${'client_secret' in seen.params ? 'yes' : 'no'}`,
  );
  console.log(`   client_assertion_type=${String(seen.params.client_assertion_type)}`);
  console.log('   client_assertion, decoded (header, claims):');
  show({ header: seen.assertion!.header, claims: seen.assertion!.claims });
  console.log(`   the IdP answered ${seen.status}`);

  step(5, "The broker got the IdP's token response, unaltered");
  console.log(`   token_type=${tokens.token_type}, expires_in=${tokens.expires_in}`);
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(idp.jwksUri)), { issuer: idp.issuer });
  console.log(`   access token claims (signature verified against the IdP's JWKS, alg ${protectedHeader.alg}):`);
  show(payload);

  step(6, 'A wrong broker secret never reaches the IdP');
  const before = idp.captured.length;
  const bad = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=broker&client_secret=wrong',
  });
  console.log(`   ${bad.status} ${await bad.text()}  (requests at the IdP: ${idp.captured.length - before})`);

  step(7, 'The token cache: an M2M client (billing, tokenCache enabled) asks five times');
  const atIdp = idp.captured.length;
  for (let i = 1; i <= 5; i++) {
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=billing&client_secret=${encodeURIComponent(brokerSecret)}&resource=urn%3Ademo%3Aapi`,
    });
    const body = (await res.json()) as { expires_in?: number };
    console.log(`   call ${i}: ${res.status}  Cache-Status: ${res.headers.get('cache-status')}  expires_in=${body.expires_in}`);
    if (i === 3) await new Promise((r) => setTimeout(r, 1100)); // a second later: expires_in counts down
  }
  console.log(`   requests at the IdP for these five calls: ${idp.captured.length - atIdp}`);

  step(8, "authbridge's access log for these requests (no secret, assertion or token in it)");
  for (const line of logLines) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.msg === 'request') console.log(`   ${line.trim()}`);
  }

  await bridge.stop();
  await idp.close();
  console.log(`\n${bold('Done:')} client_secret_post in, private_key_jwt out, token delivered; cached for the M2M client.`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('demo failed:', err);
    process.exit(1);
  },
);
