/**
 * `npm run bench:generate`: whole-process `vfio-uapi generate` (13 ABIs) against Debian 12's `bindgen`
 * (one ABI, x86_64, `LIBCLANG_PATH=/usr/lib/llvm-14/lib`: bindgen 0.60 crashes with clang 19's libclang)
 * on the same header, run alternately, each process's CPU time (user + system, from `/usr/bin/time`)
 * and peak memory; the figure is the ratio of the medians. Target: <= 0.75.
 *
 * Options: `--header PATH` (default ../shared/uapi/7.2.13/vfio.h), `--runs N` (default 9), `--baseline DIR`
 * (another checkout of vfio-uapi, built: its `generate` runs in the same rotation, for before/after figures).
 * bindgen gets the header's directory as `linux/` (as the oracle does) and the 6.12 tree for the rest.
 * Not a test: the ratio is meaningful only as measured, side by side, in one run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { abiByName } from '../generator/abi/abis.js';
import { clangArgs, siblingIncludeDir } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { isMainModule } from '../scripts/is-main.js';

interface Run { cpu: number; rssMb: number }

/** Runs `argv` under GNU time; returns its CPU time (s) and peak RSS (MB). */
function timed(argv: readonly string[], env: NodeJS.ProcessEnv): Run {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-uapi-bench-'));
  try {
    const out = path.join(dir, 'time');
    const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%U %S %M', ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
    const [u, s, m] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
    return { cpu: u! + s!, rssMb: m! / 1024 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

if (isMainModule(import.meta.url)) {
  const args = process.argv.slice(2);
  const val = (f: string) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };
  const root = path.resolve(fileURLToPath(import.meta.url), '../../..');
  const header = path.resolve(val('--header') ?? path.join(root, '..', 'shared', 'uapi', '7.2.13', 'vfio.h'));
  const runs = Number(val('--runs') ?? 9);
  for (const need of ['/usr/bin/time', '/usr/bin/bindgen', '/usr/lib/llvm-14/lib/libclang.so.1']) {
    if (!existsSync(need)) {
      process.stderr.write(`bench:generate needs ${need} (apt-get install time bindgen libclang1-14)\n`);
      process.exit(2);
    }
  }
  const tree = await ensureUapiTree();
  const siblings = await siblingIncludeDir(header, 'vfio-uapi-bench-');
  const out = mkdtempSync(path.join(tmpdir(), 'vfio-uapi-bench-out-'));
  try {
    const ours = [process.execPath, path.join(root, 'dist', 'bin', 'vfio-uapi.js'), 'generate', '--header', header, '--out', out];
    const theirs = ['/usr/bin/bindgen', header, '--', ...clangArgs(abiByName('x86_64'), tree, [siblings])];
    const env = { ...process.env, LIBCLANG_PATH: '/usr/lib/llvm-14/lib' };
    const baseline = val('--baseline') ? [process.execPath, path.join(path.resolve(val('--baseline')!), 'dist', 'bin', 'vfio-uapi.js'), 'generate', '--header', header, '--out', out] : undefined;
    const c: Run[] = [];
    execFileSync(ours[0]!, ours.slice(1), { stdio: 'ignore' }); // warm the file cache for both
    execFileSync(theirs[0]!, theirs.slice(1), { stdio: 'ignore', env });
    const a: Run[] = [];
    const b: Run[] = [];
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so that drift hits both alike.
      if (i % 2 === 0) { a.push(timed(ours, env)); b.push(timed(theirs, env)); } else { b.push(timed(theirs, env)); a.push(timed(ours, env)); }
      if (baseline) c.push(timed(baseline, env));
      process.stderr.write(`run ${i + 1}/${runs}: generate ${a[i]!.cpu.toFixed(2)} s, bindgen ${b[i]!.cpu.toFixed(2)} s${baseline ? `, baseline ${c[i]!.cpu.toFixed(2)} s` : ''}\n`);
    }
    const ca = median(a.map((r) => r.cpu));
    const cb = median(b.map((r) => r.cpu));
    process.stdout.write(`bench:generate: ${path.relative(process.cwd(), header)}, ${runs} alternating runs, process CPU time (user+system), medians\n`);
    process.stdout.write(`  vfio-uapi generate (13 ABIs)   ${ca.toFixed(3)} s CPU  ${median(a.map((r) => r.rssMb)).toFixed(0)} MB peak\n`);
    process.stdout.write(`  bindgen 0.60 (x86_64 only)     ${cb.toFixed(3)} s CPU  ${median(b.map((r) => r.rssMb)).toFixed(0)} MB peak\n`);
    if (baseline) {
      const cc = median(c.map((r) => r.cpu));
      process.stdout.write(`  baseline generate (${val('--baseline')})   ${cc.toFixed(3)} s CPU  ${median(c.map((r) => r.rssMb)).toFixed(0)} MB peak  (ratio to bindgen ${(cc / cb).toFixed(2)})\n`);
    }
    process.stdout.write(`bench:generate: ratio ${(ca / cb).toFixed(2)} (generate / bindgen; target <= 0.75)\n`);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(siblings, { recursive: true, force: true });
  }
}
