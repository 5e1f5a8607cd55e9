/**
 * What a process costs, read from /proc (proc(5)): CPU time (utime + stime) and memory (VmRSS, and PSS where
 * smaps_rollup is readable) for a process and all its descendants — nginx is a master plus workers, the others one
 * process. The parsers take the file text so that they can be tested on fixed input; the readers take pids.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {spawnSync} from 'node:child_process';

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Clock ticks (sysconf(_SC_CLK_TCK)) in user and kernel mode, all threads of the process. */
  utimeTicks: number;
  stimeTicks: number;
}

/** A parse failure: stable code, the file text for the reader. */
export class ProcParseError extends Error {
  readonly code = 'PROC_PARSE';
  constructor(what: string, readonly text: string) {
    super(`cannot parse ${what}: ${JSON.stringify(text.slice(0, 120))}`);
    this.name = 'ProcParseError';
  }
}

/**
 * /proc/PID/stat. The command name (field 2) is in parentheses and may itself contain spaces and parentheses
 * (`(node (x))`), so fields are counted from the *last* `)`: then state is field 3, ppid 4, utime 14, stime 15.
 */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ProcParseError('/proc/PID/stat', text);
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const pid = Number(text.slice(0, open).trim());
  const [ppid, utime, stime] = [Number(rest[1]), Number(rest[11]), Number(rest[12])];
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new ProcParseError('/proc/PID/stat', text);
  }
  return {pid, comm: text.slice(open + 1, close), ppid, utimeTicks: utime, stimeTicks: stime};
}

/** A `Key:   123 kB` line of /proc/PID/status or /proc/PID/smaps_rollup, in kB; undefined if the key is absent. */
export function parseKbField(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

let ticksPerSecond: number | undefined;
/** sysconf(_SC_CLK_TCK), asked of getconf once (100 on every Linux we know, but not promised). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const out = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout?.trim());
    ticksPerSecond = Number.isInteger(out) && out > 0 ? out : 100;
  }
  return ticksPerSecond;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone meanwhile
  }
}

/** The pid and every live descendant (one scan of /proc; workers forked by a master are included). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU time used so far by these processes (user + system, all threads), in µs; NaN if none could be read. */
export function cpuMicros(pids: readonly number[]): number {
  let ticks = 0;
  let seen = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (!s) continue;
    ticks += s.utimeTicks + s.stimeTicks;
    seen++;
  }
  return seen ? (ticks * 1e6) / clockTicksPerSecond() : NaN;
}

export interface Memory {
  /** Sum of VmRSS in MB: what `ps` and most dashboards show; counts pages shared between a master and its workers twice. */
  rssMb: number;
  /** Sum of PSS in MB (shared pages split between sharers); NaN where smaps_rollup is not readable. */
  pssMb: number;
}

export function memory(pids: readonly number[]): Memory {
  let rss = 0;
  let pss = 0;
  let pssOk = true;
  for (const pid of pids) {
    try {
      rss += parseKbField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') ?? 0;
    } catch {
      continue;
    }
    try {
      const p = parseKbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
      if (p === undefined) pssOk = false;
      else pss += p;
    } catch {
      pssOk = false;
    }
  }
  return {rssMb: rss / 1024, pssMb: pssOk ? pss / 1024 : NaN};
}

export interface CpuTimes {
  /** Jiffies spent busy (everything but idle and iowait) and in total, since boot. */
  busy: number;
  total: number;
}

/**
 * The `cpuN` lines of /proc/stat (user nice system idle iowait irq softirq steal ...), keyed by core number. Used to
 * see how much of the proxy's core *other* processes took during a cell: on a shared machine that is the noise.
 */
export function parseProcStatCpus(text: string): Map<number, CpuTimes> {
  const out = new Map<number, CpuTimes>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // guest and guest_nice (fields 9, 10) are already included in user and nice.
    const v = m[2]!.trim().split(/\s+/).slice(0, 8).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    out.set(Number(m[1]), {busy: total - v[3]! - (v[4] ?? 0), total});
  }
  return out;
}

export function coreTimes(): Map<number, CpuTimes> {
  return parseProcStatCpus(readFileSync('/proc/stat', 'utf8'));
}

/** Share of a core that was busy between two readings (0..1); NaN if the core is missing. */
export function busyShare(before: Map<number, CpuTimes>, after: Map<number, CpuTimes>, core: number): number {
  const [a, b] = [before.get(core), after.get(core)];
  if (!a || !b || b.total === a.total) return NaN;
  return (b.busy - a.busy) / (b.total - a.total);
}
