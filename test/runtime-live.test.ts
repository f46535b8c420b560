/**
 * The runtime against a real kernel: boots bookworm (Linux 6.1) in QEMU with
 * two edu devices and an e1000e bound to vfio-pci (conformance/vm), runs the
 * built examples/edu.js (a userspace edu driver) and test/fixtures/runtime-guest.mjs
 * (the rest of the Container/Group/Device API) inside the guest.
 *
 * Needs the build (dist/). Skipped when qemu-system-x86_64 is missing or VFIO_UAPI_SKIP_VM=1.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runInGuest, type GuestRun } from '../conformance/vm/index.js';
import { vmSkipReason } from './helpers.js';
import type { EduResult } from '../examples/edu.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EDU = path.join(ROOT, 'dist/examples/edu.js');
const TOUR = path.join(ROOT, 'test/fixtures/runtime-guest.mjs');

const skipReason = vmSkipReason();
if (skipReason) console.warn(`test/runtime-live.test.ts: skipping the live runtime tests: ${skipReason}`);

async function guest(script: string, args: string[] = []): Promise<GuestRun> {
  expect(existsSync(EDU), `${EDU} is missing: build first (npx tsc -p .)`).toBe(true);
  const run = await runInGuest({ suite: 'bookworm', script, args, cwd: ROOT, timeoutMs: 180_000, onProgress: (m) => console.log(`[vm] ${m}`) });
  expect(run.exitCode, run.console.split('\n').slice(-60).join('\n')).toBe(0);
  return run;
}

/** What every edu run must show. */
function expectEdu(r: EduResult, kind: 'msi' | 'intx'): void {
  expect(r.ok).toBe(true);
  expect(r.identification).toEqual({ value: 0x010000ed, hex: '0x10000ed', version: '1.0', ok: true });
  expect(r.liveness).toEqual({ wrote: 0x12345678, read: ~0x12345678 >>> 0, ok: true });
  expect(r.factorial).toMatchObject({ n: 12, result: 479001600, expected: 479001600, ok: true });
  expect(r.dma).toMatchObject({ bytes: 4095, mismatches: 0, ok: true });
  expect(r.interrupts.kind).toBe(kind);
  expect(r.interrupts.factorial).toMatchObject({ received: true, eventfdCount: 1, irqStatus: 0x1 });
  expect(r.interrupts.dma).toMatchObject({ received: true, eventfdCount: 1, irqStatus: 0x100 });
  expect(r.access).toBe('mmap');
  expect(r.iommu).toMatchObject({ type: 'VFIO_TYPE1v2_IOMMU', pgsizes: '0x40201000', dmaAvail: 65535 });
  expect(r.device.bar0).toEqual({ size: '0x100000', flags: ['VFIO_REGION_INFO_FLAG_READ', 'VFIO_REGION_INFO_FLAG_WRITE', 'VFIO_REGION_INFO_FLAG_MMAP'] });
}

describe.skipIf(skipReason !== undefined)(`runtime on Linux 6.1 in QEMU${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('examples/edu.js drives both edu devices: identification, factorial, DMA round trip, MSI on an eventfd', { timeout: 600_000 }, async () => {
    const run = await guest(EDU);
    const results = run.result as EduResult[];
    expect(results.map((r) => r.bdf).sort()).toEqual(run.devices.filter((d) => d.qemuModel === 'edu').map((d) => d.bdf).sort());
    for (const r of results) expectEdu(r, 'msi');
    const [root, bridged] = ['edu0', 'edu1'].map((id) => results.find((r) => r.bdf === run.devices.find((d) => d.qemuId === id)!.bdf)!);
    expect(root.device.flags).toEqual(['VFIO_DEVICE_FLAGS_PCI']);
    expect(bridged.device.flags).toEqual(['VFIO_DEVICE_FLAGS_RESET', 'VFIO_DEVICE_FLAGS_PCI']);
  });

  it('the rest of the API: errors, capabilities, dirty pages, ioeventfd, loopback irqs, resets, features, INTx', { timeout: 600_000 }, async () => {
    const run = await guest(TOUR);
    const r = run.result as any;
    const edu1 = run.devices.find((d) => d.qemuId === 'edu1')!;

    expect(r.fdsAfter).toBe(r.fdsBefore);
    expect(r.fdsAfterFailedOpens).toBe(r.fdsBefore);
    expect(r.errors.noSuchGroup).toMatchObject({ name: 'SyscallError', code: 'ENOENT', noDevice: true });
    expect(r.errors.containerOnGroupFd).toMatchObject({ name: 'IoctlError', code: 'ENOTTY', wrongFd: true });
    expect(r.errors.containerOnGroupFd.message).toContain('VFIO_GET_API_VERSION');
    expect(r.errors.deviceOnGroupFd).toMatchObject({ code: 'ENOTTY', wrongFd: true, message: expect.stringContaining('VFIO_DEVICE_GET_INFO') });
    expect(r.errors.containerOnDevNull).toMatchObject({ code: 'ENOTTY', wrongFd: true });
    expect(r.errors.groupOnContainerFd).toMatchObject({ code: 'EINVAL' }); // a container without an IOMMU answers EINVAL
    expect(r.groupBusy).toMatchObject({ code: 'EBUSY' });
    expect(r.badDevice).toMatchObject({ code: 'ENODEV', noDevice: true });
    expect(r.badDeviceLeak).toBe(0);

    expect(r.apiVersion).toBe(0);
    expect(r.extensions).toMatchObject({ VFIO_TYPE1_IOMMU: 1, VFIO_TYPE1v2_IOMMU: 1, VFIO_UNMAP_ALL: 1, VFIO_NOIOMMU_IOMMU: 0 });
    expect(r.statusBefore).toEqual(['VFIO_GROUP_FLAGS_VIABLE']);
    expect(r.statusAfter).toEqual(['VFIO_GROUP_FLAGS_VIABLE', 'VFIO_GROUP_FLAGS_CONTAINER_SET']);
    expect(r.statusUnset).toEqual(['VFIO_GROUP_FLAGS_VIABLE']);
    expect(r.iommu.caps).toEqual(['VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION@24v1', 'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL@56v1', 'VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE@68v1']);
    expect(r.iommu.iovaRanges).toEqual([['0x0', '0xfedfffff'], ['0xfef00000', '0x7fffffffff']]);
    expect(r.iommu.migration).toEqual({ flags: 0, pgsizeBitmap: '0x1000', maxDirtyBitmapSize: '0x10000000' });

    expect(r.device).toEqual({ flags: ['VFIO_DEVICE_FLAGS_RESET', 'VFIO_DEVICE_FLAGS_PCI'], numRegions: 9, numIrqs: 5, caps: 0 });
    expect(r.regions.map((x: { index: number; size: string }) => [x.index, x.size])).toEqual([
      [0, '0x100000'], [1, '0x0'], [2, '0x0'], [3, '0x0'], [4, '0x0'], [5, '0x0'], [6, '0x0'], [7, '0x100'],
    ]);
    expect(r.vgaRegion).toMatchObject({ code: 'EINVAL' });
    expect(r.irqs.map((q: { index: number; count: number }) => [q.index, q.count])).toEqual([[0, 1], [1, 1], [2, 0], [4, 1]]);
    expect(r.config).toEqual({ vendor: '0x1234', device: '0x11e8', id32: '0x11e81234' });
    expect(r.bar0).toEqual({ preadId: '0x10000ed', mmapId: '0x10000ed', livenessViaMmapAfterPwrite: '0x5a5a0ff2' });
    expect(r.outOfRange).toMatchObject({ name: 'RangeError' });
    expect(r.mmapConfig).toMatchObject({ name: 'VfioError' });

    expect(r.ioeventfd).toEqual({ liveness: '0xffffaa55', ok: true });
    expect(r.loopback).toEqual({ afterNone: 1, afterBool: 1 });
    expect(r.intxMaskUnmask).toBe('ok');
    expect(r.dirty).toMatchObject({ pgsize: '0x1000', words: 1, dirtyPages: 16, unmappedAll: '0x10000' });
    expect(r.dirty.notWhole).toMatchObject({ code: 'EINVAL' });
    expect(r.dirty.stopped).toMatchObject({ code: 'EINVAL' });

    expect(r.features.VFIO_DEVICE_FEATURE_MIGRATION).toEqual({ supported: false, get: false, set: false });
    expect(r.features.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY).toEqual({ supported: true, get: false, set: true });
    expect(r.getMigration).toMatchObject({ code: 'ENOTTY' });

    expect(r.hotResetInfo.devices).toEqual([expect.objectContaining({ group_id: edu1.iommuGroup, bdf: edu1.bdf })]);
    expect(r.hotReset).toBeNull();
    expect(r.reset).toBeNull();
    expect([r.mappingOpenAtClose, r.mappingUnmappedByClose]).toEqual([true, true]);
    expect(r.edu0.hotResetInfo).toMatchObject({ code: 'ENODEV' });
    expect(r.edu0.reset).toMatchObject({ code: 'EINVAL' });

    const msixBar = r.nic0.regions.find((x: { caps: string[] }) => x.caps.includes('VFIO_REGION_INFO_CAP_MSIX_MAPPABLE'));
    expect(msixBar).toMatchObject({ index: 3, msixMappable: true, size: '0x4000' });
    expect(r.nic0.msix).toMatchObject({ index: 2, count: 5 });

    expectEdu(r.eduIntx, 'intx');
  });
});
