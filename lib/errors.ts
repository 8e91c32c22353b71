/**
 * The one error family. Every failure the service can report carries a `kind`; lib/replies.ts is the
 * only place that turns a kind into a protocol reply. `reason` is safe to show to the sender: it never
 * holds secrets, stack traces or internal names. `detail` is for our own logs only.
 */

export type ErrorKind =
  /** signature missing, wrong, a probe, a stale or future timestamp, an unknown key, undecryptable */
  | 'UNAUTHENTIC'
  /** malformed body, wrong content type, too large, XXE, hostile keys */
  | 'MALFORMED'
  /** authentic, but contradicts what we know (amount, appid, mchid, a different transaction) */
  | 'INCONSISTENT'
  /** the order is not registered and the merchant asked to reject such notifications */
  | 'UNKNOWN_ORDER'
  /** the store or a dependency failed transiently: the sender must retry */
  | 'UNAVAILABLE'
  /** the deployment is misconfigured: a variable is missing or malformed */
  | 'CONFIG';

/** Base of every error this service raises on purpose. */
export class PayError extends Error {
  readonly kind: ErrorKind;
  /** Text that may be sent back to the caller. */
  readonly reason: string;
  /** Extra context for logs (never secrets, never decrypted payloads). */
  readonly detail: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, reason: string, opts: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(reason, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PayError';
    this.kind = kind;
    this.reason = reason;
    this.detail = opts.detail;
  }
}

/** Shorthand constructors, so call sites read as the failure they report. */
export const unauthentic = (reason: string, detail?: Record<string, unknown>) =>
  new PayError('UNAUTHENTIC', reason, { detail });
export const malformed = (reason: string, detail?: Record<string, unknown>) =>
  new PayError('MALFORMED', reason, { detail });
export const inconsistent = (reason: string, detail?: Record<string, unknown>) =>
  new PayError('INCONSISTENT', reason, { detail });
export const unavailable = (reason: string, cause?: unknown) => new PayError('UNAVAILABLE', reason, { cause });
export const configError = (reason: string) => new PayError('CONFIG', reason);

/** Anything that is not a PayError is an unexpected fault: treat it as transient so the sender retries. */
export function asPayError(err: unknown): PayError {
  if (err instanceof PayError) return err;
  return new PayError('UNAVAILABLE', 'temporarily unavailable', { cause: err });
}

/**
 * A Lambda function of this service could not give its answer to a caller (lib/client.ts): the
 * invocation failed (`functionError` is Lambda's FunctionError, e.g. Unhandled), the call never
 * reached it, or what came back is not an answer. `kind` says whether calling again may help:
 * UNAVAILABLE may, CONFIG (no such function, no permission) and MALFORMED will not.
 */
export class InvokeError extends PayError {
  /** The function that was invoked (name or ARN, as given). */
  readonly functionName: string;
  /** Lambda's FunctionError header, when the function itself failed. */
  readonly functionError: string | undefined;
  /** The failed invocation's `errorType` (e.g. Runtime.ExitError, Sandbox.Timedout), when it named one. */
  readonly errorType: string | undefined;

  constructor(
    kind: Extract<ErrorKind, 'UNAVAILABLE' | 'CONFIG' | 'MALFORMED'>,
    reason: string,
    opts: { functionName: string; functionError?: string; errorType?: string; cause?: unknown },
  ) {
    super(kind, reason, { cause: opts.cause, detail: { functionName: opts.functionName } });
    this.name = 'InvokeError';
    this.functionName = opts.functionName;
    this.functionError = opts.functionError;
    this.errorType = opts.errorType;
  }
}
