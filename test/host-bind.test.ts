/**
 * `conformance --host --bind` gives the device back to its original driver, on exit and on signals, live: the
 * bookworm guest gets a virtio-rng-pci device besides the test devices, which the init leaves on virtio-pci;
 * test/guest/host-bind.mjs runs the real CLI (dist/bin/vfio-uapi.js) on it in the guest to completion, then
 * interrupts it with SIGTERM (to its pid) and SIGINT (to its process group) while the suite runs on the device,
 * and reports the device's driver, what is left in TMPDIR, and any suite process left running.
 *
 * Skipped when qemu-system-x86_64 is missing or VFIO_UAPI_SKIP_VM=1. Slow: one boot, three runs of the suite
 * under TCG (minutes; generous timeouts for loaded CI machines).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInGuest } from '../conformance/vm/index.js';
import { vmSkipReason } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCRIPT = path.join(ROOT, 'test', 'guest', 'host-bind.mjs');
const CLI = path.join(ROOT, 'dist', 'bin', 'vfio-uapi.js');
/** A modern virtio-rng (1af4:1044): its own IOMMU group on the root bus, driven by virtio-pci. */
// iommu_platform=on: its DMA goes through the IOMMU like any device's (the suite's virtio-rng example maps an IOVA).
const SPARE = ['-device', 'virtio-rng-pci,id=spare0,bus=pcie.0,addr=0x13,disable-legacy=on,iommu_platform=on'];

interface CliRun {
  name: string;
  code: number | null;
  signal: string | null;
  signalSent: string | null;
  driverWhenSignalled: string | null;
  tmpWhenSignalled: string[] | null;
  hung: boolean;
  driverAfter: string | null;
  overrideAfter: string;
  tmpLeft: string[];
  suiteProcessesAfter: number[];
  suiteProcessesAtExit: number[];
  driverAtExit: string | null;
  stdoutTail: string;
  stderrTail: string;
}
interface Result {
  bdf: string | null;
  original: string | null;
  overrideBefore: string | null;
  runs: CliRun[];
}

const skip = vmSkipReason() ?? (existsSync(CLI) ? undefined : `${CLI} missing (npm run build)`);

describe.skipIf(skip !== undefined)(`conformance --host --bind in a guest${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('gives the device back to its original driver after a full run, on SIGTERM and on SIGINT, leaving no temp files', { timeout: 2_400_000 }, async () => {
    const run = await runInGuest({
      suite: 'bookworm',
      script: SCRIPT,
      args: ['0x1af4:0x1044'],
      cwd: ROOT,
      extraDevices: SPARE,
      timeoutMs: 2_100_000,
      onProgress: (m) => console.log(`[vm] ${m}`),
    });
    const result = run.result as Result;
    for (const r of result?.runs ?? []) {
      console.log(`[vm] ${r.name}: ${r.signalSent ? `${r.signalSent} sent; ` : ''}exit ${r.code ?? r.signal}; driver ${r.driverAfter}; left ${JSON.stringify(r.tmpLeft)}\n${r.stderrTail.trimEnd().split('\n').slice(-12).join('\n')}`);
    }
    expect(run.exitCode, run.console.slice(-4000)).toBe(0);
    expect(result.bdf, 'the spare device is in the guest').not.toBeNull();
    // Not one of the devices the init bound to vfio-pci.
    expect(run.devices.map((d) => d.bdf)).not.toContain(result.bdf);
    expect(result.original).toBe('virtio-pci');
    expect(result.runs.map((r) => r.name)).toEqual(['complete', 'sigterm', 'sigint']);

    for (const r of result.runs) {
      const context = `${r.name}: exit ${r.code ?? r.signal}\n${r.stderrTail}\n${r.stdoutTail}`;
      expect(r.hung, context).toBe(false);
      expect(r.stderrTail, context).toContain(`binding ${result.bdf} to vfio-pci (was virtio-pci)`);
      expect(r.stderrTail, context).toContain(`gave ${result.bdf} back to virtio-pci`);
      expect(r.driverAfter, context).toBe('virtio-pci');
      expect(r.overrideAfter, context).toBe(result.overrideBefore);
      expect(r.tmpLeft, context).toEqual([]);
      expect(r.suiteProcessesAtExit, context).toEqual([]);
      expect(r.suiteProcessesAfter, context).toEqual([]);
      expect(r.driverAtExit, context).toBe('virtio-pci');
      // No process of the run died of its own error (the suite writing to the pipe of a CLI gone before it: EPIPE).
      expect(r.stderrTail, context).not.toMatch(/EPIPE|Emitted 'error'|\n\s+at .+:\d+:\d+\)?\n/);
    }

    const [complete, term, int] = result.runs as [CliRun, CliRun, CliRun];
    // Ran to the end with no failed verdict on this device (its virtio-rng DMA example included): the matrix's
    // summary line on stdout, exit 0.
    expect(complete.signal).toBeNull();
    expect(complete.code, complete.stderrTail).toBe(0);
    expect(complete.stdoutTail).toMatch(/\(vfio\.h [\d.]+\): \d+ pass/);

    for (const [r, signal] of [[term, 'SIGTERM'], [int, 'SIGINT']] as const) {
      expect(r.signalSent, r.stderrTail).toBe(signal);
      // Interrupted while the suite ran on the device, with the manifest directory present.
      expect(r.driverWhenSignalled).toBe('vfio-pci');
      expect(r.tmpWhenSignalled?.some((e) => e.startsWith('vfio-uapi-conformance-'))).toBe(true);
      expect(r.signal, r.stderrTail).toBe(signal);
    }
    console.log(`[vm] host --bind: boot + 3 runs ${(run.wallMs / 1000).toFixed(1)} s`);
  });
});
