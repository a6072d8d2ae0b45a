// Preloaded into authbridge by `npm run bench -- --memory` only (node --expose-gc --require this file):
// answers an IPC message { gc: true } with process.memoryUsage() taken right after a full global.gc().
// Production code is unchanged; without an IPC channel this does nothing.
'use strict';
if (typeof process.send === 'function') {
  process.on('message', (message) => {
    if (!message || message.gc !== true) return;
    if (typeof global.gc === 'function') global.gc();
    process.send({ memoryUsage: process.memoryUsage() });
  });
  // the IPC channel must not keep authbridge alive on its own, nor its end stop it
  if (process.channel && typeof process.channel.unref === 'function') process.channel.unref();
}
