/**
 * Cleanups that must run however the process ends: normally, on an uncaught
 * error, or on SIGINT/SIGTERM/SIGHUP (temp directories of verify and the
 * conformance suite, a device rebound for `conformance --host --bind`). They
 * are synchronous, so that they can run in a signal handler; after them the
 * signal is raised again, so the exit status still says which signal ended the
 * process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cleanups = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  // Last registered, first run: what was set up last (a child process using a device) is undone before what it
  // depends on (the device's binding, which the kernel will not change while the child holds it open).
  for (const c of [...cleanups].reverse()) {
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
 * function is called first (which releases it without running it). Cleanups
 * run in the reverse order of registration.
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

/**
 * SIGKILLs `pid` and waits (synchronously, so it works in a signal handler) until it has exited, at most
 * `timeoutMs`: a killed process has closed its files (device fds included) once it is gone or a zombie.
 * @returns whether it is gone.
 */
export function killAndWaitSync(pid: number, timeoutMs = 30_000): boolean {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return true; // no such process
  }
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return true;
    }
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    if (Date.now() >= deadline) return false;
    Atomics.wait(sleeper, 0, 0, 10);
  }
}
