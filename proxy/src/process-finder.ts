/**
 * Finds the app's processes by matching LAMEDUCK_APP_PROCESS against /proc/PID/cmdline (NUL-separated argv, joined
 * with spaces). With `shareProcessNamespace: true` the sidecar sees the app's processes. Never returns PID 1 (the
 * pause container, or ourselves in a container), our own PID or our parent: a bad pattern must not kill the pod's
 * infrastructure or the proxy.
 */
import {readdir, readFile} from 'node:fs/promises';

export interface ProcessFinderOptions {
  pattern: RegExp;
  procDir?: string;
  /** PIDs that must never match (self, parent). */
  exclude: readonly number[];
}

export async function findProcesses(opts: ProcessFinderOptions): Promise<{pid: number; cmdline: string}[]> {
  const procDir = opts.procDir ?? '/proc';
  const entries = await readdir(procDir);
  const found: {pid: number; cmdline: string}[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === 1 || opts.exclude.includes(pid)) continue;
    let raw: string;
    try {
      raw = await readFile(`${procDir}/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    const cmdline = raw.replace(/\0+$/, '').split('\0').join(' ');
    if (cmdline !== '' && opts.pattern.test(cmdline)) found.push({pid, cmdline});
  }
  return found;
}
