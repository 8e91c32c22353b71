/**
 * Where a handler's time goes while it waits on DynamoDB: every DynamoDB client of an SDK copy is given
 * two timers the first time it sends, one around the whole `send` (serialising, signing, retries,
 * parsing included) and one around the HTTP exchange alone (inside the deserialiser: from the request
 * leaving to the response headers arriving). The real handlers build their own clients, so the timers
 * go onto the client class's prototype rather than onto an instance. Bench-only instrumentation.
 */
import { performance } from 'node:perf_hooks';

/** Time spent inside DynamoDB calls since the last reset, ms. */
export interface WaitClock {
  sendMs: number;
  httpMs: number;
  requests: number;
}

type Next = (args: unknown) => Promise<unknown>;
interface Stackish {
  middlewareStack: { add: (mw: (next: Next) => Next, options: Record<string, unknown>) => void };
  send: (...args: unknown[]) => Promise<unknown>;
}

/** The clock every hooked client adds to; sections reset it around each delivery. */
export const waitClock: WaitClock = { sendMs: 0, httpMs: 0, requests: 0 };

/** Zeroes the clock. */
export function resetWaitClock(): void {
  waitClock.sendMs = 0;
  waitClock.httpMs = 0;
  waitClock.requests = 0;
}

const hooked = new WeakSet<object>();
const patched = new WeakSet<object>();

function addHttpTimer(client: Stackish): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const t0 = performance.now();
      try {
        return await next(args);
      } finally {
        waitClock.httpMs += performance.now() - t0;
        waitClock.requests += 1;
      }
    },
    // low priority in the deserialize step: inside the SDK's deserialiser, right around the HTTP handler
    { step: 'deserialize', priority: 'low', name: 'benchHttpWait', override: true },
  );
}

/** Times every client of the class whose prototype is `proto` (a DynamoDBClient of any SDK copy). */
export function hookClientClass(proto: object): void {
  if (patched.has(proto)) return;
  patched.add(proto);
  const original = (proto as Stackish).send;
  (proto as Stackish).send = async function (this: Stackish, ...args: unknown[]) {
    if (!hooked.has(this)) {
      hooked.add(this);
      addHttpTimer(this);
    }
    const t0 = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      waitClock.sendMs += performance.now() - t0;
    }
  };
}
