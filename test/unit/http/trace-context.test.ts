import { describe, expect, it } from 'vitest';
import { MAX_TRACESTATE_LENGTH, readTraceContext, traceHeaders } from '../../../src/http/trace-context.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;

describe('readTraceContext', () => {
  it('accepts a version-00 traceparent and keeps it as it is', () => {
    expect(readTraceContext(TRACEPARENT, undefined)).toEqual({ traceparent: TRACEPARENT, traceId: TRACE_ID });
    expect(readTraceContext(`00-${TRACE_ID}-b7ad6b7169203331-00`, undefined)?.traceId).toBe(TRACE_ID);
  });

  it.each([
    undefined,
    '',
    `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    `00-${TRACE_ID.toUpperCase()}-b7ad6b7169203331-01`,
    `00-${TRACE_ID}-b7ad6b7169203331-1`,
    `00-${TRACE_ID}-b7ad6b7169203331-01\r\nx-injected: 1`,
    `00-${TRACE_ID}-b7ad6b7169203331-01\n`,
    ` ${TRACEPARENT}`,
    `cc-${TRACE_ID}-b7ad6b7169203331-01`,
  ])('refuses %j, and its tracestate with it', (traceparent) => {
    expect(readTraceContext(traceparent, 'rojo=00f067aa0ba902b7')).toBeUndefined();
  });

  it('takes a tracestate only when it is printable ASCII of at most 512 characters', () => {
    const ok = `k=${'v'.repeat(MAX_TRACESTATE_LENGTH - 2)}`;
    expect(readTraceContext(TRACEPARENT, ok)?.tracestate).toBe(ok);
    expect(readTraceContext(TRACEPARENT, ' rojo=1,congo=2 ')?.tracestate).toBe('rojo=1,congo=2');
    for (const bad of [`${ok}v`, 'rojo=1\r\nx-injected: 1', 'rojo=1\n', 'rojo=1\u0000', 'rojo=ü', '', '   '])
      expect(readTraceContext(TRACEPARENT, bad), JSON.stringify(bad)).toEqual({ traceparent: TRACEPARENT, traceId: TRACE_ID });
  });
});

describe('traceHeaders', () => {
  it('gives the headers to send, none without a trace context', () => {
    expect(traceHeaders(undefined)).toEqual({});
    expect(traceHeaders(readTraceContext(TRACEPARENT, undefined))).toEqual({ traceparent: TRACEPARENT });
    expect(traceHeaders(readTraceContext(TRACEPARENT, 'a=1'))).toEqual({ traceparent: TRACEPARENT, tracestate: 'a=1' });
  });
});
