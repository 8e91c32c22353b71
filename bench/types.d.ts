// Minimal declarations for the bench's untyped dependencies (only what the bench calls).

declare module 'tenpay' {
  class Payment {
    constructor(
      config: { appid: string; mchid: string; partnerKey: string; pfx?: Buffer; notify_url?: string },
      debug?: boolean,
    );
    /** What its Express/Koa middlewares run on a notification body: parse, check ids and sign. */
    _parse(xml: string, type: string, signType?: string): Promise<Record<string, unknown>>;
  }
  export default Payment;
}

declare module 'autocannon' {
  interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9: number;
  }
  interface RequestParams {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    pipelining?: number;
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    requests?: Array<
      RequestParams & {
        setupRequest?: (req: RequestParams, context: Record<string, unknown>) => RequestParams | undefined;
      }
    >;
  }
  interface Result {
    duration: number;
    requests: Histogram & { sent: number };
    latency: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    '1xx': number;
    '2xx': number;
    '3xx': number;
    '4xx': number;
    '5xx': number;
    statusCodeStats?: Record<string, { count: number }>;
  }
  interface Instance {
    stop(): void;
    on(
      event: 'response',
      fn: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void,
    ): void;
  }
  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance;
  export = autocannon;
}
