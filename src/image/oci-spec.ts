/**
 * The JSON documents of the OCI image spec (manifest, index, config, descriptors) as
 * TypeScript shapes, and the checks that turn untrusted bytes into them. Unknown fields are
 * kept: an image read and written back is the same document.
 */
import { type Digest, isDigest } from '../core/digest.js';
import { malformedJson } from './image-errors.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface IndexManifest {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * Docker's health check (`config.Healthcheck`): not in the OCI spec, honoured by Docker,
 * Podman (for Docker-format images) and balenaEngine. Durations are nanoseconds.
 */
export interface HealthConfig {
  /** `["CMD", exe, arg…]`, `["CMD-SHELL", "command"]`, or `["NONE"]`. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The execution parameters in `config.config` (Docker's capitalised field names). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  [field: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  [field: string]: unknown;
}

/** An OCI image layout's `oci-layout` file. */
export const OCI_LAYOUT_FILE = { imageLayoutVersion: '1.0.0' } as const;

/** The annotation naming a manifest in an OCI layout's index.json (`umoci … layout:TAG`). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw malformedJson(where, `not JSON (${(error as Error).message})`);
  }
}

export function checkDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw malformedJson(where, 'descriptor is not an object');
  if (typeof value.mediaType !== 'string') throw malformedJson(where, 'descriptor has no mediaType');
  if (!isDigest(value.digest))
    throw malformedJson(where, `descriptor digest '${String(value.digest)}' is invalid`);
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw malformedJson(where, 'descriptor size is not a non-negative integer');
  }
  if (value.platform !== undefined) checkPlatform(value.platform, where);
  return value as unknown as Descriptor;
}

function checkPlatform(value: unknown, where: string): Platform {
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') {
    throw malformedJson(where, 'platform needs os and architecture');
  }
  return value as unknown as Platform;
}

export function checkImageManifest(value: unknown, where: string): ImageManifest {
  if (!isObject(value) || value.schemaVersion !== 2)
    throw malformedJson(where, 'not a schemaVersion 2 manifest');
  if (!Array.isArray(value.layers)) throw malformedJson(where, 'manifest has no layers array');
  checkDescriptor(value.config, `${where} (config)`);
  value.layers.forEach((layer, i) => {
    checkDescriptor(layer, `${where} (layer ${i})`);
  });
  return value as unknown as ImageManifest;
}

export function checkIndexManifest(value: unknown, where: string): IndexManifest {
  if (!isObject(value) || value.schemaVersion !== 2)
    throw malformedJson(where, 'not a schemaVersion 2 index');
  if (!Array.isArray(value.manifests)) throw malformedJson(where, 'index has no manifests array');
  value.manifests.forEach((entry, i) => {
    checkDescriptor(entry, `${where} (manifest ${i})`);
  });
  return value as unknown as IndexManifest;
}

export function checkImageConfig(value: unknown, where: string): ImageConfig {
  if (!isObject(value)) throw malformedJson(where, 'config is not an object');
  if (typeof value.os !== 'string' || typeof value.architecture !== 'string') {
    throw malformedJson(where, 'config needs os and architecture');
  }
  const rootfs = value.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw malformedJson(where, 'config has no rootfs.diff_ids');
  }
  for (const id of rootfs.diff_ids) {
    if (!isDigest(id)) throw malformedJson(where, `rootfs diff_id '${String(id)}' is invalid`);
  }
  if (value.config !== undefined && value.config !== null && !isObject(value.config)) {
    throw malformedJson(where, 'config.config is not an object');
  }
  if (value.history !== undefined && !Array.isArray(value.history)) {
    throw malformedJson(where, 'config history is not an array');
  }
  return value as unknown as ImageConfig;
}
