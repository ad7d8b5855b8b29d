/** `curvature-lens inspect --checkpoints GLOB`: one inspection per checkpoint, one JSON/Markdown table for all. */
import { InputError } from '../errors.js';
import type { CheckpointsResult, Progress } from '../protocol.js';
import { inspectCheckpoints } from '../engine/checkpoints.js';
import type { InspectOptions } from '../engine/inspect.js';
import { checkpointsMarkdown } from '../report/insights.js';
import { mdText } from '../report/markdown.js';
import { expandGlob, naturalCompare } from './glob.js';
import { atomicWrite } from './output.js';

export function checkpointsJson(c: CheckpointsResult): string {
  return JSON.stringify(c, null, 1) + '\n';
}

/**
 * The paths: the pattern's matches plus any further positional paths (an unquoted pattern the shell
 * expanded arrives as the flag's value and the rest as positionals), deduplicated, in natural order.
 */
export function checkpointPaths(pattern: string, extra: string[]): string[] {
  const paths = [...new Set([...expandGlob(pattern), ...extra])].sort(naturalCompare);
  if (paths.length === 0) throw new InputError(pattern, 'matched no model file; quote the pattern, e.g. --checkpoints "runs/epoch-*/model.json"');
  return paths;
}

export async function runCheckpoints(
  pattern: string,
  extra: string[],
  settings: Omit<InspectOptions, 'modelPath'>,
  out: { json?: string; report?: string; quiet: boolean },
  progress?: { update(p: Progress): void; end(): void },
): Promise<void> {
  const paths = checkpointPaths(pattern, extra);
  const { result } = await inspectCheckpoints(paths, settings, (i, path) =>
    progress?.update({ phase: 'load', message: 'checkpoint', done: i, total: paths.length, eta: null, note: `checkpoint ${i + 1}/${paths.length}: ${path}` }),
  );
  progress?.end();
  if (out.json === '-') process.stdout.write(checkpointsJson(result));
  else if (out.json) atomicWrite(out.json, checkpointsJson(result));
  if (out.report) atomicWrite(out.report, checkpointsMarkdown(result, mdText));
  if (!out.json && !out.report) {
    const f = (x: number | null) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toPrecision(5));
    for (const c of result.checkpoints) {
      process.stdout.write(`${c.path}  λmax ${f(c.topEigenvalue)}  λmin ${f(c.bottomEigenvalue)}  trace ${f(c.trace.value)}  diagonal share ${f(c.diagonalShare?.value ?? null)}\n`);
    }
  } else if (!out.quiet) {
    const wrote = [out.json && out.json !== '-' ? out.json : '', out.report ?? ''].filter(Boolean);
    if (wrote.length) process.stderr.write(`wrote ${wrote.join(', ')}\n`);
  }
}
