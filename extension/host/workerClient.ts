/**
 * Runs one inspection in a fresh worker process (modelled on vscode-jupyter's kernel process and
 * vscode-eslint's server): fork, typed IPC, the child's stderr into the Output channel, cancellation with
 * a grace period and then SIGKILL, a watchdog for a silent worker, and a readable error (exit code and
 * the last stderr lines) when it dies. Never throws anything but WorkerError.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { ENGINE_V8_FLAGS } from '../engine/v8Flags.js';
import type { CheckpointDiagonal, CheckpointProgress, CheckpointsResult, DiagonalPreview, ErrorKind, HostToWorker, InspectResult, Progress, WorkerCheckpointsOptions, WorkerInspectOptions, WorkerToHost } from '../protocol.js';
import { checkWorkerMessage, OUT_OF_MEMORY } from './workerMessages.js';

export { OUT_OF_MEMORY };

export class WorkerError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface WorkerRunOptions {
  workerPath: string;
  options: WorkerInspectOptions;
  onProgress: (p: Progress) => void;
  /** Preliminary diagonals while the run goes on (inspect only). */
  onPreview?: (p: DiagonalPreview) => void;
  log: (line: string) => void;
  /** Fires to cancel the run. */
  cancel: { onCancellationRequested(listener: () => void): { dispose(): void } };
  /** Kill the worker after this many seconds without a message (default 120). */
  silenceLimitSeconds?: number;
  /** Seconds between the cancel message and SIGKILL (default 3). */
  graceSeconds?: number;
  /**
   * Cap on the worker's virtual memory, MB (`ulimit -v`; POSIX only). tfjs tensors and WASM memory live
   * outside the JS heap, so Node's --max-old-space-size cannot bound them; this can. Node itself
   * reserves about 1 GB of address space, so values below ~1500 stop the worker from starting.
   */
  memoryLimitMB?: number;
}

/** Starts the worker: forked, or through `sh -c 'ulimit -v …; exec node worker.js'` with a memory cap. */
function startWorker(workerPath: string, memoryLimitMB: number | undefined): ChildProcess {
  const stdio: Array<'ignore' | 'pipe' | 'ipc'> = ['ignore', 'pipe', 'pipe', 'ipc'];
  if (!memoryLimitMB || process.platform === 'win32') return fork(workerPath, [], { stdio, execArgv: [...ENGINE_V8_FLAGS] });
  const kb = Math.max(1, Math.floor(memoryLimitMB * 1024));
  // exec keeps the pid and the IPC channel (NODE_CHANNEL_FD is inherited); "$0" is node, "$@" its flags and the worker.
  return spawn('/bin/sh', ['-c', `ulimit -v ${kb} && exec "$0" "$@"`, process.execPath, ...ENGINE_V8_FLAGS, workerPath], { stdio });
}

export function runInWorker(o: WorkerRunOptions): Promise<InspectResult> {
  return runJob(o, { type: 'inspect', options: o.options }, (m) => (m.type === 'result' ? m.result : undefined));
}

export interface CheckpointsRunOptions extends Omit<WorkerRunOptions, 'options' | 'onProgress'> {
  options: WorkerCheckpointsOptions;
  onProgress: (p: Progress, checkpoint?: CheckpointProgress) => void;
}

/** Inspect Checkpoints in a fresh worker: progress tagged by checkpoint, then the rows and each checkpoint's diagonals. */
export function runCheckpointsInWorker(o: CheckpointsRunOptions): Promise<{ result: CheckpointsResult; diagonals: CheckpointDiagonal[][] }> {
  return runJob(o, { type: 'checkpoints', options: o.options }, (m) => (m.type === 'checkpointsResult' ? { result: m.result, diagonals: m.diagonals } : undefined));
}

type Request = { type: 'inspect'; options: WorkerInspectOptions } | { type: 'checkpoints'; options: WorkerCheckpointsOptions };

function runJob<T>(
  o: Omit<WorkerRunOptions, 'options' | 'onProgress'> & { onProgress: (p: Progress, checkpoint?: CheckpointProgress) => void },
  request: Request,
  outcomeOf: (msg: WorkerToHost) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const id = 1;
    const stderrTail: string[] = [];
    let settled = false;
    let child: ChildProcess;
    try {
      child = startWorker(o.workerPath, o.memoryLimitMB);
    } catch (e) {
      reject(new WorkerError('internal', `could not start the worker: ${(e as Error).message}`));
      return;
    }
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        o.log(`[worker] ${line}`);
        stderrTail.push(line);
        if (stderrTail.length > 20) stderrTail.shift();
      }
    };
    child.stderr?.on('data', onLine);
    child.stdout?.on('data', onLine);

    let killTimer: NodeJS.Timeout | undefined;
    let watchdog: NodeJS.Timeout | undefined;
    const silence = (o.silenceLimitSeconds ?? 120) * 1000;
    const pet = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => finish(new WorkerError('internal', `the worker sent nothing for ${silence / 1000} s and was stopped (hung?)`)), silence);
    };
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const finish = (outcome: T | WorkerError) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      clearTimeout(killTimer);
      sub.dispose();
      // The worker has nothing left to do: let it go (a cancelled or failed one is killed).
      if (child.connected) child.disconnect();
      setTimeout(kill, 1000).unref();
      if (outcome instanceof WorkerError) reject(outcome);
      else resolve(outcome);
    };
    const sub = o.cancel.onCancellationRequested(() => {
      if (settled) return;
      try {
        child.send({ type: 'cancel', id } satisfies HostToWorker);
      } catch {
        /* already gone */
      }
      killTimer = setTimeout(() => {
        kill();
        finish(new WorkerError('cancelled', 'cancelled (the worker was stopped)'));
      }, (o.graceSeconds ?? 3) * 1000);
    });

    child.on('message', (raw: unknown) => {
      pet();
      if (settled) return;
      const checked = checkWorkerMessage(raw);
      if (typeof checked === 'string') {
        finish(new WorkerError('internal', `the worker sent a malformed message (${checked}) and was stopped`));
        kill();
        return;
      }
      const msg: WorkerToHost = checked;
      try {
        switch (msg.type) {
          case 'ready':
            child.send({ ...request, id } as HostToWorker);
            break;
          case 'progress':
            o.onProgress(msg.progress, msg.checkpoint);
            break;
          case 'preview':
            o.onPreview?.(msg.preview);
            break;
          case 'result':
          case 'checkpointsResult': {
            const outcome = outcomeOf(msg);
            finish(outcome === undefined ? new WorkerError('internal', `the worker answered a ${request.type} request with a ${msg.type} message`) : outcome);
            break;
          }
          case 'error':
            finish(new WorkerError(msg.kind, msg.message));
            break;
        }
      } catch (e) {
        // A listener failing on what the worker sent must not escape into the extension host.
        finish(new WorkerError('internal', `could not handle the worker's ${msg.type} message: ${(e as Error)?.message ?? e}`));
        kill();
      }
    });
    child.on('error', (e) => finish(new WorkerError('internal', `worker process error: ${e.message}`)));
    child.on('exit', (code, signal) => {
      const tail = stderrTail.slice(-5).join('\n');
      const oom = OUT_OF_MEMORY.test(stderrTail.join('\n')); // the error line may sit above a stack trace
      finish(
        new WorkerError(
          'internal',
          `the worker stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})${oom ? ': out of memory — lower the samples or the memory budget, or use a smaller data file' : ''}${tail ? `\n${tail}` : ''}`,
        ),
      );
    });
    pet();
  });
}
