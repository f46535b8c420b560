/**
 * Import cost of the bindings: how long `await import(x)` takes in a fresh
 * Node.js process (nothing cached), the median over `--runs` processes per
 * target (default 15), targets interleaved so that drift hits all alike; and,
 * from one more untimed process per target, how many modules and bytes of
 * JavaScript the import loads. The ratio is to the running ABI's module alone.
 *
 *     node dist/bench/import-cost.js [--runs N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bindingsPackageRoot } from '../generator/paths.js';

const arg = process.argv.indexOf('--runs');
const runs = arg > 0 ? Number(process.argv[arg + 1]) : 15;
const dist = path.join(bindingsPackageRoot(), 'dist');
const targets: [string, string][] = [
  ['vfio-uapi/vfio/abi/x86_64.js (one ABI)', 'generated/vfio/abi/x86_64.js'],
  ['vfio-uapi/vfio', 'generated/vfio/index.js'],
  ['vfio-uapi/iommufd', 'generated/iommufd/index.js'],
  ['vfio-uapi (root)', 'index.js'],
];

const timeImport = 'const t = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t));';
/** A loader hook that reports every file module loaded. */
const listLoads = `data:text/javascript,${encodeURIComponent('export async function load(u, c, n) { if (u.startsWith("file:")) process.stderr.write(u + "\\n"); return n(u, c); }')}`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const times = new Map<string, number[]>(targets.map(([n]) => [n, []]));
for (let i = 0; i < runs; i++) {
  for (const [name, file] of i % 2 ? [...targets].reverse() : targets) {
    const url = pathToFileURL(path.join(dist, file)).href;
    times.get(name)!.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', timeImport, url], { encoding: 'utf8' })));
  }
}

const base = median(times.get(targets[0]![0])!);
console.log(`import cost, median of ${runs} fresh processes each (Node ${process.version}, ${process.arch}):`);
for (const [name, file] of targets) {
  const url = pathToFileURL(path.join(dist, file)).href;
  const loads = spawnSync(process.execPath, ['--no-warnings', '--experimental-loader', listLoads, '--input-type=module', '-e', `await import(${JSON.stringify(url)})`], { encoding: 'utf8' })
    .stderr.split('\n').filter((u) => u.startsWith('file:'));
  const bytes = loads.reduce((s, u) => s + statSync(fileURLToPath(u)).size, 0);
  const m = median(times.get(name)!);
  console.log(`  ${name.padEnd(40)} ${m.toFixed(1).padStart(6)} ms  ${(m / base).toFixed(2)}x   ${String(loads.length).padStart(3)} modules, ${(bytes / 1024).toFixed(0).padStart(5)} KiB`);
}
