/**
 * A preprocessing thread of the inference server (see preprocessor.ts): texts in, feature ids
 * and the input statistics monitoring needs out, with exactly the code the server runs inline
 * (`prepareTextWith`). Models are registered once (their feature config and known words); jobs
 * name the model by key. Results travel back as three transferred buffers per job (every text's
 * ids packed into one Int32Array with offsets), so nothing is copied on the way back.
 */
import { parentPort } from 'node:worker_threads';
import type { FeatureConfig } from '../text/features.js';
import { KnownTokenHashes } from '../text/known-tokens.js';
import { prepareTextWith } from './prepare-text.js';

export type WorkerRequest =
  | { type: 'model'; key: number; features: FeatureConfig; knownWords: string[] }
  | { type: 'forget'; key: number }
  | { type: 'job'; id: number; key: number; texts: string[]; withStatistics: boolean };

export type WorkerReply =
  | {
      type: 'done';
      id: number;
      /** Every text's ids, one after another; text i is ids[offsets[i] .. offsets[i + 1]). */
      ids: Int32Array;
      offsets: Uint32Array;
      tokens: Uint32Array;
      oovRates: Float64Array;
    }
  | { type: 'failed'; id: number; error: string };

interface Registered {
  features: FeatureConfig;
  known: KnownTokenHashes;
}

const port = parentPort;
if (port) {
  const models = new Map<number, Registered>();
  port.on('message', (message: WorkerRequest) => {
    if (message.type === 'model') {
      models.set(message.key, {
        features: message.features,
        known: KnownTokenHashes.of(message.knownWords, message.features.seed),
      });
      return;
    }
    if (message.type === 'forget') {
      models.delete(message.key);
      return;
    }
    const model = models.get(message.key);
    if (!model) {
      port.postMessage({ type: 'failed', id: message.id, error: `model ${message.key} is not registered` });
      return;
    }
    try {
      const n = message.texts.length;
      const prepared = message.texts.map((text) =>
        prepareTextWith(model.features, model.known, text, message.withStatistics),
      );
      const offsets = new Uint32Array(n + 1);
      for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + prepared[i]!.ids.length;
      const ids = new Int32Array(offsets[n]!);
      const tokens = new Uint32Array(n);
      const oovRates = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        ids.set(prepared[i]!.ids, offsets[i]!);
        tokens[i] = prepared[i]!.tokens;
        oovRates[i] = prepared[i]!.oovRate;
      }
      const reply: WorkerReply = { type: 'done', id: message.id, ids, offsets, tokens, oovRates };
      port.postMessage(reply, [ids.buffer, offsets.buffer, tokens.buffer, oovRates.buffer]);
    } catch (error) {
      port.postMessage({ type: 'failed', id: message.id, error: String(error) });
    }
  });
}
