/**
 * Profit-sharing movements in the DynamoDB store: one item per movement (event type, WeChat's
 * profit-sharing order, receiver), moved by one conditional write from none to RECORDED.
 */
import type { ProfitSharingOutcome, ProfitSharingReport } from '../funds';
import { profitSharingKey } from '../table';
import { N, NO_STATE, S, transition, withOptional, type Table } from './transition';

/** Records a profit-sharing movement once; a repeat finds it, another amount under its key is a conflict. */
export async function recordProfitSharing(table: Table, report: ProfitSharingReport): Promise<ProfitSharingOutcome> {
  const values = withOptional<Record<string, ReturnType<typeof S>>>(
    {
      ':entity': S('PROFIT_SHARING'),
      ':state': S('RECORDED'),
      ':type': S(report.eventType),
      ':mid': S(report.merchantId),
      ':oid': S(report.orderId),
      ':ono': S(report.outOrderNo),
      ':tx': S(report.transactionId),
      ':rtype': S(report.receiverType),
      ':raccount': S(report.receiverAccount),
      ':fen': N(report.amountFen),
      ':at': S(report.successAt),
      ':now': S(table.iso()),
    },
    { ':desc': report.description === undefined ? undefined : S(report.description) },
  );
  return transition<ProfitSharingOutcome>(
    table,
    {
      pk: profitSharingKey(report),
      update:
        'SET entity = :entity, #state = :state, eventType = :type, merchantId = :mid, orderId = :oid, ' +
        'outOrderNo = :ono, transactionId = :tx, receiverType = :rtype, receiverAccount = :raccount, ' +
        'amountFen = :fen, successAt = :at, appliedAt = :now' +
        (report.description === undefined ? '' : ', description = :desc'),
      when: NO_STATE,
      values,
    },
    () => ({ kind: 'RECORDED' }),
    (item) => {
      if (!item?.state) return 'RETRY';
      return item.amountFen?.N === String(report.amountFen) ? { kind: 'ALREADY_RECORDED' } : { kind: 'CONFLICT' };
    },
  );
}
