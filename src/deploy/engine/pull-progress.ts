/**
 * The engine's pull progress stream (`POST /images/create`): JSON objects, one per line, each
 * about a blob named by the first 12 hex digits of its digest. Docker names layers; Podman
 * names every blob it copies (layers and the config). A blob reported `Already exists` was
 * not transferred; one reported being pulled, downloaded or extracted was. An `error` object
 * ends the pull (the HTTP status is 200 by then).
 *
 * Pure: parsing and counting here, the bytes come from the manifest's descriptors.
 */
import type { PullMessage } from './engine-api.js';

/** Statuses that mean the engine transferred the blob. */
const FETCHING = new Set([
  'Pulling fs layer',
  'Waiting',
  'Downloading',
  'Verifying Checksum',
  'Download complete',
  'Extracting',
  'Pull complete',
  'Copying blob',
]);

export interface PullSummary {
  /** Ids (12 hex digits) of blobs the engine transferred. */
  fetched: Set<string>;
  /** Ids of blobs the engine already had. */
  present: Set<string>;
  /** The largest `progressDetail.total` seen per id (Docker reports compressed sizes). */
  totals: Map<string, number>;
  /** The stream's error message, if the pull failed. */
  error: string | undefined;
}

export function emptySummary(): PullSummary {
  return { fetched: new Set(), present: new Set(), totals: new Map(), error: undefined };
}

/** Folds one progress message into the summary. */
export function recordPullMessage(summary: PullSummary, message: PullMessage): void {
  const error = message.errorDetail?.message ?? message.error;
  if (error) {
    summary.error = error;
    return;
  }
  const id = message.id;
  if (!id || !/^[0-9a-f]{12}$/.test(id) || !message.status) return;
  if (message.status === 'Already exists') {
    summary.present.add(id);
    summary.fetched.delete(id);
  } else if (FETCHING.has(message.status) && !summary.present.has(id)) {
    summary.fetched.add(id);
  }
  const total = message.progressDetail?.total;
  if (typeof total === 'number' && total > (summary.totals.get(id) ?? 0)) summary.totals.set(id, total);
}

/** Splits a byte stream of JSON objects (newline-separated) into messages; non-JSON lines are skipped. */
export async function* pullMessages(stream: AsyncIterable<Buffer | string>): AsyncGenerator<PullMessage> {
  let pending = '';
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      const message = parseMessage(line);
      if (message) yield message;
      newline = pending.indexOf('\n');
    }
  }
  const message = parseMessage(pending.trim());
  if (message) yield message;
}

function parseMessage(line: string): PullMessage | undefined {
  if (!line) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return value && typeof value === 'object' ? (value as PullMessage) : undefined;
  } catch {
    return undefined;
  }
}

export interface BlobSize {
  /** `sha256:<hex>` */
  digest: string;
  size: number;
}

export interface PulledBytes {
  /** Bytes the engine fetched from the registry: the manifest, and each blob it transferred. */
  bytes: number;
  /** Layers transferred, and layers the engine already had. */
  layersPulled: number;
  layersPresent: number;
}

/**
 * What a pull moved, from the summary and the image's manifest: the manifest's size, plus the
 * size of every blob the stream reports transferring. The config is counted when the engine
 * names it, or (Docker, which does not name it) when any layer was transferred.
 */
export function pulledBytes(
  summary: PullSummary,
  image: { manifestSize: number; config: BlobSize; layers: BlobSize[] },
): PulledBytes {
  const id = (blob: BlobSize) => blob.digest.replace(/^sha256:/, '').slice(0, 12);
  const size = (blob: BlobSize) => summary.totals.get(id(blob)) ?? blob.size;
  let bytes = image.manifestSize;
  let layersPulled = 0;
  let layersPresent = 0;
  for (const layer of image.layers) {
    if (summary.fetched.has(id(layer))) {
      bytes += size(layer);
      layersPulled++;
    } else layersPresent++;
  }
  const configNamed = summary.fetched.has(id(image.config)) || summary.present.has(id(image.config));
  if (summary.fetched.has(id(image.config)) || (!configNamed && layersPulled > 0)) {
    bytes += image.config.size;
  }
  return { bytes, layersPulled, layersPresent };
}
