/**
 * Drift alerts to a webhook: one JSON POST per alert change, with a timeout. Failures are the
 * caller's to log; nothing here retries (the next alert change posts again).
 */
import { VERSION } from '../../core/version.js';
import type { DriftFeature } from './monitoring-sink.js';

export interface WebhookOptions {
  url: string;
  /** Give up after this many milliseconds (default 5,000). */
  timeoutMs?: number;
  /** Extra headers, e.g. `authorization` (never logged). */
  headers?: Record<string, string>;
}

/** The body of a drift alert POST. */
export interface DriftAlertPayload {
  type: 'ledge.drift-alert';
  /** firing: the feature crossed a threshold; resolved: it is back under both. */
  status: 'firing' | 'resolved';
  at: string;
  server: string;
  model: string;
  version: string;
  feature: DriftFeature;
  statistic: 'psi' | 'ks';
  value: number;
  threshold: number;
  psi: number;
  ks: number;
  thresholds: { psi: number; ks: number };
  /** Live predictions in the window. */
  samples: number;
  message: string;
}

/** POSTs `body` as JSON; resolves with the status, rejects on network errors, timeouts and non-2xx. */
export async function postJson(options: WebhookOptions, body: unknown): Promise<number> {
  const response = await fetch(options.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': `ledge/${VERSION}`,
      ...options.headers,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
  });
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.status;
}
