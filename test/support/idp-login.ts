// Browser-style login driver for the local test IdP (see ./idp.ts): plain fetch with
// redirect: 'manual' and a minimal path-aware cookie jar.

interface StoredCookie {
  name: string;
  value: string;
  path: string;
}

export class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>();

  /** Store the Set-Cookie headers of a response (expired/empty cookies are removed). */
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attrValue = rest.join('=').trim();
        if (key === 'path' && attrValue.startsWith('/')) path = attrValue;
        if (key === 'max-age' && Number(attrValue) <= 0) expired = true;
        if (key === 'expires' && Date.parse(attrValue) <= Date.now()) expired = true;
      }
      const id = `${name}\u0000${path}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  /** The Cookie header value for a request to `url` (host is not checked: one IdP, one origin). */
  header(url: URL): string | undefined {
    const matching = [...this.cookies.values()]
      .filter(({ path }) => url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map(({ name, value }) => `${name}=${value}`).join('; ') : undefined;
  }
}

const MAX_STEPS = 25;

async function describe(response: Response): Promise<string> {
  const body = await response.text().catch(() => '');
  return `HTTP ${response.status}${body ? `: ${body.slice(0, 500)}` : ''}`;
}

/**
 * Drive the authorization endpoint of the IdP at `issuer` until it redirects away from the IdP
 * (to the client's redirect_uri). Logs in as `accountId` and grants every requested consent.
 * `fetchImpl`: for an https IdP whose certificate the default fetch does not trust.
 */
export async function driveLogin(issuer: string, authorizationUrl: string | URL, accountId: string, fetchImpl: typeof fetch = fetch): Promise<URL> {
  const origin = new URL(issuer).origin;
  const jar = new CookieJar();
  const isIdpUrl = (url: URL) => url.origin === origin && (url.pathname.startsWith('/auth') || url.pathname.startsWith('/interaction/'));

  const request = async (url: URL, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetchImpl(url, { ...init, headers, redirect: 'manual' });
    jar.store(response);
    return response;
  };

  let url = new URL(authorizationUrl);
  if (!isIdpUrl(url)) throw new Error(`login(): ${url.href} is not an authorization URL of the IdP at ${issuer}`);

  for (let step = 0; step < MAX_STEPS; step += 1) {
    let response = await request(url);

    if (url.pathname.startsWith('/interaction/')) {
      if (response.status !== 200) {
        throw new Error(`login(): GET ${url.pathname} failed with ${await describe(response)}`);
      }
      const details = (await response.json()) as { prompt?: { name?: string } };
      const prompt = details.prompt?.name;
      let form: URLSearchParams;
      if (prompt === 'login') form = new URLSearchParams({ login: accountId });
      else if (prompt === 'consent') form = new URLSearchParams({ consent: 'yes' });
      else throw new Error(`login(): unexpected interaction prompt ${JSON.stringify(prompt)} at ${url.pathname}`);
      response = await request(url, { method: 'POST', body: form });
    }

    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || !location) {
      throw new Error(`login(): expected a redirect from ${url.pathname}, got ${await describe(response)}`);
    }
    await response.body?.cancel();

    const next = new URL(location, url);
    if (!isIdpUrl(next)) {
      const error = next.searchParams.get('error');
      if (error) {
        const description = next.searchParams.get('error_description');
        throw new Error(`login(): authorization failed: ${error}${description ? ` (${description})` : ''} -> ${next.href}`);
      }
      if (!next.searchParams.has('code')) {
        throw new Error(`login(): final redirect carries no code: ${next.href}`);
      }
      return next;
    }
    url = next;
  }
  throw new Error(`login(): gave up after ${MAX_STEPS} redirects`);
}
