// The three Basic credential encodings, on RFC 6749 Appendix B's vectors and on the characters servers disagree on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { basicAuthorization, formEncode, strictFormEncode } from '../../../src/outbound/client-secret-basic.js';

const pairOf = (header: string) => Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');

describe('RFC 6749 Appendix B vectors', () => {
  // App. B: the value " %&+£€" is encoded as "+%25%26%2B%C2%A3%E2%82%AC"
  it.each([
    ['form', formEncode],
    ['strict', strictFormEncode],
  ] as const)('%s encodes " %%&+£€" as Appendix B does', (_name, encode) => {
    expect(encode(' %&+£€')).toBe('+%25%26%2B%C2%A3%E2%82%AC');
  });

  it('the Authorization header of each mode', () => {
    expect(pairOf(basicAuthorization(' %&+£€', ' %&+£€', 'form'))).toBe('+%25%26%2B%C2%A3%E2%82%AC:+%25%26%2B%C2%A3%E2%82%AC');
    expect(pairOf(basicAuthorization(' %&+£€', ' %&+£€', 'strict'))).toBe('+%25%26%2B%C2%A3%E2%82%AC:+%25%26%2B%C2%A3%E2%82%AC');
    expect(pairOf(basicAuthorization(' %&+£€', ' %&+£€', 'raw'))).toBe(' %&+£€: %&+£€');
  });
});

describe('ids with -._~ and the other characters the modes differ on', () => {
  it("form keeps *-._ and encodes ~ !'() like URLSearchParams", () => {
    expect(formEncode("cli-basic_1.x*y~z!(')")).toBe('cli-basic_1.x*y%7Ez%21%28%27%29');
  });

  it("strict encodes -_.!~*'() too (what authbridge ≤ 0.1 called rfc6749, still accepted under that name)", () => {
    expect(strictFormEncode("cli-basic_1.x*y~z!(')")).toBe('cli%2Dbasic%5F1%2Ex%2Ay%7Ez%21%28%27%29');
    expect(basicAuthorization('cli-basic', 's.e_c-r~et', 'rfc6749')).toBe(basicAuthorization('cli-basic', 's.e_c-r~et', 'strict'));
  });

  it('the id that a non-decoding server refused under the old default is sent as it is', () => {
    expect(pairOf(basicAuthorization('cli-basic', 'secret', 'form'))).toBe('cli-basic:secret');
    expect(pairOf(basicAuthorization('cli-basic', 'secret', 'strict'))).toBe('cli%2Dbasic:secret');
  });

  it('form is exactly URLSearchParams (the WHATWG serializer) for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (value) => {
        expect(formEncode(value)).toBe(new URLSearchParams({ v: value }).toString().slice(2));
      }),
    );
  });

  it('letters, digits and -._* give the same header under form and raw; letters and digits alone under every mode', () => {
    const safe = fc.stringMatching(/^[A-Za-z0-9._*-]{1,40}$/);
    fc.assert(
      fc.property(safe, safe, (id, secret) => {
        expect(basicAuthorization(id, secret, 'form')).toBe(basicAuthorization(id, secret, 'raw'));
      }),
    );
    const alnum = fc.stringMatching(/^[A-Za-z0-9]{1,40}$/);
    fc.assert(
      fc.property(alnum, alnum, (id, secret) => {
        const headers = (['form', 'strict', 'raw'] as const).map((mode) => basicAuthorization(id, secret, mode));
        expect(new Set(headers).size).toBe(1);
      }),
    );
  });

  it('each mode decodes back to the credentials with a form decoder (form, strict) or as is (raw)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', minLength: 1 }), fc.string({ unit: 'grapheme-ascii', minLength: 1 }), (id, secret) => {
        for (const mode of ['form', 'strict'] as const) {
          const [encodedId, encodedSecret] = pairOf(basicAuthorization(id, secret, mode)).split(':') as [string, string];
          expect(new URLSearchParams(`a=${encodedId}&b=${encodedSecret}`).get('a')).toBe(id);
          expect(new URLSearchParams(`a=${encodedId}&b=${encodedSecret}`).get('b')).toBe(secret);
        }
      }),
    );
  });
});
