/**
 * Cleanups that must run however the process ends: normally, on an uncaught
 * error, or on SIGINT/SIGTERM/SIGHUP (temp directories of verify and the
 * conformance suite, a device rebound for `conformance --host --bind`). They
 * are synchronous, so that they can run in a signal handler; after them the
 * signal is raised again, so the exit status still says which signal ended the
 * process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cleanups = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  for (const c of [...cleanups]) {
    cleanups.delete(c);
    try {
      c();
    } catch {
      /* best effort: the others still run */
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  for (const s of SIGNALS) process.off(s, onSignal);
  installed = false;
  // The default action (exit with 128 + signal), unless another handler (QEMU supervision) still wants the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * Runs `cleanup` when the process exits or is interrupted, unless the returned
 * function is called first (which releases it without running it).
 */
export function onExitOrSignal(cleanup: () => void): () => void {
  if (!installed) {
    for (const s of SIGNALS) process.on(s, onSignal);
    process.on('exit', runAll);
    installed = true;
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/**
 * A new temporary directory (under `parent`, default the system's), removed on exit or signal if not before.
 * Created synchronously: an asynchronous mkdtemp can create the directory in the thread pool while a signal
 * handler runs on the main thread, before the directory is tracked, and leave it behind.
 */
export async function makeTempDir(prefix: string, parent: string = tmpdir()): Promise<string> {
  return makeTempDirSync(prefix, parent);
}

/** {@link makeTempDir}, synchronously. */
export function makeTempDirSync(prefix: string, parent: string = tmpdir()): string {
  const dir = mkdtempSync(path.join(parent, prefix));
  track(dir);
  return dir;
}

const releases = new Map<string, () => void>();

function track(dir: string): void {
  releases.set(dir, onExitOrSignal(() => rmSync(dir, { recursive: true, force: true })));
}

/** Removes a directory made by {@link makeTempDir} (and forgets it). */
export async function removeTempDir(dir: string): Promise<void> {
  // Forgotten only once gone: a signal during the removal still finishes it.
  await rm(dir, { recursive: true, force: true });
  releases.get(dir)?.();
  releases.delete(dir);
}

/** {@link removeTempDir}, synchronously. */
export function removeTempDirSync(dir: string): void {
  releases.get(dir)?.();
  releases.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}
