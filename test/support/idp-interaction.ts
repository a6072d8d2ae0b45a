// Server side of the local test IdP's login/consent UI (see ./idp.ts and ./idp-login.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InteractionResults, Provider } from 'oidc-provider';

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(json);
}

/** GET/POST /interaction/:uid - a minimal login + consent UI driven by Idp.login(). */
export async function handleInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse, uid: string) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'interaction uid mismatch' });
    return;
  }
  const { prompt, params, session } = details;
  if (req.method === 'GET') {
    sendJson(res, 200, { uid, prompt: { name: prompt.name, reasons: prompt.reasons }, client_id: params.client_id, scope: params.scope });
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'invalid_request', error_description: 'method not allowed' });
    return;
  }

  const form = new URLSearchParams((await readBody(req)).toString('utf8'));
  let result: InteractionResults;
  if (form.has('abort')) {
    result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
  } else if (prompt.name === 'login') {
    const accountId = form.get('login');
    if (!accountId) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'login (account id) is required' });
      return;
    }
    result = { login: { accountId } };
  } else if (prompt.name === 'consent') {
    if (!session?.accountId || typeof params.client_id !== 'string') {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'consent without a logged-in session' });
      return;
    }
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    result = { consent: details.grantId ? {} : { grantId } };
  } else {
    sendJson(res, 400, { error: 'invalid_request', error_description: `unsupported prompt ${prompt.name}` });
    return;
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}
