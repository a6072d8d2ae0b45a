import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type * as Pkcs11js from 'pkcs11js';
import type { SigningAlg } from '../config/schema.js';
import { KeyLoadError } from './key-load-error.js';
import { joseSignature, type Signer } from './signer.js';
import type { SigningKey } from './signing-key.js';

/** `key: { pkcs11: … }`: a key in a PKCS#11 token (an HSM, SoftHSM, CloudHSM's or Azure Managed HSM's library). */
export interface Pkcs11KeyConfig {
  readonly module: string;
  readonly slot?: number;
  readonly tokenLabel?: string;
  /** the user PIN: never logged, never in an error */
  readonly pin: string;
  readonly keyLabel?: string;
  /** CKA_ID, hex */
  readonly keyId?: string;
  /** sessions opened at start, so concurrent signatures do not wait on one (default 4) */
  readonly sessions?: number;
}

/** A start-up problem with a PKCS#11 key; `field` is the config member at fault (module, slot, tokenLabel, pin, keyLabel, keyId). */
export class Pkcs11KeyError extends KeyLoadError {
  constructor(
    message: string,
    readonly field?: keyof Pkcs11KeyConfig,
  ) {
    super(message, 'ERR_PKCS11_KEY');
  }
}

export interface Pkcs11SigningKey extends SigningKey {
  readonly signer: Signer;
  close(): void;
}

export const DEFAULT_PKCS11_SESSIONS = 4;

type Lib = Pkcs11js.PKCS11;
let binding: typeof Pkcs11js | undefined;
/** one loaded and initialized library per module path (C_Initialize once per process), with its users */
const modules = new Map<string, { lib: Lib; users: number; loggedIn: Set<string> }>();

/** The pkcs11js native binding: imported at start, only by configs that have a PKCS#11 key. */
async function loadBinding(): Promise<typeof Pkcs11js> {
  if (!binding) {
    try {
      const imported = (await import('pkcs11js')) as typeof Pkcs11js & { default?: typeof Pkcs11js };
      binding = imported.default ?? imported;
    } catch (err) {
      throw new Pkcs11KeyError(`the pkcs11js binding cannot be loaded (${(err as Error).message}); reinstall with its install script allowed`, 'module');
    }
  }
  return binding;
}

/** A message without the PIN, whatever a library puts in its errors. */
const scrub = (message: string, pin: string) => (pin ? message.split(pin).join('[redacted]') : message);

/**
 * Opens the key at start: loads the module, finds the token (by slot id or label), logs in, finds the private key
 * and its public key object (by label or id), checks it fits `alg`, and opens a session pool. Every problem is a
 * Pkcs11KeyError naming the module, slot, label or id not found (never the PIN).
 */
export async function openPkcs11Key(config: Pkcs11KeyConfig, alg: SigningAlg): Promise<Pkcs11SigningKey> {
  try {
    return await open(config, alg);
  } catch (err) {
    if (err instanceof Pkcs11KeyError) throw new Pkcs11KeyError(scrub(err.message, config.pin), err.field);
    throw new Pkcs11KeyError(`PKCS#11 module ${config.module}: ${scrub((err as Error).message ?? String(err), config.pin)}`);
  }
}

async function open(config: Pkcs11KeyConfig, alg: SigningAlg): Promise<Pkcs11SigningKey> {
  const p = await loadBinding();
  let entry = modules.get(config.module);
  if (!entry) {
    const lib = new p.PKCS11();
    try {
      lib.load(config.module);
    } catch (err) {
      throw new Pkcs11KeyError(`cannot load the PKCS#11 module ${config.module}: ${(err as Error).message}`, 'module');
    }
    try {
      lib.C_Initialize({ flags: p.CKF_OS_LOCKING_OK }); // async signatures run on worker threads
    } catch (err) {
      if ((err as { code?: number }).code !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
    }
    entry = { lib, users: 0, loggedIn: new Set() };
    modules.set(config.module, entry);
  }
  const { lib } = entry;
  const slot = findSlot(p, lib, config);
  const sessions: Buffer[] = [];
  const closeAll = () => {
    for (const s of sessions.splice(0)) {
      try {
        lib.C_CloseSession(s);
      } catch {
        /* closing anyway */
      }
    }
  };
  try {
    const count = Math.max(1, config.sessions ?? DEFAULT_PKCS11_SESSIONS);
    for (let i = 0; i < count; i++) sessions.push(lib.C_OpenSession(slot.handle, p.CKF_SERIAL_SESSION));
    const first = sessions[0]!;
    try {
      lib.C_Login(first, p.CKU_USER, config.pin);
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== p.CKR_USER_ALREADY_LOGGED_IN)
        throw new Pkcs11KeyError(`login to token ${slot.name} failed: ${code === p.CKR_PIN_INCORRECT ? 'wrong PIN' : (err as Error).message}`, 'pin');
    }
    const template = (cls: number): Pkcs11js.Template => [
      { type: p.CKA_CLASS, value: cls },
      ...(config.keyLabel !== undefined ? [{ type: p.CKA_LABEL, value: config.keyLabel }] : []),
      ...(config.keyId !== undefined ? [{ type: p.CKA_ID, value: Buffer.from(config.keyId, 'hex') }] : []),
    ];
    const keyName = config.keyLabel !== undefined ? `label "${config.keyLabel}"` : `id ${config.keyId}`;
    const field = config.keyLabel !== undefined ? 'keyLabel' : 'keyId';
    const privateKey = findOne(lib, first, template(p.CKO_PRIVATE_KEY), `no private key with ${keyName} in token ${slot.name}`, field);
    const publicKey = findOne(
      lib,
      first,
      template(p.CKO_PUBLIC_KEY),
      `no public key object with ${keyName} in token ${slot.name} (the JWKS is made from it)`,
      field,
    );
    const jwk = publicJwkOf(p, lib, first, publicKey, alg, `the key with ${keyName} in token ${slot.name}`, field);
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    const publicJwk = Object.freeze({ ...jwk, kid, alg, use: 'sig' });
    const signer = pooledSigner(p, lib, sessions, privateKey, alg, publicJwk);
    entry.users++;
    const owner = entry;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      closeAll();
      if (--owner.users === 0) {
        modules.delete(config.module);
        try {
          lib.C_Finalize();
        } catch {
          /* finalizing anyway */
        }
      }
    };
    return Object.freeze({ kid, alg, publicJwk, signer, close });
  } catch (err) {
    closeAll();
    throw err;
  }
}

function findSlot(p: typeof Pkcs11js, lib: Lib, config: Pkcs11KeyConfig): { handle: Buffer; name: string } {
  const slots = lib.C_GetSlotList(true);
  const described = slots.map((handle) => ({ handle, id: handle.readUIntLE(0, Math.min(handle.length, 6)), label: lib.C_GetTokenInfo(handle).label.trim() }));
  if (config.tokenLabel !== undefined) {
    const found = described.find((s) => s.label === config.tokenLabel);
    if (!found)
      throw new Pkcs11KeyError(
        `no token labelled "${config.tokenLabel}" in ${config.module} (tokens: ${described.map((s) => `"${s.label}"`).join(', ') || 'none'})`,
        'tokenLabel',
      );
    return { handle: found.handle, name: `"${found.label}"` };
  }
  const found = described.find((s) => s.id === config.slot);
  if (!found)
    throw new Pkcs11KeyError(`no slot ${config.slot} with a token in ${config.module} (slots: ${described.map((s) => s.id).join(', ') || 'none'})`, 'slot');
  void p;
  return { handle: found.handle, name: `"${found.label}" (slot ${found.id})` };
}

function findOne(lib: Lib, session: Buffer, template: Pkcs11js.Template, missing: string, field: keyof Pkcs11KeyConfig): Buffer {
  lib.C_FindObjectsInit(session, template);
  let found: Buffer[];
  try {
    found = lib.C_FindObjects(session, 2);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
  if (found.length === 0) throw new Pkcs11KeyError(missing, field);
  if (found.length > 1) throw new Pkcs11KeyError(`${missing.replace(/^no /, 'more than one ')}: name it by keyId`, field);
  return found[0]!;
}

/** DER of the P-256 named curve OID (1.2.840.10045.3.1.7): the CKA_EC_PARAMS ES256 needs. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

function publicJwkOf(p: typeof Pkcs11js, lib: Lib, session: Buffer, key: Buffer, alg: SigningAlg, what: string, field: keyof Pkcs11KeyConfig): JWK {
  const [type] = lib.C_GetAttributeValue(session, key, [{ type: p.CKA_KEY_TYPE }]);
  const keyType = (type!.value as Buffer).readUIntLE(0, Math.min((type!.value as Buffer).length, 6));
  if (alg === 'ES256') {
    if (keyType !== p.CKK_EC) throw new Pkcs11KeyError(`${what}: ES256 needs an EC P-256 key`, field);
    const [params, point] = lib.C_GetAttributeValue(session, key, [{ type: p.CKA_EC_PARAMS }, { type: p.CKA_EC_POINT }]);
    if (!P256_PARAMS.equals(params!.value as Buffer)) throw new Pkcs11KeyError(`${what}: ES256 needs an EC P-256 key, not another curve`, field);
    let raw = point!.value as Buffer;
    // CKA_EC_POINT is DER OCTET STRING { 04 || x || y } (some tokens give the bare point)
    if (raw.length === 67 && raw[0] === 0x04 && raw[1] === 65) raw = raw.subarray(2);
    if (raw.length !== 65 || raw[0] !== 0x04) throw new Pkcs11KeyError(`${what}: unreadable EC public point`, field);
    return { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') };
  }
  if (alg === 'RS256' || alg === 'PS256') {
    if (keyType !== p.CKK_RSA) throw new Pkcs11KeyError(`${what}: ${alg} needs an RSA key`, field);
    const [n, e] = lib.C_GetAttributeValue(session, key, [{ type: p.CKA_MODULUS }, { type: p.CKA_PUBLIC_EXPONENT }]);
    const modulus = stripZeros(n!.value as Buffer);
    if (modulus.length * 8 < 2048) throw new Pkcs11KeyError(`${what}: RSA keys must be at least 2048 bits`, field);
    return { kty: 'RSA', n: modulus.toString('base64url'), e: stripZeros(e!.value as Buffer).toString('base64url') };
  }
  throw new Pkcs11KeyError(`${what}: ${alg} is not supported through PKCS#11 (ES256, RS256, PS256)`, field);
}

const stripZeros = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

/**
 * A Signer over a pool of sessions opened at start: a signature takes a free session (or waits for one) and
 * gives it back; nothing is opened or imported per request. ECDSA is CKM_ECDSA over a SHA-256 digest made here.
 */
function pooledSigner(p: typeof Pkcs11js, lib: Lib, sessions: readonly Buffer[], key: Buffer, alg: SigningAlg, publicJwk: Readonly<JWK>): Signer {
  const free = [...sessions];
  const waiting: ((s: Buffer) => void)[] = [];
  const take = (): Promise<Buffer> => (free.length > 0 ? Promise.resolve(free.pop()!) : new Promise((resolve) => waiting.push(resolve)));
  const give = (s: Buffer) => {
    const next = waiting.shift();
    if (next) next(s);
    else free.push(s);
  };
  const mechanism: Pkcs11js.Mechanism =
    alg === 'ES256'
      ? { mechanism: p.CKM_ECDSA }
      : alg === 'PS256'
        ? {
            mechanism: p.CKM_SHA256_RSA_PKCS_PSS,
            parameter: { type: p.CK_PARAMS_RSA_PSS, hashAlg: p.CKM_SHA256, mgf: p.CKG_MGF1_SHA256, saltLen: 32 } as Pkcs11js.RsaPSS,
          }
        : { mechanism: p.CKM_SHA256_RSA_PKCS };
  const outSize = alg === 'ES256' ? 72 : 1024;
  return Object.freeze({
    alg,
    publicJwk,
    async sign(data: Uint8Array): Promise<Uint8Array> {
      const input = alg === 'ES256' ? createHash('sha256').update(data).digest() : Buffer.from(data);
      const session = await take();
      try {
        lib.C_SignInit(session, mechanism, key);
        const signature = await new Promise<Buffer>((resolve, reject) =>
          lib.C_Sign(session, input, Buffer.alloc(outSize), (err, out) => (err ? reject(err) : resolve(out))),
        );
        return joseSignature(alg, signature);
      } finally {
        give(session);
      }
    },
  });
}
