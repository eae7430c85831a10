/**
 * Progress of long work, as plain data passed to an optional callback: the compiler reports
 * its stages through it and stays pure (it never prints); cli/progress.ts draws it on a TTY.
 */

/** The compiler's stages, in pipeline order. */
export type Stage = 'parse' | 'functions' | 'match' | 'diff' | 'emit' | 'verify';

/** One report: `stage` has begun, or has done `done` of `total` items of `unit`. */
export interface ProgressEvent {
  readonly stage: Stage | (string & {});
  readonly done?: number;
  readonly total?: number;
  /** What is counted: 'files', 'images', 'functions', 'pairs', ... */
  readonly unit?: string;
}

export type Progress = (event: ProgressEvent) => void;

/** The callback of callers that want no progress. */
export const NO_PROGRESS: Progress = () => {};
