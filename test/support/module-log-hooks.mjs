// The loader hooks of module-log.mjs (they run on the loader's thread): every URL the ESM loader loads, one line each.
import { appendFileSync } from 'node:fs';

let file;

export function initialize(data) {
  file = data.file;
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `load ${url}\n`);
  return nextLoad(url, context);
}
