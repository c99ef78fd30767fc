/**
 * A private Podman root for one test: storage and run directories in a temporary directory, the
 * vfs driver, and the containers.conf this machine needs (../shared/PRODUCT.md: no ulimits,
 * cgroupfs, runc, file events). Every podman invocation of the test passes `flags` and `env`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PodmanRoot {
  /** The temporary directory holding everything; remove it when done. */
  dir: string;
  /** Global flags for every podman command (before the subcommand). */
  flags: string[];
  /** The environment for podman: CONTAINERS_CONF, TMPDIR. */
  env: NodeJS.ProcessEnv;
}

export function makePodmanRoot(prefix = 'ledge-podman-'): PodmanRoot {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const conf = path.join(dir, 'containers.conf');
  fs.writeFileSync(
    conf,
    [
      '[containers]',
      'default_ulimits = []',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'runtime = "runc"',
      'events_logger = "file"',
      '',
    ].join('\n'),
  );
  return {
    dir,
    flags: ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--storage-driver=vfs'],
    env: { ...process.env, CONTAINERS_CONF: conf, TMPDIR: dir },
  };
}
