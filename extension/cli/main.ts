/**
 * `curvature-lens inspect model.json [--data batch.npz] …`: the engine, headless. Results go to --json /
 * --report (or a summary on stdout); progress and errors go to stderr. `--json -` writes the JSON to
 * stdout and nothing else goes there.
 */
import { parseArgs } from 'node:util';
import { CancelledError, InputError } from '../errors.js';
import { VERSION } from '../version.js';
import type { InspectResult, Progress } from '../protocol.js';
import { DEFAULTS, inspect } from '../engine/inspect.js';
import type { BackendRequest } from '../engine/backend.js';
import { convergenceRecorder, exportReport } from '../report/export.js';
import { resultJson, writeResult } from './output.js';
import { runCheckpoints } from './checkpoints.js';

const USAGE = `Usage: curvature-lens inspect <model> [--data FILE] [options]
       curvature-lens inspect --checkpoints 'runs/epoch-*/model.json' [--data FILE] [options]

Computes the curvature (Hessian) of a model's mean loss over the data: exact H·g, the diagonal and
trace with standard errors, and the extreme eigenvalues, globally and per layer. The model is a TF.js
model.json (with its weight shards), an ONNX .onnx (with its external data, if any), or a Keras .keras
or .h5 file.

Options:
  --data FILE            x (model input in the model's layout: NHWC for TF.js images, NCHW for ONNX
                         from PyTorch; or flat, one row per example) and y (labels):
                         .npz with arrays x and y; x.npy with y.npy beside it (or --labels);
                         .json {"x": [...], "y": [...]}; .csv, one example per row
                         Without --data: synthetic inputs, labelled by the model's own predictions
  --labels FILE          .npy labels for .npy data (default: y.npy beside x.npy)
  --label-column C       .csv label column: a header name or a 0-based index, negative from the end
                         (default: the last column; the first row is a header when a cell is text)
  --examples N           synthetic examples without --data (default ${DEFAULTS.syntheticExamples})
  --estimator E          diagonal: xdiag (default: --matvecs HVPs, with the XTrace trace from the same
                         sketch; far smaller error when H has outlier eigenvalues) | hutchinson (--samples
                         probes; the default when --samples is given or the sketch exceeds the memory budget)
  --trace-estimator T    hutchinson | hutch++ | xtrace (a better global trace from --matvecs more HVPs)
  --matvecs M            HVP budget of the sketching estimators (default ${DEFAULTS.matvecs})
  --ggn-diagonal         also the exact generalised Gauss-Newton diagonal (= the Hessian's for ReLU nets)
  --density              spectral density by stochastic Lanczos quadrature
  --density-runs R       Lanczos runs (default ${DEFAULTS.densityRuns}); --density-steps S: steps each (default ${DEFAULTS.densitySteps})
  --loss NAME            sparse-categorical-cross-entropy | categorical-cross-entropy |
                         binary-cross-entropy | mean-squared-error (default: inferred)
  --samples N            Hutchinson probes for the diagonal and trace (default ${DEFAULTS.samples}); implies
                         --estimator hutchinson
  --top K / --bottom K   largest / smallest eigenvalues to find (default ${DEFAULTS.top} / ${DEFAULTS.bottom})
  --exact                exact diagonal, trace and eigenvalues from one HVP per parameter
  --exact-limit P        refuse --exact above P parameters (default ${DEFAULTS.exactLimit})
  --damping L            λ of the Newton-type direction (H + λI)s = g (default: max(0, −λ_min)
                         + 0.001·λ_max, which makes H + λI positive definite)
  --epsilon E            ε of the inverse-diagonal direction g / (|diag| + ε) (default ${DEFAULTS.epsilon})
  --newton-matvecs M     MINRES budget (HVPs) for the Newton-type direction (default ${DEFAULTS.newtonMatvecs})
  --checkpoints GLOB     inspect every model file matching GLOB (* and ? within a folder name; quote it,
                         or let the shell expand it) with the same data and seed, in natural order;
                         --json writes {"checkpoints": [{path, topEigenvalue, bottomEigenvalue, trace,
                         diagonalShare}]}, --report a table
  --seed S               random seed (default ${DEFAULTS.seed})
  --backend B            auto | cpu | wasm | tensorflow (default auto; every backend is self-tested)
  --memory-budget MB     memory for vectors, data and activations (default ${DEFAULTS.memoryBudget / 2 ** 20})
  --workers N            HVPs computed in parallel threads (default ${DEFAULTS.workers}: cores − 1, at least 1);
                         results are identical for any N
  --json FILE            write the result as JSON ('-' for stdout)
  --report FILE          write a Markdown report
  --quiet                no progress on stderr
  --version, --help`;

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        labels: { type: 'string' },
        'label-column': { type: 'string' },
        examples: { type: 'string' },
        estimator: { type: 'string' },
        'trace-estimator': { type: 'string' },
        matvecs: { type: 'string' },
        density: { type: 'boolean' },
        'ggn-diagonal': { type: 'boolean' },
        'density-runs': { type: 'string' },
        'density-steps': { type: 'string' },
        loss: { type: 'string' },
        samples: { type: 'string' },
        top: { type: 'string' },
        bottom: { type: 'string' },
        exact: { type: 'boolean' },
        'exact-limit': { type: 'string' },
        seed: { type: 'string' },
        damping: { type: 'string' },
        epsilon: { type: 'string' },
        'newton-matvecs': { type: 'string' },
        checkpoints: { type: 'string' },
        backend: { type: 'string' },
        'memory-budget': { type: 'string' },
        workers: { type: 'string' },
        json: { type: 'string' },
        report: { type: 'string' },
        quiet: { type: 'boolean' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // One line, not the usage text: parseArgs' own message for an unknown option is long and multi-part.
    const err = e as NodeJS.ErrnoException;
    const unknown = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(err.message)?.[1] : undefined;
    return fail(`${unknown ? `unknown option '${unknown}'` : err.message.split('\n')[0]}; see curvature-lens --help`, 2);
  }
  const { values: v, positionals } = args;
  if (v.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (v.help || positionals.length === 0) {
    (v.help ? process.stdout : process.stderr).write(USAGE + '\n');
    return v.help ? 0 : 2;
  }
  if (positionals[0] !== 'inspect' || (positionals.length !== 2 && v.checkpoints === undefined)) {
    return fail(`expected: curvature-lens inspect <model.json> [options]; see curvature-lens --help`, 2);
  }
  quietOnEpipe();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  const progress = v.quiet ? undefined : progressPrinter();
  try {
    const int = (flag: string, s: string | undefined) => {
      if (s === undefined) return undefined;
      if (!/^\d+$/.test(s)) throw new InputError(null, `--${flag} must be a non-negative integer, got "${s}"`);
      return Number(s);
    };
    const real = (flag: string, s: string | undefined) => {
      if (s === undefined) return undefined;
      if (!/^\+?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s) || !Number.isFinite(Number(s))) throw new InputError(null, `--${flag} must be a non-negative number, got "${s}"`);
      return Number(s);
    };
    const budgetMb = int('memory-budget', v['memory-budget']);
    if (v.examples !== undefined && v.data !== undefined) {
      throw new InputError(null, '--examples sets the number of synthetic examples, used only without --data');
    }
    for (const flag of ['labels', 'label-column'] as const) {
      if (v[flag] !== undefined && v.data === undefined) throw new InputError(null, `--${flag} needs --data (it says where the labels of the data file are)`);
    }
    const convergence = convergenceRecorder();
    const settings = {
      dataPath: v.data ?? null,
      labelsPath: v.labels ?? null,
      labelColumn: v['label-column'] ?? null,
      syntheticExamples: int('examples', v.examples),
      estimator: v.estimator as 'hutchinson' | 'xdiag' | undefined,
      traceEstimator: v['trace-estimator'] as 'hutchinson' | 'hutch++' | 'xtrace' | undefined,
      matvecs: int('matvecs', v.matvecs),
      density: v.density ?? false,
      ggnDiagonal: v['ggn-diagonal'] ?? false,
      densityRuns: int('density-runs', v['density-runs']),
      densitySteps: int('density-steps', v['density-steps']),
      loss: v.loss ?? null,
      samples: int('samples', v.samples),
      top: int('top', v.top),
      bottom: int('bottom', v.bottom),
      exact: v.exact ?? false,
      exactLimit: int('exact-limit', v['exact-limit']),
      seed: int('seed', v.seed),
      backend: v.backend as BackendRequest | undefined,
      memoryBudget: budgetMb === undefined ? undefined : budgetMb * 2 ** 20,
      damping: real('damping', v.damping),
      epsilon: real('epsilon', v.epsilon),
      newtonMatvecs: int('newton-matvecs', v['newton-matvecs']),
      workers: int('workers', v.workers),
      signal: controller.signal,
      onProgress: (p: Progress) => {
        progress?.update(p);
        convergence.onProgress(p);
      },
    };
    if (v.checkpoints !== undefined) {
      await runCheckpoints(v.checkpoints, positionals.slice(1), settings, { json: v.json, report: v.report, quiet: v.quiet ?? false }, progress);
      return 0;
    }
    const result = await inspect({ modelPath: positionals[1], ...settings });
    progress?.end();
    if (v.json === '-') process.stdout.write(resultJson(result, null));
    else if (v.json) writeResult(result, v.json);
    if (v.report) exportReport(result, v.report, { convergence: convergence.points }); // the Markdown and <name>-assets/ beside it
    if (!v.json && !v.report) process.stdout.write(summary(result));
    else if (!v.quiet) {
      const wrote = [v.json && v.json !== '-' ? v.json : '', v.report ?? ''].filter(Boolean);
      if (wrote.length) process.stderr.write(`wrote ${wrote.join(', ')}\n`);
    }
    return 0;
  } catch (e) {
    progress?.end();
    if (e instanceof InputError) return fail(e.message, 2);
    if (e instanceof CancelledError) return fail('cancelled', 130);
    const debug = process.env.CURVATURE_LENS_DEBUG ? `\n${(e as Error).stack}` : ' (set CURVATURE_LENS_DEBUG=1 for a stack trace, and please report it)';
    return fail(`internal error: ${(e as Error).message}${debug}`, 1);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function fail(message: string, code: number): number {
  process.stderr.write(`curvature-lens: error: ${message}\n`);
  return code;
}

function summary(r: InspectResult): string {
  const g = r.global;
  const f = (x: number | null) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toPrecision(5));
  const lines = [
    `${r.model.name}: ${r.model.parameters} parameters, ${r.data.examples} examples, ${r.loss.name} = ${f(r.loss.value)} (backend ${r.backend})`,
    `trace ${f(g.trace.value)}${g.trace.stderr != null ? ` ± ${f(g.trace.stderr)}` : ' (exact)'}`,
    `λ top    ${g.eigenvalues.top.map((e) => f(e.value)).join('  ')}`,
    `λ bottom ${g.eigenvalues.bottom.map((e) => f(e.value)).join('  ')}`,
    `|g| ${f(g.gradientNorm)}   |Hg| ${f(g.hessianGradientNorm)}   gᵀHg/gᵀg ${f(g.gradientCurvature)}`,
    ...(g.diagonalShare && g.learningRateBound ? [`diagonal share ${f(g.diagonalShare.value)}${g.diagonalShare.stderr != null ? ` ± ${f(g.diagonalShare.stderr)}` : ''}   stable lr < ${f(g.learningRateBound.topEigenvector)} (2/λmax), < ${f(g.learningRateBound.gradient)} (along g)`] : []),
    ...r.layers.map((l) => `  ${l.name.padEnd(20)} ${String(l.parameters).padStart(8)} params  trace ${f(l.trace.value)}  λ ${f(l.eigenvalues.bottom[0]?.value ?? null)} … ${f(l.eigenvalues.top[0]?.value ?? null)}`),
  ];
  return lines.join('\n') + '\n';
}

/** Progress on stderr: one rewritten line on a terminal, otherwise a line per phase and every ~2 s. */
function progressPrinter() {
  const tty = process.stderr.isTTY;
  let lastPhase = '';
  let lastAt = 0;
  let open = false;
  const fmtEta = (s: number | null) => (s == null ? '' : s < 60 ? ` · ETA ${Math.ceil(s)}s` : ` · ETA ${Math.floor(s / 60)}m${Math.ceil(s % 60)}s`);
  return {
    update(p: Progress) {
      const now = Date.now();
      if (p.note) {
        process.stderr.write(`${open ? '\r\x1b[K' : ''}[${p.phase}] ${p.note}\n`);
        open = false;
        return;
      }
      const running = p.running ? ` · trace ${p.running.trace.toPrecision(4)}${p.running.stderr != null ? ` ± ${p.running.stderr.toPrecision(2)}` : ''}` : '';
      const line = `[${p.phase}] ${p.message} ${p.done}/${p.total}${running}${fmtEta(p.eta)}`;
      if (tty) {
        process.stderr.write(`\r\x1b[K${line}`);
        open = true;
      } else if (p.phase !== lastPhase || now - lastAt > 2000 || p.done === p.total) {
        if (p.phase !== lastPhase || now - lastAt > 2000) process.stderr.write(line + '\n');
        lastAt = now;
      }
      lastPhase = p.phase;
    },
    end() {
      if (open) process.stderr.write('\r\x1b[K');
      open = false;
    },
  };
}

/** A closed pipe on stdout (`… --json - | head`) is the reader's choice, not an error. */
function quietOnEpipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
