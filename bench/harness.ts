/**
 * A small, fair micro-benchmark harness.
 *
 * - Every candidate is its own `(n) => checksum` function with its own loop, so
 *   the call sites inside stay monomorphic (one shared loop calling every
 *   implementation through one call site would be megamorphic and penalise
 *   whichever runs last).
 * - Every result is stored into a ring that outlives the loop (it escapes), and
 *   the loop returns a checksum that is accumulated and printed: nothing can be
 *   optimised away.
 * - Candidates of one comparison are warmed up together (until each has run for
 *   `warmupMs` and at least 2 batches), the batch size is calibrated to
 *   ~`roundMs`, and the timed rounds are interleaved (round-robin, order rotated
 *   every round) so that drift (frequency, other load) hits all alike, each
 *   batch starting after a full GC. The figure is the median over the rounds.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full GC before every timed batch (outside the timing), so that a batch does
 * not pay for the garbage of the candidate that ran before it. `gc` is exposed
 * at run time, so plain `node dist/bench/codecs.js` works.
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** The escape hatch for results: a ring of the last values. */
export const ring: unknown[] = new Array(1024).fill(null);

let checksum = 0;
/** Everything the candidates returned, folded: printed at the end. */
export function totalChecksum(): number {
  return checksum;
}

export interface Candidate {
  readonly name: string;
  /** Runs the operation `n` times; returns a number derived from the results. */
  readonly run: (n: number) => number;
}

export interface Measurement {
  readonly name: string;
  /** Median ops/s over the rounds. */
  readonly opsPerSec: number;
  /** Every round's ops/s. */
  readonly rounds: readonly number[];
  /** (max - min) / median of the rounds. */
  readonly spread: number;
}

export interface HarnessOptions {
  readonly warmupMs?: number;
  readonly roundMs?: number;
  readonly rounds?: number;
}

/**
 * The clock, in ms: the process's CPU time (user + system, all threads) by
 * default, which time slices given to other processes on a shared machine do
 * not inflate; `VFIO_BENCH_CLOCK=wall` for wall-clock time.
 */
export const CLOCK: 'cpu' | 'wall' = process.env.VFIO_BENCH_CLOCK === 'wall' ? 'wall' : 'cpu';
function now(): number {
  if (CLOCK === 'wall') return Number(process.hrtime.bigint()) / 1e6;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

function timed(c: Candidate, n: number): number {
  collect();
  const t0 = now();
  checksum = (checksum + c.run(n)) | 0;
  return now() - t0;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Measures `candidates` against each other (see the module comment). */
export function measure(candidates: readonly Candidate[], opts: HarnessOptions = {}): Measurement[] {
  const warmupMs = opts.warmupMs ?? 300;
  const roundMs = opts.roundMs ?? 60;
  const rounds = opts.rounds ?? 11;

  // Warm-up and calibration: grow the batch until it takes ~roundMs.
  const batch = candidates.map(() => 64);
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    let spent = 0;
    let runs = 0;
    while (spent < warmupMs || runs < 2) {
      const ms = timed(c, batch[i]!);
      spent += ms;
      runs++;
      if (ms < roundMs / 2) batch[i] = batch[i]! * 2;
      else batch[i] = Math.max(1, Math.round((batch[i]! * roundMs) / ms));
    }
  }
  // A second short pass so that every candidate is warm after the others ran (shared helpers, GC state).
  for (let i = 0; i < candidates.length; i++) timed(candidates[i]!, batch[i]!);

  const samples: number[][] = candidates.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < candidates.length; k++) {
      const i = (k + r) % candidates.length;
      const ms = timed(candidates[i]!, batch[i]!);
      samples[i]!.push((batch[i]! * 1000) / ms);
    }
  }
  return candidates.map((c, i) => {
    const xs = samples[i]!;
    const med = median(xs);
    return { name: c.name, opsPerSec: med, rounds: xs, spread: (Math.max(...xs) - Math.min(...xs)) / med };
  });
}

/** `12.3M`-style ops/s. */
export function formatOps(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}
