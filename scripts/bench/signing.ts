// `npm run bench -- --signing` (or `npx tsx scripts/bench/signing.ts`): what one client assertion's signature
// costs, per alg, with jose (SignJWT on a WebCrypto key, the libuv pool doing the math) against a compact JWS
// built with node's crypto.sign on the same key, synchronously on the calling thread and asynchronously on the
// pool. It decided how src/keys/node-signer.ts signs: the figures are ratios from one run, not absolutes.
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { importJWK, SignJWT, type JWK } from 'jose';

type Alg = 'ES256' | 'EdDSA' | 'PS256' | 'RS256';
const NODE_ALG: Record<Alg, { digest: string | null; options: (key: KeyObject) => KeyObject | Record<string, unknown> }> = {
  ES256: { digest: 'sha256', options: (key) => ({ key, dsaEncoding: 'ieee-p1363' }) },
  EdDSA: { digest: null, options: (key) => key },
  PS256: { digest: 'sha256', options: (key) => ({ key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }) },
  RS256: { digest: 'sha256', options: (key) => key },
};

function keyFor(alg: Alg): KeyObject {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

const claims = () => ({ iss: 'client', sub: 'client', aud: 'https://idp.example.com/oauth2/token', jti: 'x'.repeat(22), iat: 1, nbf: 1, exp: 61 });

interface Figures {
  perSecond: number;
  /** process CPU (event loop and thread pool) per signature */
  cpuUs: number;
  /** event-loop busy time per signature: what other requests wait for */
  loopUs: number;
}

/** Runs `one` until `seconds` are up, `inFlight` at a time. */
async function measure(one: () => Promise<unknown> | unknown, seconds: number, inFlight: number): Promise<Figures> {
  let done = 0;
  const cpu = process.cpuUsage();
  const loop = performance.eventLoopUtilization();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        await one();
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const busy = performance.eventLoopUtilization(loop).active * 1000; // ms → µs
  return { perSecond: done / elapsed, cpuUs: (used.user + used.system) / done, loopUs: busy / done };
}

export async function signingBench(seconds = 1): Promise<Record<Alg, Record<string, Figures>>> {
  const out = {} as Record<Alg, Record<string, Figures>>;
  for (const alg of ['ES256', 'EdDSA', 'PS256', 'RS256'] as const) {
    const key = keyFor(alg);
    const cryptoKey = await importJWK(key.export({ format: 'jwk' }) as JWK, alg);
    const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT', kid: 'k' })).toString('base64url');
    const { digest, options } = NODE_ALG[alg];
    const signingKey = options(createPrivateKey(key.export({ format: 'pem', type: 'pkcs8' })));
    const input = () => `${header}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`;
    const jose = () => new SignJWT(claims()).setProtectedHeader({ alg, typ: 'JWT', kid: 'k' }).sign(cryptoKey);
    const syncSign = () => {
      const data = input();
      return `${data}.${sign(digest, Buffer.from(data), signingKey as KeyObject).toString('base64url')}`;
    };
    const asyncSign = () =>
      new Promise<string>((resolve, reject) => {
        const data = input();
        sign(digest, Buffer.from(data), signingKey as KeyObject, (err, sig) => (err ? reject(err) : resolve(`${data}.${sig.toString('base64url')}`)));
      });
    for (const fn of [jose, syncSign, asyncSign]) await measure(fn, 0.2, 8); // warm-up
    out[alg] = {
      'jose (WebCrypto), 32 in flight': await measure(jose, seconds, 32),
      'crypto.sign sync': await measure(syncSign, seconds, 1),
      'crypto.sign async, 32 in flight': await measure(asyncSign, seconds, 32),
    };
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await signingBench(Number(process.argv[2] ?? 1));
  for (const [alg, rows] of Object.entries(result))
    for (const [how, r] of Object.entries(rows)) console.log(`${alg.padEnd(6)} ${how.padEnd(34)} ${Math.round(r.perSecond).toString().padStart(7)}/s  CPU ${Math.round(r.cpuUs).toString().padStart(4)} µs  event loop ${Math.round(r.loopUs).toString().padStart(4)} µs per signature`);
}
