/**
 * Transfers to users in the DynamoDB store: a transfer's result moves its item by one conditional
 * write from the only legal predecessor, none (every reported state is final).
 */
import type { Transfer, TransferOutcome, TransferReport, TransferState } from '../funds';
import { judgeTransfer } from '../funds';
import { transferKey } from '../table';
import { N, NO_STATE, read, reader, S, transition, withOptional, type Item, type Table } from './transition';

/** Records a transfer's final result once; a repeat finds it, a contradicting one is a conflict. */
export async function applyTransfer(table: Table, report: TransferReport): Promise<TransferOutcome> {
  const reason = report.failReason !== undefined;
  return transition<TransferOutcome>(
    table,
    {
      pk: transferKey(report.merchantId, report.outBillNo),
      update:
        'SET entity = :entity, #state = :state, merchantId = :mid, outBillNo = :obn, transferBillNo = :tbn, ' +
        'amountFen = :fen, updatedAt = :updated, appliedAt = :now' +
        (reason ? ', failReason = :reason' : ''),
      when: NO_STATE,
      values: {
        ':entity': S('TRANSFER'),
        ':state': S(report.state),
        ':mid': S(report.merchantId),
        ':obn': S(report.outBillNo),
        ':tbn': S(report.transferBillNo),
        ':fen': N(report.amountFen),
        ':updated': S(report.updatedAt),
        ':now': S(table.iso()),
        ...(reason ? { ':reason': S(report.failReason as string) } : {}),
      },
    },
    (item) => ({ kind: 'APPLIED', transfer: toTransfer(item) as Transfer }),
    (item) => {
      const current = item && toTransfer(item);
      return current ? judgeTransfer(current, report) : 'RETRY';
    },
  );
}

/** Reads a transfer with a consistent read. */
export async function getTransfer(table: Table, merchantId: string, outBillNo: string): Promise<Transfer | undefined> {
  const item = await read(table, transferKey(merchantId, outBillNo));
  return item && toTransfer(item);
}

/** Reads a transfer item; undefined for a key with no state. */
export function toTransfer(item: Item): Transfer | undefined {
  const { s, n } = reader(item);
  const state = s('state') as TransferState | undefined;
  if (state === undefined) return undefined;
  return withOptional<Transfer>(
    {
      merchantId: s('merchantId') ?? '',
      outBillNo: s('outBillNo') ?? '',
      transferBillNo: s('transferBillNo') ?? '',
      state,
      amountFen: n('amountFen') ?? 0,
      updatedAt: s('updatedAt') ?? '',
      failReason: undefined,
    },
    { failReason: s('failReason') },
  );
}
