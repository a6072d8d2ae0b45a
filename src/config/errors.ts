import { AuthbridgeError } from '../errors.js';

/** A config problem at a path such as `upstreams.okta.clients[0].upstream.method`. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Thrown when a config file cannot be used; carries every problem found, not only the first. */
export class ConfigError extends AuthbridgeError<'ERR_CONFIG_INVALID'> {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super('ERR_CONFIG_INVALID', `invalid configuration in ${source}:\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

/** `['upstreams', 'okta', 'clients', 0, 'clientId']` → `upstreams.okta.clients[0].clientId`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}
