/**
 * Processes as Linux shows them in /proc: a process's start time (to tell it from a later
 * process that reuses its pid) and its descendants (a stage's `sh -c` runs in a process group
 * of its own, so signalling one group does not reach every process a run started).
 */
import fs from 'node:fs';

function statFields(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    const close = text.lastIndexOf(')');
    return text.slice(close + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's start time (clock ticks since boot), or undefined when it does not exist. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** Whether `pid` runs (and, given `startTime`, is still the process that had it then). */
export function isProcessAlive(pid: number, startTime?: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!startTime) return true;
  const now = processStartTime(pid);
  // Without /proc (not Linux) we cannot tell: trust the pid.
  return now === undefined ? fs.existsSync('/proc/self/stat') === false : now === startTime;
}

/** Every live descendant of `pid` (children, their children…), with its process group. */
export function descendants(pid: number): { pid: number; pgid: number }[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, { pid: number; pgid: number }[]>();
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push({ pid: Number(name), pgid: Number(fields[2]) });
    children.set(ppid, list);
  }
  const found: { pid: number; pgid: number }[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // Gone already.
  }
}

/**
 * Sends `sig` to the process group led by `pid`, and to every descendant and its group
 * (found before signalling anything, so re-parented orphans are not missed).
 */
export function signalTree(pid: number, sig: NodeJS.Signals): void {
  const tree = descendants(pid);
  signal(-pid, sig);
  signal(pid, sig);
  for (const pgid of new Set(tree.map((p) => p.pgid)))
    if (pgid > 1 && pgid !== process.pid) signal(-pgid, sig);
  for (const p of tree) signal(p.pid, sig);
}
