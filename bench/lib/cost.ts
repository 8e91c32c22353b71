/**
 * The cost model: what a million deliveries cost in AWS, computed from this run's measured figures
 * (the handler's own time per delivery, DynamoDB requests and capacity per delivery, the reconcile
 * run) with the memory setting read from serverless.yml and the published on-demand prices below.
 * Nothing here is measured; everything it multiplies is, except the two stated assumptions
 * (DynamoDB's in-region latency per request, and the CPU share Lambda gives a 256 MB function).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoResult } from '../sections/dynamo';
import type { HandlerResult } from '../sections/handler';
import type { InitResult } from '../sections/init';
import type { ReconcileScaleResult } from '../sections/reconcile';
import { round } from './common';
import { ROOT } from './snapshot';

/**
 * On-demand prices, US East (N. Virginia), as published (bench/README.md cites each page). us-east-1
 * because it is the region every AWS pricing page quotes and the one whose current figures could be
 * checked here; the stack's default region (ap-southeast-1) is priced per its own page: replace these
 * figures to re-run the model for it.
 */
export const PRICES = {
  region: 'us-east-1',
  /** When these figures were read from the pages cited in bench/README.md. */
  checked: '2026-11-30',
  /** The newest of the cited pages' own dates (DynamoDB's on-demand prices after the 2024-11-01 cut). */
  asOf: '2025-07',
  /** Lambda, Arm: USD per GB-second (first 7.5 billion GB-s a month) and per million requests. */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** API Gateway HTTP API: USD per million requests (first 300 million a month). */
  httpApiPerMillion: 1.0,
  /** DynamoDB on-demand: USD per million write / read request units. */
  dynamoPerMillionWru: 0.625,
  dynamoPerMillionRru: 0.125,
  /** DynamoDB Streams read request units when the reader is a Lambda trigger: not charged. */
  streamsPerMillionReadsByLambda: 0,
} as const;

/** Stated assumptions the model needs and the bench cannot measure locally. */
export const ASSUMPTIONS = {
  /** DynamoDB's answer time per request inside a region (single-digit ms; DynamoDB Local says nothing of it). */
  dynamoLatencyMs: 5,
  /** Memory at which Lambda gives a function one full vCPU (AWS Lambda's "Configure memory" page). */
  fullVcpuAtMb: 1769,
} as const;

/** One line of a per-million table: USD for each system. */
export interface CostLine {
  item: string;
  project: number;
  powertools: number;
  basis: string;
}

export interface GrowthRow {
  deliveriesPerOrder: number;
  projectPerMillionOrders: number;
  powertoolsPerMillionOrders: number;
}

export interface CostModel {
  prices: typeof PRICES;
  assumptions: typeof ASSUMPTIONS & { memoryMb: number; cpuStretch: number };
  /** Billed duration per delivery (ms), each system, first and duplicate. */
  billedMs: { project: { first: number; duplicate: number }; powertools: { first: number; duplicate: number } };
  /** Per million first deliveries. */
  firstDeliveries: CostLine[];
  /** Per million duplicate deliveries (WeChat's retries of a delivery already applied). */
  duplicates: CostLine[];
  /** Per million orders, by how many times WeChat delivers each one. */
  byDeliveriesPerOrder: GrowthRow[];
  /** Per million order registrations (DynamoDB only: the merchant's code registers). */
  registrationPerMillion: { wru: number; usd: number; basis: string } | null;
  /** Per million reconcile queries of a pending order (one order asked once by one run). */
  reconcilePerMillionQueries: { lambdaUsd: number; dynamoUsd: number; usd: number; basis: string } | null;
  /** How many queries a never-paid order costs over the horizon at the deployed schedule. */
  queriesPerUnpaidOrder: number;
  /**
   * Cold starts (Lambda bills the INIT phase since 2025-08-01): module init (section f) plus the
   * first secret resolution, as measured here, unstretched; USD per million cold starts.
   */
  coldStart: { ms: number; usdPerMillion: number; usdPerMillionDeliveriesAtOnePercent: number } | null;
}

/** The memory (MB) serverless.yml gives `fn` (its own setting, else the provider's). */
export function memoryOf(fn: string): number {
  const yml = readFileSync(join(ROOT, 'serverless.yml'), 'utf8');
  const block = new RegExp(`\\n  ${fn}:\\n((?:    .*\\n|\\s*\\n)+)`).exec(yml)?.[1] ?? '';
  const own = /^ {4}memorySize:\s*(\d+)/m.exec(block)?.[1];
  const provider = /\nprovider:[\s\S]*?\n {2}memorySize:\s*(\d+)/.exec(yml)?.[1];
  return Number(own ?? provider ?? 1024);
}

/** The deployed reconcile schedule and horizon: how often a pending order is asked over its life. */
function reconcileSchedule(): { everyMinutes: number; horizonHours: number; graceSeconds: number } {
  const yml = readFileSync(join(ROOT, 'serverless.yml'), 'utf8');
  const every = /\n {2}reconcile:\n {4}schedule: rate\((\d+) minutes?\)/.exec(yml)?.[1];
  const horizon = /\n {4}horizonHours:\s*(\d+)/.exec(yml)?.[1];
  const grace = /\n {4}graceSeconds:\s*(\d+)/.exec(yml)?.[1];
  return { everyMinutes: Number(every ?? 5), horizonHours: Number(horizon ?? 48), graceSeconds: Number(grace ?? 300) };
}

const perMillion = (unitsPerEvent: number, pricePerMillion: number) => unitsPerEvent * pricePerMillion;

/** The cost model from whatever sections are present; null without the handler and dynamo sections. */
export function costModel(s: {
  handler?: HandlerResult;
  dynamo?: DynamoResult;
  reconcile?: ReconcileScaleResult;
  init?: InitResult;
}): CostModel | null {
  const h = s.handler;
  const d = s.dynamo;
  if (!h || !d) return null;
  const memoryMb = memoryOf('paymentNotify');
  const gb = memoryMb / 1024;
  const cpuStretch = Math.max(1, ASSUMPTIONS.fullVcpuAtMb / memoryMb);
  const v = (id: string) => h.variants.find((x) => x.id === id);
  const proj = v('project-v3');
  const pt = v('powertools-v3');
  if (!proj || !pt) return null;
  // Lambda bills in 1 ms steps: own CPU time stretched to the function's CPU share, plus the waits
  const billed = (ownMs: number, requests: number) =>
    Math.ceil(ownMs * cpuStretch + requests * ASSUMPTIONS.dynamoLatencyMs);
  const billedMs = {
    project: {
      first: billed(proj.first.ownMs, d.project.first.requestsPerDelivery),
      duplicate: billed(proj.duplicate.ownMs, d.project.duplicate.requestsPerDelivery),
    },
    powertools: {
      first: billed(pt.first.ownMs, d.powertools.first.requestsPerDelivery),
      duplicate: billed(pt.duplicate.ownMs, d.powertools.duplicate.requestsPerDelivery),
    },
  };
  const lines = (kind: 'first' | 'duplicate'): CostLine[] => {
    const pc = kind === 'first' ? d.project.first : d.project.duplicate;
    const tc = kind === 'first' ? d.powertools.first : d.powertools.duplicate;
    const out: CostLine[] = [
      {
        item: 'Lambda requests',
        project: PRICES.lambdaPerMillionRequests,
        powertools: PRICES.lambdaPerMillionRequests,
        basis: 'one invocation per delivery',
      },
      {
        item: `Lambda duration (arm64, ${memoryMb} MB)`,
        project: billedMs.project[kind] * 1000 * gb * PRICES.lambdaArmPerGbSecond,
        powertools: billedMs.powertools[kind] * 1000 * gb * PRICES.lambdaArmPerGbSecond,
        basis: `billed ${billedMs.project[kind]} ms vs ${billedMs.powertools[kind]} ms per delivery`,
      },
      {
        item: 'API Gateway HTTP API',
        project: PRICES.httpApiPerMillion,
        powertools: PRICES.httpApiPerMillion,
        basis: 'one request per delivery',
      },
      {
        item: 'DynamoDB writes (on-demand WRU)',
        project: perMillion(pc.capacityPerDelivery, PRICES.dynamoPerMillionWru),
        powertools: perMillion(tc.capacityPerDelivery, PRICES.dynamoPerMillionWru),
        basis: `${pc.capacityPerDelivery} vs ${tc.capacityPerDelivery} WRU per delivery (failed conditional writes included)`,
      },
      {
        item: 'DynamoDB Streams reads',
        project: 0,
        powertools: 0,
        basis: 'read by a Lambda trigger: not charged',
      },
    ];
    out.push({
      item: '**total**',
      project: out.reduce((n, l) => n + l.project, 0),
      powertools: out.reduce((n, l) => n + l.powertools, 0),
      basis: '',
    });
    return out.map((l) => ({ ...l, project: round(l.project, 3), powertools: round(l.powertools, 3) }));
  };
  const first = lines('first');
  const dup = lines('duplicate');
  const total = (ls: CostLine[]) => ls[ls.length - 1] as CostLine;
  const byDeliveriesPerOrder = [1, 2, 3, 5, 8, 16].map((n) => ({
    deliveriesPerOrder: n,
    projectPerMillionOrders: round(total(first).project + (n - 1) * total(dup).project, 2),
    powertoolsPerMillionOrders: round(total(first).powertools + (n - 1) * total(dup).powertools, 2),
  }));

  const r = s.reconcile;
  const sched = reconcileSchedule();
  const queriesPerUnpaidOrder = Math.floor(
    (sched.horizonHours * 3600 - sched.graceSeconds) / (sched.everyMinutes * 60),
  );
  let reconcilePerMillionQueries: CostModel['reconcilePerMillionQueries'] = null;
  let registrationPerMillion: CostModel['registrationPerMillion'] = null;
  if (r) {
    const reconcileGb = memoryOf('reconcile') / 1024;
    // wall time of the run per order queried: mostly waiting on WeChat's API, at the run's concurrency
    const secondsPerQuery = r.seconds / Math.max(1, r.queried);
    const lambdaUsd = secondsPerQuery * reconcileGb * PRICES.lambdaArmPerGbSecond * 1e6;
    // capacity as DynamoDB Local reported it: the index pages' read units, the writes' write units
    const readUnits = r.capacityByOperation.Query ?? 0;
    const writeUnits = Object.entries(r.capacityByOperation)
      .filter(([op]) => op !== 'Query')
      .reduce((n, [, u]) => n + u, 0);
    const rru = readUnits / Math.max(1, r.queried);
    const wru = writeUnits / Math.max(1, r.queried);
    const dynamoUsd = rru * PRICES.dynamoPerMillionRru + wru * PRICES.dynamoPerMillionWru;
    reconcilePerMillionQueries = {
      lambdaUsd: round(lambdaUsd, 3),
      dynamoUsd: round(dynamoUsd, 3),
      usd: round(lambdaUsd + dynamoUsd, 3),
      basis: `${round(secondsPerQuery * 1000, 2)} ms of a ${memoryOf('reconcile')} MB run per query (local wall time at concurrency ${r.options.concurrency}), ${round(rru, 3)} RRU (index pages) and ${round(wru, 3)} WRU (recoveries: the item and its index entry) per query`,
    };
    if (r.registration)
      registrationPerMillion = {
        wru: r.registration.capacityPerRegistration,
        usd: round(r.registration.capacityPerRegistration * PRICES.dynamoPerMillionWru, 3),
        basis: `${r.registration.requestsPerRegistration} request and ${r.registration.capacityPerRegistration} WRU per registration (the item and its pending-index entry)`,
      };
  }
  let coldStart: CostModel['coldStart'] = null;
  if (s.init) {
    const coldMs = Math.ceil(s.init.after.initMs + s.init.secrets.firstReadMs);
    const usdPerMillion = (coldMs / 1000) * gb * PRICES.lambdaArmPerGbSecond * 1e6;
    coldStart = {
      ms: coldMs,
      usdPerMillion: round(usdPerMillion, 2),
      usdPerMillionDeliveriesAtOnePercent: round(usdPerMillion / 100, 3),
    };
  }
  return {
    prices: PRICES,
    coldStart,
    assumptions: { ...ASSUMPTIONS, memoryMb, cpuStretch: round(cpuStretch, 2) },
    billedMs,
    firstDeliveries: first,
    duplicates: dup,
    byDeliveriesPerOrder,
    registrationPerMillion,
    reconcilePerMillionQueries,
    queriesPerUnpaidOrder,
  };
}
