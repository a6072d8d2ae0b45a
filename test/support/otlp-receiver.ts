// An OTLP/HTTP traces receiver on a loopback port: POST /v1/traces, decoded the way a collector decodes it (the OTLP
// JSON encoding: https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding, ids as hex, attribute values as
// AnyValue objects), and kept as flat spans for assertions. authbridge's exporter sends JSON; any other body is kept
// as an export but answered 415 and decoded to no span, so a test expecting spans fails. Every request's headers and raw body are kept too, so that a test can look for
// a credential in exactly what left authbridge.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span */
  parentSpanId: string;
  name: string;
  /** SPAN_KIND_*: 1 internal, 2 server, 3 client */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** STATUS_CODE_*: 0 unset, 1 ok, 2 error */
  status: number;
  statusMessage: string;
  /** the resource the span came with (service.name …) */
  resource: Record<string, string | number | boolean>;
  scope: string;
  startNs: bigint;
  endNs: bigint;
}

export interface ReceivedExport {
  headers: Record<string, string>;
  contentType: string;
  body: string;
}

export interface OtlpReceiver {
  /** the traces URL: http://127.0.0.1:PORT/v1/traces */
  url: string;
  /** the base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT takes it */
  base: string;
  spans: ReceivedSpan[];
  exports: ReceivedExport[];
  /** resolves once `predicate` holds for the spans received (polled), or rejects after `timeoutMs` */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  clear(): void;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

function value(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return JSON.stringify((v.arrayValue.values ?? []).map(value));
  return JSON.stringify(v);
}

const flat = (attributes: KeyValue[] | undefined) => Object.fromEntries((attributes ?? []).map((a) => [a.key, value(a.value)]));

/** The spans of one OTLP JSON ExportTraceServiceRequest. */
export function decodeExport(request: ExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = flat(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          attributes: flat(s.attributes),
          status: s.status?.code ?? 0,
          statusMessage: s.status?.message ?? '',
          resource,
          scope: ss.scope?.name ?? '',
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
        });
  }
  return out;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `status`: what the receiver answers (a test of a failing collector sets 503). */
export async function startOtlpReceiver({ status = 200 }: { status?: number } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const exports: ReceivedExport[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readAll(req);
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const contentType = req.headers['content-type'] ?? '';
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      exports.push({ headers, contentType, body: raw.toString('utf8') });
      if (!contentType.startsWith('application/json')) {
        // authbridge's exporter is the JSON one (exporter-trace-otlp-http): anything else is a failure of the test
        res.writeHead(415).end();
        return;
      }
      spans.push(...decodeExport(JSON.parse(raw.toString('utf8')) as ExportRequest));
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{}' : '{"code":14,"message":"unavailable"}');
    })().catch(() => res.writeHead(400).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/v1/traces`,
    base,
    spans,
    exports,
    async waitFor(predicate, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > until) throw new Error(`OTLP receiver: spans not as expected after ${timeoutMs} ms: ${spans.map((s) => s.name).join(', ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return spans;
    },
    clear() {
      spans.length = 0;
      exports.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
