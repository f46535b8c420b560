/**
 * Commands that create temporary files remove them when interrupted:
 * `verify` on SIGINT and `conformance` on SIGTERM (and the shared cleanup
 * registry on both), and the exit status still names the signal.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { vmSkipReason } from './helpers.js';

const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');

/** Runs `args` with a private TMPDIR; sends `signal` once `ready(entries)` holds; resolves with what is left in TMPDIR. */
async function interrupt(args: string[], signal: NodeJS.Signals, ready: (entries: string[]) => boolean, waitMs: number) {
  const tmp = mkdtempSync(join(tmpdir(), 'vfio-uapi-signal-test-'));
  try {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, sig) => r({ code, signal: sig })));
    const started = Date.now();
    let seen: string[] = [];
    while (Date.now() - started < waitMs && child.exitCode === null) {
      seen = readdirSync(tmp);
      if (ready(seen)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready(seen), `temp files never appeared (${stderr.slice(-500)})`).toBe(true);
    child.kill(signal);
    const end = await exited;
    return { end, left: readdirSync(tmp), seen, stderr };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe.skipIf(!existsSync(cli))('temporary files on signals', () => {
  it.skipIf(installedClangs().length === 0)('verify removes its temporary directories on SIGINT', async () => {
    const r = await interrupt(['verify', '--abi', 'all'], 'SIGINT', (e) => e.some((x) => x.startsWith('vfio-uapi-')), 120_000);
    expect(r.seen.some((x) => x.startsWith('vfio-uapi-'))).toBe(true);
    expect(r.end.signal).toBe('SIGINT');
    expect(r.left).toEqual([]);
  }, 180_000);

  it.skipIf(vmSkipReason() !== undefined)('conformance removes its manifest directory on SIGTERM (and stops QEMU)', async () => {
    const r = await interrupt(['conformance', '--kernel', 'bookworm'], 'SIGTERM', (e) => e.some((x) => x.startsWith('vfio-uapi-conformance-')), 1_200_000);
    expect(r.end.signal).toBe('SIGTERM');
    expect(r.left).toEqual([]);
  }, 1_300_000); // the first run may download a kernel

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
