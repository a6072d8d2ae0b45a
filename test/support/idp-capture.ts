// What the test IdPs (idp.ts, mtls-idp.ts) share to capture a request exactly as it arrived and answer it through
// oidc-provider: a replay of the consumed body, flat headers, the form's parameters, and the answer as it is written.
import { IncomingMessage, type ServerResponse } from 'node:http';
import { sendJson } from './idp-interaction.js';

/** A fresh, readable IncomingMessage carrying an already-consumed request body, for the provider to parse. */
export function replayRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = new IncomingMessage(req.socket);
  replay.method = req.method;
  replay.url = req.url;
  replay.headers = req.headers;
  replay.rawHeaders = req.rawHeaders;
  replay.httpVersion = req.httpVersion;
  replay.httpVersionMajor = req.httpVersionMajor;
  replay.httpVersionMinor = req.httpVersionMinor;
  replay.complete = true;
  if (body.length) replay.push(body);
  replay.push(null);
  return replay;
}

export function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export function parseForm(contentType: string | undefined, raw: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  if (!contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) return params;
  for (const [key, value] of new URLSearchParams(raw)) {
    const existing = params[key];
    if (existing === undefined) params[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else params[key] = [existing, value];
  }
  return params;
}

/** Record the status and body the provider answers with, as it writes them. */
export function recordResponse(res: ServerResponse, entry: { status: number; responseBody: string }): void {
  const chunks: Buffer[] = [];
  const toBuffer = (chunk: unknown, encoding?: unknown) =>
    typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array);
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') chunks.push(toBuffer(chunk, rest[0]));
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') chunks.push(toBuffer(chunk, rest[0]));
    entry.status = res.statusCode;
    entry.responseBody = Buffer.concat(chunks).toString('utf8');
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
}

/** An error thrown while handing a request to oidc-provider: its OAuth error as JSON, or the connection cut if an answer had begun. */
export function answerFailure(res: ServerResponse, err: unknown): void {
  const error = err as { statusCode?: number; status?: number; error?: string; error_description?: string; message?: string };
  if (res.headersSent) return void res.destroy();
  sendJson(res, error.statusCode ?? error.status ?? 500, {
    error: error.error ?? 'server_error',
    error_description: error.error_description ?? error.message ?? String(err),
  });
}
