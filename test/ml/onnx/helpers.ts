/** Shared by the ONNX tests: seeded randomness, padded id batches, the official ONNX checker. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Weights like a trained model's: small, mostly near 0, weights[0] (padding) exactly 0. */
export function randomWeights(buckets: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const weights = new Float32Array(buckets);
  for (let i = 1; i < buckets; i++) {
    // Sum of uniforms: roughly normal, σ ≈ 0.05, with a few large weights.
    const u = random() + random() + random() - 1.5;
    weights[i] = random() < 0.01 ? u * 2 : u * 0.1;
  }
  return weights;
}

/**
 * `rows` documents of 0 to `maxLength` ids in [1, buckets) (the first row empty, the second
 * at the maximum length, one holding the highest id), packed into an int64 `[rows, seq]`
 * batch padded with 0.
 */
export function randomBatch(
  rows: number,
  maxLength: number,
  buckets: number,
  seed: number,
): { docs: Int32Array[]; data: BigInt64Array; dims: [number, number] } {
  const random = seededRandom(seed);
  const docs = Array.from({ length: rows }, (_, row) => {
    const length = row === 0 ? 0 : row === 1 ? maxLength : Math.floor(random() * (maxLength + 1));
    return Int32Array.from({ length }, () => 1 + Math.floor(random() * (buckets - 1)));
  });
  if (rows > 2 && docs[2]!.length > 0) docs[2]![0] = buckets - 1;
  const seq = Math.max(1, ...docs.map((d) => d.length));
  const data = new BigInt64Array(rows * seq);
  docs.forEach((doc, row) => {
    for (let i = 0; i < doc.length; i++) data[row * seq + i] = BigInt(doc[i]!);
  });
  return { docs, data, dims: [rows, seq] };
}

const PYTHON = '/usr/bin/python3';

/** Runs a Python snippet that needs the `onnx` package; fails clearly when it is missing. */
export function runPythonOnnx(script: string, args: string[]): { status: number; output: string } {
  const result = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (result.error) assert.fail(`cannot run ${PYTHON}: ${result.error.message}; apt-get install python3`);
  const output = `${result.stdout}${result.stderr}`.trim();
  if (/No module named '?onnx'?/.test(output)) {
    assert.fail(
      `${PYTHON} cannot import onnx: apt-get install python3-onnx (the official ONNX checker; CI installs it in .ci/run)`,
    );
  }
  return { status: result.status ?? 1, output };
}

/** The official checker, strictest setting: onnx.checker.check_model(model, full_check=True), on each model. */
export function checkWithOfficialChecker(dir: string, models: Record<string, Uint8Array>): void {
  const files = Object.entries(models).map(([name, bytes]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  });
  const { status, output } = runPythonOnnx(
    [
      'import onnx, sys',
      'for f in sys.argv[1:]:',
      '    try: onnx.checker.check_model(onnx.load(f), full_check=True)',
      '    except Exception as e: sys.exit(f"{f}: {e}")',
    ].join('\n'),
    files,
  );
  assert.equal(status, 0, `the ONNX checker rejects a model:\n${output}`);
}
