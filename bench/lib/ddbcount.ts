/**
 * Counts what a DynamoDB client sends: every HTTP request (retries included) by operation, and the
 * capacity DynamoDB reports (ReturnConsumedCapacity: TOTAL is added to every request). Works on any
 * AWS SDK v3 DynamoDB client instance (the project's copy of the SDK or the bench's).
 */

export interface DdbCounts {
  /** HTTP requests sent, retries included. */
  requests: number;
  byOperation: Record<string, number>;
  /** Capacity units DynamoDB reported on successful responses. */
  reportedCapacity: number;
  /** The same by operation (reads and writes are priced apart). */
  capacityByOperation: Record<string, number>;
  /** Requests that failed their ConditionExpression (DynamoDB does not report their capacity). */
  failedConditions: number;
  /** Other failures. */
  errors: number;
}

export const emptyCounts = (): DdbCounts => ({
  requests: 0,
  byOperation: {},
  reportedCapacity: 0,
  capacityByOperation: {},
  failedConditions: 0,
  errors: 0,
});

// A structural view of the SDK's middleware stack: the two SDK copies have nominally different types.
type Next = (args: {
  input: Record<string, unknown>;
  request?: unknown;
}) => Promise<{ output?: unknown; response?: unknown }>;
interface Stackish {
  middlewareStack: {
    add: (mw: (next: Next, context: Record<string, unknown>) => Next, options: Record<string, unknown>) => void;
  };
}

const sumCapacity = (c: unknown): number => {
  if (Array.isArray(c)) return c.reduce((s: number, x) => s + sumCapacity(x), 0);
  if (c && typeof c === 'object' && 'CapacityUnits' in c)
    return Number((c as { CapacityUnits?: number }).CapacityUnits ?? 0);
  return 0;
};

/** Adds the counting middleware; `target` is read on every request, so counters can be swapped. */
export function instrument(client: unknown, target: () => DdbCounts): void {
  const stack = (client as Stackish).middlewareStack;
  stack.add(
    (next, context) => async (args) => {
      const counts = target();
      try {
        const res = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } });
        const units = sumCapacity((res.output as { ConsumedCapacity?: unknown } | undefined)?.ConsumedCapacity);
        const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        counts.reportedCapacity += units;
        counts.capacityByOperation[op] = (counts.capacityByOperation[op] ?? 0) + units;
        return res;
      } catch (err) {
        if ((err as Error).name === 'ConditionalCheckFailedException') counts.failedConditions += 1;
        else counts.errors += 1;
        throw err;
      }
    },
    { step: 'initialize', name: 'benchCapacity', override: true },
  );
  stack.add(
    (next, context) => async (args) => {
      const counts = target();
      const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.requests += 1;
      counts.byOperation[op] = (counts.byOperation[op] ?? 0) + 1;
      return next(args);
    },
    { step: 'finalizeRequest', name: 'benchRequests', override: true },
  );
}
