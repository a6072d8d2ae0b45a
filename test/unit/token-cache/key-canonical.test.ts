// canonicalParams: what a cached token is for. Two requests share an entry exactly when the IdP would treat them as
// the same request: credentials never count, order never counts, scope is a set (RFC 6749 §3.3), a parameter sent
// without a value is omitted (§3.1); every other parameter, known or not, keeps its values as sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_PARAMS, canonicalParams, groupName, keyedDigest } from '../../../src/token-cache/key.js';

const canon = (form: string | [string, string][]) => canonicalParams(new URLSearchParams(form));

describe('canonicalParams', () => {
  it('leaves out every credential parameter: the caller presenting them, or another way, is the same request', () => {
    const bare = canon('grant_type=client_credentials&scope=a');
    expect(canon('grant_type=client_credentials&scope=a&client_id=x&client_secret=s')).toBe(bare);
    expect(
      canon(
        'client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e.y.j&grant_type=client_credentials&scope=a',
      ),
    ).toBe(bare);
    expect([...CREDENTIAL_PARAMS].sort()).toEqual(['client_assertion', 'client_assertion_type', 'client_id', 'client_secret']);
    expect(bare).not.toMatch(/client_(id|secret|assertion)/);
  });

  it('sorts the names: the order of the parameters does not matter', () => {
    expect(canon('scope=a&grant_type=client_credentials&audience=api')).toBe(canon('audience=api&grant_type=client_credentials&scope=a'));
    expect(canon('b=1&a=2')).toBe('[["a",["2"]],["b",["1"]]]');
  });

  it("sorts a repeated parameter's values: resource=x&resource=y is resource=y&resource=x", () => {
    expect(canon('resource=https://b&grant_type=g&resource=https://a')).toBe(canon('resource=https://a&resource=https://b&grant_type=g'));
  });

  it('reads scope as a sorted set: order, repeated spaces and duplicates do not matter', () => {
    const ab = canon('scope=a b');
    expect(canon('scope=b a')).toBe(ab);
    expect(canon('scope=a  b')).toBe(ab);
    expect(canon('scope= b   a ')).toBe(ab);
    expect(canon('scope=a b a b')).toBe(ab);
    expect(canon('scope=b&scope=a')).toBe(ab); // two scope parameters: their tokens, one set
    expect(canon('scope=a')).not.toBe(ab);
    expect(canon('scope=a b c')).not.toBe(ab);
    // scope tokens are case-sensitive (RFC 6749 §3.3)
    expect(canon('scope=A b')).not.toBe(ab);
  });

  it('keeps a repeat of any other parameter: resource given twice is not resource given once', () => {
    expect(canon('resource=https://a&resource=https://a')).not.toBe(canon('resource=https://a'));
  });

  it('tells apart resource, audience and an unknown extension parameter, present or not', () => {
    const base = canon('grant_type=client_credentials&scope=a');
    const variants = [
      'grant_type=client_credentials&scope=a&resource=https://api',
      'grant_type=client_credentials&scope=a&resource=https://other',
      'grant_type=client_credentials&scope=a&audience=https://api',
      'grant_type=client_credentials&scope=a&x_tenant=1',
      'grant_type=client_credentials&scope=a&x_tenant=2',
      'grant_type=client_credentials&scope=a&X_tenant=1',
    ].map(canon);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('tells apart authorization_details that differ in any way (its JSON is compared as sent)', () => {
    const details = (json: unknown) =>
      canon([
        ['grant_type', 'client_credentials'],
        ['authorization_details', JSON.stringify(json)],
      ]);
    const one = details([{ type: 'payment', actions: ['read'], locations: ['https://a'] }]);
    expect(details([{ type: 'payment', actions: ['read'], locations: ['https://a'] }])).toBe(one);
    expect(details([{ type: 'payment', actions: ['write'], locations: ['https://a'] }])).not.toBe(one);
    expect(details([{ type: 'payment', actions: ['read'], locations: ['https://b'] }])).not.toBe(one);
    expect(details([])).not.toBe(one);
    expect(canon('grant_type=client_credentials')).not.toBe(one);
  });

  it('reads a parameter sent without a value as omitted (RFC 6749 §3.1): scope= is no scope, resource= is no resource', () => {
    const none = canon('grant_type=client_credentials');
    expect(canon('grant_type=client_credentials&scope=')).toBe(none);
    expect(canon('grant_type=client_credentials&scope=%20%20')).toBe(none); // no scope token either
    expect(canon('grant_type=client_credentials&resource=')).toBe(none);
    expect(canon('grant_type=client_credentials&resource=&resource=https://a')).toBe(canon('grant_type=client_credentials&resource=https://a'));
    expect(canon('scope=&grant_type=client_credentials&scope=a')).toBe(canon('grant_type=client_credentials&scope=a'));
    // a value, however short, is a value
    expect(canon('grant_type=client_credentials&x=0')).not.toBe(none);
  });

  it('is unambiguous: separators inside names and values cannot make two requests one', () => {
    expect(canon([['a', 'b","c']])).not.toBe(
      canon([
        ['a', 'b'],
        ['a', 'c'],
      ]),
    );
    expect(canon([['a","b', 'c']])).not.toBe(
      canon([
        ['a', 'c'],
        ['b', 'c'],
      ]),
    );
    expect(canon([['a', 'b c']])).not.toBe(
      canon([
        ['a', 'b'],
        ['a', 'c'],
      ]),
    ); // only scope splits on spaces
  });

  const name = fc.constantFrom('grant_type', 'scope', 'resource', 'audience', 'x_ext', 'authorization_details', 'client_id', 'client_secret');
  const value = fc.string({ minLength: 0, maxLength: 8 });
  const pairs = fc.array(fc.tuple(name, value), { maxLength: 12 });

  it('property: any permutation of the same parameters has the same canonical form', () => {
    fc.assert(
      fc.property(
        pairs.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }))),
        ([list, shuffled]) => {
          expect(canon(shuffled)).toBe(canon(list));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: the same scope tokens in any order, with any spacing and repeats, have the same canonical form', () => {
    const token = fc.stringMatching(/^[!#-[\]-~]{1,6}$/); // NQCHAR without space (RFC 6749 §3.3)
    fc.assert(
      fc.property(
        fc
          .uniqueArray(token, { minLength: 1, maxLength: 6 })
          .chain((tokens) =>
            fc.tuple(
              fc.constant(tokens),
              fc.shuffledSubarray([...tokens, ...tokens], { minLength: tokens.length * 2, maxLength: tokens.length * 2 }),
              fc.array(fc.integer({ min: 1, max: 3 }), { minLength: tokens.length * 2, maxLength: tokens.length * 2 }),
            ),
          ),
        ([tokens, repeated, gaps]) => {
          const spaced = repeated.map((t, i) => t + ' '.repeat(gaps[i]!)).join('');
          expect(canon([['scope', spaced]])).toBe(canon([['scope', [...tokens].sort().join(' ')]]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: outside scope, two requests share a canonical form exactly when they have the same non-empty, non-credential pairs', () => {
    const other = fc.array(fc.tuple(fc.constantFrom('resource', 'audience', 'x', 'client_id'), fc.constantFrom('', 'a', 'b')), { maxLength: 5 });
    const kept = (list: [string, string][]) =>
      JSON.stringify(
        list
          .filter(([n, v]) => v !== '' && !CREDENTIAL_PARAMS.has(n))
          .map((p) => p.join('='))
          .sort(),
      );
    fc.assert(
      fc.property(other, other, (a, b) => {
        expect(canon(a) === canon(b)).toBe(kept(a) === kept(b));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('entry names', () => {
  it('a group names the upstream and the client, base64url-encoded: no client is a prefix of another', () => {
    expect(groupName('idp', 'a:b*')).toBe(`idp:${Buffer.from('a:b*').toString('base64url')}:`);
    expect(groupName('idp', 'abc').startsWith(groupName('idp', 'ab'))).toBe(false);
    expect(groupName('idp2', 'ab').startsWith('idp:')).toBe(false);
  });

  it('a keyed digest depends on the key and on where each part ends', () => {
    const k1 = new Uint8Array(32).fill(1);
    const k2 = new Uint8Array(32).fill(2);
    expect(keyedDigest(k1, 'a', 'b')).toBe(keyedDigest(k1, 'a', 'b'));
    expect(keyedDigest(k1, 'a', 'b')).not.toBe(keyedDigest(k2, 'a', 'b'));
    expect(keyedDigest(k1, 'ab', '')).not.toBe(keyedDigest(k1, 'a', 'b'));
    expect(keyedDigest(k1, 'a', 'b')).toMatch(/^[\w-]{43}$/);
  });
});
