/**
 * The inbound methods as data: how a caller may authenticate to authbridge, one row per method. The config rules
 * (config/inbound-schema.ts), the credential check (client-auth.ts, jwt-client-auth.ts) and the answer to a refused
 * caller read these columns instead of comparing method names. Which method a caller used is read from the request
 * in one place (client-auth.ts: readCredentials).
 *
 * This module imports nothing: config/ reads it.
 */
export interface InboundMethodRow {
  /** presented in an HTTP Basic Authorization header: a refusal answers with WWW-Authenticate: Basic (RFC 6749 §5.2) */
  readonly basicHeader: boolean;
  /**
   * a client assertion (RFC 7523 §2.2): `signed` is verified with the client's keys (inbound.jwks or jwksUri),
   * `maced` with its clientSecret; absent: the client secret itself is presented
   */
  readonly assertion?: 'signed' | 'maced';
  /** allowed when the client sets no allowedInboundMethods */
  readonly byDefault: boolean;
}

const ROWS = {
  client_secret_basic: { basicHeader: true, byDefault: true },
  client_secret_post: { basicHeader: false, byDefault: true },
  private_key_jwt: { basicHeader: false, assertion: 'signed', byDefault: false },
  client_secret_jwt: { basicHeader: false, assertion: 'maced', byDefault: false },
} as const satisfies Record<string, InboundMethodRow>;

export type InboundMethodName = keyof typeof ROWS;
export const INBOUND_METHOD_ROWS: Readonly<Record<InboundMethodName, InboundMethodRow>> = ROWS;

/** Every inbound method, in the table's order. */
export const INBOUND_METHODS = Object.keys(INBOUND_METHOD_ROWS) as [InboundMethodName, ...InboundMethodName[]];

/** The row of an inbound method. */
export const inboundRowOf = (method: InboundMethodName): InboundMethodRow => ROWS[method];

/** What a client that sets no allowedInboundMethods may use. */
export const DEFAULT_INBOUND_METHODS: readonly InboundMethodName[] = INBOUND_METHODS.filter((m) => inboundRowOf(m).byDefault);
/** The methods that present a client assertion. */
export const JWT_INBOUND_METHODS: readonly InboundMethodName[] = INBOUND_METHODS.filter((m) => inboundRowOf(m).assertion !== undefined);
