import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_NAME_LENGTH, MAX_PARAMETERS, isFormContentType, parseForm, readBody, readIncomingBody } from '../../../src/inbound/form.js';
import { serializeForm } from '../../../src/upstream/form.js';
import { OAuthError } from '../../../src/errors.js';
import { thrown } from '../../support/thrown.js';

describe('parseForm', () => {
  it('decodes + as space and percent-escapes, keeping order', () => {
    const params = parseForm('grant_type=client_credentials&scope=read+write%20admin&redirect_uri=https%3A%2F%2Fapp%2Fcb%3Fx%3D1&caf%C3%A9=%E2%82%AC');
    expect([...params]).toEqual([
      ['grant_type', 'client_credentials'],
      ['scope', 'read write admin'],
      ['redirect_uri', 'https://app/cb?x=1'],
      ['café', '€'],
    ]);
  });

  it('keeps a literal + that was percent-encoded', () => {
    expect(parseForm('client_secret=a%2Bb+c').get('client_secret')).toBe('a+b c');
  });

  it('skips empty segments and reads a name without = as an empty value', () => {
    expect([...parseForm('&a&&b=1&')]).toEqual([
      ['a', ''],
      ['b', '1'],
    ]);
    expect([...parseForm('')]).toEqual([]);
  });

  it('keeps = inside a value', () => {
    expect(parseForm('code=a=b==').get('code')).toBe('a=b==');
  });

  it.each([
    ['malformed percent-encoding', 'code=%zz'],
    ['a truncated escape', 'code=abc%2'],
    ['invalid UTF-8', 'code=%C3%28'],
    ['a malformed name', '%zz=1'],
  ])('refuses %s with 400 invalid_request', (_, text) => {
    expect(thrown(() => parseForm(text))).toMatchObject({ status: 400, error: 'invalid_request' });
  });

  it('refuses an empty parameter name', () => {
    expect(thrown(() => parseForm('=x'))).toMatchObject({ status: 400, error: 'invalid_request' });
    expect(thrown(() => parseForm('a=1&=x'))).toMatchObject({ status: 400, error: 'invalid_request' });
  });

  it('refuses a repeated parameter and names it', () => {
    const err = thrown(() => parseForm('scope=a&grant_type=x&scope=b'));
    expect(err).toMatchObject({ status: 400, error: 'invalid_request' });
    expect(err.description).toContain('scope');
  });

  it('counts a repeat after decoding (scope and sc%6Fpe are the same name)', () => {
    expect(thrown(() => parseForm('scope=a&sc%6Fpe=b')).description).toContain('scope');
  });

  it('allows resource and audience to repeat (RFC 8707, RFC 8693)', () => {
    const params = parseForm('resource=https%3A%2F%2Fa&audience=x&resource=https%3A%2F%2Fb&audience=y');
    expect(params.getAll('resource')).toEqual(['https://a', 'https://b']);
    expect(params.getAll('audience')).toEqual(['x', 'y']);
  });

  it('does not echo a strange repeated name', () => {
    const err = thrown(() => parseForm('%3Cscript%3E=1&%3Cscript%3E=2'));
    expect(err.status).toBe(400);
    expect(err.description).toContain('(unnamed)');
    expect(err.description).not.toContain('<script>');
  });
});

describe('parseForm: bounded work and names that must not pass', () => {
  it(`accepts ${MAX_PARAMETERS} parameters and refuses one more`, () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `p${i}=1`).join('&');
    expect([...parseForm(names(MAX_PARAMETERS))]).toHaveLength(MAX_PARAMETERS);
    expect(thrown(() => parseForm(names(MAX_PARAMETERS + 1)))).toMatchObject({
      status: 400,
      error: 'invalid_request',
      description: `too many parameters (at most ${MAX_PARAMETERS})`,
    });
  });

  it('refuses 16k distinct names at once (the body that used to cost seconds of CPU)', () => {
    const body = Array.from({ length: 16_384 }, (_, i) => `n${i.toString(36)}`).join('&');
    expect(thrown(() => parseForm(body)).description).toContain('too many parameters');
  });

  it(`accepts a name of ${MAX_NAME_LENGTH} characters and refuses a longer one, encoded or not`, () => {
    expect(parseForm(`${'a'.repeat(MAX_NAME_LENGTH)}=1`).get('a'.repeat(MAX_NAME_LENGTH))).toBe('1');
    expect(thrown(() => parseForm(`${'a'.repeat(MAX_NAME_LENGTH + 1)}=1`)).description).toContain('longer than');
    expect(thrown(() => parseForm(`${'%61'.repeat(MAX_NAME_LENGTH + 1)}=1`)).description).toContain('longer than');
    expect(thrown(() => parseForm(`${'a'.repeat(1_000_000)}=1`)).description).toContain('longer than');
  });

  it.each([
    ['client_id[]', 'client_id%5B%5D=x'],
    ['client_secret[0]', 'client_secret%5B0%5D=x'],
    ['an array name', 'scope[]=x'],
    ['a NUL in a name', 'client_id%00=x'],
    ['a control character', 'grant%0Atype=x'],
    ['CLIENT_SECRET', 'CLIENT_SECRET=x'],
    ['Client_Id', 'Client_Id=x'],
    ['client.secret (PHP reads it as client_secret)', 'client.secret=x'],
    ['client secret (PHP reads it as client_secret)', 'client+secret=x'],
    ['client-secret', 'client-secret=x'],
    ['client_password', 'client_password=x'],
    ['client_key', 'client_key=x'],
  ])('refuses %s', (_, text) => {
    expect(thrown(() => parseForm(text))).toMatchObject({ status: 400, error: 'invalid_request' });
  });

  it.each(['client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'client_notification_token', 'clientele', 'subject_token'])(
    'accepts the name %s',
    (name) => {
      expect(parseForm(`${name}=v`).get(name)).toBe('v');
    },
  );

  it('never echoes a refused name that is not plain', () => {
    expect(thrown(() => parseForm('client_id%5B%3Cscript%3E%5D=x')).description).not.toContain('<script>');
  });
});

describe('serializeForm', () => {
  it('writes what URLSearchParams.toString() writes, for any names and values', () => {
    // every code unit that matters: ASCII (the safe set, the characters encodeURIComponent spares, space), Latin-1, astral, lone surrogates
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom(...' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~azAZ09'),
        fc.string({ unit: 'grapheme', maxLength: 1 }),
        fc.string({ unit: 'binary', maxLength: 1 }),
      ),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text), { maxLength: 6 }), (pairs) => {
        const params = new URLSearchParams(pairs);
        expect(serializeForm(params)).toBe(params.toString());
      }),
      { numRuns: 2000 },
    );
  });

  it('copies an assertion as it is and encodes its type URN and a scope like the form serializer', () => {
    const params = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: "read write!'()~*",
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'eyJh.eyJp-_Q.c2ln',
    });
    expect(serializeForm(params)).toBe(
      'grant_type=client_credentials&scope=read+write%21%27%28%29%7E*&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJh.eyJp-_Q.c2ln',
    );
    expect(serializeForm(new URLSearchParams())).toBe('');
    expect(serializeForm(new URLSearchParams([['', '']]))).toBe('=');
  });
});

describe('isFormContentType', () => {
  it.each([
    ['application/x-www-form-urlencoded', true],
    ['application/x-www-form-urlencoded; charset=UTF-8', true],
    ['application/x-www-form-urlencoded;charset=utf-8', true],
    ['Application/X-WWW-Form-URLEncoded', true],
    ['  application/x-www-form-urlencoded ; charset=utf-8', true],
    ['application/json', false],
    ['application/json; x=application/x-www-form-urlencoded', false],
    ['application/x-www-form-urlencoded-extra', false],
    ['multipart/form-data; boundary=x', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(isFormContentType(header)).toBe(expected);
  });
});

const post = (body: RequestInit['body'], headers: Record<string, string> = {}) => new Request('http://x', { method: 'POST', body, headers, duplex: 'half' });

/** A stream that hands out `chunk`-byte chunks on demand, forever, and reports what was pulled. */
function endless(chunk: number) {
  const state = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls++;
        controller.enqueue(new Uint8Array(chunk).fill(0x61));
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

describe('readBody', () => {
  it('reads a body under the cap', async () => {
    expect(await readBody(post('grant_type=x&scope=%C3%A9'), 100)).toBe('grant_type=x&scope=%C3%A9');
  });

  it('accepts a body of exactly the cap and refuses one byte more', async () => {
    expect(await readBody(post('a'.repeat(64)), 64)).toHaveLength(64);
    await expect(readBody(post('a'.repeat(65)), 64)).rejects.toMatchObject({ status: 413, error: 'invalid_request' });
  });

  it('refuses a declared Content-Length over the cap before reading anything', async () => {
    const { stream, state } = endless(1);
    const err = await readBody(post(stream, { 'content-length': '100000' }), 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ status: 413 });
    expect(state.pulls).toBe(0);
  });

  it('cuts off a streamed body that grows past the cap', async () => {
    const { stream, state } = endless(1000);
    const err = await readBody(post(stream), 4096).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ status: 413, error: 'invalid_request' });
    expect(state.pulls).toBe(5);
    expect(state.cancelled).toBe(true);
  });

  it('answers a stream that breaks off (the caller hung up) with a quiet 400, not a server error', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('grant_type=cli'));
        controller.error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      },
    });
    const err = await readBody(post(stream), 4096).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ status: 400, error: 'invalid_request', code: 'ERR_CLIENT_ABORTED', reason: 'client_aborted', category: 'request' });
  });

  it('reads an empty body as the empty string', async () => {
    expect(await readBody(new Request('http://x', { method: 'POST' }), 10)).toBe('');
  });
});

describe('readIncomingBody (a real node:http server: the request as the proxy reads it)', () => {
  /** Serves one POST per call: the handler's outcome (the body, or the error's status and code) as JSON. */
  async function withServer(maxBytes: number, run: (port: number, outcomes: unknown[]) => Promise<void>) {
    const outcomes: unknown[] = [];
    const server = createServer((req, res) => {
      readIncomingBody(req, maxBytes)
        .then(
          (text) => outcomes.push({ text }),
          (err: OAuthError) => outcomes.push({ status: err.status, code: err.code, headers: err.headers }),
        )
        .finally(() => res.writeHead(200, { connection: 'close' }).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run((server.address() as AddressInfo).port, outcomes);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const send = (port: number, chunks: string[], headers: Record<string, string> = {}) =>
    new Promise<void>((resolve) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST', headers }, (res) => res.resume().on('end', resolve));
      req.on('error', () => resolve());
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });

  it('reads a body in one or several chunks, up to exactly the cap', async () => {
    await withServer(64, async (port, outcomes) => {
      await send(port, ['grant_type=x&scope=%C3%A9']);
      await send(port, ['a'.repeat(30), 'b'.repeat(34)]);
      expect(outcomes).toEqual([{ text: 'grant_type=x&scope=%C3%A9' }, { text: `${'a'.repeat(30)}${'b'.repeat(34)}` }]);
    });
  });

  it('refuses a declared length over the cap, and a chunked body growing past it, with 413 and connection: close', async () => {
    await withServer(64, async (port, outcomes) => {
      await send(port, ['a'.repeat(100)], { 'content-length': '100' });
      await send(port, ['a'.repeat(40), 'a'.repeat(40)]);
      const tooLarge = { status: 413, code: 'ERR_BODY_TOO_LARGE', headers: { connection: 'close' } };
      expect(outcomes).toEqual([tooLarge, tooLarge]);
    });
  });

  it('answers a caller that hangs up mid-body with ERR_CLIENT_ABORTED', async () => {
    await withServer(1024, async (port, outcomes) => {
      await new Promise<void>((resolve) => {
        const req = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': '100' } });
        req.on('error', () => undefined);
        req.write('grant_type=cli', () => setTimeout(() => (req.destroy(), resolve()), 50));
      });
      await expect.poll(() => outcomes).toEqual([{ status: 400, code: 'ERR_CLIENT_ABORTED', headers: {} }]);
    });
  });
});
