/**
 * The worker process: the extension host forks it, sends `inspect` / `cancel` over IPC, and gets
 * progress, the result or an error back (types in protocol.ts). All computation happens here, never in
 * the extension host. One run at a time; the process exits when the host disconnects.
 */
import { CancelledError, InputError } from '../errors.js';
import type { CheckpointProgress, HostToWorker, Progress, WorkerToHost } from '../protocol.js';
import { inspect } from '../engine/inspect.js';
import { OUT_OF_MEMORY } from '../host/workerMessages.js';
import { runCheckpoints } from './checkpoints.js';

function send(msg: WorkerToHost): void {
  process.send?.(msg);
}

let current: { id: number; controller: AbortController } | null = null;

process.on('message', (msg: HostToWorker) => {
  if (msg.type === 'cancel') {
    if (current?.id === msg.id) current.controller.abort();
    return;
  }
  if (msg.type !== 'inspect' && msg.type !== 'checkpoints') return;
  if (current) {
    send({ type: 'error', id: msg.id, kind: 'internal', message: 'the worker is busy with another run' });
    return;
  }
  const controller = new AbortController();
  current = { id: msg.id, controller };
  let lastSent = 0;
  // At most ~10 messages a second (each redraws the panel; batches of fast HVPs finish every few ms), but
  // always notes and phase ends.
  const onProgress = (progress: Progress, checkpoint?: CheckpointProgress) => {
    const now = Date.now();
    if (progress.note || progress.done === progress.total || now - lastSent >= 100) {
      lastSent = now;
      send({ type: 'progress', id: msg.id, progress, ...(checkpoint ? { checkpoint } : {}) });
    }
  };
  const job: Promise<void> =
    msg.type === 'checkpoints'
      ? runCheckpoints(msg.options, controller.signal, onProgress).then(({ result, diagonals }) => send({ type: 'checkpointsResult', id: msg.id, result, diagonals }))
      : inspect({ ...msg.options, signal: controller.signal, onProgress, onPreview: (preview) => send({ type: 'preview', id: msg.id, preview }) }).then((result) => send({ type: 'result', id: msg.id, result }));
  job
    .catch((e: unknown) => {
      const kind = e instanceof InputError ? 'input' : e instanceof CancelledError ? 'cancelled' : 'internal';
      let message = e instanceof Error ? e.message : String(e);
      if (kind === 'internal' && OUT_OF_MEMORY.test(message)) {
        message = `the worker ran out of memory (${message}); lower the samples, the memory budget or the data, or use a smaller model`;
      }
      if (kind === 'internal') process.stderr.write(`${(e as Error)?.stack ?? message}\n`);
      send({ type: 'error', id: msg.id, kind, message });
    })
    .finally(() => {
      current = null;
    });
});

process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
