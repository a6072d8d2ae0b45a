/**
 * `basicEncoding: auto` as doctor reports it: what the store says each client's IdP takes, so an operator sees what
 * every replica sends first (the RFC 6749 form until an IdP refuses it and takes the credentials raw).
 */
import { learnedEncodingName } from '../outbound/client-secret-basic.js';
import { rowOf } from '../outbound/methods.js';
import { resolveClient } from '../config/outbound-settings.js';
import type { ClientConfig, Config, UpstreamConfig } from '../config/schema.js';
import { createStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { ok, warn, type Check } from './report.js';

/** Whether a client sends Basic credentials whose encoding `auto` learns (what doctor reports on). */
export const learnsBasicEncoding = (upstream: UpstreamConfig, client: ClientConfig): boolean =>
  rowOf(client.upstream.method).basicHeader && resolveClient(upstream, client).basicEncoding === 'auto';

/** Where doctor reads learned encodings: a Redis store, or why there is none to read (`down`: it could not be reached). */
export type LearnedStore = { readonly store: Store } | { readonly note: string; readonly down: boolean };

/** The store that holds learned encodings (a Redis store; the memory store is per process), or why none is read. */
export async function openLearnedStore(config: Config): Promise<LearnedStore> {
  if (config.store.type === 'memory') return { note: 'memory store: each process learns for itself, at its first refused request', down: false };
  try {
    return { store: await createStore(config.store) };
  } catch (err) {
    return { note: `the store could not be read (${err instanceof Error ? err.message : String(err)})`, down: true };
  }
}

/** One `basic encoding` line per client_secret_basic client with `auto`. */
export async function checkLearnedEncodings(name: string, upstream: UpstreamConfig, learnedStore: LearnedStore, checks: Check[]): Promise<void> {
  for (const client of upstream.clients) {
    if (!learnsBasicEncoding(upstream, client)) continue;
    const id = client.clientId;
    if (!('store' in learnedStore)) {
      const { note, down } = learnedStore;
      checks.push(
        down
          ? warn('basic encoding', `auto: ${note}`, 'check the store (authbridge doctor reads what the replicas learned from it)', id)
          : ok('basic encoding', `auto: ${note}`, id),
      );
      continue;
    }
    const { store } = learnedStore;
    let learned: string | undefined;
    try {
      learned = await store.getLearned(learnedEncodingName(name, id));
    } catch (err) {
      checks.push(warn('basic encoding', `auto: the store could not be read (${err instanceof Error ? err.message : String(err)})`, 'check the store', id));
      continue;
    }
    checks.push(
      ok(
        'basic encoding',
        learned === 'raw'
          ? 'auto: learned that the IdP takes the credentials raw (not form-encoded): every replica sends them so'
          : learned === 'form'
            ? 'auto: learned that the IdP takes the RFC 6749 form-encoded credentials'
            : 'auto: nothing learned yet: the RFC 6749 form first, raw once if the IdP refuses it',
        id,
      ),
    );
  }
}
