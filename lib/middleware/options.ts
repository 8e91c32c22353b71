/** Checks shared by the middleware factories' option validation. */

/** True for a plain object usable as log fields (not null, not an array, not a function). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
