import { expect } from 'vitest';
import { OAuthError } from '../../src/errors.js';

/** Runs `fn`, expecting it to throw an OAuthError, and returns that error for assertions. */
export function thrown(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return err as OAuthError;
  }
  throw new Error('expected an OAuthError, nothing was thrown');
}
