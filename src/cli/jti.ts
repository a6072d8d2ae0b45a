import { loadConfigFile } from '../config/load.js';
import { createStore } from '../store/index.js';

/** `authbridge jti show JTI`: the record of an assertion, to match an IdP log line to a request. */
export async function jtiShow(file: string, jti: string): Promise<{ ok: boolean; text: string }> {
  const config = loadConfigFile(file);
  const store = await createStore(config.store);
  try {
    const record = await store.getJti(jti);
    if (!record) return { ok: false, text: `jti ${jti}: no record (never issued by this store, or expired: records live for the assertion's lifetime + 30 s)` };
    const shown = { jti, ...record, issuedAt: new Date(record.issuedAt).toISOString(), expiresAt: new Date(record.expiresAt).toISOString() };
    return { ok: true, text: JSON.stringify(shown, null, 2) };
  } finally {
    await store.close();
  }
}
