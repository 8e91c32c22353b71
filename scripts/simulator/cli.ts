/**
 * TEST-ONLY: command line for a running simulator, through its `/_sim/` control endpoints.
 *
 *   npx tsx scripts/simulator/cli.ts [--sim http://127.0.0.1:PORT] <command> …
 *
 * The simulator URL comes from --sim, WECHATPAY_SIM_URL, or the running `npm start` (.local/stack.json). Every command prints the JSON answer.
 */
import { pathToFileURL } from 'node:url';
import { readStackState } from '../local/state';
import { parseArgs } from 'node:util';

/** Where the CLI reads its environment and writes its output (injectable for tests). */
export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Where to look when neither --sim nor WECHATPAY_SIM_URL is given (npm start's state file). */
  defaultSimUrl?: () => string | undefined;
}

/** Usage text. */
export const USAGE = `usage: cli.ts [--sim URL] <command>
  create <outTradeNo> <amountFen> [--sub-mchid ID] [--age SECONDS] [--notify-url URL] [--appid ID]
  pay <outTradeNo> <amountFen> [--v2|--v3] [--public-key] [--hmac] [--notify-url URL] [--sub-mchid ID]
      [--wait none|first|all] [--force] [--appid ID]
  combine <combineOutTradeNo> <outTradeNo:fen[:subMchid]>... [--appid ID] [--notify-url URL] [--public-key]
  complaint [--event-type COMPLAINT.X] [--notify-url URL] [--public-key]
  event <EVENT.TYPE> [--notify-url URL] [--public-key]
  refund <outTradeNo> <outRefundNo> <refundFen> [--status SUCCESS|CLOSED|ABNORMAL] [--v2|--v3]
      [--public-key] [--notify-url URL] [--sub-mchid ID] [--wait none|first|all]
  replay [--times 50] [--sequential] [--url URL]
  coupon [--stock-id ID] [--notify-url URL] [--public-key]
  transfer [outBillNo] [amountFen] [--state SUCCESS|FAIL|CANCELLED] [--notify-url URL] [--public-key]
  profitsharing [outOrderNo] [amountFen] [--event-type PROFITSHARING.X] [--notify-url URL] [--public-key]
  orders | deliveries | faults | faults clear | health
  suppress on|off
  fault <endpoint> <kind> [--count N] [--hang-ms MS]
  keys | rotate certificate [--overlap SECONDS] | switch public-key [--week SECONDS] [--rollback]
  config [--notify-url URL] [--refund-notify-url URL] [--time-scale X] [--v2|--v3] [--public-key|--platform]
  bill show <yyyy-MM-dd> [--sub-mchid ID] | bill inject <kind> [--count N] [--date yyyy-MM-dd]
      | bill corrupt none|digest|gzip|summary | bill ready clock|always|never | bill clear
simulator URL: --sim or WECHATPAY_SIM_URL`;

const OPTIONS = {
  sim: { type: 'string' },
  v2: { type: 'boolean' },
  v3: { type: 'boolean' },
  'public-key': { type: 'boolean' },
  platform: { type: 'boolean' },
  hmac: { type: 'boolean' },
  'notify-url': { type: 'string' },
  'refund-notify-url': { type: 'string' },
  'sub-mchid': { type: 'string' },
  age: { type: 'string' },
  wait: { type: 'string' },
  force: { type: 'boolean' },
  status: { type: 'string' },
  times: { type: 'string' },
  sequential: { type: 'boolean' },
  url: { type: 'string' },
  count: { type: 'string' },
  'hang-ms': { type: 'string' },
  'time-scale': { type: 'string' },
  'stock-id': { type: 'string' },
  state: { type: 'string' },
  'event-type': { type: 'string' },
  date: { type: 'string' },
  appid: { type: 'string' },
  help: { type: 'boolean' },
  overlap: { type: 'string' },
  week: { type: 'string' },
  rollback: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parse>['values'];

/** A control call: method, `/_sim/` path and JSON body. */
interface ControlCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
}

/** Runs one CLI command; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    if (values.help === true || positionals.length === 0) {
      io.out(USAGE);
      return positionals.length === 0 && values.help !== true ? 2 : 0;
    }
    const base = values.sim ?? io.env.WECHATPAY_SIM_URL ?? io.defaultSimUrl?.();
    if (base === undefined || base === '') throw new Error('no simulator URL: pass --sim or set WECHATPAY_SIM_URL');
    const call = toCall(positionals, values);
    const { status, text } = await callSimulator(base, call);
    (status < 400 ? io.out : io.err)(pretty(text));
    return status < 400 ? 0 : 1;
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    return 2;
  }
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

function toCall(positionals: string[], flags: Flags): ControlCall {
  const [command = '', ...args] = positionals;
  switch (command) {
    case 'create':
      return post('/_sim/orders', {
        outTradeNo: arg(args, 0, 'outTradeNo'),
        amount: fen(arg(args, 1, 'amountFen')),
        ...createFlags(flags),
      });
    case 'pay':
      return post('/_sim/pay', {
        outTradeNo: arg(args, 0, 'outTradeNo'),
        amount: fen(arg(args, 1, 'amountFen')),
        ...notifyFlags(flags),
        force: flags.force,
        appid: flags.appid,
      });
    case 'combine':
      return post('/_sim/combine/pay', {
        combineOutTradeNo: arg(args, 0, 'combineOutTradeNo'),
        subOrders: subOrders(args.slice(1)),
        appid: flags.appid,
        notifyUrl: flags['notify-url'],
        signer: signerFlag(flags),
        wait: flags.wait,
      });
    case 'complaint':
    case 'event':
      return post('/_sim/events/send', {
        eventType: command === 'event' ? arg(args, 0, 'EVENT.TYPE') : (flags['event-type'] ?? 'COMPLAINT.CREATE'),
        notifyUrl: flags['notify-url'],
        signer: signerFlag(flags),
      });
    case 'refund':
      return post('/_sim/refund', refundBody(args, flags));
    case 'replay':
      return post('/_sim/replay', {
        times: integer(flags.times, 'times'),
        concurrent: flags.sequential === true ? false : undefined,
        url: flags.url,
      });
    case 'coupon':
      return post('/_sim/coupons/send', {
        stockId: flags['stock-id'],
        notifyUrl: flags['notify-url'],
        signer: signerFlag(flags),
      });
    case 'transfer':
    case 'profitsharing':
      return post(command === 'transfer' ? '/_sim/transfers/send' : '/_sim/profitsharing/send', {
        outNo: args[0],
        amount: args[1] === undefined ? undefined : fen(args[1]),
        state: flags.state,
        eventType: flags['event-type'],
        notifyUrl: flags['notify-url'],
        signer: signerFlag(flags),
      });
    case 'suppress':
      return post('/_sim/suppress', { on: onOff(args[0] ?? 'on') });
    case 'fault':
      return post('/_sim/faults', faultBody(args, flags));
    case 'faults':
      return args[0] === 'clear' ? { method: 'DELETE', path: '/_sim/faults' } : { method: 'GET', path: '/_sim/faults' };
    case 'config':
      return post('/_sim/config', configBody(flags));
    case 'keys':
      return { method: 'GET', path: '/_sim/keys' };
    case 'rotate':
      if (args[0] !== 'certificate') throw new Error(`rotate takes: certificate\n${USAGE}`);
      return post('/_sim/keys/rotate-certificate', { overlapSeconds: integer(flags.overlap, 'overlap') });
    case 'switch':
      if (args[0] !== 'public-key') throw new Error(`switch takes: public-key\n${USAGE}`);
      return post('/_sim/keys/switch-public-key', {
        weekSeconds: integer(flags.week, 'week'),
        rollback: flags.rollback === true ? true : undefined,
      });
    case 'bill':
      return billCall(args, flags);
    case 'orders':
    case 'deliveries':
    case 'health':
      return { method: 'GET', path: `/_sim/${command}` };
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

/** The trade-bill switches (scripts/simulator/bills.ts) on `/_sim/bill`. */
function billCall(args: string[], flags: Flags): ControlCall {
  const [action = '', value] = args;
  switch (action) {
    case 'show': {
      const query = new URLSearchParams({ date: value ?? '' });
      if (flags['sub-mchid'] !== undefined) query.set('subMchid', flags['sub-mchid']);
      return { method: 'GET', path: `/_sim/bill?${query.toString()}` };
    }
    case 'inject':
      return post('/_sim/bill', { inject: value, count: integer(flags.count, 'count'), date: flags.date });
    case 'corrupt':
      return post('/_sim/bill', { corrupt: value });
    case 'ready':
      return post('/_sim/bill', { ready: value });
    case 'clear':
      return post('/_sim/bill', { clear: true });
    default:
      throw new Error(`unknown bill action ${JSON.stringify(action)}\n${USAGE}`);
  }
}

function createFlags(flags: Flags): Record<string, unknown> {
  return {
    subMchid: flags['sub-mchid'],
    ageSeconds: integer(flags.age, 'age'),
    notifyUrl: flags['notify-url'],
    appid: flags.appid,
  };
}

/** `outTradeNo:fen[:subMchid]` per sub-order of a combine payment. */
function subOrders(args: string[]): Record<string, unknown>[] {
  if (args.length === 0) throw new Error(`combine needs at least one <outTradeNo:fen[:subMchid]>\n${USAGE}`);
  return args.map((text) => {
    const [outTradeNo = '', amount = '', subMchid, ...rest] = text.split(':');
    if (outTradeNo === '' || rest.length > 0)
      throw new Error(`sub-order must be outTradeNo:fen[:subMchid], got ${text}`);
    return { outTradeNo, amount: fen(amount), subMchid };
  });
}

function notifyFlags(flags: Flags): Record<string, unknown> {
  return {
    protocol: flags.v2 === true ? 'v2' : flags.v3 === true ? 'v3' : undefined,
    signer: signerFlag(flags),
    signType: flags.hmac === true ? 'HMAC-SHA256' : undefined,
    notifyUrl: flags['notify-url'],
    subMchid: flags['sub-mchid'],
    wait: flags.wait,
  };
}

function refundBody(args: string[], flags: Flags): Record<string, unknown> {
  return {
    outTradeNo: arg(args, 0, 'outTradeNo'),
    outRefundNo: arg(args, 1, 'outRefundNo'),
    amount: fen(arg(args, 2, 'refundFen')),
    status: flags.status,
    ...notifyFlags(flags),
    signType: undefined, // refund notifications have no signature algorithm to choose
  };
}

function faultBody(args: string[], flags: Flags): Record<string, unknown> {
  return {
    endpoint: arg(args, 0, 'endpoint'),
    kind: arg(args, 1, 'kind'),
    count: integer(flags.count, 'count'),
    hangMs: integer(flags['hang-ms'], 'hang-ms'),
  };
}

function configBody(flags: Flags): Record<string, unknown> {
  const timeScale = flags['time-scale'] === undefined ? undefined : Number(flags['time-scale']);
  if (timeScale !== undefined && !Number.isFinite(timeScale)) throw new Error('--time-scale must be a number');
  return {
    paymentNotifyUrl: flags['notify-url'],
    refundNotifyUrl: flags['refund-notify-url'],
    timeScale,
    protocol: flags.v2 === true ? 'v2' : flags.v3 === true ? 'v3' : undefined,
    signer: signerFlag(flags),
  };
}

function signerFlag(flags: Flags): string | undefined {
  if (flags['public-key'] === true) return 'publicKey';
  return flags.platform === true ? 'platform' : undefined;
}

function post(path: string, body: Record<string, unknown>): ControlCall {
  return { method: 'POST', path, body };
}

function arg(args: string[], index: number, name: string): string {
  const value = args[index];
  if (value === undefined || value === '') throw new Error(`missing <${name}>\n${USAGE}`);
  return value;
}

function fen(text: string): number {
  // Integer fen only: a decimal here is almost certainly yuan typed by mistake.
  if (!/^\d{1,15}$/.test(text)) throw new Error(`amount must be whole fen (an integer), got ${JSON.stringify(text)}`);
  return Number(text);
}

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new Error(`--${name} must be a non-negative integer`);
  return Number(text);
}

function onOff(text: string): boolean {
  if (text === 'on' || text === 'true') return true;
  if (text === 'off' || text === 'false') return false;
  throw new Error('suppress takes on or off');
}

async function callSimulator(base: string, call: ControlCall): Promise<{ status: number; text: string }> {
  const url = new URL(call.path, base.endsWith('/') ? base : `${base}/`);
  const response = await fetch(url, {
    method: call.method,
    ...(call.body === undefined
      ? {}
      : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(call.body) }), // undefined members vanish
  });
  return { status: response.status, text: await response.text() };
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runCli(process.argv.slice(2), {
    env: process.env,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    defaultSimUrl: () => readStackState()?.simulatorUrl,
  }).then((code) => {
    process.exitCode = code;
  });
}
