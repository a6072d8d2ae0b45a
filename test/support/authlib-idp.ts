// A real OAuth 2.0 token endpoint that does not form-decode Basic credentials: Authlib 1.2 (Debian's python3-authlib,
// with python3-flask) run by Debian's python3 (test/support/authlib-idp.py). A suite that starts it says
// needs('authlib', 'flask') (system-tools.ts).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./authlib-idp.py', import.meta.url));
/** Debian's interpreter, which sees Debian's python3-* packages (a pyenv python3 earlier on PATH does not). */
const PYTHON = '/usr/bin/python3';

export interface AuthlibIdp {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  /** the Authorization headers that reached it and its answers, in order */
  captured(): Promise<{ authorization: string | null; status: number }[]>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the Authlib token endpoint on a loopback port with these clients (client_id → secret, Basic only). */
export async function startAuthlibIdp(clients: Record<string, string>): Promise<AuthlibIdp> {
  const child = spawn(PYTHON, [SCRIPT, JSON.stringify(clients)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\d+)\n/.exec(out);
      if (line) resolve(Number(line[1]));
    });
    child.once('exit', (code) => reject(new Error(`authlib-idp.py exited (${code}): ${stderr.slice(-2000)}`)));
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    issuer: origin,
    tokenEndpoint: `${origin}/token`,
    captured: async () => (await fetch(`${origin}/captured`)).json() as Promise<{ authorization: string | null; status: number }[]>,
    clear: async () => void (await fetch(`${origin}/captured`, { method: 'DELETE' })),
    close: async () => {
      if (child.exitCode !== null) return;
      child.kill();
      await once(child, 'exit');
    },
  };
}
