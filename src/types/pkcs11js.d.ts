/**
 * The part of pkcs11js (https://github.com/PeculiarVentures/pkcs11js, MIT) that src/keys/pkcs11.ts uses. pkcs11js is
 * an optional dependency (a native addon built by node-gyp): a machine or image without a C++ toolchain installs
 * authbridge without it, and only a config with a PKCS#11 key needs it. Declared here so that the build and the type
 * check never depend on it being installed; its own index.d.ts has the full API.
 */
declare module 'pkcs11js' {
  export type Handle = Buffer;
  export interface Attribute {
    type: number;
    value?: number | boolean | string | Buffer;
  }
  export type Template = Attribute[];
  export interface AttributeResult {
    type: number;
    value: Buffer;
  }
  export interface IParams {
    type: number;
  }
  export interface RsaPSS extends IParams {
    hashAlg: number;
    mgf: number;
    saltLen: number;
  }
  export interface Mechanism {
    mechanism: number;
    parameter?: Buffer | IParams;
  }
  export interface TokenInfo {
    label: string;
  }
  export interface InitializationOptions {
    libraryParameters?: string;
    flags?: number;
  }
  export class PKCS11 {
    load(path: string): void;
    C_Initialize(options?: InitializationOptions): void;
    C_Finalize(): void;
    C_GetSlotList(tokenPresent?: boolean): Handle[];
    C_GetTokenInfo(slot: Handle): TokenInfo;
    C_OpenSession(slot: Handle, flags: number): Handle;
    C_CloseSession(session: Handle): void;
    C_Login(session: Handle, userType: number, pin?: string): void;
    C_FindObjectsInit(session: Handle, template: Template): void;
    C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
    C_FindObjectsFinal(session: Handle): void;
    C_GetAttributeValue(session: Handle, object: Handle, template: Template): AttributeResult[];
    C_SignInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    C_Sign(session: Handle, data: Buffer, signature: Buffer, callback: (error: Error | null, data: Buffer) => void): void;
  }
  /** The PKCS#11 constants (CKA_*, CKM_*, CKO_*, CKK_*, CKF_*, CKU_*, CKR_*, CKG_*, CK_PARAMS_*). */
  export const CKA_CLASS: number;
  export const CKA_LABEL: number;
  export const CKA_ID: number;
  export const CKA_KEY_TYPE: number;
  export const CKA_EC_PARAMS: number;
  export const CKA_EC_POINT: number;
  export const CKA_MODULUS: number;
  export const CKA_PUBLIC_EXPONENT: number;
  export const CKO_PRIVATE_KEY: number;
  export const CKO_PUBLIC_KEY: number;
  export const CKK_EC: number;
  export const CKK_RSA: number;
  export const CKF_SERIAL_SESSION: number;
  export const CKF_OS_LOCKING_OK: number;
  export const CKU_USER: number;
  export const CKR_USER_ALREADY_LOGGED_IN: number;
  export const CKR_PIN_INCORRECT: number;
  export const CKR_CRYPTOKI_ALREADY_INITIALIZED: number;
  export const CKM_ECDSA: number;
  export const CKM_SHA256: number;
  export const CKM_SHA256_RSA_PKCS: number;
  export const CKM_SHA256_RSA_PKCS_PSS: number;
  export const CKG_MGF1_SHA256: number;
  export const CKM_SHA384: number;
  export const CKM_SHA384_RSA_PKCS: number;
  export const CKM_SHA384_RSA_PKCS_PSS: number;
  export const CKG_MGF1_SHA384: number;
  export const CKM_SHA512: number;
  export const CKM_SHA512_RSA_PKCS: number;
  export const CKM_SHA512_RSA_PKCS_PSS: number;
  export const CKG_MGF1_SHA512: number;
  export const CK_PARAMS_RSA_PSS: number;
}
