/**
 * Where a client's signing key comes from (`key`): managed by authbridge, key files (each with its certificate), or a
 * PKCS#11 token; and a managed key's certificate and rotation schedule. Part of the per-client contract
 * (outbound-schema.ts gives these to the methods that sign with a key).
 */
import { z } from 'zod';

/** A key file's certificate (PEM; the chain may follow the leaf). */
const certificateFile = z.string().min(1).describe('a PEM file with the X.509 certificate of this key (the chain may follow); checked at start');

const keyFileEntry = z.union([
  z.string().min(1).describe('path to a private key: PEM or JWK'),
  z.strictObject({ file: z.string().min(1).describe('path to a private key: PEM or JWK'), certificate: certificateFile.optional() }),
]);

export const keyFiles = z
  .strictObject({
    file: z
      .string()
      .min(1)
      .optional()
      .describe('path to a private key: PEM (PKCS#8, SEC1 or PKCS#1) or a JWK JSON file')
      .meta({ examples: ['/etc/authbridge/keys/okta.pem'] }),
    certificate: certificateFile.optional(),
    files: z
      .array(keyFileEntry)
      .min(1)
      .optional()
      .describe('several key files (a path, or { file, certificate }): the first signs, all are published (a hand-made rotation overlap)'),
  })
  .refine((k) => (k.file === undefined) !== (k.files === undefined), { message: 'set exactly one of file or files' })
  .refine((k) => k.certificate === undefined || k.file !== undefined, {
    message: 'certificate goes with file; with files, give each entry its own: files: [{ file, certificate }]',
    path: ['certificate'],
  });

/** `key: { file, certificate }` or `key: { files }`, as parsed. */
export type KeyFilesConfig = z.output<typeof keyFiles>;

/** A key in a PKCS#11 token (HSM): it signs there; its public key object gives the JWKS and kid (src/keys/pkcs11.ts). */
const pkcs11Key = z.strictObject({
  pkcs11: z
    .strictObject({
      module: z.string().min(1).describe('the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so'),
      slot: z.number().int().min(0).optional().describe('the slot id of the token (or tokenLabel)'),
      tokenLabel: z.string().min(1).optional().describe('the label of the token (or slot)'),
      pin: z
        .string()
        .min(1)
        .describe('the user PIN; never logged')
        .meta({ examples: ['${HSM_PIN}'] }),
      keyLabel: z.string().min(1).optional().describe('CKA_LABEL of the private key and its public key object (or keyId)'),
      keyId: z
        .string()
        .regex(/^([0-9a-fA-F]{2})+$/)
        .optional()
        .describe('CKA_ID of the key, hex (or keyLabel)'),
      sessions: z.number().int().min(1).max(64).optional().describe('sessions opened at start for concurrent signing (default 4)'),
    })
    .refine((k) => (k.slot === undefined) !== (k.tokenLabel === undefined), { message: 'set exactly one of slot or tokenLabel' })
    .refine((k) => (k.keyLabel === undefined) !== (k.keyId === undefined), { message: 'set exactly one of keyLabel or keyId' })
    .describe('a key in a PKCS#11 token (an HSM): it signs there and never leaves it; its public key object gives the JWKS and kid'),
});

export const keySource = z.union([z.literal('managed').describe('authbridge generates, stores (encrypted) and rotates the key'), keyFiles, pkcs11Key]);

/** A managed key's certificate: generated with the key, sealed with it, rotated with it. */
export const managedCertificateSchema = z
  .strictObject({
    selfSigned: z.literal(true).describe('a self-signed certificate made with each managed key'),
    subject: z
      .string()
      .regex(/^(?:[A-Za-z][\w.-]*=[^,=]+)(?:,\s*[A-Za-z][\w.-]*=[^,=]+)*$/, 'must be a distinguished name such as "CN=authbridge, O=Example"')
      .optional()
      .describe('the subject DN; default CN=authbridge <owner>'),
    validityDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .describe("how long each certificate is valid; default: the key's whole life (pre-publish + rotate + retire) and 30 days"),
  })
  .describe('managed keys only: a self-signed X.509 certificate with every key (for IdPs that take an uploaded certificate, such as Entra ID)');

export const DEFAULT_ROTATION = Object.freeze({ rotateEverySeconds: 30 * 86_400, prePublishSeconds: 86_400, retireSeconds: 86_400 });

export const rotationSchema = z
  .strictObject({
    rotateEverySeconds: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_ROTATION.rotateEverySeconds)
      .describe('a new key takes over signing this often (default 30 days)'),
    prePublishSeconds: z
      .number()
      .int()
      .min(0)
      .default(DEFAULT_ROTATION.prePublishSeconds)
      .describe('the next key is in the JWKS this long before it signs, so that IdPs caching the JWKS know it first (default 1 day)'),
    retireSeconds: z
      .number()
      .int()
      .min(0)
      .default(DEFAULT_ROTATION.retireSeconds)
      .describe('a replaced key stays in the JWKS this long after it stopped signing (default 1 day)'),
  })
  .refine((r) => r.prePublishSeconds < r.rotateEverySeconds, {
    message: 'prePublishSeconds must be shorter than rotateEverySeconds',
    path: ['prePublishSeconds'],
  });
