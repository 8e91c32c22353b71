/**
 * The operator command (`npm run reconcile`): reconcile one order now, or every pending order, and
 * print what WeChat Pay reported and what changed. The wiring to an environment is in
 * scripts/reconcile.ts; this is the part a test can drive.
 */
import { parseArgs } from 'node:util';
import { configError } from '../errors';
import { isMerchantId, isOutTradeNo, type Order } from '../orders/model';
import { reconcileOptions, type ReconcileOptions } from './options';
import { reconcile, reconcileOne, type OrderResult, type ReconcileDeps } from './reconcile';

/** The command line, as printed on a usage error. */
export const RECONCILE_USAGE = [
  'usage: npm run reconcile -- <outTradeNo> [--sub-mchid ID] [--dry-run] [--v2|--v3]',
  '       npm run reconcile -- --all [--dry-run] [--v2|--v3] [--grace-seconds S] [--horizon-hours H] [--budget N] [--concurrency N] [--close-after-minutes M]',
].join('\n');

/** What the command was asked to do. */
export type ReconcileCommand =
  | { kind: 'one'; outTradeNo: string; subMchId: string | undefined; options: Partial<ReconcileOptions> }
  | { kind: 'all'; options: Partial<ReconcileOptions> };

/** Reads the command line; throws a CONFIG error with the usage on a mistake. */
export function parseReconcileArgs(argv: string[]): ReconcileCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw configError(`${err instanceof Error ? err.message : 'bad arguments'}\n${RECONCILE_USAGE}`);
  }
  const { values, positionals } = parsed;
  const number = (name: keyof typeof values): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    if (typeof text !== 'string' || !/^\d{1,9}$/.test(text))
      throw configError(`--${name} must be a whole number\n${RECONCILE_USAGE}`);
    return Number(text);
  };
  if (values.v2 && values.v3) throw configError(`--v2 and --v3 exclude each other\n${RECONCILE_USAGE}`);
  const options: Partial<ReconcileOptions> = {
    dryRun: values['dry-run'] === true,
    protocol: values.v2 ? 'v2' : values.v3 ? 'v3' : undefined,
    // an operator asking now means now: no grace period unless asked for
    graceSeconds: number('grace-seconds') ?? 0,
    horizonHours: number('horizon-hours'),
    budget: number('budget') ?? 10_000,
    concurrency: number('concurrency'),
    closeAfterMinutes: number('close-after-minutes'),
  };
  reconcileOptions(options); // validates ranges now, with a readable message
  const subMchId = values['sub-mchid'];
  if (subMchId !== undefined && !isMerchantId(subMchId)) throw configError('--sub-mchid must be digits');
  const [outTradeNo, extra] = positionals;
  if (values.all) {
    if (outTradeNo !== undefined) throw configError(`give an order number or --all, not both\n${RECONCILE_USAGE}`);
    if (subMchId !== undefined) throw configError('--sub-mchid names one order; --all covers every merchant');
    return { kind: 'all', options };
  }
  if (outTradeNo === undefined || extra !== undefined) throw configError(RECONCILE_USAGE);
  if (!isOutTradeNo(outTradeNo)) throw configError('the order number must be 1-32 characters of 0-9 A-Z a-z _ - | * @');
  return { kind: 'one', outTradeNo, subMchId, options };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      all: { type: 'boolean' },
      'sub-mchid': { type: 'string' },
      'dry-run': { type: 'boolean' },
      v2: { type: 'boolean' },
      v3: { type: 'boolean' },
      'grace-seconds': { type: 'string' },
      'horizon-hours': { type: 'string' },
      budget: { type: 'string' },
      concurrency: { type: 'string' },
      'close-after-minutes': { type: 'string' },
    },
  });
}

/** Runs the command and prints to `print`; resolves to the exit code (0 done, 1 something failed). */
export async function runReconcileCommand(
  command: ReconcileCommand,
  deps: ReconcileDeps,
  print: (line: string) => void,
): Promise<number> {
  const dry = command.options.dryRun === true ? ' (dry run: nothing written)' : '';
  if (command.kind === 'one') {
    const merchantId = command.subMchId ?? deps.config.mchid;
    const { before, result, after } = await reconcileOne(
      { merchantId, outTradeNo: command.outTradeNo },
      command.options,
      deps,
    );
    print(`order ${command.outTradeNo} of merchant ${merchantId}${dry}`);
    print(`  here before: ${describeOrder(before)}`);
    print(`  WeChat Pay:  ${describeWechat(result)}`);
    print(
      `  action:      ${result.action}${result.closeStatus ? ` ${result.closeStatus}` : ''}${result.code ? ` (${result.code}${result.reason ? `: ${result.reason}` : ''})` : ''}`,
    );
    print(`  here after:  ${describeOrder(after)}`);
    return result.action === 'ERROR' || result.action === 'CONFLICT' ? 1 : 0;
  }
  print(`reconciling every pending order${dry}`);
  const summary = await reconcile(command.options, {
    ...deps,
    onResult: (r) =>
      print(
        `  ${r.outTradeNo.padEnd(32)} ${r.merchantId.padEnd(12)} ${describeWechat(r).padEnd(28)} → ${r.action}${r.closeStatus ? ` ${r.closeStatus}` : ''}${r.code ? ` (${r.code})` : ''}`,
      ),
  });
  const { scanned, queried, recovered, closed, stillPending, errors, conflicts, pastHorizon, reason } = summary;
  print(
    `found ${scanned} pending in ${summary.window.createdAfter} … ${summary.window.createdBefore}; queried ${queried}`,
  );
  const { actions } = summary;
  if (summary.dryRun)
    print(
      `would change: ${actions.WOULD_RECORD_PAYMENT ?? 0} to paid, ${(actions.WOULD_CLOSE ?? 0) + (actions.WOULD_AUTO_CLOSE ?? 0)} to closed`,
    );
  print(
    `changed: ${recovered} recorded paid, ${closed} recorded closed; still pending ${stillPending}; errors ${errors}; conflicts ${conflicts}`,
  );
  print(
    `pending past the horizon: ${pastHorizon ?? 'unknown'}; run ${summary.stoppedEarly ? `stopped early: ${reason}` : 'complete'}`,
  );
  return errors > 0 || conflicts > 0 || (summary.stoppedEarly && reason !== 'BUDGET') ? 1 : 0;
}

function describeOrder(order: Order | undefined): string {
  if (order === undefined) return 'not registered';
  const parts = [order.state, `${order.amountFen} fen`];
  if (order.createdAt) parts.push(`created ${order.createdAt}`);
  if (order.transactionId) parts.push(`transaction ${order.transactionId}`);
  if (order.paidVia) parts.push(`paid via ${order.paidVia}`);
  if (order.closedReason) parts.push(`closed (${order.closedReason})`);
  return parts.join(', ');
}

function describeWechat(r: OrderResult): string {
  if (r.tradeState === undefined)
    return r.action === 'NOT_AT_WECHAT' || r.code === 'ORDERNOTEXIST' || r.code === 'ORDER_NOT_EXIST'
      ? `${r.protocol} no such order`
      : `${r.protocol} no answer`;
  return `${r.protocol} ${r.tradeState}${r.transactionId ? ` ${r.transactionId}` : ''}`;
}
