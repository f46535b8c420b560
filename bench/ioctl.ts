/**
 * `npm run bench:ioctl`: the cost of one ioctl through the runtime, side by side in one run, on the same
 * fd (the read end of a pipe) and request (`FIONREAD`, an `int *` out-argument):
 *
 * - `C loop`: a loop of `ioctl(fd, FIONREAD, &n)` in C (a small shared library built here with the
 *   system's C compiler and called once per batch through koffi): the syscall's own cost.
 * - `koffi raw`: the koffi binding `int ioctl(int, unsigned long, void *)` called with a Uint8Array.
 * - `koffi raw (int *)`: the same function bound with an `_Out_ int *` parameter, koffi's other way of
 *   passing the out-argument.
 * - `koffi raw (unsigned long address)`: the argument in native memory, passed as an integer address:
 *   koffi's cheapest way to make this call (what the runtime does, see `ioctlBytes` in runtime/libc.ts).
 * - `v8 addon raw` / `napi addon raw (ioctlBytes)`: the fixed-prototype `ioctlBytes(fd, request, Uint8Array)` of
 *   the V8-API addon (runtime/native/ioctl-v8.cc) and of the Node-API one (runtime/native/syscalls.c), each
 *   built by `npm run build` where a C++ / C compiler is, called directly.
 * - `runtime ioctl() via <path>`: `ioctl(fd, { name, request, arg: { kind: 'int-pointer' } }, bytes)`,
 *   which checks the request number and the argument against the descriptor, then makes the call of that
 *   path and turns -1 into an IoctlError. Minus the raw call of the same path, that is what the checks cost.
 *   The runtime takes the fastest path built here (runtime/libc.ts `ioctlOrErrno`); one path per process, as in
 *   a program (`VFIO_UAPI_IOCTL_PATH=napi` or `koffi` measures the others).
 *
 * Process CPU time, interleaved rounds, medians (bench/harness.ts); the ratio to the C loop is the figure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measure, formatOps, ring, totalChecksum, CLOCK, type Candidate } from './harness.js';
import { ioctl, type IoctlRequest } from 'vfio-uapi/runtime/driver/ioctl';
import { koffi, libc, check, ioctlPath, localAddonFile, IOCTL_PATH_ENV, LOCAL_ADDON, LOCAL_V8_ADDON } from 'vfio-uapi/runtime/driver/libc';
import { isMainModule } from '../scripts/is-main.js';

/** `FIONREAD` (`TIOCINQ`): 0x541B on the generic ioctl layout, 0x4004667F on powerpc, mips and sparc. */
function fionread(): number {
  return ['ppc64', 'ppc', 'mips', 'mipsel', 'mips64el'].includes(process.arch) ? 0x4004667f : 0x541b;
}

const C_SOURCE = `
#include <sys/ioctl.h>
long vfio_uapi_bench_loop(int fd, unsigned long request, long n) {
  long sum = 0;
  for (long i = 0; i < n; i++) {
    int v = 0;
    if (ioctl(fd, request, &v) < 0) return -1;
    sum += v;
  }
  return sum;
}
`;

/** Builds the C loop as a shared library with `cc` (or clang); returns its path. */
function buildCLoop(dir: string): string {
  const src = path.join(dir, 'loop.c');
  const lib = path.join(dir, 'loop.so');
  writeFileSync(src, C_SOURCE);
  let lastError: unknown;
  for (const cc of ['cc', 'gcc', 'clang-19', 'clang-14']) {
    try {
      execFileSync(cc, ['-O2', '-shared', '-fPIC', '-o', lib, src], { stdio: 'pipe' });
      return lib;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`cannot build the C loop (no working cc, gcc or clang): ${(lastError as Error).message}`);
}

/** An addon's `ioctlBytes`, where `npm run build` built it (the file the runtime loads); undefined otherwise. */
function addonRaw(relative: string): ((fd: number, request: number, bytes: Uint8Array) => number) | undefined {
  const file = localAddonFile(relative);
  if (!file) return undefined;
  try {
    return (createRequire(import.meta.url)(file) as { ioctlBytes?: (fd: number, request: number, bytes: Uint8Array) => number }).ioctlBytes;
  } catch {
    return undefined; // built for another Node
  }
}

if (isMainModule(import.meta.url)) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfio-uapi-bench-ioctl-'));
  try {
    const k = koffi();
    const lib = k.load(buildCLoop(dir));
    const cLoop = lib.func('long vfio_uapi_bench_loop(int fd, unsigned long request, long n)') as (fd: number, req: number, n: number) => number;
    const fds = new Int32Array(2);
    check(libc().pipe2(fds, 0), 'pipe2');
    const [rd, wr] = [fds[0]!, fds[1]!];
    check(libc().write(wr, new Uint8Array([1, 2, 3]), 3), 'write'); // 3 bytes pending: FIONREAD says 3
    const request = fionread();
    const libcSo = k.load('libc.so.6');
    const rawVoid = libcSo.func('int ioctl(int fd, unsigned long request, void *arg)') as (fd: number, req: number, arg: Uint8Array) => number;
    const rawInt = libcSo.func('int ioctl(int fd, unsigned long request, _Out_ int *arg)') as (fd: number, req: number, arg: number[]) => number;
    const rawValue = libcSo.func('int ioctl(int fd, unsigned long request, unsigned long arg)') as (fd: number, req: number, arg: number) => number;
    const native = k.alloc('uint8_t', 4);
    const nativeAddress = Number(k.address(native));
    const nativeView = new DataView(k.view(native, 4));
    const descriptor: IoctlRequest = { name: 'FIONREAD', request, arg: { kind: 'int-pointer' } };
    const bytes = new Uint8Array(4);
    const view = new DataView(bytes.buffer);
    const out = [0];

    const candidates: Candidate[] = [
      { name: 'C loop', run: (n) => cLoop(rd, request, n) },
      { name: 'koffi raw (void *, Uint8Array)', run: (n) => { let s = 0; for (let i = 0; i < n; i++) { rawVoid(rd, request, bytes); s += view.getInt32(0, true); } return s; } },
      { name: 'koffi raw (_Out_ int *)', run: (n) => { let s = 0; for (let i = 0; i < n; i++) { rawInt(rd, request, out); s += out[0]!; } return s; } },
      { name: 'koffi raw (unsigned long address)', run: (n) => { let s = 0; for (let i = 0; i < n; i++) { rawValue(rd, request, nativeAddress); s += nativeView.getInt32(0, true); } return s; } },
    ];
    // The addons' raw calls, fastest first (each where built: npm run build); each its own loop, so that its call
    // site sees one function (a loop shared by both would make theirs polymorphic).
    const v8Raw = addonRaw(LOCAL_V8_ADDON);
    const napiRaw = addonRaw(LOCAL_ADDON);
    if (v8Raw) candidates.push({ name: 'v8 addon raw (ioctlBytes)', run: (n) => { let s = 0; for (let i = 0; i < n; i++) { v8Raw(rd, request, bytes); s += view.getInt32(0, true); } return s; } });
    if (napiRaw) candidates.push({ name: 'napi addon raw (ioctlBytes)', run: (n) => { let s = 0; for (let i = 0; i < n; i++) { napiRaw(rd, request, bytes); s += view.getInt32(0, true); } return s; } });
    if (!v8Raw || !napiRaw) process.stdout.write(`bench:ioctl: not built here: ${[LOCAL_V8_ADDON, LOCAL_ADDON].filter((f) => !localAddonFile(f)).join(', ')} (npm run build needs a C and a C++ compiler)\n`);
    // One runtime path per process: its call sites then see only that path, as in a program
    // (VFIO_UAPI_IOCTL_PATH=napi or koffi measures the others).
    const path = ioctlPath();
    candidates.push({ name: `runtime ioctl() via ${path}`, run: (n) => { let s = 0; for (let i = 0; i < n; i++) { s += ioctl(rd, descriptor, bytes); s += view.getInt32(0, true); } return s; } });
    for (const c of candidates) ring[0] = c.run(10);
    if (view.getInt32(0, true) !== 3) throw new Error(`FIONREAD says ${view.getInt32(0, true)}, expected 3`);
    const results = measure(candidates, { rounds: Number(process.env.VFIO_BENCH_ROUNDS ?? 11) });
    const c = results[0]!;
    process.stdout.write(`bench:ioctl: FIONREAD on a pipe, ${CLOCK} time, median of interleaved rounds (node ${process.version}, ${process.arch})\n`);
    for (const r of results) {
      const ns = 1e9 / r.opsPerSec;
      process.stdout.write(`  ${r.name.padEnd(34)} ${formatOps(r.opsPerSec).padStart(8)} calls/s  ${ns.toFixed(0).padStart(6)} ns/call  ${(c.opsPerSec / r.opsPerSec).toFixed(2)}x C  (spread ${(100 * r.spread).toFixed(0)}%)\n`);
    }
    const ns = (name: string) => { const r = results.find((x) => x.name === name); return r ? 1e9 / r.opsPerSec : NaN; };
    const raw = path === 'koffi' ? 'koffi raw (unsigned long address)' : `${path} addon raw (ioctlBytes)`;
    process.stdout.write(`bench:ioctl: the checks cost ${(ns(`runtime ioctl() via ${path}`) - ns(raw)).toFixed(0)} ns over ${raw} (runtime minus raw, same path)\n`);
    const rt = results.find((x) => x.name === `runtime ioctl() via ${path}`)!;
    process.stdout.write(`bench:ioctl: runtime ioctl() via ${path}${process.env[IOCTL_PATH_ENV] ? ` (${IOCTL_PATH_ENV}=${process.env[IOCTL_PATH_ENV]})` : " (this machine's default)"} = ${(c.opsPerSec / rt.opsPerSec).toFixed(2)}x the C loop per call (target <= 1.5x); checksum ${totalChecksum()}\n`);
    libc().close(rd);
    libc().close(wr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
