/**
 * Guest side: collecting the outcome of every check and turning them into one
 * verdict per ioctl (or feature id).
 *
 * Per subject: any failed check makes it `fail`; otherwise passed checks make
 * it `pass`; otherwise an explicit {@link Verdicts.refused} / {@link Verdicts.na}
 * decides; a subject nothing was recorded for is `fail` ("not exercised"):
 * a verdict is never given without evidence.
 */
import { IoctlError } from 'vfio-uapi/runtime';
import type { CheckRecord, Verdict, VerdictEntry } from './types.js';

interface SubjectState {
  passes: string[];
  fails: string[];
  notes: string[];
  explicit?: { verdict: 'refused' | 'n/a'; reason: string };
}

/** The outcome of calling something that may fail with an errno. */
export type Attempt<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** Runs `fn`; an {@link IoctlError} (or any error with an errno `code`) becomes `{ok: false, code}`; other errors propagate. */
export function attempt<T>(fn: () => T): Attempt<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    const code = e instanceof IoctlError ? e.code : (e as { code?: unknown } | null)?.code;
    if (e instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return { ok: false, code, message: e.message };
    throw e;
  }
}

/** The verdict collector. */
export class Verdicts {
  readonly checks: CheckRecord[] = [];
  readonly #subjects = new Map<string, SubjectState>();

  constructor(private readonly log: (line: string) => void = () => {}) {}

  #state(subject: string): SubjectState {
    let s = this.#subjects.get(subject);
    if (!s) this.#subjects.set(subject, (s = { passes: [], fails: [], notes: [] }));
    return s;
  }

  /** A check of `subject` passed. */
  pass(subject: string, text: string): void {
    this.#state(subject).passes.push(text);
    this.checks.push({ subject, ok: true, text });
    this.log(`  ok   ${subject}: ${text}`);
  }

  /** A check of `subject` failed. */
  fail(subject: string, text: string): void {
    this.#state(subject).fails.push(text);
    this.checks.push({ subject, ok: false, text });
    this.log(`  FAIL ${subject}: ${text}`);
  }

  /** Records `text` as passed if `ok`, else as failed (with `why` appended). Returns `ok`. */
  expect(subject: string, ok: boolean, text: string, why?: string): boolean {
    if (ok) this.pass(subject, text);
    else this.fail(subject, why ? `${text}: ${why}` : text);
    return ok;
  }

  /** Evidence that is neither a pass nor a failure (it goes into the detail of a refused/n/a verdict). */
  note(subject: string, text: string): void {
    this.#state(subject).notes.push(text);
    this.checks.push({ subject, ok: true, text: `(note) ${text}` });
    this.log(`  note ${subject}: ${text}`);
  }

  /** The kernel refused `subject` as it should here; decides the verdict unless a check passed or failed. */
  refused(subject: string, reason: string): void {
    this.#state(subject).explicit = { verdict: 'refused', reason };
    this.log(`  refused ${subject}: ${reason}`);
  }

  /** `subject` cannot be exercised on this setup; decides the verdict unless a check passed or failed. */
  na(subject: string, reason: string): void {
    this.#state(subject).explicit = { verdict: 'n/a', reason };
    this.log(`  n/a  ${subject}: ${reason}`);
  }

  /**
   * Runs a group of checks of `subject`; an exception thrown out of it fails
   * `subject` with the message (and the suite goes on).
   */
  run(subject: string, label: string, body: () => void): void {
    try {
      body();
    } catch (e) {
      this.fail(subject, `${label}: ${(e as Error).message ?? String(e)}`);
    }
  }

  /** Async {@link Verdicts.run}. */
  async runAsync(subject: string, label: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (e) {
      this.fail(subject, `${label}: ${(e as Error).message ?? String(e)}`);
    }
  }

  /**
   * Calls `fn` expecting it to fail with errno `code`; records pass or fail
   * under `subject`. Returns whether it did.
   */
  expectErrno(subject: string, label: string, code: string | readonly string[], fn: () => unknown): boolean {
    const codes = typeof code === 'string' ? [code] : code;
    let r: Attempt<unknown>;
    try {
      r = attempt(fn);
    } catch (e) {
      this.fail(subject, `${label}: expected ${codes.join('/')}, threw ${(e as Error).message}`);
      return false;
    }
    if (r.ok) {
      this.fail(subject, `${label}: expected ${codes.join('/')}, but it succeeded`);
      return false;
    }
    return this.expect(subject, codes.includes(r.code), `${label} -> ${r.code}`, `expected ${codes.join('/')}`);
  }

  /** The failed checks of `subject`. */
  failures(subject: string): readonly string[] {
    return this.#subjects.get(subject)?.fails ?? [];
  }

  /** The verdict of every subject in `subjects` (in that order). */
  verdicts(subjects: readonly string[]): Record<string, VerdictEntry> {
    const out: Record<string, VerdictEntry> = {};
    for (const subject of subjects) out[subject] = this.verdict(subject);
    return out;
  }

  /** The verdict of one subject (see the module comment). */
  verdict(subject: string): VerdictEntry {
    const s = this.#subjects.get(subject);
    if (!s) return { verdict: 'fail', detail: 'not exercised: the suite recorded nothing for it' };
    let verdict: Verdict;
    let detail: string;
    if (s.fails.length > 0) {
      verdict = 'fail';
      detail = s.fails.join('; ') + (s.passes.length ? ` (passed: ${s.passes.join('; ')})` : '');
    } else if (s.passes.length > 0) {
      verdict = 'pass';
      detail = [...s.passes, ...s.notes].join('; ');
    } else if (s.explicit) {
      verdict = s.explicit.verdict;
      detail = [s.explicit.reason, ...s.notes].join('; ');
    } else {
      verdict = 'fail';
      detail = `no check passed or decided it${s.notes.length ? `: ${s.notes.join('; ')}` : ''}`;
    }
    return { verdict, detail };
  }
}
