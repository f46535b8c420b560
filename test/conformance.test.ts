/**
 * The live conformance suite: boots Debian kernels in QEMU (TCG) with edu x2 +
 * e1000e on vfio-pci and runs dist/conformance/suite/guest.js in the guest.
 *
 * - For each kernel (all four by default; `VFIO_UAPI_CONFORMANCE_KERNELS=bookworm`
 *   or a comma-separated list narrows it): every ioctl of that kernel's own
 *   vfio.h gets a verdict, with evidence, and none is `fail`.
 * - A deliberately broken manifest (a wrong ioctl number, a struct 4 bytes too
 *   big) makes the suite report `fail` for exactly those ioctls.
 *
 * Skipped when qemu-system-x86_64 is missing, VFIO_UAPI_SKIP_VM=1, the header
 * corpus is absent, or dist/ is not built.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUITES, ensureKernel, type Suite } from '../conformance/vm/index.js';
import { packageRoot, runKernelSuite, type KernelRun } from '../conformance/suite/host.js';
import { buildManifest, corpusDir, headerForKernel } from '../conformance/suite/manifest.js';
import { toJson } from '../conformance/suite/report.js';
import { VERDICTS } from '../conformance/suite/types.js';
import { vmSkipReason } from './helpers.js';

const ROOT = packageRoot();
const CORPUS = corpusDir(ROOT);
const GUEST = path.join(ROOT, 'dist', 'conformance', 'suite', 'guest.js');

const skipReason =
  vmSkipReason()
    ?? (!existsSync(CORPUS) ? `no header corpus at ${CORPUS} (set VFIO_UAPI_CORPUS)`
        : !existsSync(GUEST) ? `${GUEST} is not built (npm run build)`
          : undefined);
if (skipReason) console.warn(`test/conformance.test.ts: skipping the live conformance suite: ${skipReason}`);

const kernels: Suite[] = (process.env.VFIO_UAPI_CONFORMANCE_KERNELS ?? SUITES.join(','))
  .split(',').map((s) => s.trim()).filter((s): s is Suite => (SUITES as readonly string[]).includes(s));

const log = (suite: string) => (message: string) => console.log(`[conformance ${suite}] ${message}`);

describe.skipIf(skipReason !== undefined)(`live conformance${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  for (const suite of kernels) {
    it(`${suite}: every ioctl of the kernel's own vfio.h has a verdict, none fails`, { timeout: 900_000 }, async () => {
      const run = await runKernelSuite(suite, { onProgress: log(suite), timeoutMs: 240_000 });
      const kernel = await ensureKernel(suite);
      // The list of ioctls, computed here independently from the same header.
      const expected = buildManifest(headerForKernel(CORPUS, kernel.packageVersion).path).ioctls.map((i) => i.name);

      expect(run.kernel).toBe(kernel.version);
      expect(Object.keys(run.result.ioctls).sort()).toEqual([...expected].sort());
      for (const [name, entry] of Object.entries(run.result.ioctls)) {
        expect(VERDICTS, name).toContain(entry.verdict);
        expect(entry.detail.length, `${name} has no evidence`).toBeGreaterThan(10);
      }
      const failed = Object.entries(run.result.ioctls).filter(([, e]) => e.verdict === 'fail');
      expect(failed.map(([n, e]) => `${n}: ${e.detail}`)).toEqual([]);
      expect(Object.values(run.result.features).filter((e) => e.verdict === 'fail')).toEqual([]);
      // The core of the API is exercised, not excused, on every kernel.
      for (const name of ['VFIO_GET_API_VERSION', 'VFIO_CHECK_EXTENSION', 'VFIO_SET_IOMMU', 'VFIO_GROUP_GET_STATUS', 'VFIO_GROUP_SET_CONTAINER',
        'VFIO_GROUP_GET_DEVICE_FD', 'VFIO_DEVICE_GET_INFO', 'VFIO_DEVICE_GET_REGION_INFO', 'VFIO_DEVICE_GET_IRQ_INFO', 'VFIO_DEVICE_SET_IRQS',
        'VFIO_DEVICE_IOEVENTFD', 'VFIO_DEVICE_FEATURE', 'VFIO_DEVICE_PCI_HOT_RESET', 'VFIO_IOMMU_GET_INFO', 'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA']) {
        expect(run.result.ioctls[name]?.verdict, name).toBe('pass');
      }
      expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.detail).toMatch(/byte for byte/);
      expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.detail).toMatch(/no host page changed/);
      expect(run.result.example.verdict).not.toBe('fail');
      const json = toJson([run]);
      expect(Object.keys(json.kernels[0]!)).toEqual(['arch', 'suite', 'kernel', 'wall_s', 'ioctls']);
      expect(json.schema_version).toBe(1);
      console.log(`[conformance ${suite}] ${run.kernel}: ${summary(run)}, ${(run.wallMs / 1000).toFixed(1)} s`);
    });
  }

  it('reports fail for a deliberately broken binding (wrong ioctl number, struct size off by 4)', { timeout: 900_000 }, async () => {
    const suite: Suite = kernels.includes('bookworm') || kernels.length === 0 ? 'bookworm' : kernels[0]!;
    const kernel = await ensureKernel(suite);
    const good = buildManifest(headerForKernel(CORPUS, kernel.packageVersion).path);
    const irqInfo = good.ioctls.find((i) => i.name === 'VFIO_DEVICE_GET_IRQ_INFO')!.number;
    const run = await runKernelSuite(suite, {
      onProgress: log(`${suite} broken`),
      timeoutMs: 240_000,
      corruptions: [
        { kind: 'ioctl-number', ioctl: 'VFIO_DEVICE_GET_IRQ_INFO', number: irqInfo + 0x20 },
        { kind: 'record-size', record: 'vfio_region_info', delta: 4 },
      ],
    });
    expect(run.injected).toHaveLength(2);
    const irq = run.result.ioctls.VFIO_DEVICE_GET_IRQ_INFO!;
    expect(irq.verdict).toBe('fail');
    expect(irq.detail).toMatch(/ENOTTY/); // the kernel does not know the number
    const region = run.result.ioctls.VFIO_DEVICE_GET_REGION_INFO!;
    expect(region.verdict).toBe('fail');
    expect(region.detail).toMatch(/kernel put it at 32/); // the first capability sits at the kernel's sizeof, not 36
    // The damage stays where it was done.
    for (const name of ['VFIO_GET_API_VERSION', 'VFIO_IOMMU_MAP_DMA', 'VFIO_DEVICE_IOEVENTFD']) expect(run.result.ioctls[name]?.verdict, name).toBe('pass');
    console.log(`[conformance ${suite} broken] ${summary(run)}`);
  });
});

function summary(run: KernelRun): string {
  const c: Record<string, number> = {};
  for (const e of Object.values(run.result.ioctls)) c[e.verdict] = (c[e.verdict] ?? 0) + 1;
  return VERDICTS.map((v) => `${c[v] ?? 0} ${v}`).join(', ');
}
