/**
 * Finding and stopping process groups by what their processes carry in their environment. A
 * process ledge starts on a lock holder's behalf (a `ledge run` stage) carries the holder's pid
 * and the workspace in its environment; when the holder died without stopping them (SIGKILL),
 * whoever takes over the lock finds them that way and stops them, so two runs never write the
 * same outputs. Linux only (/proc); elsewhere nothing is found.
 */
import fs from 'node:fs';
import { isErrno } from './errors.js';

export interface ProcessInGroup {
  pid: number;
  pgid: number;
}

function readEnviron(pid: string): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return undefined; // gone, or another user's
  }
}

function processGroupOf(pid: string): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (in parentheses, which may hold spaces): state, ppid, pgrp.
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(pgid) && pgid > 0 ? pgid : undefined;
  } catch {
    return undefined;
  }
}

/** Processes of this machine whose environment holds every `KEY=value` of `entries` (not this one). */
export function processesWithEnv(entries: Record<string, string>): ProcessInGroup[] {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return [];
  }
  const wanted = Object.entries(entries).map(([key, value]) => `${key}=${value}`);
  const found: ProcessInGroup[] = [];
  for (const pid of pids) {
    const environ = readEnviron(pid);
    if (!environ || !wanted.every((entry) => environ.includes(entry))) continue;
    const pgid = processGroupOf(pid);
    if (pgid !== undefined) found.push({ pid: Number(pid), pgid });
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone already, or not ours
  }
}

/**
 * SIGTERM to each process group, then SIGKILL to those still alive after `graceMs`; resolves
 * once all are gone (or after the SIGKILL). Returns how many groups there were.
 */
export async function stopProcessGroups(pgids: Iterable<number>, graceMs = 3000): Promise<number> {
  const own = processGroupOf('self');
  const groups = [...new Set(pgids)].filter((pgid) => pgid > 1 && pgid !== process.pid && pgid !== own);
  for (const pgid of groups) signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groups.some(groupAlive) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  for (const pgid of groups) if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
  return groups.length;
}
