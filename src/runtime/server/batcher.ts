/**
 * Dynamic batching, as Triton's dynamic batcher does it: requests for one model version that
 * arrive close together are merged into one model call. With the default `maxQueueDelayMs` of 0
 * (Triton's default too) nothing waits on purpose: the requests read in the same turn of the
 * event loop — those that arrived while the thread was busy with the model or with other
 * requests — run as one batch right after that turn (`setImmediate`), so a lone request pays no
 * delay and a loaded server batches by itself. A positive delay makes the first request to reach
 * an empty queue wait up to that long for others (bigger batches, more latency). As soon as
 * `maxBatchSize` documents are queued, a batch runs at once. A request larger than `maxBatchSize` is split across batches
 * and reassembled. One promise per request, one model call per batch, results handed back as
 * views of the batch's output arrays (copied only for a request that was split).
 *
 * ONNX Runtime's Node binding runs a session on the main thread, so batching is what amortises
 * the per-call cost (tensor creation, the native call, graph dispatch) across requests.
 */

export interface BatchingOptions {
  /** false: no queue, every request is one model call of its own documents. */
  enabled: boolean;
  /** Documents per model call, at most. 1 runs every document alone. */
  maxBatchSize: number;
  /**
   * How long the oldest queued request waits for others before its batch runs; 0: only for the
   * requests read in the same event-loop turn.
   */
  maxQueueDelayMs: number;
}

export const DEFAULT_BATCHING: BatchingOptions = { enabled: true, maxBatchSize: 64, maxQueueDelayMs: 0 };

/** One model call: documents in, one Float32Array per output (a value per document) out. */
export type BatchRunner = (docs: Int32Array[]) => Promise<Float32Array[]>;

export interface BatchOutcome {
  /** One array per output, `docs.length` long, in the runner's order. */
  outputs: Float32Array[];
  /** Time from submission until the request's (last) batch started, in seconds. */
  queueSeconds: number;
}

interface Pending {
  docs: Int32Array[];
  /** Index of the first document not yet put in a batch. */
  next: number;
  /** Documents with results (for a request split across batches). */
  done: number;
  /** Assembled outputs of a request split across batches. */
  outputs: Float32Array[] | undefined;
  enqueued: number;
  started: number;
  failed: boolean;
  resolve: (outcome: BatchOutcome) => void;
  reject: (error: unknown) => void;
}

interface Segment {
  request: Pending;
  start: number;
  count: number;
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private queuedDocs = 0;
  /** Cancels the scheduled dispatch of the queue, when one is scheduled. */
  private cancelDispatch: (() => void) | undefined;
  private readonly options: BatchingOptions;

  constructor(
    private readonly runner: BatchRunner,
    options: Partial<BatchingOptions> = {},
    /** Told the size of every batch before it runs (monitoring). */
    private readonly onBatch: (size: number) => void = () => {},
  ) {
    this.options = { ...DEFAULT_BATCHING, ...options };
    if (!Number.isInteger(this.options.maxBatchSize) || this.options.maxBatchSize < 1)
      throw new RangeError(`maxBatchSize must be a positive integer, not ${this.options.maxBatchSize}`);
    if (!(this.options.maxQueueDelayMs >= 0))
      throw new RangeError(`maxQueueDelayMs must be ≥ 0, not ${this.options.maxQueueDelayMs}`);
  }

  get settings(): Readonly<BatchingOptions> {
    return this.options;
  }

  /** Scores `docs`, in batches shared with concurrent requests. */
  submit(docs: Int32Array[]): Promise<BatchOutcome> {
    if (!this.options.enabled || docs.length === 0) return this.runAlone(docs);
    return new Promise<BatchOutcome>((resolve, reject) => {
      const now = performance.now();
      this.queue.push({
        docs,
        next: 0,
        done: 0,
        outputs: undefined,
        enqueued: now,
        started: now,
        failed: false,
        resolve,
        reject,
      });
      this.queuedDocs += docs.length;
      while (this.queuedDocs >= this.options.maxBatchSize) this.dispatchOne();
      if (this.queue.length > 0 && this.cancelDispatch === undefined) {
        this.scheduleDispatch();
      } else if (this.queue.length === 0) {
        this.clearTimer();
      }
    });
  }

  /** Runs everything queued now, without waiting for the delay (shutdown, a retired version). */
  flush(): void {
    this.clearTimer();
    this.dispatchAll();
  }

  private async runAlone(docs: Int32Array[]): Promise<BatchOutcome> {
    if (docs.length > 0) this.onBatch(docs.length);
    return { outputs: await this.runner(docs), queueSeconds: 0 };
  }

  private clearTimer(): void {
    this.cancelDispatch?.();
    this.cancelDispatch = undefined;
  }

  private scheduleDispatch(): void {
    if (this.options.maxQueueDelayMs === 0) {
      const immediate = setImmediate(() => this.dispatchAll());
      this.cancelDispatch = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => this.dispatchAll(), this.options.maxQueueDelayMs);
      this.cancelDispatch = () => clearTimeout(timer);
    }
  }

  private dispatchAll(): void {
    this.cancelDispatch = undefined;
    while (this.queue.length > 0) this.dispatchOne();
  }

  /** Takes up to maxBatchSize queued documents (oldest first) and runs them as one batch. */
  private dispatchOne(): void {
    const segments: Segment[] = [];
    let size = 0;
    const now = performance.now();
    while (this.queue.length > 0 && size < this.options.maxBatchSize) {
      const request = this.queue[0]!;
      const count = Math.min(request.docs.length - request.next, this.options.maxBatchSize - size);
      segments.push({ request, start: request.next, count });
      request.next += count;
      request.started = now;
      size += count;
      if (request.next === request.docs.length) this.queue.shift();
    }
    this.queuedDocs -= size;
    void this.run(segments, size);
  }

  private async run(segments: Segment[], size: number): Promise<void> {
    const first = segments[0]!;
    let docs: Int32Array[];
    if (segments.length === 1 && first.count === first.request.docs.length) {
      docs = first.request.docs;
    } else {
      docs = new Array<Int32Array>(size);
      let k = 0;
      for (const { request, start, count } of segments) {
        for (let i = 0; i < count; i++) docs[k++] = request.docs[start + i]!;
      }
    }
    this.onBatch(size);
    let outputs: Float32Array[];
    try {
      outputs = await this.runner(docs);
    } catch (error) {
      for (const { request } of segments) {
        if (!request.failed) {
          request.failed = true;
          request.reject(error);
        }
      }
      return;
    }
    let offset = 0;
    for (const { request, start, count } of segments) {
      const end = offset + count;
      if (!request.failed) this.deliver(request, outputs, offset, start, count);
      offset = end;
    }
  }

  private deliver(request: Pending, outputs: Float32Array[], offset: number, start: number, count: number) {
    const queueSeconds = (request.started - request.enqueued) / 1000;
    if (count === request.docs.length) {
      request.resolve({ outputs: outputs.map((o) => o.subarray(offset, offset + count)), queueSeconds });
      return;
    }
    request.outputs ??= outputs.map(() => new Float32Array(request.docs.length));
    for (let j = 0; j < outputs.length; j++) {
      request.outputs[j]!.set(outputs[j]!.subarray(offset, offset + count), start);
    }
    request.done += count;
    if (request.done === request.docs.length) request.resolve({ outputs: request.outputs, queueSeconds });
  }
}
