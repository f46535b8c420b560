/**
 * The architecture table of the VM harness as data: every row is complete and
 * consistent with the generator's ABI table, and the QEMU command line and the
 * guest platform are built from it. No VM is booted here.
 */
import { describe, expect, it } from 'vitest';
import { ABIS } from '../generator/abi/abis.js';
import { ARCHES, ARCH_NAMES, archByName, kernelCmdline, qemuArgs, wantedModules } from '../conformance/vm/index.js';
import { SuiteRunError, failedRun } from '../conformance/suite/host.js';
import { platformOf } from '../conformance/suite/manifest.js';

describe('architecture table', () => {
  it('has a complete row for each architecture, naming an ABI of the generator', () => {
    expect(ARCH_NAMES).toEqual(['x86_64', 'ppc64le', 's390x', 'aarch64']);
    for (const name of ARCH_NAMES) {
      const a = ARCHES[name];
      expect(a.name).toBe(name);
      expect(ABIS.map((x) => x.name)).toContain(a.abi);
      expect(a.devices.length, name).toBeGreaterThan(0);
      expect(a.kernelMeta).toMatch(/^linux-image-/);
      // Architectures koffi has no build for carry a cross compiler for the system-call addon.
      expect(a.syscalls === 'napi', name).toBe(a.cross !== undefined);
      expect(wantedModules(a)).toEqual(expect.arrayContaining(['9p', 'vfio', 'vfio_pci']));
    }
    expect(() => archByName('mips')).toThrow(/unknown architecture "mips" \(expected one of x86_64, ppc64le, s390x, aarch64\)/);
  });

  it('builds each QEMU command line from its row', () => {
    for (const name of ARCH_NAMES) {
      const a = ARCHES[name];
      const args = qemuArgs({ kernel: '/k', initrd: '/i', shareDir: '/s', accel: 'tcg', arch: a, nodeRoot: a.node.kind === 'debian' ? '/n' : undefined });
      const text = args.join(' ');
      expect(args.slice(0, 2)).toEqual(a.qemu.machine.slice(0, 2));
      expect(args[args.indexOf('-append') + 1]).toBe(kernelCmdline(a));
      expect(kernelCmdline(a)).toContain(`console=${a.qemu.console}`);
      for (const d of a.devices) expect(text).toContain(`id=${d.id}`);
      expect(text).toContain('mount_tag=hostroot');
      expect(text).toContain('mount_tag=vfio_share');
      expect(text.includes('mount_tag=noderoot'), name).toBe(a.node.kind === 'debian');
    }
    // One PHB per ppc64le test device: devices of one PHB would share an IOMMU group.
    const phbs = ARCHES.ppc64le.devices.map((d) => /spapr-pci-host-bridge,index=(\d+)/.exec(d.qemuArgs.join(' '))?.[1]);
    expect(new Set(phbs).size).toBe(ARCHES.ppc64le.devices.length);
  });

  it('gives the guest suite its platform', () => {
    expect(platformOf('ppc64le')).toMatchObject({ arch: 'ppc64le', iommu: 'spapr', eduOrder: 'BE' });
    expect(platformOf('s390x')).toMatchObject({ arch: 's390x', iommu: 'type1', mmioAccess: false });
    expect(platformOf('x86_64').extensions.VFIO_TYPE1v2_IOMMU).toBe(1);
  });

  it('turns a kernel that refuses the test devices into n/a verdicts with the reason, other errors into fail', () => {
    const manifest = { header: { path: '', version: '6.1.0', sha256: '' }, ioctls: [{ name: 'VFIO_GET_API_VERSION' }], features: [], injected: [] } as never;
    const refused = new SuiteRunError('bookworm', 'ppc64le bookworm guest (6.1.0-50-powerpc64le, tcg): guest init failed: 0001:00:01.0 (0x1234:0x11e8) did not bind to vfio-pci (driver: none); kernel: vfio-pci 0001:00:01.0: probe with driver vfio-pci failed with error -22\n--- console ---\n', '6.1.0-50-powerpc64le', manifest, 'ppc64le');
    const run = failedRun(refused);
    expect(run.arch).toBe('ppc64le');
    expect(run.result.ioctls.VFIO_GET_API_VERSION).toEqual({
      verdict: 'n/a',
      detail: 'the suite cannot run here: this kernel refuses the test devices: 0001:00:01.0 (0x1234:0x11e8) did not bind to vfio-pci (driver: none); kernel: vfio-pci 0001:00:01.0: probe with driver vfio-pci failed with error -22',
    });
    const broken = failedRun(new SuiteRunError('bookworm', 'timed out after 1000 ms', 'k', manifest));
    expect(broken.result.ioctls.VFIO_GET_API_VERSION!.verdict).toBe('fail');
  });
});
