/**
 * `generate` replaces its output atomically: killed at any step, it leaves the
 * complete old or the complete new output, never none or a mix; the next run
 * removes the leftovers and writes the new output.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SWAP_STEPS } from '../generator/codegen/swap.js';
import { writeHeaders } from './helpers.js';

const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe.skipIf(!existsSync(cli))('generate: atomic output', () => {
  const header = writeHeaders({ 'swap.h': 'struct s { __u32 a; };\n#define K 1\n' });
  const dir = join(header, '..');
  const out = join(dir, 'out');
  const generate = (env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [cli, 'generate', '--header', header, '--out', out, '--abi', 'x86_64,i386'], { encoding: 'utf8', env: { ...process.env, ...env } });

  it('killed at every step, leaves the old or the new output; the next run recovers', () => {
    expect(generate().status).toBe(0);
    const old = snapshot(join(out, 'swap'));
    writeFileSync(header, 'struct s { __u32 a; __u64 b; };\n#define K 2\n');
    expect(generate({ VFIO_UAPI_TEST_KILL_AT: 'staged' }).signal).toBe('SIGKILL');
    const fresh = (() => {
      // What a complete run writes, for comparison: generated into another directory.
      const r = spawnSync(process.execPath, [cli, 'generate', '--header', header, '--out', join(dir, 'reference'), '--abi', 'x86_64,i386'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      return snapshot(join(dir, 'reference', 'swap'));
    })();
    expect(fresh).not.toEqual(old);
    for (const step of SWAP_STEPS) {
      const r = generate({ VFIO_UAPI_TEST_KILL_AT: step });
      expect(r.signal, step).toBe('SIGKILL');
      const now = snapshot(join(out, 'swap'));
      expect(now.size, step).toBeGreaterThan(0);
      expect([old, fresh].some((s) => JSON.stringify([...s]) === JSON.stringify([...now])), `after a kill at '${step}' the output is the old or the new one`).toBe(true);
    }
    const leftovers = readdirSync(out).filter((f) => f !== 'swap');
    expect(leftovers.length).toBeGreaterThan(0); // the killed runs' staging directories
    const r = generate();
    expect(r.status, r.stderr).toBe(0);
    expect(snapshot(join(out, 'swap'))).toEqual(fresh);
    expect(readdirSync(out)).toEqual(['swap']);
  }, 120_000);

  it('restores the output that a run killed between two renames had moved aside', () => {
    expect(generate().status).toBe(0);
    const before = snapshot(join(out, 'swap'));
    // A process id that no longer runs.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    renameSync(join(out, 'swap'), join(out, `swap.old-${dead}`));
    mkdirSync(join(out, `swap.tmp-${dead}`));
    const r = spawnSync(process.execPath, [cli, 'generate', '--check', '--header', header, '--out', out, '--abi', 'x86_64,i386'], { encoding: 'utf8' });
    expect(r.status).toBe(1); // --check writes nothing: the output is missing for it
    expect(generate().status).toBe(0);
    expect(snapshot(join(out, 'swap'))).toEqual(before);
    expect(readdirSync(out)).toEqual(['swap']);
  }, 60_000);
});
