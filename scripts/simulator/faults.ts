/**
 * TEST-ONLY: fault injection for the simulator's API endpoints.
 *
 * A plan is an ordered list of "the next N calls of endpoint E answer with fault K". Faults are
 * consumed per call, in the order they were planned, so a test can script e.g. two SYSTEMERRORs
 * followed by a normal answer.
 */

/** API endpoints a fault can target ('*' = whichever API call comes next). */
export const FAULT_ENDPOINTS = [
  'v2.closeorder',
  'v2.orderquery',
  'v2.refund',
  'v2.refundquery',
  'v3.close',
  'v3.query',
  'v3.busifavor',
  'v3.certificates',
  'v3.refund',
  'v3.refundquery',
  '*',
] as const;

/** A fault target. */
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number];

/**
 * What a faulty call does:
 * - `system-error`: v2 result_code FAIL / SYSTEMERROR, v3 500 SYSTEM_ERROR (signed, no state change);
 * - `rate-limit`: v2 result_code FAIL / FREQUENCY_LIMITED, v3 429 RATELIMIT_EXCEEDED (signed);
 * - `return-fail`: v2 return_code FAIL (unsigned transport failure), v3 same as `system-error`;
 * - `unsigned-500`: HTTP 500 with an HTML body and no signature;
 * - `forged-signature`: the normal answer (state does change) with a signature that does not verify;
 * - `signature-probe`: the normal answer signed `WECHATPAY/SIGNTEST/…` (v2: that string as `sign`);
 * - `unsigned-success`: the normal answer with no signature at all (v3 headers / v2 `sign` missing);
 * - `hang`: wait `hangMs`, then answer normally (the state change still happens, as after a timeout).
 */
export const FAULT_KINDS = [
  'system-error',
  'rate-limit',
  'return-fail',
  'unsigned-500',
  'forged-signature',
  'signature-probe',
  'unsigned-success',
  'hang',
] as const;

/** A fault kind. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault taken for one call. */
export interface Fault {
  kind: FaultKind;
  hangMs: number;
}

/** A planned fault with the number of calls it still applies to. */
export interface PlannedFault extends Fault {
  endpoint: FaultEndpoint;
  remaining: number;
}

/** Default `hang` duration: longer than any sane client timeout, short enough for a test run. */
export const DEFAULT_HANG_MS = 10_000;

/** The ordered fault plan of one simulator. */
export class FaultPlan {
  private planned: PlannedFault[] = [];

  /** Makes the next `count` calls of `endpoint` answer with `kind`. */
  next(endpoint: FaultEndpoint, kind: FaultKind, count = 1, opts: { hangMs?: number } = {}): void {
    if (!isFaultEndpoint(endpoint)) throw new Error(`unknown fault endpoint ${String(endpoint)}`);
    if (!isFaultKind(kind)) throw new Error(`unknown fault kind ${String(kind)}`);
    if (!Number.isSafeInteger(count) || count < 1) throw new Error('fault count must be a positive integer');
    const hangMs = opts.hangMs ?? DEFAULT_HANG_MS;
    if (!Number.isFinite(hangMs) || hangMs < 0) throw new Error('hangMs must be a non-negative number');
    this.planned.push({ endpoint, kind, remaining: count, hangMs });
  }

  /** Consumes the first planned fault that applies to `endpoint`, if any. */
  take(endpoint: Exclude<FaultEndpoint, '*'>): Fault | undefined {
    const entry = this.planned.find((p) => p.endpoint === endpoint || p.endpoint === '*');
    if (entry === undefined) return undefined;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.planned = this.planned.filter((p) => p !== entry);
    return { kind: entry.kind, hangMs: entry.hangMs };
  }

  /** Drops every planned fault. */
  clear(): void {
    this.planned = [];
  }

  /** The faults still planned, in order. */
  pending(): PlannedFault[] {
    return this.planned.map((p) => ({ ...p }));
  }
}

/** Whether `value` names a fault endpoint. */
export function isFaultEndpoint(value: unknown): value is FaultEndpoint {
  return typeof value === 'string' && (FAULT_ENDPOINTS as readonly string[]).includes(value);
}

/** Whether `value` names a fault kind. */
export function isFaultKind(value: unknown): value is FaultKind {
  return typeof value === 'string' && (FAULT_KINDS as readonly string[]).includes(value);
}
