/** Model arguments of commands that load a model (predict, evaluate, serve). */
import fs from 'node:fs';
import { LedgeError } from '../core/errors.js';
import type { CommandContext } from './context.js';

/** A model argument made local: the bundle's path, and its registry name and version if it has them. */
export interface LocalModel {
  path: string;
  name?: string | undefined;
  version?: string | undefined;
}

/**
 * A model argument as a local bundle directory: a path as it is, or a registry reference
 * (`name`, `name@3`, `name@production`, a digest) materialised from the workspace's cache.
 */
export async function modelDir(ctx: CommandContext, ref: string): Promise<string> {
  return (await resolveLocalModel(ctx, ref)).path;
}

export async function resolveLocalModel(ctx: CommandContext, ref: string): Promise<LocalModel> {
  if (fs.existsSync(ref)) return { path: ref };
  if (/[\\/]|\.(onnx|ledgemodel|tar)$/.test(ref)) {
    throw new LedgeError('path-not-found', `model ${ref} does not exist`, {
      hint: 'give a bundle directory, a .ledgemodel archive, or a registered model (see `ledge model list`)',
    });
  }
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
      return {
        path: resolved.path,
        name: resolved.name,
        version: resolved.version === undefined ? undefined : String(resolved.version),
      };
    } finally {
      await metadata.close();
    }
  } finally {
    store.close();
  }
}
