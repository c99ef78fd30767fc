/**
 * Platforms as `os/architecture[/variant]` strings (`linux/amd64`, `linux/arm64`,
 * `linux/arm/v7`) and how an index entry is matched against a wanted one.
 */
import { LedgeError } from '../core/errors.js';
import type { Platform } from './oci-spec.js';

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };

export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => !/^[a-z0-9._-]+$/.test(part))) {
    throw new LedgeError('usage', `'${text}' is not a platform`, {
      hint: 'write it as os/architecture[/variant], e.g. linux/amd64 or linux/arm64',
    });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** The platform this process runs on, e.g. linux/amd64. */
export function hostPlatform(): Platform {
  return { os: process.platform, architecture: NODE_ARCH[process.arch] ?? process.arch };
}

/** arm64 images often omit the default variant v8; treat absent and v8 as equal there. */
function normalVariant(platform: Platform): string | undefined {
  if (platform.architecture === 'arm64' && (platform.variant === undefined || platform.variant === 'v8')) {
    return undefined;
  }
  return platform.variant;
}

/** Whether `candidate` satisfies `wanted` (a wanted platform without a variant accepts any). */
export function platformMatches(candidate: Platform, wanted: Platform): boolean {
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  const wantedVariant = normalVariant(wanted);
  return wantedVariant === undefined || normalVariant(candidate) === wantedVariant;
}
