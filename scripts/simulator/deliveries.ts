/**
 * TEST-ONLY: the simulator's outbox: runs notification deliveries in the background, keeps their
 * attempt logs, remembers the last notification for replays, and can suppress delivery entirely
 * (to stage "the notification never arrived" for reconciliation tests).
 */
import {
  COUPON_RETRY_SCHEDULE_SECONDS,
  OFFICIAL_RETRY_SCHEDULE_SECONDS,
  REPLY_TIMEOUT_MS,
  deliverConcurrently,
  deliverOnce,
  deliverWithRetries,
  type AttemptRecord,
  type OutgoingNotification,
} from './notifier';
import { SimError } from './state';

/** What a delivery carries. */
export type DeliveryKind = 'payment' | 'refund' | 'coupon';

/** How long a control call waits for its delivery: not at all, the first attempt, or the end. */
export type DeliveryWait = 'none' | 'first' | 'all';

/** A delivery and its attempts so far. */
export interface DeliveryRecord {
  id: number;
  kind: DeliveryKind;
  url: string | null;
  protocol: OutgoingNotification['protocol'];
  /** Not sent: suppressed, or no notify URL known. */
  skipped: 'suppressed' | 'no-notify-url' | null;
  done: boolean;
  accepted: boolean;
  attempts: AttemptRecord[];
}

/** Delivery timing. */
export interface DeliveryTiming {
  /** Factor applied to the retry schedule (0.001: 15 s → 15 ms). */
  timeScale: number;
  /** Reply deadline per attempt in ms (unscaled). */
  replyTimeoutMs: number;
}

/** What a {@link DeliveryManager.onChange} listener hears: a delivery changed, or a replay finished. */
export type DeliveryEvent =
  | { type: 'delivery'; delivery: DeliveryRecord }
  /** `of`: the id of the delivery whose notification was replayed. */
  | { type: 'replay'; of: number; url: string; results: AttemptRecord[] };

const MAX_RECORDS = 1000;
const MAX_REPLAYS = 1000;

/** Background notification deliveries of one simulator. */
export class DeliveryManager {
  /** When true, notifications are recorded (and replayable) but not sent. */
  suppressed = false;
  private readonly records: DeliveryRecord[] = [];
  private last: { url: string; notification: OutgoingNotification; id: number } | undefined;
  private readonly listeners = new Set<(event: DeliveryEvent) => void>();
  private readonly stop = new AbortController();
  private readonly running = new Set<Promise<unknown>>();
  private nextId = 1;

  constructor(
    readonly timing: DeliveryTiming,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a delivery with retries and resolves according to `wait`. */
  async deliver(
    kind: DeliveryKind,
    url: string | undefined,
    notification: OutgoingNotification,
    wait: DeliveryWait,
  ): Promise<DeliveryRecord> {
    const record = this.newRecord(kind, url, notification);
    if (url !== undefined) this.last = { url, notification, id: record.id };
    if (record.skipped !== null || url === undefined) return this.finish(record);
    let firstAttempt: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    const all = this.track(this.run(record, url, notification, firstAttempt));
    if (wait === 'all') await all;
    if (wait === 'first') await Promise.race([first, all]);
    return snapshot(record);
  }

  /** Re-sends the last notification `times` times, concurrently by default (a duplicate storm). */
  async replay(opts: { times?: number; concurrent?: boolean; url?: string } = {}): Promise<AttemptRecord[]> {
    const last = this.last;
    if (last === undefined) throw new SimError('NO_NOTIFICATION', 'no notification has been sent yet');
    const times = opts.times ?? 1;
    if (!Number.isSafeInteger(times) || times < 1 || times > MAX_REPLAYS) {
      throw new SimError('INVALID', `times must be an integer from 1 to ${MAX_REPLAYS}`);
    }
    const url = opts.url ?? last.url;
    const once = { replyTimeoutMs: this.timing.replyTimeoutMs, now: this.now, signal: this.stop.signal };
    let results: AttemptRecord[] = [];
    if (opts.concurrent !== false) results = await this.track(deliverConcurrently(url, last.notification, times, once));
    else
      for (let attempt = 1; attempt <= times; attempt += 1) {
        results.push({ attempt, delayMs: 0, ...(await this.track(deliverOnce(url, last.notification, once))) });
      }
    this.emit({ type: 'replay', of: last.id, url, results: results.map((r) => ({ ...r })) });
    return results;
  }

  /** Calls `listener` on every change (a delivery recorded, an attempt made, a replay done); returns its remover. */
  onChange(listener: (event: DeliveryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every delivery so far (most recent last). */
  list(): DeliveryRecord[] {
    return this.records.map(snapshot);
  }

  /** Aborts every delivery in flight and waits for them to wind down. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.running]);
  }

  private newRecord(kind: DeliveryKind, url: string | undefined, notification: OutgoingNotification): DeliveryRecord {
    const skipped = this.suppressed ? 'suppressed' : url === undefined ? 'no-notify-url' : null;
    const record: DeliveryRecord = {
      id: this.nextId++,
      kind,
      url: url ?? null,
      protocol: notification.protocol,
      skipped,
      done: false,
      accepted: false,
      attempts: [],
    };
    this.records.push(record);
    if (this.records.length > MAX_RECORDS) this.records.shift();
    this.changed(record);
    return record;
  }

  private async run(
    record: DeliveryRecord,
    url: string,
    notification: OutgoingNotification,
    onFirst: () => void,
  ): Promise<void> {
    const log = await deliverWithRetries(url, notification, {
      schedule: record.kind === 'coupon' ? COUPON_RETRY_SCHEDULE_SECONDS : OFFICIAL_RETRY_SCHEDULE_SECONDS,
      timeScale: this.timing.timeScale,
      replyTimeoutMs: this.timing.replyTimeoutMs,
      now: this.now,
      signal: this.stop.signal,
      onAttempt: (attempt) => {
        record.attempts.push(attempt);
        this.changed(record);
        onFirst();
      },
    });
    record.accepted = log.accepted;
    this.finish(record);
  }

  private finish(record: DeliveryRecord): DeliveryRecord {
    record.done = true;
    this.changed(record);
    return snapshot(record);
  }

  private changed(record: DeliveryRecord): void {
    if (this.listeners.size > 0) this.emit({ type: 'delivery', delivery: snapshot(record) });
  }

  private emit(event: DeliveryEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // a watcher's bug (the console's) must not break a delivery
      }
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise)).catch(() => undefined);
    return promise;
  }
}

/** Default timing: a day of retries compressed ~1000× and WeChat's 5 s reply deadline. */
export const DEFAULT_TIMING: DeliveryTiming = { timeScale: 0.001, replyTimeoutMs: REPLY_TIMEOUT_MS };

function snapshot(record: DeliveryRecord): DeliveryRecord {
  return { ...record, attempts: record.attempts.map((attempt) => ({ ...attempt })) };
}
