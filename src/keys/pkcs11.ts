import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type * as Pkcs11js from 'pkcs11js';
import { ALG_SPECS, EC_COORDINATE_BYTES, HASH_BYTES, type AlgSpec, type SigningAlg } from '../config/algs.js';
import { MIN_RSA_BITS } from './alg-keys.js';
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

/**
 * CKA_EC_PARAMS of each curve: the DER of its named-curve OID (P-256 1.2.840.10045.3.1.7, P-384 1.3.132.0.34,
 * P-521 1.3.132.0.35).
 */
const EC_PARAMS: Record<'P-256' | 'P-384' | 'P-521', Buffer> = {
  'P-256': Buffer.from('06082a8648ce3d030107', 'hex'),
  'P-384': Buffer.from('06052b81040022', 'hex'),
  'P-521': Buffer.from('06052b81040023', 'hex'),
};

function publicJwkOf(p: typeof Pkcs11js, lib: Lib, session: Buffer, key: Buffer, alg: SigningAlg, what: string, field: keyof Pkcs11KeyConfig): JWK {
  const [type] = lib.C_GetAttributeValue(session, key, [{ type: p.CKA_KEY_TYPE }]);
  const keyType = (type!.value as Buffer).readUIntLE(0, Math.min((type!.value as Buffer).length, 6));
  const spec = ALG_SPECS[alg];
  if (spec.kty === 'EC') {
    if (keyType !== p.CKK_EC) throw new Pkcs11KeyError(`${what}: ${alg} needs an EC ${spec.curve} key`, field);
    const [params, point] = lib.C_GetAttributeValue(session, key, [{ type: p.CKA_EC_PARAMS }, { type: p.CKA_EC_POINT }]);
    if (!EC_PARAMS[spec.curve].equals(params!.value as Buffer))
      throw new Pkcs11KeyError(`${what}: ${alg} needs an EC ${spec.curve} key, not another curve`, field);
    const size = EC_COORDINATE_BYTES[spec.curve];
    const raw = uncompressedPoint(point!.value as Buffer, size);
    if (!raw) throw new Pkcs11KeyError(`${what}: unreadable EC public point`, field);
    return { kty: 'EC', crv: spec.curve, x: raw.subarray(1, 1 + size).toString('base64url'), y: raw.subarray(1 + size).toString('base64url') };
  }
  if (spec.kty === 'RSA') {
    if (keyType !== p.CKK_RSA) throw new Pkcs11KeyError(`${what}: ${alg} needs an RSA key`, field);
    const [n, e] = lib.C_GetAttributeValue(session, key, [{ type: p.CKA_MODULUS }, { type: p.CKA_PUBLIC_EXPONENT }]);
    const modulus = stripZeros(n!.value as Buffer);
    if (modulus.length * 8 < MIN_RSA_BITS) throw new Pkcs11KeyError(`${what}: RSA keys must be at least ${MIN_RSA_BITS} bits`, field);
    return { kty: 'RSA', n: modulus.toString('base64url'), e: stripZeros(e!.value as Buffer).toString('base64url') };
  }
  throw new Pkcs11KeyError(`${what}: ${alg} is not supported through PKCS#11 (${PKCS11_ALGS.join(', ')})`, field);
}

/** The algs a PKCS#11 key signs with: RSA (PKCS#1 v1.5 and PSS) and ECDSA; not EdDSA. */
export const PKCS11_ALGS: readonly SigningAlg[] = (Object.keys(ALG_SPECS) as SigningAlg[]).filter((alg) => ALG_SPECS[alg].kty !== 'OKP');

/**
 * The uncompressed point `04 || x || y` of a CKA_EC_POINT: a DER OCTET STRING around it (PKCS#11 §2.3.3; its length
 * in the long form for P-521's 133 bytes), or the bare point some tokens give. Undefined when it is neither.
 */
function uncompressedPoint(value: Buffer, size: number): Buffer | undefined {
  const length = 1 + 2 * size;
  let raw = value;
  if (raw[0] === 0x04 && raw.length !== length) {
    const header = length < 0x80 ? Buffer.from([0x04, length]) : Buffer.from([0x04, 0x81, length]);
    if (raw.length === header.length + length && raw.subarray(0, header.length).equals(header)) raw = raw.subarray(header.length);
  }
  return raw.length === length && raw[0] === 0x04 ? raw : undefined;
}

const stripZeros = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

/**
 * A Signer over a pool of sessions opened at start: a signature takes a free session (or waits for one) and
 * gives it back; nothing is opened or imported per request. ECDSA is CKM_ECDSA over the alg's digest made here.
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
  const spec = ALG_SPECS[alg];
  if (spec.kty === 'OKP') throw new Pkcs11KeyError(`${alg} is not supported through PKCS#11 (${PKCS11_ALGS.join(', ')})`);
  const mechanism = mechanismOf(p, spec);
  // ECDSA: r||s of the curve's size (PKCS#11 §2.3.1), room for the DER form some tokens give; RSA: up to 8192 bits
  const outSize = spec.kty === 'EC' ? 2 * EC_COORDINATE_BYTES[spec.curve] + 9 : 1024;
  return Object.freeze({
    alg,
    publicJwk,
    async sign(data: Uint8Array): Promise<Uint8Array> {
      const input = spec.kty === 'EC' ? createHash(spec.hash).update(data).digest() : Buffer.from(data);
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

const RSA_MECHANISMS = {
  sha256: { pkcs1: 'CKM_SHA256_RSA_PKCS', pss: 'CKM_SHA256_RSA_PKCS_PSS', hash: 'CKM_SHA256', mgf: 'CKG_MGF1_SHA256' },
  sha384: { pkcs1: 'CKM_SHA384_RSA_PKCS', pss: 'CKM_SHA384_RSA_PKCS_PSS', hash: 'CKM_SHA384', mgf: 'CKG_MGF1_SHA384' },
  sha512: { pkcs1: 'CKM_SHA512_RSA_PKCS', pss: 'CKM_SHA512_RSA_PKCS_PSS', hash: 'CKM_SHA512', mgf: 'CKG_MGF1_SHA512' },
} as const;

/**
 * The PKCS#11 mechanism of an alg: CKM_ECDSA over a digest made here (every token has CKM_ECDSA; not all have
 * CKM_ECDSA_SHA384 and the like), the token's own CKM_SHA*_RSA_PKCS, or its PSS form with a salt as long as the
 * hash and MGF1 over the same hash (RFC 7518 §3.5).
 */
function mechanismOf(p: typeof Pkcs11js, spec: Exclude<AlgSpec, { kty: 'OKP' }>): Pkcs11js.Mechanism {
  if (spec.kty === 'EC') return { mechanism: p.CKM_ECDSA };
  const names = RSA_MECHANISMS[spec.hash];
  if (!spec.pss) return { mechanism: p[names.pkcs1] };
  const parameter = { type: p.CK_PARAMS_RSA_PSS, hashAlg: p[names.hash], mgf: p[names.mgf], saltLen: HASH_BYTES[spec.hash] } as Pkcs11js.RsaPSS;
  return { mechanism: p[names.pss], parameter };
}
