/**
 * What the invoked functions (closeOrder, refund) share when reading an event and answering a
 * failure: the event as one JSON object, and the FAILED fields an error stands for.
 */
import { PayError, malformed } from '../errors';
import { WechatPayApiError } from '../wechatpay/apiError';

// a double-encoded JSON event is tolerated; anything longer is not a request of these functions
const MAX_STRING_EVENT = 4096;

/** The event as an object: a JSON string (at most 4,096 characters) is parsed; anything else is MALFORMED. */
export function eventObject(event: unknown): Record<string, unknown> {
  let value = event;
  if (typeof value === 'string') {
    if (value.length > MAX_STRING_EVENT) throw malformed('event is too large');
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      throw malformed('event is not a JSON object');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('event must be an object');
  return value as Record<string, unknown>;
}

/** The code, message and retry advice of a FAILED outcome. */
export interface FailureFields {
  code: string;
  message: string;
  retryable: boolean;
}

/**
 * The FAILED fields for an error: WeChat's code as it came, ours for everything else. `badInput`
 * says the error came from reading the event (a MALFORMED one is then the caller's PARAM_ERROR).
 */
export function failureFields(err: unknown, badInput: boolean): FailureFields {
  if (err instanceof WechatPayApiError) return { code: err.code, message: err.message, retryable: err.retryable };
  if (!(err instanceof PayError)) return { code: 'INTERNAL_ERROR', message: 'internal error', retryable: true };
  switch (err.kind) {
    case 'MALFORMED':
      return badInput
        ? { code: 'PARAM_ERROR', message: err.reason, retryable: false }
        : { code: 'MALFORMED_RESPONSE', message: err.reason, retryable: false };
    case 'INCONSISTENT':
      return { code: 'MERCHANT_MISMATCH', message: err.reason, retryable: false };
    case 'CONFIG':
      return { code: 'CONFIG_ERROR', message: err.reason, retryable: false };
    case 'UNAVAILABLE':
      // the store's own failures (WeChat's are WechatPayApiErrors): every step is idempotent, a retry is safe
      return { code: 'STORE_UNAVAILABLE', message: 'order store unavailable, retry', retryable: true };
    case 'UNAUTHENTIC':
      return { code: 'UNAUTHENTIC_RESPONSE', message: err.reason, retryable: false };
    case 'UNKNOWN_ORDER':
      return { code: 'UNKNOWN_ORDER', message: err.reason, retryable: false };
  }
}
