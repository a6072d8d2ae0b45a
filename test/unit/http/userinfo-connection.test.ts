// Which connection a userinfo request goes out on (src/http/routes/userinfo-connection.ts): the certificate a JWT
// access token is bound to, else userinfo.client, else the one certificate client, else the shared pool; several
// certificate clients and nothing to say which: refused, not guessed.
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../../src/errors.js';
import { userinfoConnection } from '../../../src/http/routes/userinfo-connection.js';
import type { ClientRuntime, UpstreamRuntime } from '../../../src/runtime/types.js';

const pool = (name: string) => ({ name, send: async () => ({ status: 200, headers: {}, body: Buffer.alloc(0) }), close: async () => undefined });
const client = (clientId: string, thumbprint?: string) =>
  ({ clientId, http: pool(clientId), ...(thumbprint ? { certificateThumbprint: () => thumbprint } : {}) }) as unknown as ClientRuntime;
const upstream = (clients: ClientRuntime[], userinfoClient?: string) =>
  ({
    name: 'idp',
    http: pool('shared'),
    clients: new Map(clients.map((c) => [c.clientId, c])),
    ...(userinfoClient ? { userinfoClient } : {}),
  }) as unknown as UpstreamRuntime;
const bound = (thumbprint: string) => `e30.${Buffer.from(JSON.stringify({ cnf: { 'x5t#S256': thumbprint } })).toString('base64url')}.sig`;
const chosen = (u: UpstreamRuntime, token: string) => {
  const c = userinfoConnection(u, token);
  return `${c.client?.clientId ?? '-'} ${(c.http as unknown as { name: string }).name} ${c.mtls}`;
};

describe('userinfoConnection', () => {
  it('no client presents a certificate: the shared pool, whatever the token', () => {
    expect(chosen(upstream([client('a'), client('b')]), 'opaque')).toBe('- shared false');
  });

  it('one does: its connection', () => {
    expect(chosen(upstream([client('a'), client('m', 't-m')]), 'opaque')).toBe('m m true');
  });

  it("several do: the one whose certificate the JWT token's cnf names, else userinfo.client, else refused", () => {
    const both = [client('m', 't-m'), client('n', 't-n')];
    expect(chosen(upstream(both), bound('t-n'))).toBe('n n true');
    expect(chosen(upstream(both, 'm'), bound('t-n'))).toBe('n n true'); // the token's binding first
    expect(chosen(upstream(both, 'm'), 'opaque')).toBe('m m true');
    expect(() => userinfoConnection(upstream(both), 'opaque')).toThrow(OAuthError);
    expect(() => userinfoConnection(upstream(both), bound('unknown'))).toThrow(/set upstreams\.idp\.userinfo\.client/);
  });

  it('userinfo.client naming a client without a certificate: its (shared) connection, no alias', () => {
    expect(chosen(upstream([client('a'), client('m', 't-m'), client('n', 't-n')], 'a'), 'opaque')).toBe('a a false');
  });
});
