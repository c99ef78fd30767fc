/**
 * Layers from existing tar archives (plain or gzip), e.g. a root filesystem: every entry is
 * checked (no absolute paths, no `..`, no hard links out of the archive) and re-written with
 * the build's fixed mtime, without owner names, with modes cut to permission bits. Entry order
 * and numeric owners are kept as the archive has them, so the same archive gives the same layer.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { fsError } from '../../core/errors.js';
import { type BuiltLayer, type LayerBuildOptions, layerFromTarStream } from './build-layer.js';
import { imagePath } from './layer-files.js';
import { maybeGunzip, readTar } from './tar-reader.js';
import type { TarWriteEntry } from './tar-writer.js';
import { writeTar } from './tar-writer.js';

export interface TarLayerOptions extends LayerBuildOptions {
  /** Force every entry's owner (default: keep the archive's numeric uid/gid). */
  owner?: { uid: number; gid: number };
  /** Put every entry under this directory in the image (default: the root). */
  prefix?: string;
}

async function* normalised(
  source: AsyncIterable<Uint8Array>,
  where: string,
  options: TarLayerOptions,
): AsyncGenerator<TarWriteEntry> {
  const mtime = options.mtime ?? 0;
  const prefixPath = options.prefix ? imagePath(options.prefix) : '';
  const prefix = prefixPath ? `${prefixPath}/` : '';
  const parts = prefixPath ? prefixPath.split('/') : [];
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const owner = options.owner ?? { uid: 0, gid: 0 };
    yield { header: { path: dir, type: 'directory', mode: 0o755, ...owner, size: 0, mtime } };
  }
  for await (const { header, body } of readTar(maybeGunzip(source), where)) {
    const linkpath =
      header.type === 'hardlink' && header.linkpath !== undefined
        ? `${prefix}${header.linkpath}`
        : header.linkpath;
    yield {
      header: {
        ...header,
        path: `${prefix}${header.path}`,
        mode: header.mode & 0o7777,
        uid: options.owner?.uid ?? header.uid,
        gid: options.owner?.gid ?? header.gid,
        mtime,
        uname: '',
        gname: '',
        ...(linkpath === undefined ? {} : { linkpath }),
      },
      body,
    };
  }
}

/**
 * A layer from a tar archive: a file path (read twice, so an unchanged archive reuses its
 * compressed blob) or a stream (read once).
 */
export async function layerFromTar(source: string | Readable, options: TarLayerOptions): Promise<BuiltLayer> {
  if (typeof source === 'string') {
    try {
      fs.accessSync(source, fs.constants.R_OK);
    } catch (error) {
      throw fsError(error, source, 'reading the layer archive');
    }
    return layerFromTarStream(
      () => writeTar(normalised(fs.createReadStream(source, { highWaterMark: 1 << 20 }), source, options)),
      options,
      true,
    );
  }
  return layerFromTarStream(() => writeTar(normalised(source, 'layer archive', options)), options, false);
}
