/**
 * The iommufd runtime against a real kernel: boots the custom kernel
 * (conformance/vm/custom.ts: IOMMUFD, VFIO device cdevs, the mtty sample) in
 * QEMU with the edu devices bound to vfio-pci, and runs
 * test/fixtures/iommufd-guest.mjs on the built dist/ inside the guest: edu
 * through its cdev (examples/edu.ts --backend cdev), the iommufd objects one by
 * one with DMA through IOAS_MAP_FILE and IOAS_COPY, and examples/migrate-mtty.ts
 * between two mtty mdevs.
 *
 * The expectations are what the headers document (iommufd.h's errno table,
 * vfio.h's migration FSM) or cross-checks between two kernel answers (the
 * bytes saved against MIG_DATA_SIZE, dirty-tracking support against
 * GET_HW_INFO's capabilities), never values recorded from this runtime.
 *
 * Needs the build (dist/) and the custom kernel (built on first use, cached).
 * Skipped when qemu-system-x86_64 is missing, VFIO_UAPI_SKIP_VM=1, or the
 * kernel's build tools are missing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingBuildTools, runInGuest } from '../conformance/vm/index.js';
import { vmSkipReason } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOUR = path.join(ROOT, 'test/fixtures/iommufd-guest.mjs');

const missing = vmSkipReason() ? [] : missingBuildTools();
const skipReason = vmSkipReason() ?? (missing.length > 0 ? `the custom kernel's build tools are missing (${missing.join(', ')})` : undefined);
if (skipReason) console.warn(`test/runtime-iommufd-live.test.ts: skipping: ${skipReason}`);

/** iommufd.h: "ENOENT: An ID or IOVA provided does not exist"; "EOPNOTSUPP: ... a known field has a value the kernel does not ... support". */
const U64_MAX = '0xffffffffffffffff';

describe.skipIf(skipReason !== undefined)(`iommufd runtime on the custom kernel in QEMU${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('cdev + IOAS DMA with edu, the iommufd objects, and mtty migration on both paths', { timeout: 3_600_000 }, async () => {
    expect(existsSync(path.join(ROOT, 'dist/examples/migrate-mtty.js')), 'build first (npx tsc -p .)').toBe(true);
    const run = await runInGuest({ suite: 'custom', script: TOUR, cwd: ROOT, timeoutMs: 300_000, onProgress: (m) => console.log(`[vm] ${m}`) });
    expect(run.exitCode, run.console.split('\n').slice(-80).join('\n')).toBe(0);
    const r = run.result as any;
    console.log(JSON.stringify(r, null, 2));

    expect(r.dev.iommu).toBe(true);
    expect(r.openDevNull).toMatchObject({ code: 'ENOTTY', ioctl: 'IOMMU_OPTION' });

    // edu through its cdev: the whole driver, DMA through an IOAS.
    expect(r.eduCdev).toMatchObject({ ok: true, access: 'mmap', iommu: { type: 'IOMMUFD', pgsizes: null } });
    expect(r.eduCdev.dma).toMatchObject({ mismatches: 0, ok: true });
    expect(r.eduCdev.interrupts.dma).toMatchObject({ received: true });

    const i = r.iommufd;
    expect(i.error).toBeUndefined();
    // "A fresh empty IOAS will have a full range"; asked with no room first, EMSGSIZE, then filled.
    expect(i.rangesEmpty).toEqual({ ranges: [['0x0', U64_MAX]], alignment: expect.any(String), rounds: 2 });
    // "each attached device will narrow the ranges": x86's MSI window 0xfee00000-0xfeefffff is reserved.
    expect(i.rangesAttached.ranges.length).toBeGreaterThan(1);
    for (const [start, last] of i.rangesAttached.ranges) expect(BigInt(last) < 0xfee00000n || BigInt(start) > 0xfeefffffn).toBe(true);
    expect(i.infoBeforeBind).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_DEVICE_GET_INFO' });
    expect(i.devId).toBeGreaterThan(0);
    expect(i.bindTwice).toMatchObject({ ioctl: 'VFIO_DEVICE_BIND_IOMMUFD' });
    expect(i.hwInfo.dataType).toBe('IOMMU_HW_INFO_TYPE_INTEL_VTD');
    expect(i.info.flags).toContain('VFIO_DEVICE_FLAGS_PCI');
    expect(i.dma).toMatchObject({ toDevice: true, toRam: true, mismatches: 0, otherIova: '0x300000', dstIova: '0x200000' });
    expect(i.unmapNothing).toMatchObject({ code: 'ENOENT', ioctl: 'IOMMU_IOAS_UNMAP' });
    expect(i.unmapSplit).not.toBeNull();
    expect(i.unmapDst).toBe('4096');
    expect(i.hwpt.attach).toBe(i.hwpt.id);
    expect(i.hwpt.destroyAttached).toMatchObject({ code: 'EBUSY', ioctl: 'IOMMU_DESTROY' });
    // Dirty tracking is there exactly when GET_HW_INFO says so.
    if (i.hwInfo.caps.includes('IOMMU_HW_CAP_DIRTY_TRACKING')) expect(i.hwptDirty).toBeNull();
    else expect(i.hwptDirty).toMatchObject({ code: 'EOPNOTSUPP', ioctl: 'IOMMU_HWPT_ALLOC' });
    expect(i.hwpt.destroyed).toBe(true);

    // Migration: the serial FIFO's bytes come out of the target; what was saved is what MIG_DATA_SIZE announced.
    expect(r.mdevs).toMatchObject({ created: 2 });
    for (const name of ['migrateCdev', 'migrateGroup', 'migrateNoPrecopy']) {
      const m = r[name];
      expect(m.error, name).toBeUndefined();
      expect(m.received, name).toBe(m.message);
      expect(m.targetBefore, name).toBe('');
      expect(m.ok, name).toBe(true);
      expect(m.migrationFlags).toEqual(['VFIO_MIGRATION_STOP_COPY', 'VFIO_MIGRATION_P2P', 'VFIO_MIGRATION_PRE_COPY']);
      expect(String(m.savedBytes.total), name).toBe(m.stopCopyLength);
    }
    expect(r.migrateCdev.transitions.map((t: { device: string; to: string; dataFd: boolean }) => `${t.device}:${t.to}:${t.dataFd}`)).toEqual([
      'source:PRE_COPY:true', 'source:STOP_COPY:false', 'source:STOP:false',
      'target:STOP:false', 'target:RESUMING:true', 'target:STOP:false', 'target:RUNNING:false', 'source:RUNNING:false',
    ]);
    expect(BigInt(r.migrateCdev.precopyInfo.initialBytes)).toBe(BigInt(r.migrateCdev.savedBytes.precopy));
    expect(r.migrateNoPrecopy.transitions[0]).toMatchObject({ to: 'STOP_COPY', dataFd: true });

    const e = r.migrationErrors;
    expect(e.error).toBeUndefined();
    expect(e.state).toBe('RUNNING');
    // initial_bytes "should have a non-zero initial value and decrease as migration data is read".
    expect(BigInt(e.precopyInfo.initialBytes)).toBeGreaterThan(0n);
    expect(BigInt(e.precopyInfoAfterRead)).toBeLessThan(BigInt(e.precopyInfo.initialBytes));
    expect(e.toStopCopy).toBe('same fd');
    // "This ioctl is valid only in PRE_COPY states and kernel driver should return -EINVAL from any other migration state."
    expect(e.precopyInfoInStopCopy).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_MIG_GET_PRECOPY_INFO' });
    // "STOP_COPY -> PRE_COPY ... These arcs are not permitted and return error"; "ERROR cannot be specified as a device state".
    expect(e.stopCopyToPreCopy).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_DEVICE_FEATURE' });
    expect(e.toError).toMatchObject({ ioctl: 'VFIO_DEVICE_FEATURE' });
    expect(e.stateAfterRefusal).toBe('STOP_COPY');
    expect(e.eof).toBe(0);
    expect(e.back).toEqual(['STOP', 'RUNNING']);

    expect(r.removeMdev).toBeUndefined();
    expect(r.fdsAfter).toBe(r.fdsBefore);
  });
});
