/**
 * Benchmark data: the IMDB training split (extracted from the shared tarball), a deterministic
 * tree of many small random files, and one big file. Random bytes come from AES-256-CTR with a
 * fixed key: fast, reproducible, incompressible, and never repeating, so no two MiB dedupe.
 */
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sh } from './exec.js';

export interface DataSummary {
  files: number;
  bytes: number;
}

/** A deterministic stream of pseudo-random bytes. */
export class RandomBytes {
  private readonly cipher;

  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  next(length: number): Buffer {
    return this.cipher.update(Buffer.alloc(length));
  }
}

/** mulberry32: a tiny seeded PRNG (file sizes, benchmark values); numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Extracts the IMDB tarball into `parent`; returns the `aclImdb` directory. */
export function extractImdb(tarball: string, parent: string): string {
  fs.mkdirSync(parent, { recursive: true });
  sh(['tar', 'xzf', tarball, '-C', parent]);
  const dir = path.join(parent, 'aclImdb');
  if (!fs.existsSync(dir)) throw new Error(`${tarball} has no aclImdb/ directory`);
  return dir;
}

/** `dirs` directories of `filesPerDir` files of 200..2000 random bytes each. */
export function makeSmallTree(
  root: string,
  dirs: number,
  filesPerDir: number,
  seed = 'ledge-bench-tree',
): void {
  const random = new RandomBytes(seed);
  const size = prng(0x1ed9e);
  for (let d = 0; d < dirs; d++) {
    const dir = path.join(root, `d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    const sizes = Array.from({ length: filesPerDir }, () => 200 + Math.floor(size() * 1801));
    const block = random.next(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    sizes.forEach((n, f) => {
      fs.writeFileSync(
        path.join(dir, `f${String(f).padStart(4, '0')}.bin`),
        block.subarray(offset, offset + n),
      );
      offset += n;
    });
  }
}

/** One file of `bytes` pseudo-random bytes, written 16 MiB at a time. */
export function makeBigFile(file: string, bytes: number, seed = 'ledge-bench-big'): void {
  const random = new RandomBytes(seed);
  const chunk = 16 << 20;
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(chunk, bytes - written);
      fs.writeSync(fd, random.next(n));
      written += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Regular files and their total size under `target` (a file or a directory). */
export function summarize(target: string): DataSummary {
  const st = fs.statSync(target);
  if (st.isFile()) return { files: 1, bytes: st.size };
  let files = 0;
  let bytes = 0;
  const stack = [target];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) {
        files++;
        bytes += fs.statSync(full).size;
      }
    }
  }
  return { files, bytes };
}

/** Copies a file or tree, preserving modes and times (`cp -a`). */
export function copyTree(source: string, dest: string): void {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  sh(['cp', '-a', source, dest]);
}
