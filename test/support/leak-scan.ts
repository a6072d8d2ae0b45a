// Searches captured output (log lines, metrics, error bodies) for credentials: each value verbatim, and in the
// encodings a log or body would carry it (JSON-escaped, form- or percent-encoded, base64).

/** Where each credential was found, as `where: credential…` (the credential cut short, so the report is no leak itself). */
export function findLeaks(sources: Record<string, readonly string[]>, credentials: readonly string[]): string[] {
  const needles = new Set<string>();
  for (const credential of credentials) {
    if (credential.length < 8) continue; // too short to be told from ordinary text
    needles.add(credential);
    needles.add(JSON.stringify(credential).slice(1, -1));
    needles.add(encodeURIComponent(credential));
    needles.add(Buffer.from(credential).toString('base64').replace(/=+$/, ''));
  }
  const found: string[] = [];
  for (const [where, texts] of Object.entries(sources)) {
    for (const needle of needles) {
      if (texts.some((text) => text.includes(needle))) found.push(`${where}: ${needle.slice(0, 6)}…`);
    }
  }
  return found;
}
