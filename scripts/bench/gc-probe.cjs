// Preloaded into authbridge by `npm run bench -- --memory` only (node --expose-gc --require this file):
// answers an IPC message { gc: true } with process.memoryUsage() taken right after a full global.gc(), and the
// event loop's delay since the previous answer (perf_hooks.monitorEventLoopDelay at 1 ms resolution: p99 and max,
// in ms), then starts that count again. The delay shows pauses such as a sweep of the jti records.
// Production code is unchanged; without an IPC channel this does nothing.
'use strict';
if (typeof process.send === 'function') {
  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  process.on('message', (message) => {
    if (message?.gc !== true) return;
    const eventLoopDelayMs = { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
    if (typeof global.gc === 'function') global.gc();
    process.send({ memoryUsage: process.memoryUsage(), eventLoopDelayMs });
    delay.reset();
  });
  // the IPC channel must not keep authbridge alive on its own, nor its end stop it
  if (process.channel && typeof process.channel.unref === 'function') process.channel.unref();
}
