// Child process of `npm run bench`: RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core (a
// synchronous crypto.sign loop of ~1 s after a short warm-up), the ceiling for RS256 assertions per core.
// Reports { signsPerSecond } over IPC.
import { generateKeyPairSync, sign } from 'node:crypto';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const data = Buffer.from('eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJiZW5jaCIsImp0aSI6IngifQ');
for (let i = 0; i < 50; i++) sign('sha256', data, privateKey);
let n = 0;
const started = performance.now();
while (performance.now() - started < 1000) {
  sign('sha256', data, privateKey);
  n++;
}
process.send?.({ signsPerSecond: (n * 1000) / (performance.now() - started) }, () => process.exit(0));
