/**
 * Commands that create temporary files remove them when interrupted:
 * `verify` on SIGINT and `conformance` on SIGTERM, before and while QEMU runs (and the
 * shared cleanup registry on both), and the exit status still names the signal. No
 * timing assumption: each signal waits for the state it is meant to interrupt.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { vmSkipReason } from './helpers.js';

const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');

/** Pids of live (not zombie) processes whose command line contains `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) pids.push(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/**
 * Runs `args` with a private TMPDIR; sends `signal` once `ready(entries, tmp)` holds (polled, however long that
 * takes up to `waitMs`: no step is assumed to take any given time); resolves with what is left in TMPDIR and the
 * processes still running with TMPDIR on their command line (QEMU: its share is a directory there).
 */
async function interrupt(args: string[], signal: NodeJS.Signals, ready: (entries: string[], tmp: string) => boolean, waitMs: number) {
  const tmp = mkdtempSync(join(tmpdir(), 'vfio-uapi-signal-test-'));
  try {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, sig) => r({ code, signal: sig })));
    const started = Date.now();
    let seen: string[] = [];
    let isReady = false;
    while (Date.now() - started < waitMs && child.exitCode === null) {
      seen = readdirSync(tmp);
      isReady = ready(seen, tmp);
      if (isReady) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(isReady, `never ready before the signal (exit ${child.exitCode}): ${stderr.slice(-1500)}`).toBe(true);
    child.kill(signal);
    const end = await exited;
    // The command waits for its children to die before it exits: nothing of it may still run now.
    return { end, left: readdirSync(tmp), seen, stderr, running: processesMentioning(tmp) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe.skipIf(!existsSync(cli))('temporary files on signals', () => {
  it.skipIf(installedClangs().length === 0)('verify removes its temporary directories on SIGINT', async () => {
    const r = await interrupt(['verify', '--abi', 'all'], 'SIGINT', (e) => e.some((x) => x.startsWith('vfio-uapi-')), 600_000);
    expect(r.seen.some((x) => x.startsWith('vfio-uapi-'))).toBe(true);
    expect(r.end.signal).toBe('SIGINT');
    expect(r.left).toEqual([]);
  }, 700_000);

  // Two moments: before QEMU starts (the manifest just written), and while QEMU runs the guest (its run
  // directory present and its process alive). Each waits for its moment, however loaded the machine is.
  const manifestWritten = (e: string[]) => e.some((x) => x.startsWith('vfio-uapi-conformance-'));
  const qemuRunning = (e: string[], tmp: string) =>
    manifestWritten(e) && e.some((x) => x.startsWith('vfio-uapi-run-')) && processesMentioning(tmp).some((pid) => /qemu-system/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')));
  for (const [moment, ready] of [['before QEMU starts', manifestWritten], ['while QEMU runs', qemuRunning]] as const) {
    it.skipIf(vmSkipReason() !== undefined)(`conformance on SIGTERM ${moment}: its temp directories removed, QEMU stopped, the signal in its exit status`, async () => {
      const r = await interrupt(['conformance', '--kernel', 'bookworm'], 'SIGTERM', ready, 1_800_000);
      expect(r.end.signal, r.stderr.slice(-1500)).toBe('SIGTERM');
      expect(r.left).toEqual([]);
      expect(r.running).toEqual([]);
    }, 2_000_000); // the first run may download a kernel; TCG boots are slow on a loaded machine
  }

  it('the registry runs cleanups on exit and on signals, once', () => {
    const script = `
      import { onExitOrSignal, makeTempDirSync } from ${JSON.stringify(join(import.meta.dirname, '..', 'dist', 'conformance', 'cleanup.js'))};
      const d = makeTempDirSync('vfio-uapi-reg-');
      let n = 0;
      onExitOrSignal(() => { n++; process.stdout.write('cleanup ' + n + ' ' + d + '\\n'); });
      if (process.argv[1] === 'signal') process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {}, process.argv[1] === 'signal' ? 5000 : 0);`;
    for (const mode of ['exit', 'signal']) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, mode], { encoding: 'utf8' });
      const m = /cleanup 1 (\S+)/.exec(r.stdout);
      expect(m, `${mode}: ${r.stdout}${r.stderr}`).not.toBeNull();
      expect(r.stdout).not.toMatch(/cleanup 2/);
      expect(existsSync(m![1]!)).toBe(false);
      if (mode === 'signal') expect(r.signal).toBe('SIGTERM');
    }
  });
});
