// `node --import ./test/support/module-log.mjs …`: writes every module the process loads to AUTHBRIDGE_MODULE_LOG,
// one per line: each module the ESM loader loads (`load <url>`, through the hooks in module-log-hooks.mjs: ES modules
// and the CommonJS modules imported from them) and, as the process exits, every CommonJS module in require.cache
// (`require <path>`: the ones those require in turn). What a test reads to know whether a package was loaded at all.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.AUTHBRIDGE_MODULE_LOG;
if (!file) throw new Error('module-log.mjs: set AUTHBRIDGE_MODULE_LOG to the file to write');
register('./module-log-hooks.mjs', import.meta.url, { data: { file } });
const require = createRequire(import.meta.url);
process.on('exit', () =>
  appendFileSync(
    file,
    Object.keys(require.cache)
      .map((path) => `require ${path}\n`)
      .join(''),
  ),
);
