#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startFromFile } from './cli/start.js';
import { validateFile } from './cli/validate.js';
import { ConfigError } from './config/errors.js';
import { configPath } from './config/load.js';
import { createLogger } from './log.js';
import { VERSION } from './version.js';

const USAGE = `authbridge ${VERSION}: client_secret_post in, the IdP's client authentication method out

Usage:
  authbridge start    [--config FILE]   serve the proxy
  authbridge validate [--config FILE]   check a config file (schema, env references, key files)
  authbridge --version

FILE defaults to $AUTHBRIDGE_CONFIG, else config/authbridge.yaml. LOG_LEVEL sets the log level.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  });
  if (values.version) return print(VERSION);
  if (values.help) return print(USAGE);
  const file = configPath(values.config);
  switch (positionals[0] ?? 'start') {
    case 'validate': {
      const result = await validateFile(file);
      (result.ok ? console.log : console.error)(result.lines.join('\n'));
      return result.ok ? 0 : 1;
    }
    case 'start':
      return start(file);
    default:
      console.error(USAGE);
      return 2;
  }
}

async function start(file: string): Promise<number> {
  const log = createLogger();
  try {
    const proxy = await startFromFile(file, { log });
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down');
      proxy.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
    return -1;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

function print(text: string): number {
  console.log(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`authbridge: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
