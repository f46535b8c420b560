/**
 * Boots the bookworm kernel in QEMU (TCG) with edu x2 + e1000e bound to
 * vfio-pci and runs conformance/vm/probe.js inside the guest. The first run
 * downloads the kernel into $VFIO_UAPI_CACHE (default ~/.cache/vfio-uapi).
 *
 * Skipped when qemu-system-x86_64 is missing or VFIO_UAPI_SKIP_VM=1.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runInGuest, type GuestDevice } from '../conformance/vm/index.js';
import { vmSkipReason } from './helpers.js';

const PROBE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../conformance/vm/probe.js');

const skipReason = vmSkipReason();
if (skipReason) console.warn(`test/vm.test.ts: skipping the VM harness test: ${skipReason}`);

interface ProbeResult {
  guest: boolean;
  uname: string;
  devVfio: string[];
  devices: GuestDevice[];
  drivers: Record<string, string | null>;
  openContainer: { ok: boolean; error?: string };
}

describe.skipIf(skipReason !== undefined)(`VM harness${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('boots bookworm with 3 devices bound to vfio-pci and runs node in the guest', { timeout: 600_000 }, async () => {
    const run = await runInGuest({
      suite: 'bookworm',
      script: PROBE,
      timeoutMs: 180_000,
      onProgress: (msg) => console.log(`[vm] ${msg}`),
    });
    const result = run.result as ProbeResult;
    expect(run.exitCode, run.console).toBe(0);
    expect(run.uname).toBe(run.kernel.version);
    expect(run.uname).toMatch(/^6\.1\./);
    expect(result.guest).toBe(true);
    expect(result.uname).toBe(run.uname);

    expect(run.devices).toHaveLength(3);
    expect(run.devices.map((d) => d.qemuId).sort()).toEqual(['edu0', 'edu1', 'nic0']);
    for (const d of run.devices) {
      expect(d.driver).toBe('vfio-pci');
      expect(result.drivers[d.bdf]).toBe('vfio-pci');
      expect(result.devVfio).toContain(String(d.iommuGroup));
    }
    expect(result.devices).toEqual(run.devices);

    expect(result.devVfio).toContain('vfio');
    expect(result.openContainer).toMatchObject({ ok: true });
    console.log(`[vm] bookworm ${run.uname}: boot + run ${(run.wallMs / 1000).toFixed(1)} s`);
  });
});
