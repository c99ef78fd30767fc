/**
 * The platforms `ledge build` targets: Linux on amd64 and arm64, the two ONNX Runtime ships
 * Linux binaries for, and how each names its binaries inside onnxruntime-node
 * (`bin/napi-v<N>/linux/<x64|arm64>/`).
 */
import { formatPlatform, hostPlatform, type Platform, parsePlatform } from '../image/index.js';
import { unknownPlatform } from './build-errors.js';

/** OCI architecture → Node.js `process.arch`, for the platforms ledge builds. */
const NODE_ARCH: Record<string, 'x64' | 'arm64'> = { amd64: 'x64', arm64: 'arm64' };

export const SUPPORTED_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

/** `linux/amd64,linux/arm64` (or a list of such) → platforms, each checked and listed once. */
export function parseBuildPlatforms(input: string | readonly (string | Platform)[]): Platform[] {
  const items = typeof input === 'string' ? input.split(',') : input;
  const platforms: Platform[] = [];
  for (const item of items) {
    const text = typeof item === 'string' ? item.trim() : formatPlatform(item);
    if (text === '') continue;
    let platform: Platform;
    try {
      platform = typeof item === 'string' ? parsePlatform(text) : item;
    } catch {
      throw unknownPlatform(text, SUPPORTED_PLATFORMS);
    }
    // arm64's only variant is v8; an image says so or not, both mean the same.
    if (platform.architecture === 'arm64' && platform.variant === 'v8')
      platform = { os: 'linux', architecture: 'arm64' };
    if (platform.os !== 'linux' || !NODE_ARCH[platform.architecture] || platform.variant !== undefined) {
      throw unknownPlatform(text, SUPPORTED_PLATFORMS);
    }
    if (!platforms.some((p) => p.architecture === platform.architecture)) platforms.push(platform);
  }
  if (platforms.length === 0)
    throw unknownPlatform(typeof input === 'string' ? input : '', SUPPORTED_PLATFORMS);
  return platforms;
}

/** The Node.js architecture name of a build platform (`amd64` → `x64`). */
export function nodeArch(platform: Platform): 'x64' | 'arm64' {
  const arch = NODE_ARCH[platform.architecture];
  if (!arch || platform.os !== 'linux') throw unknownPlatform(formatPlatform(platform), SUPPORTED_PLATFORMS);
  return arch;
}

const ORT_BINARY_DIR = /^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?(?:\/|$)/;

/**
 * Whether a file of the onnxruntime-node package (its path inside the package, `/`-separated)
 * belongs in an image for `arches`: everything except binaries for other platforms, which are
 * ~250 of the package's ~290 MB.
 */
export function keepOnnxRuntimeFile(relative: string, arches: readonly ('x64' | 'arm64')[]): boolean {
  const match = ORT_BINARY_DIR.exec(relative);
  if (!match) return true;
  const [, os, arch] = match;
  if (os !== 'linux') return false;
  return arch === undefined || (arches as readonly string[]).includes(arch);
}

/** The platform built when none is asked for: this machine's when ledge builds it, else linux/amd64. */
export function defaultBuildPlatform(): string {
  const host = formatPlatform(hostPlatform());
  return (SUPPORTED_PLATFORMS as readonly string[]).includes(host) ? host : 'linux/amd64';
}
