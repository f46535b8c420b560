/**
 * Guest side: the VFIO device cdev path (`/dev/vfio/devices/vfioN`) on an edu:
 * device ioctls refused before `VFIO_DEVICE_BIND_IOMMUFD`, the bind and its
 * refusals, `IOMMU_GET_HW_INFO` with the VT-d registers decoded,
 * `VFIO_DEVICE_ATTACH_IOMMUFD_PT` to an IOAS and to a HWPT of our own
 * (`IOMMU_HWPT_ALLOC`), edu DMA through each, `DETACH_IOMMUFD_PT` cutting DMA
 * off, and the device ioctls (info, regions, IRQs, reset) on the cdev fd.
 */
import { AnonymousMemory, OwnedFd } from 'vfio-uapi/runtime';
import { cdevPath, eduDevice } from './backends.js';
import { hex, type Context, type DeviceEntry, type OpenDevice } from './context.js';
import { eduDma } from './dma.js';
import { IommufdSession, PAGE } from './iommufd.js';
import { attempt } from './verdicts.js';

const B = 'VFIO_DEVICE_BIND_IOMMUFD';
const AT = 'VFIO_DEVICE_ATTACH_IOMMUFD_PT';
const DT = 'VFIO_DEVICE_DETACH_IOMMUFD_PT';
const HW = 'IOMMU_GET_HW_INFO';
const HA = 'IOMMU_HWPT_ALLOC';
const SRC = 0x100000n;
const DST = 0x200000n;
const XFER = 2048;

/** A RAM -> edu -> RAM round trip through `src`/`dst` pages mapped at SRC/DST; true when every byte arrived. */
function roundTrip(ctx: Context, dev: OpenDevice, src: Uint8Array, dst: Uint8Array, seed: number): boolean {
  for (let i = 0; i < XFER; i++) src[i] = (i * 31 + seed) & 0xff;
  dst.fill(0);
  eduDma(ctx, dev, SRC, 0x40000n, XFER, false);
  eduDma(ctx, dev, 0x40000n, DST, XFER, true);
  return src.subarray(0, XFER).every((b, i) => dst[i] === b);
}

/** The cdev checks on `edu` (its group must be closed). */
export function cdevChecks(ctx: Context, edu: DeviceEntry): void {
  const { k, v } = ctx;
  const cdev = cdevPath(`/sys/bus/pci/devices/${edu.bdf}`);
  if (!cdev) { v.fail(B, `${edu.bdf} has no vfio-dev/vfioN in sysfs (CONFIG_VFIO_DEVICE_CDEV?)`); return; }
  using s = IommufdSession.open(ctx);
  using fd = OwnedFd.open(cdev);
  const mem = AnonymousMemory.allocate(2 * PAGE);
  try {
    const bind = (value: Record<string, unknown>) => {
      const bytes = k.encode('vfio_device_bind_iommufd', { flags: 0, ...value });
      ctx.call(fd, B, bytes);
      return k.decode('vfio_device_bind_iommufd', bytes);
    };
    let devId = 0;
    v.run(B, 'bind', () => {
      v.expectErrno('VFIO_DEVICE_GET_INFO', `on the cdev ${cdev} before BIND_IOMMUFD`, 'EINVAL', () => ctx.call(fd, 'VFIO_DEVICE_GET_INFO', k.encode('vfio_device_info', {})));
      v.expectErrno(B, 'iommufd -1', 'EINVAL', () => bind({ iommufd: -1 }));
      v.expectErrno(B, 'an unknown flag (1 << 5)', 'EINVAL', () => bind({ flags: 1 << 5, iommufd: s.fd.fd }));
      devId = bind({ iommufd: s.fd.fd }).out_devid as number;
      v.expect(B, devId > 0, `${cdev} (${edu.bdf}) bound to /dev/iommu: dev id ${devId}`);
      v.expectErrno(B, 'binding again', 'EINVAL', () => bind({ iommufd: s.fd.fd }));
    });
    if (!devId) return;

    v.run(HW, 'VT-d info', () => {
      const data = AnonymousMemory.allocate(PAGE);
      try {
        const out = s.cmd(HW, { dev_id: devId, data_len: k.sizeof('iommu_hw_info_vtd'), data_uptr: data.address });
        const vtd = k.decode('iommu_hw_info_vtd', data.bytes);
        const cap = BigInt(vtd.cap_reg);
        const ecap = BigInt(vtd.ecap_reg);
        // VT-d spec: CAP.SAGAW bits 12:8, CAP.MGAW bits 21:16 (+1), ECAP.SMTS bit 43, ECAP.SLADS bit 45 (dirty bits).
        const sagaw = Number((cap >> 8n) & 0x1fn);
        const mgaw = Number((cap >> 16n) & 0x3fn) + 1;
        v.expect(HW, out.out_data_type === k.c('IOMMU_HW_INFO_TYPE_INTEL_VTD') && cap !== 0n && ecap !== 0n && out.data_len === k.sizeof('iommu_hw_info_vtd'),
          `dev ${devId}: out_data_type ${out.out_data_type} (IOMMU_HW_INFO_TYPE_INTEL_VTD), data_len ${out.data_len}, cap_reg ${hex(cap)} (SAGAW ${hex(sagaw)}, MGAW ${mgaw} bits), ecap_reg ${hex(ecap)} (scalable mode ${(ecap >> 43n) & 1n}, SLADS ${(ecap >> 45n) & 1n}), flags ${hex(vtd.flags)}, max PASID log2 ${out.out_max_pasid_log2}, capabilities ${hex(out.out_capabilities)}`);
        v.expectErrno(HW, 'an unknown dev id', 'ENOENT', () => s.cmd(HW, { dev_id: devId + 1000, data_len: 0, data_uptr: 0n }));
      } finally {
        data.free();
      }
    });

    const ioas = s.ioasAlloc();
    const unalignedBefore = attempt(() => s.map(ioas, mem.address, PAGE, 0x300800n));
    if (unalignedBefore.ok) s.unmap(ioas, 0x300800n, BigInt(PAGE));
    s.map(ioas, mem.address, PAGE, SRC);
    s.map(ioas, mem.address + BigInt(PAGE), PAGE, DST);
    const src = mem.bytes.subarray(0, PAGE);
    const dst = mem.bytes.subarray(PAGE, 2 * PAGE);
    let dev: OpenDevice | undefined;
    const attach = (pt: number) => {
      const bytes = k.encode('vfio_device_attach_iommufd_pt', { flags: 0, pt_id: pt });
      ctx.call(fd, AT, bytes);
      return k.decode('vfio_device_attach_iommufd_pt', bytes).pt_id as number;
    };
    const detach = () => ctx.call(fd, DT, k.encode('vfio_device_detach_iommufd_pt', { flags: 0 }));

    v.run(AT, 'attach to the IOAS', () => {
      v.expectErrno(AT, 'an unknown pt_id', 'ENOENT', () => attach(0xffff));
      const hwpt = attach(ioas);
      dev = eduDevice(ctx, edu, fd);
      v.expectErrno('IOMMU_IOAS_MAP', 'a 2 KiB-aligned IOVA once a VT-d domain (4 KiB pages) is attached', 'EINVAL', () => s.map(ioas, mem.address, PAGE, 0x300800n));
      v.note('IOMMU_IOAS_MAP', `the same IOVA on the IOAS before any device was attached -> ${unalignedBefore.ok ? 0 : unalignedBefore.code} (an empty IOAS has IOVA alignment 1)`);
      v.expect(AT, roundTrip(ctx, dev, src, dst, 1), `attached to IOAS ${ioas} (the kernel's automatic HWPT: pt_id ${hwpt} on return); edu DMA ${XFER} bytes RAM -> edu -> RAM through IOAS_MAP'd pages: byte for byte`);
    });
    if (!dev) return;
    v.run(DT, 'detach', () => {
      detach();
      dst.fill(0xaa);
      eduDma(ctx, dev!, 0x40000n, DST, XFER, true);
      v.expect(DT, dst.every((b) => b === 0xaa), `DETACH_IOMMUFD_PT -> 0; an edu DMA to the still-mapped IOVA ${hex(DST)} then lands nowhere (the device is blocked)`);
      v.expectErrno(DT, 'an unknown flag', 'EINVAL', () => ctx.call(fd, DT, k.encode('vfio_device_detach_iommufd_pt', { flags: 1 << 5 })));
    });
    v.run(HA, 'VT-d HWPT', () => {
      const hwpt = s.cmd(HA, { flags: 0, dev_id: devId, pt_id: ioas }).out_hwpt_id as number;
      const got = attach(hwpt);
      v.expect(HA, roundTrip(ctx, dev!, src, dst, 2), `a VT-d paging HWPT ${hwpt} over IOAS ${ioas}; the edu attached to it (pt_id ${got}) does DMA byte for byte`);
      v.pass(AT, `attached to a HWPT of our own (${hwpt})`);
      const dirty = attempt(() => s.cmd(HA, { flags: k.c('IOMMU_HWPT_ALLOC_DIRTY_TRACKING'), dev_id: devId, pt_id: ioas }));
      v.note('IOMMU_HWPT_SET_DIRTY_TRACKING', `on QEMU's VT-d: HWPT_ALLOC with DIRTY_TRACKING -> ${dirty.ok ? `HWPT ${dirty.value.out_hwpt_id}` : dirty.code}`);
      const nest = attempt(() => s.cmd(HA, { flags: k.c('IOMMU_HWPT_ALLOC_NEST_PARENT'), dev_id: devId, pt_id: ioas }));
      v.note('IOMMU_VIOMMU_ALLOC', `on QEMU's VT-d: HWPT_ALLOC with NEST_PARENT -> ${nest.ok ? `HWPT ${nest.value.out_hwpt_id}` : nest.code}`);
      if (nest.ok) {
        const vi = attempt(() => s.cmd('IOMMU_VIOMMU_ALLOC', { type: k.c('IOMMU_VIOMMU_TYPE_DEFAULT'), dev_id: devId, hwpt_id: nest.value.out_hwpt_id }));
        v.note('IOMMU_VIOMMU_ALLOC', `on QEMU's VT-d: VIOMMU_ALLOC type DEFAULT -> ${vi.ok ? `vIOMMU ${vi.value.out_viommu_id}` : vi.code}`);
      }
    });

    v.run('VFIO_DEVICE_GET_INFO', 'device ioctls on the cdev fd', () => {
      const info = k.decode('vfio_device_info', (() => { const b = k.encode('vfio_device_info', {}); ctx.call(fd, 'VFIO_DEVICE_GET_INFO', b); return b; })());
      v.expect('VFIO_DEVICE_GET_INFO', (info.flags & k.c('VFIO_DEVICE_FLAGS_PCI')) !== 0, `on the cdev fd: flags ${hex(info.flags)} (PCI), ${info.num_regions} regions, ${info.num_irqs} IRQ indexes`);
      v.pass('VFIO_DEVICE_GET_REGION_INFO', `on the cdev fd: BAR0 at offset ${hex(dev!.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset)}, size ${dev!.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.size}`);
      const irq = k.encode('vfio_irq_info', { index: k.c('VFIO_PCI_MSI_IRQ_INDEX') });
      ctx.call(fd, 'VFIO_DEVICE_GET_IRQ_INFO', irq);
      v.pass('VFIO_DEVICE_GET_IRQ_INFO', `on the cdev fd: MSI count ${k.decode('vfio_irq_info', irq).count}`);
      const reset = attempt(() => ctx.call(fd, 'VFIO_DEVICE_RESET'));
      v.note('VFIO_DEVICE_RESET', `on the cdev fd -> ${reset.ok ? 0 : reset.code}`);
      v.expect(AT, roundTrip(ctx, eduDevice(ctx, edu, fd), src, dst, 3), 'after the device ioctls: DMA still byte for byte');
      detach();
    });
  } finally {
    mem.free();
  }
}
