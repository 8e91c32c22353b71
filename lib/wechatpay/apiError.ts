/**
 * The one error a WeChat Pay API call raises: WeChat refused (its `err_code` / `code`), the transport
 * failed, or the answer was not authentic. A member of the PayError family: a forged, unsigned or
 * probe answer is kind UNAUTHENTIC; everything else is UNAVAILABLE, because to whoever called us a
 * refusing WeChat is a failed dependency. `code` and `retryable` are what callers branch on.
 */
import { PayError } from '../errors';

/** Codes this client assigns itself when WeChat gave none (or none we can trust). */
export type ClientErrorCode =
  /** the connection failed before an answer arrived */
  | 'NETWORK_ERROR'
  /** no answer within the per-call timeout */
  | 'TIMEOUT'
  /** an HTTP error without a signed WeChat body (a gateway page, say): its content is not trusted */
  | 'HTTP_ERROR'
  /** APIv2 `return_code` FAIL: WeChat's unsigned transport-level refusal */
  | 'RETURN_FAIL'
  /** a signature missing, wrong or a WECHATPAY/SIGNTEST probe: never treated as an answer */
  | 'UNAUTHENTIC_RESPONSE'
  /** an authentic answer we cannot read */
  | 'MALFORMED_RESPONSE';

/** WeChat codes that mean "try the same call again" (SYSTEMERROR is APIv2, the rest APIv3). */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'SYSTEMERROR',
  'SYSTEM_ERROR',
  'RATELIMIT_EXCEEDED',
  'FREQUENCY_LIMITED',
]);

/** What an API error carries besides its message. */
export interface ApiErrorFields {
  /** HTTP status; undefined when no answer arrived. */
  status: number | undefined;
  /** WeChat's `err_code` (v2) or `code` (v3), or a {@link ClientErrorCode}. */
  code: string;
  /** WeChat's `err_code_des` / `return_msg` / `message`, or our own description. */
  message: string;
  /** Whether repeating the identical call may succeed. */
  retryable: boolean;
  /** The answer's body, truncated, for logs. */
  raw?: string | undefined;
  /** APIv3 `detail` ({field, value, issue, location}) when WeChat sent one. */
  detail?: Record<string, unknown> | undefined;
  cause?: unknown;
}

const MAX_RAW = 2048;

/** A failed WeChat Pay API call. */
export class WechatPayApiError extends PayError {
  readonly status: number | undefined;
  readonly code: string;
  readonly retryable: boolean;
  readonly raw: string | undefined;
  readonly apiDetail: Record<string, unknown> | undefined;

  constructor(fields: ApiErrorFields) {
    const forged = fields.code === 'UNAUTHENTIC_RESPONSE';
    super(forged ? 'UNAUTHENTIC' : 'UNAVAILABLE', fields.message, {
      cause: fields.cause,
      detail: { status: fields.status, code: fields.code, retryable: fields.retryable },
    });
    this.name = 'WechatPayApiError';
    this.status = fields.status;
    this.code = fields.code;
    this.retryable = fields.retryable;
    this.raw = fields.raw === undefined ? undefined : fields.raw.slice(0, MAX_RAW);
    this.apiDetail = fields.detail;
  }
}

/** Whether an HTTP status alone says "transient" (5xx, 429). */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

/** An answer whose signature failed: the distinct "forged" error, never retried, never a success. */
export function forgedResponse(status: number, reason: string, raw: string, cause?: unknown): WechatPayApiError {
  return new WechatPayApiError({
    status,
    code: 'UNAUTHENTIC_RESPONSE',
    message: `unauthentic WeChat Pay answer: ${reason}`,
    retryable: false,
    raw,
    cause,
  });
}

/** An HTTP error we cannot attribute to WeChat: retried by status only, its body never interpreted. */
export function httpError(status: number, raw: string): WechatPayApiError {
  return new WechatPayApiError({
    status,
    code: 'HTTP_ERROR',
    message: `HTTP ${status} without a signed WeChat Pay body`,
    retryable: isTransientStatus(status),
    raw,
  });
}

/** WeChat's own refusal, retryable when its code or status says transient. */
export function wechatRefusal(
  status: number,
  code: string,
  message: string,
  raw: string,
  detail?: Record<string, unknown>,
): WechatPayApiError {
  return new WechatPayApiError({
    status,
    code,
    message,
    retryable: TRANSIENT_CODES.has(code) || isTransientStatus(status),
    raw,
    detail,
  });
}

/** Runs a reader over an authentic answer; a field it cannot read becomes MALFORMED_RESPONSE. */
export function readAnswer<T>(status: number, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof PayError) || err instanceof WechatPayApiError) throw err;
    throw new WechatPayApiError({
      status,
      code: 'MALFORMED_RESPONSE',
      message: `unreadable answer: ${err.reason}`,
      retryable: false,
      cause: err,
    });
  }
}

/** How a caller should read a refused close, across both generations (docs/protocol.md C, E; simulator README). */
export type CloseRefusal = 'PAID' | 'ALREADY_CLOSED' | 'TOO_EARLY' | 'UNKNOWN_ORDER';

const CLOSE_REFUSALS: Readonly<Record<string, CloseRefusal>> = {
  ORDERPAID: 'PAID',
  ORDERCLOSED: 'ALREADY_CLOSED',
  ORDER_CLOSED: 'ALREADY_CLOSED',
  // the five-minute rule: WeChat names no code; these are the simulator's (v2, v3) choices
  ORDER_NOT_READY: 'TOO_EARLY',
  RULE_LIMIT: 'TOO_EARLY',
  ORDERNOTEXIST: 'UNKNOWN_ORDER',
  ORDER_NOT_EXIST: 'UNKNOWN_ORDER',
};

/** The business meaning of a close refusal, or undefined for a plain failure (SIGNERROR, PARAM_ERROR…). */
export function closeRefusal(err: WechatPayApiError): CloseRefusal | undefined {
  // only WeChat's signed codes count: our own client codes never name a business outcome
  return err.kind === 'UNAUTHENTIC' ? undefined : CLOSE_REFUSALS[err.code];
}
