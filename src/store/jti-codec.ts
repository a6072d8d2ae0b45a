// The canonical forms the compact jti table holds (see memory-jti-table.ts): a jti of newJti() and a lowercase UUID, to
// and from their 16 bytes. Anything else does not decode, and the record goes to the plain Map instead.

/** A reader of the digit at `s[i]` in `alphabet`: its value, or -1 for a character outside it. */
function digits(alphabet: string): (s: string, i: number) => number {
  const values = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return (s, i) => {
    const code = s.charCodeAt(i);
    return code < 128 ? values[code]! : -1;
  };
}
const base64url = digits('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const hex = digits('0123456789abcdef');

/**
 * Decodes a jti of exactly 16 bytes in unpadded base64url (what newJti makes) into `into`; false for any other
 * string, including one whose last character carries bits beyond the 128 (it would not encode back the same).
 */
export function decodeJti(jti: string, into: Uint8Array): boolean {
  if (jti.length !== 22) return false;
  for (let group = 0; group < 5; group++) {
    const at = 4 * group;
    const a = base64url(jti, at);
    const b = base64url(jti, at + 1);
    const c = base64url(jti, at + 2);
    const d = base64url(jti, at + 3);
    if ((a | b | c | d) < 0) return false;
    const bits = (a << 18) | (b << 12) | (c << 6) | d;
    into[3 * group] = bits >> 16;
    into[3 * group + 1] = (bits >> 8) & 0xff;
    into[3 * group + 2] = bits & 0xff;
  }
  const a = base64url(jti, 20);
  const b = base64url(jti, 21);
  if ((a | b) < 0 || (b & 0x0f) !== 0) return false;
  into[15] = (a << 2) | (b >> 4);
  return true;
}

/** where each byte's two hex digits start in a UUID's 8-4-4-4-12 form */
const UUID_DIGITS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** A lowercase UUID (8-4-4-4-12 hex digits) into 16 bytes; false for any other string (it would not format back the same). */
export function decodeUuid(id: string, into: Uint8Array): boolean {
  if (id.length !== 36 || id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return false;
  for (let byte = 0; byte < 16; byte++) {
    const at = UUID_DIGITS[byte]!;
    const high = hex(id, at);
    const low = hex(id, at + 1);
    if ((high | low) < 0) return false;
    into[byte] = (high << 4) | low;
  }
  return true;
}

export function encodeUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
