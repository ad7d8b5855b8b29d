/**
 * The one error type for bad input. Everything a user can get wrong (a file, a flag, a model the engine
 * does not support) ends as an InputError: the CLI prints `error: <file>: <message>` and exits non-zero,
 * the extension shows the same line. Anything else escaping the engine is a bug.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    /** The file the problem is in, or null when it is about a flag or setting. */
    readonly file: string | null,
    /** What is wrong and, where it helps, what to do. One line. */
    readonly detail: string,
  ) {
    super(file ? `${file}: ${detail}` : detail);
  }
}

/** Thrown when a run is cancelled (the caller's AbortSignal fired). */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor() {
    super('cancelled');
  }
}
