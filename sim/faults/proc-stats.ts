/** Resource use of a process from /proc (Linux): resident memory and open file descriptors. */
import {readFileSync, readdirSync} from 'node:fs';

export interface ProcStats {
  rssMiB: number;
  fds: number;
}

export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return {rssMiB: Math.round((kb / 1024) * 10) / 10, fds: readdirSync(`/proc/${pid}/fd`).length};
}
