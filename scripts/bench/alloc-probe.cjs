// Preloaded into authbridge by `npm run bench -- --profile --alloc` only (node --require this file): V8's sampling
// heap profiler, keeping the samples of objects that GC already collected, so that the profile says where the
// bytes of a request are allocated, not only what is still alive. IPC { alloc: 'start' } starts it; { alloc:
// 'stop', file } writes the .heapprofile and answers { written: file }. Production code is unchanged.
'use strict';
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
if (typeof process.send === 'function') {
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  process.on('message', async (message) => {
    if (message?.alloc === 'start') {
      await post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      process.send({ started: true });
    } else if (message?.alloc === 'stop') {
      const { profile } = await post('HeapProfiler.stopSampling');
      writeFileSync(message.file, JSON.stringify(profile));
      process.send({ written: message.file });
    }
  });
  if (process.channel && typeof process.channel.unref === 'function') process.channel.unref();
}
