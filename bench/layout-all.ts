/**
 * `npm run bench:layout-all`: the sweep's layout side in one process: every header of Debian's
 * linux-libc-dev (>= 6.12) laid out on all 13 ABIs (each ABI's own `asm/` on that ABI), as
 * `layout --json --include <tree>` does. Prints CPU and wall time against the 60 s target, and how
 * many header x ABI pairs were laid out or rejected (`--errors` lists the rejections).
 * A benchmark, not a test: run it on a quiet machine, or read it as an upper bound.
 */
import { ABIS } from '../generator/abi/abis.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { generatorLayouts, sweepItems } from '../scripts/sweep.js';
import { isMainModule } from '../scripts/is-main.js';

if (isMainModule(import.meta.url)) {
  const root = await ensureUapiTree({ log: (m) => process.stderr.write(`${m}\n`) });
  const only = process.argv.includes('--only') ? new RegExp(process.argv[process.argv.indexOf('--only') + 1]!) : undefined;
  const items = sweepItems(root, ABIS, only);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let ok = 0;
  const errors = new Map<string, string[]>();
  for (const [n, item] of items.entries()) {
    if (n % 100 === 0) process.stderr.write(`[${n}/${items.length}] ${item.name}\n`);
    for (const [abi, r] of generatorLayouts(item, root)) {
      if ('ok' in r) ok++;
      else errors.set(`${item.name}: ${r.error}`, [...(errors.get(`${item.name}: ${r.error}`) ?? []), abi]);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const wallS = (performance.now() - wall0) / 1000;
  const rejected = [...errors.values()].reduce((k, v) => k + v.length, 0);
  if (process.argv.includes('--errors')) for (const [e, abis] of errors) process.stdout.write(`${e} [${abis.length === ABIS.length ? 'all ABIs' : abis.join(',')}]\n`);
  process.stdout.write(`layout-all: ${items.length} headers, ${ok + rejected} header x ABI pairs (${ok} laid out, ${rejected} rejected)\n`);
  process.stdout.write(`layout-all: ${cpuS.toFixed(1)} s CPU, ${wallS.toFixed(1)} s wall (target < 60 s): ${(cpuS / 60).toFixed(2)}x the target (CPU)\n`);
}
