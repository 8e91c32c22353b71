/**
 * What WeChat Pay reports besides payments and refunds: the result of a transfer to a user
 * (MCHTRANSFER.BILL.FINISHED), a profit-sharing movement (PROFITSHARING.*), and every other
 * verified APIv3 event, kept as it came. Pure types and decisions; the store writes them.
 */

/** A transfer bill's final state (docs/protocol.md I): each is final, so the only predecessor is none. */
export type TransferState = 'SUCCESS' | 'FAIL' | 'CANCELLED';

/** The final states a transfer result may report. */
export const TRANSFER_STATES: readonly TransferState[] = ['SUCCESS', 'FAIL', 'CANCELLED'];

/** A verified transfer result, keyed by the merchant's own bill number. */
export interface TransferReport {
  merchantId: string;
  outBillNo: string;
  /** WeChat's bill number. */
  transferBillNo: string;
  state: TransferState;
  amountFen: number;
  /** ISO-8601 instant WeChat last updated the bill. */
  updatedAt: string;
  failReason: string | undefined;
}

/** A transfer as recorded. */
export type Transfer = TransferReport;

export type TransferOutcome =
  | { kind: 'APPLIED'; transfer: Transfer }
  /** The same result, recorded by an earlier delivery. */
  | { kind: 'ALREADY_APPLIED'; transfer: Transfer }
  /** Another final state or another WeChat bill for the same out_bill_no: not applied, an operator looks. */
  | { kind: 'CONFLICT'; transfer: Transfer };

/** What a transfer result means for a bill already recorded (the pure decision behind a refused write). */
export function judgeTransfer(current: Transfer, report: TransferReport): TransferOutcome {
  const same =
    current.state === report.state &&
    current.transferBillNo === report.transferBillNo &&
    current.amountFen === report.amountFen;
  return same ? { kind: 'ALREADY_APPLIED', transfer: current } : { kind: 'CONFLICT', transfer: current };
}

/** A verified profit-sharing movement as the receiving merchant is told of it (one receiver, one event). */
export interface ProfitSharingReport {
  /** The notification's event type (PROFITSHARING.*), which names the movement. */
  eventType: string;
  merchantId: string;
  /** WeChat's profit-sharing order id. */
  orderId: string;
  outOrderNo: string;
  transactionId: string;
  receiverType: string;
  receiverAccount: string;
  amountFen: number;
  /** ISO-8601 instant of the movement. */
  successAt: string;
  description: string | undefined;
  /**
   * Set only when the event type does not name the movement (a split and its return both arrive as
   * TRANSACTION.SUCCESS, docs/protocol.md I): each notification is then its own movement.
   */
  notificationId?: string;
}

/** Recording a profit-sharing movement: the first delivery records it, every other one finds it. */
export type ProfitSharingOutcome =
  | { kind: 'RECORDED' }
  | { kind: 'ALREADY_RECORDED' }
  /** The same movement's key holds another amount: not applied, an operator looks. */
  | { kind: 'CONFLICT' };

/**
 * A verified APIv3 event of a type the service does not interpret (complaints, new types): kept
 * whole, decrypted, under its notification id. The decrypted resource is the merchant's own data:
 * it is stored (and streamed) but never logged.
 */
export interface WechatEvent {
  eventId: string;
  eventType: string;
  resourceType: string;
  summary: string;
  /** The notification's create_time, as sent. */
  createTime: string;
  /** The decrypted resource, as WeChat sent it (JSON text). */
  resource: string;
}

/** Recording an event: the first delivery records it, every other one finds it. */
export type EventOutcome = { kind: 'RECORDED' } | { kind: 'ALREADY_RECORDED' };
