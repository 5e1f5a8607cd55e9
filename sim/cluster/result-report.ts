/**
 * A readable account of a scenario run for assertion messages: when an e2e expectation fails, the message says
 * which requests failed when and how, what each pod went through, and what lameduck warned about.
 */
import type {ScenarioResult} from './scenario-runner.js';

export function describeRun(r: ScenarioResult, opts: {maxFailures?: number; maxLogLines?: number} = {}): string {
  const t = (ms: number): string => `${((ms - r.startedAt) / 1000).toFixed(2)}s`;
  const lines: string[] = [];
  lines.push(`${r.scenario}: ${r.requests.total} requests, ${r.requests.failed} failed ${JSON.stringify(r.failedByKind)}`);
  lines.push(`lb ${JSON.stringify(r.lb)} ingress ${JSON.stringify(r.ingress)}`);
  for (const x of r.rollouts) lines.push(`rollout ${x.revision}: ${t(x.startedAt)} → ${x.completedAt ? t(x.completedAt) : 'incomplete'}`);
  for (const f of r.records.filter((x) => x.outcome !== 'ok').slice(0, opts.maxFailures ?? 15)) {
    lines.push(`  failed ${f.via}/${f.kind} ${f.path} ${t(f.start)}→${t(f.end)} ${f.outcome} ${f.status ?? ''} ${f.error ?? ''} target=${f.target ?? '?'}`);
  }
  for (const p of r.pods) {
    lines.push(`pod ${p.name} ${p.ip ?? ''}: ${p.phases.map((ph) => `${ph.name}@${t(ph.from)}`).join(' ')}${p.terminatedAt ? ` exited@${t(p.terminatedAt)}` : ''}${p.sigkilled ? ' SIGKILL' : ''}`);
  }
  // lameduck's own account of what it closed: open and idle connections at `closing`, what it cut.
  const closing = r.recorder.logs.filter((l) => l.container === 'lameduck' && /"msg":"phase"/.test(l.line) && /"to":"closing"/.test(l.line));
  for (const l of closing) lines.push(`  ${t(l.at)} ${l.pod}: ${l.line.slice(0, 400)}`);
  const warnings = r.recorder.logs.filter((l) => /"level":"(warn|error)"/.test(l.line) || l.stream === 'stderr');
  for (const l of warnings.slice(0, opts.maxLogLines ?? 20)) lines.push(`  ${t(l.at)} ${l.pod}/${l.container}: ${l.line.slice(0, 300)}`);
  return lines.join('\n');
}
