import { readFile, stat } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { AuthbridgeError, OAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import { CLIENT_ASSERTION_TYPE } from './assertion.js';
import type { OutboundAuth } from './types.js';

/**
 * A token this close to its `exp` counts as expired. It is sent after this check, crosses the network (up to the
 * upstream's timeoutMs) and is checked against the IdP's clock: with 5 s left it would often arrive dead, and the
 * IdP's refusal (invalid_client, 401) would look like a wrong registration. A platform refreshes its tokens long
 * before that (kubelet at 80 % of the lifetime, SPIRE at half), so a token in its last seconds means the platform
 * stopped writing: a 503 saying so is the honest answer.
 */
export const ASSERTION_EXPIRY_MARGIN_SECONDS = 5;

export interface JwtBearerAssertionOptions {
  readonly upstream: string;
  /** the client_id registered at the IdP (sent as client_id) */
  readonly clientId: string;
  /** the downstream client (log lines) */
  readonly client: string;
  /** the file the platform writes the token to (a projected service-account token, a JWT-SVID) */
  readonly file: string;
  readonly log?: Logger;
  /** ms since the epoch; default Date.now */
  readonly now?: () => number;
}

/** What identifies one version of the file: Kubernetes swaps a `..data` symlink, an atomic rename changes the inode. */
interface Version {
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

interface Cached {
  readonly version: Version;
  readonly token: string;
  /** the token's exp, seconds since the epoch */
  readonly exp: number;
}

/** Why the assertion cannot be used: for the log line (never the token itself). */
class Unavailable extends AuthbridgeError<'ERR_ASSERTION_FILE'> {
  constructor(message: string) {
    super('ERR_ASSERTION_FILE', message);
  }
}

const sameVersion = (a: Version, b: Version) => a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

/**
 * RFC 7521 §4.2 / RFC 7523 §2.2 with an assertion someone else issues: workload identity federation (Entra ID,
 * Google, AWS). The platform writes a JWT to a file and rotates it; authbridge sends it as it is as the
 * client_assertion, never signs or verifies it (the IdP does), and reads only its `exp`.
 *
 * The file is read on first use and cached with its inode, size, mtime and ctime (followed through symlinks); every
 * request stats it (one syscall) and re-reads it when it changed, or when the cached token has expired. A missing,
 * unreadable, malformed or expired token answers 503 temporarily_unavailable (ERR_ASSERTION_UNAVAILABLE) and
 * logs why, with the path; the token never appears in a log line or an error.
 */
export function jwtBearerAssertion(opts: JwtBearerAssertionOptions): OutboundAuth {
  const now = opts.now ?? Date.now;
  const log = opts.log?.child({ client: opts.client });
  let cached: Cached | undefined;

  async function current(): Promise<string> {
    let version: Version;
    try {
      const s = await stat(opts.file, { bigint: true });
      if (!s.isFile()) throw new Unavailable('not a regular file');
      version = { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
    } catch (err) {
      throw err instanceof Unavailable ? err : new Unavailable(fsProblem(err));
    }
    if (!cached || !sameVersion(cached.version, version) || expired(cached.exp)) cached = await load(version);
    if (expired(cached.exp))
      throw new Unavailable(
        `the token expired at ${new Date(cached.exp * 1000).toISOString()} (or is within ${ASSERTION_EXPIRY_MARGIN_SECONDS} s of it) and the file has not been rewritten`,
      );
    return cached.token;
  }

  const expired = (exp: number) => exp - ASSERTION_EXPIRY_MARGIN_SECONDS <= now() / 1000;

  async function load(version: Version): Promise<Cached> {
    let text: string;
    try {
      text = (await readFile(opts.file, 'utf8')).trim();
    } catch (err) {
      throw new Unavailable(fsProblem(err));
    }
    if (text === '') throw new Unavailable('the file is empty');
    let exp: unknown;
    try {
      exp = decodeJwt(text).exp;
    } catch {
      throw new Unavailable('the file does not hold a JWT (three base64url parts with a JSON claims set)');
    }
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new Unavailable('the token has no exp claim');
    return { version, token: text, exp };
  }

  return {
    method: 'jwt_bearer_assertion',
    clientId: opts.clientId,
    async apply({ body }, context) {
      let token: string;
      try {
        token = await current();
      } catch (err) {
        if (!(err instanceof Unavailable)) throw err;
        log?.error(
          { requestId: context.requestId, file: opts.file, problem: err.message, code: 'ERR_ASSERTION_UNAVAILABLE' },
          'jwt_bearer_assertion: the client assertion file cannot be used; check the volume the platform writes it to',
        );
        throw new OAuthError(
          503,
          'temporarily_unavailable',
          'authbridge has no valid client assertion for the IdP right now (see its log)',
          { 'retry-after': '5' },
          {
            code: 'ERR_ASSERTION_UNAVAILABLE',
          },
        );
      }
      body.set('client_id', opts.clientId);
      body.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
      body.set('client_assertion', token);
    },
  };
}

function fsProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'the file does not exist (is the projected token volume mounted?)';
    case 'EACCES':
    case 'EPERM':
      return 'the file is not readable by authbridge (permissions)';
    case 'EISDIR':
      return 'the path is a directory';
    default:
      return `the file cannot be read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}
