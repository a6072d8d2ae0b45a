/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the caller's `traceparent` and `tracestate`, passed
 * on to the IdP unchanged so that one token request can be followed across broker, authbridge and IdP.
 * authbridge starts no span of its own; it only relays a header it has checked, and logs the trace id.
 */
export interface TraceContext {
  /** the caller's traceparent, exactly as received */
  traceparent: string;
  /** the caller's tracestate, only alongside a valid traceparent */
  tracestate?: string;
  /** the trace-id field of traceparent, for the request's log line */
  traceId: string;
}

/** Version 00: `00-<trace-id: 32 hex>-<parent-id: 16 hex>-<trace-flags: 2 hex>`, lowercase only (§3.2.2). */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ALL_ZERO = /^0+$/;
/** §3.3.1.5 asks to propagate at least 512 characters; more is dropped rather than cut mid-member. */
export const MAX_TRACESTATE_LENGTH = 512;
/** list members are printable ASCII; anything else (CR, LF, NUL, non-ASCII) cannot be a valid tracestate */
const TRACESTATE = /^[\x20-\x7e]+$/;
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * The trace context of a request, or undefined when its traceparent is missing or invalid (wrong shape, an
 * all-zero trace-id or parent-id, several headers joined): then tracestate is dropped too (§3.3). An
 * unusable tracestate (too long, control characters) is dropped alone.
 */
export function readTraceContext(traceparent: string | undefined, tracestate: string | undefined): TraceContext | undefined {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (!m || ALL_ZERO.test(m[1]!) || ALL_ZERO.test(m[2]!)) return undefined;
  const state = tracestate?.replace(OWS, ''); // spaces and tabs only: a CR or LF stays and disqualifies it
  const usable = state !== undefined && state.length <= MAX_TRACESTATE_LENGTH && TRACESTATE.test(state);
  return usable ? { traceparent: m[0], tracestate: state, traceId: m[1]! } : { traceparent: m[0], traceId: m[1]! };
}

/** The headers that carry a trace context to the IdP. */
export function traceHeaders(trace: TraceContext | undefined): Record<string, string> {
  if (!trace) return {};
  return trace.tracestate === undefined ? { traceparent: trace.traceparent } : { traceparent: trace.traceparent, tracestate: trace.tracestate };
}
