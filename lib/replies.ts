/**
 * The one place where outcomes and errors become protocol replies: APIv2 XML, APIv3 status + JSON,
 * and the aggregator's plain text. Internal detail never reaches a reply.
 */
import type { ErrorKind, PayError } from './errors';
import { buildXml } from './wechatpay/v2/xml';

export type ReplyFormat = 'v2' | 'v3' | 'aggregator';

export interface HttpReply {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const V3_STATUS: Record<ErrorKind, number> = {
  UNAUTHENTIC: 401,
  MALFORMED: 400,
  INCONSISTENT: 400,
  UNKNOWN_ORDER: 400,
  UNAVAILABLE: 500,
  CONFIG: 500,
};

/** The reason a sender may see: our own text for expected failures, a generic one otherwise. */
export function publicReason(err: PayError): string {
  if (err.kind === 'UNAVAILABLE') return 'temporarily unavailable, retry later';
  if (err.kind === 'CONFIG') return 'service not configured';
  return err.reason;
}

const XML = { 'content-type': 'text/xml; charset=utf-8' };
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const TEXT = { 'content-type': 'text/plain; charset=utf-8' };
const V2_SUCCESS = buildXml({ return_code: 'SUCCESS', return_msg: 'OK' });

/** "Received and durable": WeChat stops retrying. */
export function successReply(format: ReplyFormat): HttpReply {
  switch (format) {
    case 'v2':
      return { statusCode: 200, headers: { ...XML }, body: V2_SUCCESS };
    case 'v3':
      return { statusCode: 204, headers: {}, body: '' };
    case 'aggregator':
      return { statusCode: 200, headers: { ...TEXT }, body: 'success' };
  }
}

/** "Not received": WeChat (or the aggregator) will retry. */
export function failureReply(format: ReplyFormat, err: PayError): HttpReply {
  const reason = publicReason(err);
  switch (format) {
    case 'v2':
      return { statusCode: 200, headers: { ...XML }, body: buildXml({ return_code: 'FAIL', return_msg: reason }) };
    case 'v3':
      return {
        statusCode: V3_STATUS[err.kind],
        headers: { ...JSON_TYPE },
        body: JSON.stringify({ code: 'FAIL', message: reason }),
      };
    case 'aggregator':
      return {
        statusCode: err.kind === 'UNAVAILABLE' || err.kind === 'CONFIG' ? 500 : 400,
        headers: { ...TEXT },
        body: 'fail',
      };
  }
}
