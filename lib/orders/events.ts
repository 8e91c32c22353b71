/**
 * The table's stream as typed domain events for the merchant's downstream consumers. Every state
 * transition is one conditional write, and a refused write produces no stream record, so each state
 * change appears once in the stream; the stream itself is delivered at least once, so every event
 * carries an idempotency key (the item and the state it reached) for the consumer to dedupe on.
 */
import type { ProfitSharingReport, TransferReport, TransferState, WechatEvent } from './funds';
import type { Anomaly, Channel, RefundState } from './model';

/** A stream attribute value, as both the Lambda event and the Streams API carry it. */
export interface StreamValue {
  S?: string;
  N?: string;
  BOOL?: boolean;
  SS?: string[];
}
type Image = Record<string, StreamValue>;

/** The parts of a DynamoDB stream record the decoder reads (Lambda's DynamoDBRecord fits). */
export interface StreamRecordLike {
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE' | string;
  dynamodb?: { NewImage?: Image; OldImage?: Image; ApproximateCreationDateTime?: number | Date };
}

interface Base {
  /** Stable for a given state change: dedupe on it (stream records may be delivered more than once). */
  idempotencyKey: string;
  merchantId: string;
  outTradeNo: string;
}

/** A transfer's fields as streamed: the report's, its state named by the event type, a reason only on failure. */
type TransferFields = Omit<TransferReport, 'state' | 'failReason'> & Partial<Pick<TransferReport, 'failReason'>>;

/** A profit-sharing movement's fields as streamed: the report's, without what only the store keeps. */
type ProfitSharingFields = Omit<ProfitSharingReport, 'description' | 'notificationId'>;

export type DomainEvent =
  | (Base & {
      type: 'PAYMENT_SUCCEEDED';
      transactionId: string;
      amountFen: number;
      paidAt: string;
      via: Channel;
      amountUnverified: boolean;
      /** What the aggregator credited (`real_amount`), in fen, when it states it. */
      creditedFen?: number;
    })
  /**
   * A payment recorded for an order never registered (policy `record`): its amount and channel were
   * checked against nothing here, so it is its own event; act on it only by choice.
   */
  | (Base & {
      type: 'PAYMENT_UNVERIFIED';
      transactionId: string;
      amountFen: number;
      paidAt: string;
      via: Channel;
    })
  | (Base & { type: 'ORDER_CLOSED'; closedAt: string })
  | (Base & {
      type: 'REFUND_SUCCEEDED' | 'REFUND_CLOSED' | 'REFUND_ABNORMAL';
      outRefundNo: string;
      refundId: string;
      refundFen: number;
      successAt?: string;
    })
  | (Base & {
      type: 'COUPON_SENT' | 'COUPON_USED';
      couponCode: string;
      stockId: string;
      at: string;
      transactionId?: string;
    })
  | (Base & { type: 'ANOMALY'; anomaly: Anomaly })
  /** A transfer to a user reached its final state (outTradeNo is empty: a transfer has no order). */
  | (Base & { type: 'TRANSFER_SUCCEEDED' | 'TRANSFER_FAILED' | 'TRANSFER_CANCELLED' } & TransferFields)
  /** A profit-sharing movement reported to this merchant (outTradeNo is empty: it names a transaction). */
  | (Base & { type: 'PROFIT_SHARING' } & ProfitSharingFields)
  /**
   * A verified APIv3 event of a type the service does not interpret (complaints, new types), with its
   * decrypted resource as WeChat sent it: the merchant's own data, never logged by the service.
   */
  | (Base & { type: 'WECHATPAY_EVENT' } & WechatEvent);

const TRANSFER_EVENT: Record<TransferState, 'TRANSFER_SUCCEEDED' | 'TRANSFER_FAILED' | 'TRANSFER_CANCELLED'> = {
  SUCCESS: 'TRANSFER_SUCCEEDED',
  FAIL: 'TRANSFER_FAILED',
  CANCELLED: 'TRANSFER_CANCELLED',
};

const REFUND_EVENT: Record<
  Exclude<RefundState, 'PROCESSING' | 'REQUESTED'>,
  'REFUND_SUCCEEDED' | 'REFUND_CLOSED' | 'REFUND_ABNORMAL'
> = {
  SUCCESS: 'REFUND_SUCCEEDED',
  CLOSED: 'REFUND_CLOSED',
  ABNORMAL: 'REFUND_ABNORMAL',
};

/** Decodes one stream record into the domain events it represents (none for bookkeeping writes). */
export function decodeStreamRecord(record: StreamRecordLike): DomainEvent[] {
  const next = record.dynamodb?.NewImage;
  if (!next || record.eventName === 'REMOVE') return [];
  const prev = record.dynamodb?.OldImage ?? {};
  const s = (img: Image, k: string) => img[k]?.S;
  const n = (img: Image, k: string) => Number(img[k]?.N ?? 0);
  const pk = s(next, 'pk') ?? '';
  const state = s(next, 'state');
  if (state === undefined || state === s(prev, 'state')) return tallyAnomaly(next, prev, pk);
  const base = {
    merchantId: s(next, 'merchantId') ?? '',
    outTradeNo: s(next, 'outTradeNo') ?? '',
    idempotencyKey: `${pk}#${state}`,
  };

  switch (s(next, 'entity')) {
    case 'ORDER': {
      if (state === 'CLOSED') return [{ ...base, type: 'ORDER_CLOSED', closedAt: s(next, 'closedAt') ?? '' }];
      if (state !== 'PAID' && state !== 'PAID_UNVERIFIED') return [];
      const payment = {
        ...base,
        transactionId: s(next, 'transactionId') ?? '',
        amountFen: n(next, 'paidFen'),
        paidAt: s(next, 'paidAt') ?? '',
        via: (s(next, 'paidVia') ?? 'v3') as Channel,
      };
      const credited = next.creditedFen?.N === undefined ? undefined : n(next, 'creditedFen');
      const events: DomainEvent[] = [
        state === 'PAID_UNVERIFIED'
          ? { ...payment, type: 'PAYMENT_UNVERIFIED' }
          : {
              ...payment,
              type: 'PAYMENT_SUCCEEDED',
              amountUnverified: next.amountUnverified?.BOOL === true,
              ...(credited === undefined ? {} : { creditedFen: credited }),
            },
      ];
      const anomalies: Anomaly[] = [];
      if (s(next, 'previousState') === 'CLOSED') anomalies.push('PAID_AFTER_CLOSE');
      else if (state === 'PAID_UNVERIFIED' || next.amountUnverified?.BOOL === true)
        anomalies.push('UNREGISTERED_ORDER');
      if (credited !== undefined && credited < payment.amountFen) anomalies.push('CREDITED_BELOW_AMOUNT');
      for (const anomaly of anomalies)
        events.push({ ...base, type: 'ANOMALY', anomaly, idempotencyKey: `${pk}#ANOMALY#${anomaly}` });
      return [...events, ...tallyAnomaly(next, prev, pk)];
    }
    case 'REFUND': {
      const type = REFUND_EVENT[state as keyof typeof REFUND_EVENT];
      if (!type) return [];
      const successAt = s(next, 'successAt');
      return [
        {
          ...base,
          type,
          outRefundNo: s(next, 'outRefundNo') ?? '',
          refundId: s(next, 'refundId') ?? '',
          refundFen: n(next, 'refundFen'),
          ...(successAt ? { successAt } : {}),
        },
      ];
    }
    case 'COUPON': {
      const tx = s(next, 'transactionId');
      return [
        {
          ...base,
          type: state === 'USED' ? 'COUPON_USED' : 'COUPON_SENT',
          couponCode: s(next, 'couponCode') ?? '',
          stockId: s(next, 'stockId') ?? '',
          at: s(next, 'at') ?? '',
          ...(tx ? { transactionId: tx } : {}),
        },
      ];
    }
    case 'TRANSFER': {
      const type = TRANSFER_EVENT[state as TransferState];
      if (!type) return [];
      const failReason = s(next, 'failReason');
      return [
        {
          ...base,
          type,
          outBillNo: s(next, 'outBillNo') ?? '',
          transferBillNo: s(next, 'transferBillNo') ?? '',
          amountFen: n(next, 'amountFen'),
          updatedAt: s(next, 'updatedAt') ?? '',
          ...(failReason ? { failReason } : {}),
        },
      ];
    }
    case 'PROFIT_SHARING':
      return [
        {
          ...base,
          type: 'PROFIT_SHARING',
          eventType: s(next, 'eventType') ?? '',
          orderId: s(next, 'orderId') ?? '',
          outOrderNo: s(next, 'outOrderNo') ?? '',
          transactionId: s(next, 'transactionId') ?? '',
          receiverType: s(next, 'receiverType') ?? '',
          receiverAccount: s(next, 'receiverAccount') ?? '',
          amountFen: n(next, 'amountFen'),
          successAt: s(next, 'successAt') ?? '',
        },
      ];
    case 'EVENT':
      return [
        {
          ...base,
          type: 'WECHATPAY_EVENT',
          eventId: s(next, 'eventId') ?? '',
          eventType: s(next, 'eventType') ?? '',
          resourceType: s(next, 'resourceType') ?? '',
          summary: s(next, 'summary') ?? '',
          createTime: s(next, 'createTime') ?? '',
          resource: s(next, 'resource') ?? '',
        },
      ];
    default:
      return [];
  }
}

/** An order's refunds crossing its paid amount, at the write that made them cross. */
function tallyAnomaly(next: Image, prev: Image, pk: string): DomainEvent[] {
  const paid = Number(next.paidFen?.N ?? Number.NaN);
  const over = (img: Image) =>
    (img.state?.S === 'PAID' || img.state?.S === 'PAID_UNVERIFIED') &&
    Number(img.refundedFen?.N ?? 0) > Number(img.paidFen?.N ?? Number.NaN);
  if (Number.isNaN(paid) || !over(next) || over(prev)) return [];
  return [
    {
      type: 'ANOMALY',
      anomaly: 'REFUND_EXCEEDS_TOTAL',
      merchantId: next.merchantId?.S ?? '',
      outTradeNo: next.outTradeNo?.S ?? '',
      idempotencyKey: `${pk}#ANOMALY#REFUND_EXCEEDS_TOTAL`,
    },
  ];
}

/** Decodes a batch (a Lambda DynamoDB stream event's Records), in order. */
export function decodeStreamRecords(records: readonly StreamRecordLike[]): DomainEvent[] {
  return records.flatMap(decodeStreamRecord);
}
