/**
 * A plain ops/s harness: every implementation runs for a fixed time per round, cycling through the
 * same inputs; rounds of all implementations are interleaved (so drift of a shared 2-core machine
 * hits everyone alike), the first round of each is a discarded warm-up, the figure is the median.
 */
import { median, round } from './common';

export interface Candidate<I> {
  id: string;
  /** One operation on one input; may be async (then it is awaited, as a caller would). */
  run: (input: I) => unknown;
  async?: boolean;
}

export interface OpsResult {
  id: string;
  opsPerSec: number;
  /** ops/s of each measured round (warm-up excluded). */
  rounds: number[];
  /** Total operations measured. */
  ops: number;
}

export interface HarnessOptions {
  roundMs: number;
  rounds: number;
  warmupRounds: number;
}

let sink = 0;
const consume = (v: unknown): void => {
  // keep results alive so nothing is optimised away
  if (typeof v === 'object' && v !== null) sink ^= 1;
  else if (typeof v === 'string') sink ^= v.length;
  else if (v === true) sink ^= 2;
};

async function measure<I>(c: Candidate<I>, inputs: readonly I[], ms: number): Promise<{ ops: number; secs: number }> {
  const n = inputs.length;
  const budget = BigInt(Math.round(ms * 1e6));
  let i = 0;
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  if (c.async) {
    while (elapsed < budget) {
      for (let k = 0; k < 8; k++) consume(await c.run(inputs[i++ % n] as I));
      ops += 8;
      elapsed = process.hrtime.bigint() - start;
    }
  } else {
    while (elapsed < budget) {
      for (let k = 0; k < 8; k++) consume(c.run(inputs[i++ % n] as I));
      ops += 8;
      elapsed = process.hrtime.bigint() - start;
    }
  }
  return { ops, secs: Number(elapsed) / 1e9 };
}

/** Measures every candidate on the same inputs; returns ops/s (median of rounds) per candidate. */
export async function compare<I>(
  candidates: readonly Candidate<I>[],
  inputs: readonly I[],
  opts: HarnessOptions,
): Promise<OpsResult[]> {
  const perRound = new Map<string, number[]>(candidates.map((c) => [c.id, []]));
  const totals = new Map<string, number>(candidates.map((c) => [c.id, 0]));
  const total = opts.warmupRounds + opts.rounds;
  for (let r = 0; r < total; r++) {
    // rotate the order each round so no candidate always runs right after the same neighbour
    const order = candidates.map((_, k) => candidates[(k + r) % candidates.length] as Candidate<I>);
    for (const c of order) {
      const { ops, secs } = await measure(c, inputs, opts.roundMs);
      if (r >= opts.warmupRounds) {
        perRound.get(c.id)?.push(ops / secs);
        totals.set(c.id, (totals.get(c.id) ?? 0) + ops);
      }
    }
  }
  if (sink === 0.5) process.stdout.write(''); // unreachable; reads the sink
  return candidates.map((c) => {
    const rounds = perRound.get(c.id) ?? [];
    return {
      id: c.id,
      opsPerSec: round(median(rounds), 0),
      rounds: rounds.map((x) => round(x, 0)),
      ops: totals.get(c.id) ?? 0,
    };
  });
}
