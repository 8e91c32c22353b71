/** The PayError a call throws (failing the test when it throws nothing, or something else). */
import { expect } from 'vitest';
import { PayError, type ErrorKind } from '../../lib/errors';

/** Runs `fn` and returns the PayError it threw; with `kind`, also checks the error's kind. */
export function thrownPayError(fn: () => unknown, kind?: ErrorKind): PayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PayError);
    if (kind !== undefined) expect((err as PayError).kind).toBe(kind);
    return err as PayError;
  }
  throw new Error(`expected a ${kind ?? ''} PayError, nothing was thrown`.replace('  ', ' '));
}
