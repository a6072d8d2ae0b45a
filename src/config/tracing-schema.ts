/**
 * `tracing`: OpenTelemetry spans exported over OTLP/HTTP (docs/tracing.md). Off unless `enabled`; then each field set
 * here wins over its standard OTEL_* variable, and a field left out falls back to that variable: the convention of
 * OpenTelemetry's declarative configuration (the file says what it sets; the environment fills in the rest).
 */
import { z } from 'zod';

/** An RFC 9110 field name (token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Where spans go when neither the config nor the environment says: the OTLP/HTTP default (a local collector). */
export const DEFAULT_TRACES_ENDPOINT = 'http://localhost:4318/v1/traces';
export const DEFAULT_SERVICE_NAME = 'authbridge';

const tracesEndpoint = z.string().superRefine((value, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
    ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL, the traces path included (e.g. http://otel-collector:4318/v1/traces)' });
  else if (url.username || url.password)
    ctx.addIssue({ code: 'custom', message: 'must not carry credentials in the URL: put them in tracing.headers (as ${VAR})' });
});

export const tracingSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe('true: record a span per request (and its inbound authentication, signing, store, discovery and IdP calls) and export them over OTLP/HTTP'),
    endpoint: tracesEndpoint
      .optional()
      .describe(
        `the OTLP/HTTP traces URL, used as is (the path included); default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended, else ${DEFAULT_TRACES_ENDPOINT}`,
      )
      .meta({ examples: ['http://otel-collector.observability:4318/v1/traces'] }),
    headers: z
      .record(
        z.string().regex(HEADER_NAME, 'must be an HTTP header name'),
        z.string().refine((v) => !/[\r\n\0]/.test(v), { message: 'must not contain CR, LF or NUL' }),
      )
      .optional()
      .describe(
        "headers sent with every export (a collector's API key: write it as ${VAR}); added to those of OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TRACES_HEADERS, a name set here wins",
      )
      .meta({ examples: [{ authorization: '${OTLP_AUTHORIZATION}' }] }),
    serviceName: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe(`the service.name of the spans; default OTEL_SERVICE_NAME, else ${DEFAULT_SERVICE_NAME} (OTEL_RESOURCE_ATTRIBUTES adds attributes of its own)`),
  })
  .describe('OpenTelemetry traces (off by default): read at start, a change takes a restart');

export type TracingConfig = z.output<typeof tracingSchema>;
