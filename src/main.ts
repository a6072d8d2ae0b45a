#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { doctor } from './cli/doctor.js';
import { helpFor, USAGE } from './cli/help.js';
import { jtiShow } from './cli/jti.js';
import { cacheFlush } from './cli/cache.js';
import { keysGenerate, keysList, keysRotate, type CliResult } from './cli/keys.js';
import { EXPORT_FORMATS, keysExportPublic, type ExportFormat } from './cli/keys-export.js';
import { isClusterWorker, runPrimary, runWorker } from './lifecycle/cluster.js';
import { handleSignals, loadWithDigest, startProxy } from './lifecycle/proxy.js';
import { validateFile } from './cli/validate.js';
import { closest } from './config/messages.js';
import { configPath } from './config/load.js';
import { workerCount } from './config/server-schema.js';
import { AuthbridgeError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { VERSION } from './version.js';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  alg: { type: 'string', default: 'ES256' },
  format: { type: 'string' }, // each command has its own default: keys generate pem, keys export-public jwks
  out: { type: 'string' },
  owner: { type: 'string' },
  'force-promote': { type: 'boolean', default: false },
  upstream: { type: 'string' },
  client: { type: 'string' },
  probe: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

const COMMANDS = ['start', 'validate', 'doctor', 'jti', 'keys', 'cache'];
const SUBCOMMANDS: Record<string, string[]> = { jti: ['show'], keys: ['list', 'rotate', 'export-public', 'generate'], cache: ['flush'] };

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    return usageError(argumentProblem(err));
  }
  const { values, positionals } = parsed;
  if (values.version) return print(VERSION);
  if (values.help) return print(helpFor(positionals));
  // no command is not `start`: a bare `authbridge` (or a typo'd script) must not quietly open a port
  if (positionals.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const [command, sub] = positionals as [string, string | undefined];
  if (!COMMANDS.includes(command)) return usageError(`unknown command "${command}"${hint(command, COMMANDS)}`);
  const subs = SUBCOMMANDS[command];
  if (subs && sub === undefined) return usageError(`"${command}" needs one of: ${subs.join(', ')}`);
  if (subs && !subs.includes(sub!)) return usageError(`unknown command "${command} ${sub}"${hint(sub!, subs, `${command} `)}`);
  const file = configPath(values.config);
  switch (command) {
    case 'validate': {
      const result = await validateFile(file);
      (result.ok ? console.log : console.error)(result.lines.join('\n'));
      return result.ok ? 0 : 1;
    }
    case 'start':
      return start(file);
    case 'doctor': {
      // the report goes to stdout either way (a script reads --json from there); the exit status says error or not;
      // --probe says on stderr how many token requests it is about to make, before it makes them
      const progress = (line: string) => console.error(line);
      const result = await doctor(file, { upstream: values.upstream, probe: values.probe, json: values.json, progress });
      console.log(result.text);
      return result.ok ? 0 : 1;
    }
    case 'jti':
      if (!positionals[2]) return usageError('"jti show" needs the jti to look up: authbridge jti show JTI');
      return report(() => jtiShow(file, positionals[2]!));
    case 'cache':
      if (values.client !== undefined && values.upstream === undefined) return usageError("--client needs --upstream: a client id is one upstream's");
      return report(() => cacheFlush(file, { upstream: values.upstream, client: values.client }));
    case 'keys':
      switch (positionals[1]) {
        case 'list':
          return report(() => keysList(file));
        case 'rotate':
          return report(() => keysRotate(file, values.owner, values['force-promote']));
        case 'export-public': {
          const format = values.format ?? 'jwks';
          if (!(EXPORT_FORMATS as readonly string[]).includes(format))
            return usageError(`--format for keys export-public is one of ${EXPORT_FORMATS.join(', ')}`);
          return report(() => keysExportPublic(file, { upstream: values.upstream, client: values.client, format: format as ExportFormat }));
        }
        case 'generate': {
          const format = values.format ?? 'pem';
          if (format !== 'pem' && format !== 'jwk') return usageError('--format for keys generate is pem or jwk');
          return report(() => keysGenerate(values.alg, format, values.out));
        }
      }
  }
  console.error(USAGE);
  return 2;
}

/** Config and store problems are said plainly: their message is written for the operator (by its code, as jose's). */
const saidPlainly = (err: unknown): err is AuthbridgeError =>
  err instanceof AuthbridgeError && (err.code === 'ERR_CONFIG_INVALID' || err.code === 'ERR_STORE_UNAVAILABLE');

/** Runs a one-shot command: its text on stdout (or stderr), exit 0/1; config and store problems are said plainly. */
async function report(command: () => Promise<CliResult>): Promise<number> {
  try {
    const { ok, text } = await command();
    (ok ? console.log : console.error)(text);
    return ok ? 0 : 1;
  } catch (err) {
    if (saidPlainly(err)) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

async function start(file: string): Promise<number> {
  const log = createLogger();
  try {
    if (isClusterWorker()) return await worker(file, log);
    const { config, configDigest } = await loadWithDigest(file);
    const workers = workerCount(config.server.workers);
    // several workers: this process is their primary (lifecycle/cluster.ts); one: the proxy itself, as always
    if (workers > 1) process.exit(await runPrimary(config, file, workers, log, configDigest));
    handleSignals(await startProxy(config, { log, watch: true, source: file, configDigest }), log);
    return -1;
  } catch (err) {
    if (saidPlainly(err)) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

/** A cluster worker: serves until a signal; a failed start exits at once (the IPC channel would keep it alive). */
async function worker(file: string, log: Logger): Promise<number> {
  try {
    await runWorker(file, log);
    return -1;
  } catch (err) {
    console.error(saidPlainly(err) ? err.message : `authbridge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

/** What parseArgs refused, in the user's words: the bad option and the closest real one. */
function argumentProblem(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  const option = /'(-{1,2}[^']*)'/.exec(message ?? '')?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const names = Object.keys(OPTIONS).map((o) => `--${o}`);
    return `unknown option "${option}"${hint(option, names)}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) return `option "${/--[\w-]+/.exec(option)?.[0] ?? option}" needs a value`;
  throw err;
}

function hint(word: string, known: string[], prefix = ''): string {
  const best = closest(word, known);
  return best === undefined ? '' : `; did you mean "${prefix}${best}"?`;
}

function usageError(problem: string): number {
  console.error(`authbridge: ${problem} (authbridge --help lists the commands and options)`);
  return 2;
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
