/**
 * The CLI's help: `authbridge --help` lists every command, `authbridge COMMAND --help` (or `keys rotate --help`)
 * that command's. Each names the docs page that explains it (a path in the repository; test/e2e/cli.test.ts
 * checks every page named exists).
 */
import { SIGNING_ALGS } from '../config/algs.js';
import { VERSION } from '../version.js';

interface CommandHelp {
  /** `start`, `keys rotate`: what `--help` after it shows this for */
  name: string;
  synopsis: string;
  text: readonly string[];
  docs: readonly string[];
}

const COMMAND_HELP: readonly CommandHelp[] = [
  { name: 'start', synopsis: 'authbridge start    [--config FILE]', text: ['serve the proxy'], docs: ['docs/operations.md'] },
  {
    name: 'validate',
    synopsis: 'authbridge validate [--config FILE]',
    text: ['check a config file (schema, env references, key files)'],
    docs: ['docs/configuration.md'],
  },
  {
    name: 'doctor',
    synopsis: 'authbridge doctor [--upstream NAME] [--probe CLIENT] [--json] [--config FILE]',
    text: [
      'check the config against the live IdPs: discovery and issuer, methods',
      'and algs they list, the JWKS URL, keys and certificates, clock offset;',
      '--probe: one real client_credentials request as CLIENT (and, after a',
      'refusal, the variants that commonly fix it and the other methods and',
      'algs the IdP lists: at most AUTHBRIDGE_PROBE_MAX_TRIES more, counted',
      'on stderr first); exit 1 on any error',
    ],
    docs: ['docs/doctor.md'],
  },
  {
    name: 'jti show',
    synopsis: 'authbridge jti show JTI [--config FILE]',
    text: ['the record of an assertion (upstream, client, request id, times)'],
    docs: ['docs/replicas.md'],
  },
  {
    name: 'cache flush',
    synopsis: 'authbridge cache flush [--upstream NAME [--client ID]] [--config FILE]',
    text: ['drop cached client_credentials tokens from the shared store (Redis):', "every replica's next request for them goes to the IdP"],
    docs: ['docs/token-cache.md'],
  },
  {
    name: 'keys list',
    synopsis: 'authbridge keys list [--config FILE]',
    text: ['managed keys: states and ages (reads only; checks the KEK)'],
    docs: ['docs/replicas.md'],
  },
  {
    name: 'keys rotate',
    synopsis: 'authbridge keys rotate [--owner UPSTREAM[/CLIENT]] [--force-promote] [--config FILE]',
    text: ['force one rotation step (publish a next key, or promote it once it', 'was published prePublishSeconds; --force-promote: promote it now)'],
    docs: ['docs/replicas.md'],
  },
  {
    name: 'keys export-public',
    synopsis: 'authbridge keys export-public [--upstream NAME [--client ID]] [--format jwks|jwk|pem|certificate] [--config FILE]',
    text: [
      'public keys, for an IdP that cannot fetch the JWKS URL (reads only:',
      'creates no key). jwks (default): every published key; jwk, pem: the',
      'key that signs now (pem: SubjectPublicKeyInfo); certificate: the X.509',
      'certificates of every published key, next keys too (upload one to',
      'Entra ID before it signs)',
    ],
    docs: ['docs/operations.md'],
  },
  {
    name: 'keys generate',
    synopsis: 'authbridge keys generate --alg ALG [--format pem|jwk] [--out FILE]',
    text: ['a private key for `key: { file }` (--format default: pem);', `ALG: ${SIGNING_ALGS.join(' ')}`, '(RSA: 2048 bits; ES384: P-384; ES512: P-521)'],
    docs: ['docs/idp-profiles.md'],
  },
];

const COLUMN = 40;
const FILE_DEFAULT = 'FILE defaults to $AUTHBRIDGE_CONFIG, else config/authbridge.yaml.';

function entry({ synopsis, text, docs }: CommandHelp): string[] {
  const lines = [...text, `docs: ${docs.join(', ')}`];
  const head = `  ${synopsis}`;
  const indent = ' '.repeat(COLUMN);
  if (head.length > COLUMN - 2) return [head, ...lines.map((l) => indent + l)];
  return [head.padEnd(COLUMN) + lines[0], ...lines.slice(1).map((l) => indent + l)];
}

export const USAGE = [
  `authbridge ${VERSION}: client_secret_post in, the IdP's client authentication method out`,
  '',
  'Usage:',
  ...COMMAND_HELP.flatMap(entry),
  '  authbridge --version',
  '',
  'A command is required: without one this text is printed and the exit status is 2.',
  `${FILE_DEFAULT} LOG_LEVEL sets the log level.`,
  'A running proxy reloads its config on SIGHUP and when the file changes; SIGTERM drains it.',
  'authbridge COMMAND --help: that command alone, and the page that explains it.',
  'Every docs page: docs/README.md; every config field: docs/configuration.md.',
].join('\n');

/** What `--help` prints after these positionals: one command's help (`keys`: each of its), else the whole usage. */
export function helpFor(positionals: readonly string[]): string {
  const [command, sub] = positionals;
  if (command === undefined) return USAGE;
  const exact = COMMAND_HELP.filter((c) => c.name === `${command} ${sub}`);
  const matching = exact.length > 0 ? exact : COMMAND_HELP.filter((c) => c.name === command || c.name.startsWith(`${command} `));
  if (matching.length === 0) return USAGE;
  const usesFile = matching.some((c) => c.synopsis.includes('--config FILE'));
  return ['Usage:', ...matching.flatMap(entry), ...(usesFile ? ['', FILE_DEFAULT] : [])].join('\n');
}
