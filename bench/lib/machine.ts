/**
 * What a benchmark ran on, for its report: CPU, cores, memory, kernel, Node.js, package versions,
 * the ledge commit, the load at the start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sh } from './exec.js';

export interface Machine {
  cpu: string;
  nproc: number;
  memory: string;
  kernel: string;
  node: string;
  /** ledge's short commit, with a note when src/ has uncommitted changes. */
  commit: string;
  /** The 1-minute load average when the benchmark started (and ended, set by the benchmark). */
  loadStart: number;
  loadEnd?: number;
}

export function machineInfo(ledgeRoot: string): Machine {
  let cpu = 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) cpu = match[1]!.trim();
  } catch {
    // not Linux
  }
  let commit = 'unknown';
  try {
    commit = sh(['git', 'rev-parse', '--short', 'HEAD'], { cwd: ledgeRoot }).trim();
    const dirty = sh(['git', 'status', '--porcelain', '--', 'src'], { cwd: ledgeRoot }).trim() !== '';
    if (dirty) commit += ' + uncommitted changes in src/';
  } catch {
    // not a git checkout
  }
  return {
    cpu,
    nproc: os.availableParallelism(),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit,
    loadStart: os.loadavg()[0]!,
  };
}

/**
 * The installed version of an npm package, found from `ledgeRoot` as Node.js finds packages: the
 * nearest `node_modules/<name>/package.json` up the tree (a package whose `exports` hide its
 * package.json, like hono, cannot be `require.resolve`d by that path).
 */
export function packageVersion(ledgeRoot: string, name: string): string {
  for (let dir = path.resolve(ledgeRoot); ; dir = path.dirname(dir)) {
    try {
      const file = path.join(dir, 'node_modules', name, 'package.json');
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      if (path.dirname(dir) === dir) return 'not installed';
    }
  }
}

/** One markdown line: `**Machine:** …`. */
export function machineLine(machine: Machine, extra: string[] = []): string {
  return (
    `**Machine:** ${machine.cpu}, ${machine.nproc} cores (os.availableParallelism), ${machine.memory} RAM, ` +
    `${machine.kernel}; Node ${machine.node}${extra.length > 0 ? `; ${extra.join('; ')}` : ''}; ledge at ` +
    `${machine.commit}; 1-minute load average ${machine.loadStart.toFixed(2)} at the start.`
  );
}
