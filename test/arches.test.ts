/**
 * Live conformance on the foreign architectures: the newest Debian kernel of
 * ppc64le (pseries, sPAPR TCE), s390x (zPCI, big-endian) and aarch64 (virt,
 * SMMUv3) boots in QEMU (TCG); the guest suite runs under that architecture's
 * Debian node with the generated bindings of its ABI.
 *
 * - Every ioctl of the kernel's own vfio.h has a verdict with evidence, none is
 *   `fail`, and what each architecture must show passes (sPAPR TCE ioctls with
 *   edu DMA through a TCE window; zPCI capabilities and the virtio-rng DMA
 *   round trip; edu DMA behind SMMUv3).
 * - A deliberately wrong binding for a foreign ABI (ppc64le: the x86_64
 *   request number of an ioctl, which lacks powerpc's `_IOC_NONE` bit; s390x:
 *   a struct in little-endian byte order) makes that architecture's run
 *   report `fail` for it.
 *
 * `VFIO_UAPI_CONFORMANCE_ARCHES=ppc64le,s390x` narrows the architectures.
 * Skipped like the x86_64 suite (VFIO_UAPI_SKIP_VM=1, no corpus, no dist/), and
 * per architecture when its QEMU (or, for ppc64le/s390x, its cross compiler
 * for the system-call addon) is missing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as vfio from '../generated/vfio/index.js';
import { ARCHES, ensureKernel, findQemu, type ArchName } from '../conformance/vm/index.js';
import { packageRoot, runKernelSuite, type KernelRun } from '../conformance/suite/host.js';
import { buildManifest, corpusDir, headerForKernel } from '../conformance/suite/manifest.js';
import { toJson } from '../conformance/suite/report.js';
import { VERDICTS } from '../conformance/suite/types.js';
import { vmSkipReason } from './helpers.js';
import { execFileSync } from 'node:child_process';

const ROOT = packageRoot();
const CORPUS = corpusDir(ROOT);
const GUEST = path.join(ROOT, 'dist', 'conformance', 'suite', 'guest.js');
const FOREIGN: ArchName[] = ['ppc64le', 's390x', 'aarch64'];

const skipAll =
  vmSkipReason()
    ?? (!existsSync(CORPUS) ? `no header corpus at ${CORPUS} (set VFIO_UAPI_CORPUS)`
        : !existsSync(GUEST) ? `${GUEST} is not built (npm run build)`
          : undefined);
if (skipAll) console.warn(`test/arches.test.ts: skipping the foreign-architecture suites: ${skipAll}`);

const wanted = (process.env.VFIO_UAPI_CONFORMANCE_ARCHES ?? FOREIGN.join(','))
  .split(',').map((s) => s.trim()).filter((s): s is ArchName => (FOREIGN as string[]).includes(s));

/** Why `arch` cannot run here, or undefined. */
function archSkipReason(arch: ArchName): string | undefined {
  const a = ARCHES[arch];
  if (!findQemu(a)) return `${a.qemu.binary} not found (apt-get install ${a.qemu.package})`;
  if (a.cross) {
    try {
      execFileSync(`${a.cross.triplet}-gcc`, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${a.cross.triplet}-gcc not found (apt-get install ${a.cross.package})`;
    }
  }
  return undefined;
}

const log = (scope: string) => (message: string) => console.log(`[${scope}] ${message}`);

/** What each architecture must show on its newest kernel, beyond "every ioctl has a verdict, none fails". */
const MUST_SHOW: Record<string, (run: KernelRun) => void> = {
  ppc64le: (run) => {
    for (const name of ['VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', 'VFIO_IOMMU_SPAPR_TCE_CREATE',
      'VFIO_IOMMU_SPAPR_TCE_REMOVE', 'VFIO_IOMMU_ENABLE', 'VFIO_IOMMU_DISABLE', 'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA', 'VFIO_SET_IOMMU']) {
      expect(run.result.ioctls[name]?.verdict, name).toBe('pass');
    }
    expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.detail).toMatch(/edu .* through the TCE table: byte for byte/);
    expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.detail).toMatch(/second window/);
    expect(run.result.ioctls.VFIO_IOMMU_SPAPR_TCE_CREATE!.detail).toMatch(/second window: .* at 0x800000000000000/);
    expect(run.result.ioctls.VFIO_CHECK_EXTENSION!.detail).toMatch(/VFIO_SPAPR_TCE_IOMMU=1 .*VFIO_EEH=\d .*VFIO_SPAPR_TCE_v2_IOMMU=1/);
    expect(['pass', 'n/a']).toContain(run.result.ioctls.VFIO_EEH_PE_OP!.verdict);
  },
  s390x: (run) => {
    expect(run.result.ioctls.VFIO_DEVICE_GET_INFO!.verdict).toBe('pass');
    expect(run.result.ioctls.VFIO_DEVICE_GET_INFO!.detail).toMatch(/ZPCI_BASE v\d: DMA \[0x[0-9a-f]+, 0x[0-9a-f]+\] inside the container's IOVA range/);
    expect(run.result.ioctls.VFIO_DEVICE_GET_INFO!.detail).toMatch(/ZPCI_GROUP v\d/);
    expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.verdict).toBe('pass');
    expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.detail).toMatch(/virtio-rng \S+ DMA round trip .*ACCESS_PLATFORM: through the IOMMU.*the device wrote 64 random bytes/);
    expect(run.result.ioctls.VFIO_IOMMU_GET_INFO!.verdict).toBe('pass');
  },
  aarch64: (run) => {
    for (const name of ['VFIO_IOMMU_GET_INFO', 'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA', 'VFIO_DEVICE_SET_IRQS']) expect(run.result.ioctls[name]?.verdict, name).toBe('pass');
    expect(run.result.ioctls.VFIO_IOMMU_MAP_DMA!.detail).toMatch(/edu DMA .* byte for byte/);
    expect(run.result.example.verdict).toBe('pass');
  },
};

describe.skipIf(skipAll !== undefined)(`live conformance on ppc64le, s390x, aarch64${skipAll ? ` (skipped: ${skipAll})` : ''}`, () => {
  for (const arch of wanted) {
    const skip = archSkipReason(arch);
    if (skip) console.warn(`test/arches.test.ts: skipping ${arch}: ${skip}`);
    it.skipIf(skip !== undefined)(`${arch} newest: every ioctl of the kernel's own vfio.h has a verdict, none fails, and the ${arch} stages pass`, { timeout: 1_200_000 }, async () => {
      const run = await runKernelSuite('newest', { arch, onProgress: log(`${arch} newest`), timeoutMs: 480_000 });
      const kernel = await ensureKernel('newest', undefined, { arch });
      const expected = buildManifest(headerForKernel(CORPUS, kernel.packageVersion).path, arch).ioctls.map((i) => i.name);
      expect(run.arch).toBe(arch);
      expect(run.kernel).toBe(kernel.version);
      expect(Object.keys(run.result.ioctls).sort()).toEqual([...expected].sort());
      for (const [name, entry] of Object.entries(run.result.ioctls)) {
        expect(VERDICTS, name).toContain(entry.verdict);
        expect(entry.detail.length, `${name} has no evidence`).toBeGreaterThan(10);
      }
      const failed = Object.entries(run.result.ioctls).filter(([, e]) => e.verdict === 'fail');
      expect(failed.map(([n, e]) => `${n}: ${e.detail}`)).toEqual([]);
      MUST_SHOW[arch]!(run);
      const json = toJson([run]);
      expect(Object.keys(json.kernels[0]!)).toEqual(['arch', 'suite', 'kernel', 'wall_s', 'ioctls']);
      expect(json.kernels[0]!.arch).toBe(arch);
      console.log(`[${arch} newest] ${run.kernel}: ${summary(run)}, ${(run.wallMs / 1000).toFixed(1)} s`);
    });
  }

  const ppcSkip = wanted.includes('ppc64le') ? archSkipReason('ppc64le') : 'not selected';
  it.skipIf(ppcSkip !== undefined)('ppc64le: the x86_64 request number of VFIO_DEVICE_GET_IRQ_INFO (no _IOC_NONE bit) is reported as fail', { timeout: 1_200_000 }, async () => {
    const x86 = vfio.byAbi.x86_64.VFIO_DEVICE_GET_IRQ_INFO;
    const ppc = vfio.byAbi.ppc64le.VFIO_DEVICE_GET_IRQ_INFO;
    expect(x86).not.toBe(ppc);
    const run = await runKernelSuite('newest', {
      arch: 'ppc64le', onProgress: log('ppc64le broken'), timeoutMs: 480_000,
      corruptions: [{ kind: 'ioctl-number', ioctl: 'VFIO_DEVICE_GET_IRQ_INFO', number: x86 }],
    });
    const irq = run.result.ioctls.VFIO_DEVICE_GET_IRQ_INFO!;
    expect(irq.verdict).toBe('fail');
    expect(irq.detail).toMatch(/ENOTTY/);
    for (const name of ['VFIO_GET_API_VERSION', 'VFIO_IOMMU_SPAPR_TCE_CREATE', 'VFIO_IOMMU_MAP_DMA']) expect(run.result.ioctls[name]?.verdict, name).toBe('pass');
    console.log(`[ppc64le broken] ${summary(run)}`);
  });

  const s390Skip = wanted.includes('s390x') ? archSkipReason('s390x') : 'not selected';
  it.skipIf(s390Skip !== undefined)('s390x: struct vfio_irq_info in little-endian byte order is reported as fail', { timeout: 1_200_000 }, async () => {
    const run = await runKernelSuite('newest', {
      arch: 's390x', onProgress: log('s390x broken'), timeoutMs: 480_000,
      corruptions: [{ kind: 'record-byte-order', record: 'vfio_irq_info' }],
    });
    const irq = run.result.ioctls.VFIO_DEVICE_GET_IRQ_INFO!;
    expect(irq.verdict).toBe('fail');
    for (const name of ['VFIO_GET_API_VERSION', 'VFIO_DEVICE_GET_INFO', 'VFIO_IOMMU_MAP_DMA']) expect(run.result.ioctls[name]?.verdict, name).toBe('pass');
    console.log(`[s390x broken] ${summary(run)}: ${irq.detail.slice(0, 300)}`);
  });
});

function summary(run: KernelRun): string {
  const c: Record<string, number> = {};
  for (const e of Object.values(run.result.ioctls)) c[e.verdict] = (c[e.verdict] ?? 0) + 1;
  return VERDICTS.map((v) => `${c[v] ?? 0} ${v}`).join(', ');
}
