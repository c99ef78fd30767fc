/**
 * The build component's error catalog: every error `ledge build` raises itself is made here,
 * with a stable `reason` on top of the core code the CLI maps to an exit status. One line:
 * what went wrong, where, and (in the hint) how to fix it. Errors of the image library
 * (registry, layout, tar) pass through as they are, or wrapped to name the base image.
 */
import { type ErrorCode, LedgeError, type LedgeErrorOptions } from '../core/errors.js';

export type BuildErrorReason =
  | 'unknown-platform'
  | 'base-image'
  | 'bad-output'
  | 'output-unwritable'
  | 'not-a-bundle'
  | 'missing-dependency'
  | 'missing-server-code'
  | 'context-exists';

export class BuildError extends LedgeError {
  readonly reason: BuildErrorReason;

  constructor(reason: BuildErrorReason, code: ErrorCode, message: string, options: LedgeErrorOptions = {}) {
    super(code, message, options);
    this.name = 'BuildError';
    this.reason = reason;
  }
}

export function isBuildError(error: unknown, reason?: BuildErrorReason): error is BuildError {
  return error instanceof BuildError && (reason === undefined || error.reason === reason);
}

export function unknownPlatform(text: string, supported: readonly string[]): BuildError {
  return new BuildError('unknown-platform', 'usage', `cannot build for platform '${text}'`, {
    hint: `ledge builds ${supported.join(' and ')} (the Linux platforms ONNX Runtime ships binaries for); e.g. --platform linux/amd64,linux/arm64`,
  });
}

export function missingOrtBinaries(arch: string, dir: string): BuildError {
  return new BuildError(
    'missing-dependency',
    'path-not-found',
    `ONNX Runtime has no linux/${arch} binaries in ${dir}`,
    { hint: 'reinstall onnxruntime-node (npm ci); its package carries every platform' },
  );
}

export function missingPackage(name: string, wantedBy: string, from: string): BuildError {
  return new BuildError(
    'missing-dependency',
    'path-not-found',
    `package '${name}' (needed by ${wantedBy}) is not installed below ${from}`,
    { hint: 'run `npm ci` (or `npm install`) in the ledge installation' },
  );
}

export function packageClash(imagePath: string, first: string, second: string): BuildError {
  return new BuildError(
    'missing-dependency',
    'config',
    `two installed packages would both be ${imagePath} in the image: ${first} and ${second}`,
    { hint: 'reinstall with `npm ci` so that npm lays out node_modules without the conflict' },
  );
}

export function missingServerCode(file: string): BuildError {
  return new BuildError(
    'missing-server-code',
    'path-not-found',
    `the compiled model server ${file} is missing`,
    {
      hint: 'run `npm run build` in the ledge checkout (or reinstall ledge)',
    },
  );
}

export function badBaseImage(reference: string, problem: string, hint: string, cause?: unknown): BuildError {
  return new BuildError('base-image', 'config', `base image ${reference}: ${problem}`, {
    hint,
    ...(cause === undefined ? {} : { cause }),
  });
}

export function badOutput(text: string, problem: string): BuildError {
  return new BuildError('bad-output', 'usage', `--output '${text}': ${problem}`, {
    hint: 'write oci:DIR (an OCI image layout) or tar:FILE (for docker load / podman load)',
  });
}

export function outputUnwritable(what: string, problem: string): BuildError {
  return new BuildError('output-unwritable', 'io', `cannot write ${what}: ${problem}`, {
    hint: 'choose a path in a writable directory',
  });
}

export function notABundle(dir: string, problem: string): BuildError {
  return new BuildError('not-a-bundle', 'invalid-model', `${dir} is not a model bundle: ${problem}`, {
    hint: 'build a bundle written by `ledge train` (or registered with `ledge model register`)',
  });
}

export function contextExists(dir: string): BuildError {
  return new BuildError(
    'context-exists',
    'usage',
    `--dockerfile ${dir} exists and was not written by ledge build`,
    { hint: 'choose a new or empty directory, or remove it first' },
  );
}
