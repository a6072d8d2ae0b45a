/**
 * The OpenTelemetry SDK behind `Tracing` (span.ts): a tracer provider with a batch span processor and the OTLP/HTTP
 * exporter (JSON). Imported only by start.ts, and only dynamically when `tracing.enabled`: with tracing off none of
 * the SDK is loaded (`npm run deps` and test/e2e/tracing-off.test.ts hold that).
 *
 * No context manager and no global provider: the parent of every span is passed by hand (span.ts), so nothing in
 * authbridge or its dependencies records a span it was not handed.
 */
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span as OtelSpan,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { AuthbridgeError } from '../errors.js';
import { intervalLog } from '../log-interval.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { ATTR, type ChildKind, type RemoteParent, type Span, type SpanAttributes, type Tracing } from './span.js';

/**
 * Every span's start and end on one clock: epoch ms from the monotonic clock. Left to itself the SDK anchors each span
 * on Date.now() when it starts, so two spans' times can disagree by up to a millisecond, and a call that ends just
 * before its request's span could be recorded as ending after it.
 */
const clock = (): number => performance.timeOrigin + performance.now();

export interface OtelSettings {
  /** the OTLP/HTTP traces URL (start.ts resolved it from the config and the environment) */
  readonly endpoint: string;
  /** the config's headers: the exporter adds those of OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS under them */
  readonly headers?: Readonly<Record<string, string>>;
  /** the config's service name; default OTEL_SERVICE_NAME, else authbridge */
  readonly serviceName?: string;
  /** the traces URL as a log line may show it (no userinfo, no query) */
  readonly shownEndpoint: string;
  readonly log: Logger;
}

const propagator = new W3CTraceContextPropagator();
const KINDS = { internal: SpanKind.INTERNAL, client: SpanKind.CLIENT } as const;

/** A span of the SDK with the context its children are started in. */
class SdkSpan implements Span {
  #context: Context | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: OtelSpan,
    private readonly parent: Context,
  ) {}

  get #own(): Context {
    return (this.#context ??= trace.setSpan(this.parent, this.span));
  }

  child(name: string, attributes?: SpanAttributes, kind: ChildKind = 'internal'): Span {
    return new SdkSpan(this.tracer, this.tracer.startSpan(name, { kind: KINDS[kind], attributes, startTime: clock() }, this.#own), this.#own);
  }

  set(attributes: SpanAttributes): void {
    this.span.setAttributes(attributes);
  }

  fail(code: string): void {
    this.span.setAttribute(ATTR.errorType, code);
    this.span.setStatus({ code: SpanStatusCode.ERROR });
  }

  end(error?: unknown): void {
    if (error !== undefined) this.fail(errorCode(error));
    this.span.end(clock());
  }

  traceHeaders(): Record<string, string> {
    const carrier: Record<string, string> = {};
    propagator.inject(this.#own, carrier, defaultTextMapSetter);
    return carrier;
  }
}

/** An error as a span records it: its stable code, else its class name. Never its message (it may quote input). */
function errorCode(error: unknown): string {
  if (error instanceof AuthbridgeError) return error.code;
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * The exporter, telling the log when an export fails (at most one line per interval): the SDK itself would only
 * tell its diag logger, which authbridge does not install (its lines may quote anything). The line has the
 * endpoint and the failure's code or class, never a header.
 */
function reporting(exporter: SpanExporter, log: Logger, endpoint: string): SpanExporter {
  const say = intervalLog(log);
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          const err = result.error as { code?: unknown; name?: unknown } | undefined;
          const problem =
            typeof err?.code === 'string' || typeof err?.code === 'number' ? String(err.code) : typeof err?.name === 'string' ? err.name : 'unknown';
          say('warn', { endpoint, spans: spans.length, problem }, 'tracing: spans could not be exported (dropped)');
        }
        done(result);
      });
    },
    async shutdown() {
      say.flush();
      await exporter.shutdown();
    },
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

/** The SDK set up for authbridge: one provider, batch export over OTLP/HTTP JSON, the resource from config and env. */
export function openTracing(settings: OtelSettings): Tracing {
  const exporter = new OTLPTraceExporter({ url: settings.endpoint, ...(settings.headers && { headers: { ...settings.headers } }) });
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'authbridge', 'service.version': VERSION }))
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(settings.serviceName === undefined ? null : resourceFromAttributes({ 'service.name': settings.serviceName }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(reporting(exporter, settings.log, settings.shownEndpoint))],
  });
  const tracer = provider.getTracer('authbridge', VERSION);
  return {
    serverSpan(name: string, parent: RemoteParent | undefined, attributes: SpanAttributes): Span {
      const context = parent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, parent, defaultTextMapGetter);
      return new SdkSpan(tracer, tracer.startSpan(name, { kind: SpanKind.SERVER, attributes, startTime: clock() }, context), context);
    },
    shutdown: () => provider.shutdown(),
  };
}
