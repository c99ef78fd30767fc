/** Model arguments of commands that load a model (predict, evaluate, serve). */
import fs from 'node:fs';
import { LedgeError } from '../core/errors.js';
import type { CommandContext } from './context.js';

/**
 * A model argument as a local bundle directory: a path as it is, or a registry reference
 * (`name`, `name@3`, `name@production`, a digest) materialised from the workspace's cache.
 */
export async function modelDir(ctx: CommandContext, ref: string): Promise<string> {
  if (fs.existsSync(ref)) return ref;
  const { resolveModelPath } = await import('../ml/registry/resolve-model.js');
  const store = await ctx.openStore();
  try {
    const metadata = await ctx.openMetadata(store);
    try {
      const resolved = await resolveModelPath(store, metadata, ref, { cwd: ctx.cwd });
      if (resolved.kind !== 'bundle') {
        throw new LedgeError('usage', `${ref} is a bare .onnx model, not a text classifier bundle`, {
          hint: 'predict and evaluate need a bundle written by `ledge train` (preprocessing, labels, vocabulary)',
        });
      }
      return resolved.path;
    } finally {
      await metadata.close();
    }
  } finally {
    store.close();
  }
}
