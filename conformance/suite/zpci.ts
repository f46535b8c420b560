/**
 * Guest side, s390x: the zPCI capabilities of `VFIO_DEVICE_GET_INFO` (ids
 * from vfio.h, records from vfio_zdev.h), decoded through the generated `vfio_zdev` bindings of the
 * running ABI (big-endian s390x), checked for consistency: the DMA aperture
 * against the container's IOVA range, versions, sizes of the flexible parts.
 */
import type { Capability } from 'vfio-uapi/runtime';
import * as zdev from 'vfio-uapi/vfio_zdev';
import { hex, type Context, type OpenDevice } from './context.js';

const S = 'VFIO_DEVICE_GET_INFO';

/** Decodes and checks every zPCI capability of `dev`'s device info; returns their names (empty if it has none). */
export function zpciChecks(ctx: Context, dev: OpenDevice, caps: readonly Capability[], iovaRanges: readonly { start: bigint; end: bigint }[]): string[] {
  const { k, v } = ctx;
  const bdf = dev.entry.bdf;
  // The ids are vfio.h's (the kernel header's, from the manifest); the records are vfio_zdev.h's generated codecs.
  const id = (name: string) => (k.has(name) ? k.c(name) : -1);
  const seen: string[] = [];
  for (const cap of caps) {
    if (cap.id === id('VFIO_DEVICE_INFO_CAP_ZPCI_BASE')) {
      const b = zdev.vfio_device_info_cap_zpci_base.decode(cap.bytes);
      seen.push(`ZPCI_BASE v${cap.version}`);
      const inRange = iovaRanges.some((r) => r.start <= b.start_dma && b.end_dma <= r.end);
      v.expect(S, b.start_dma < b.end_dma && (iovaRanges.length === 0 || inRange),
        `${bdf}: ZPCI_BASE v${cap.version}: DMA [${hex(b.start_dma)}, ${hex(b.end_dma)}]${iovaRanges.length ? ' inside the container\'s IOVA range' : ''}, pchid ${hex(b.pchid)}, vfn ${b.vfn}, fmb_length ${b.fmb_length}, pft ${hex(b.pft)}, gid ${b.gid}, fh ${hex(b.fh)}`,
        `IOVA ranges ${iovaRanges.map((r) => `[${hex(r.start)}, ${hex(r.end)}]`).join(' ')}`);
    } else if (cap.id === id('VFIO_DEVICE_INFO_CAP_ZPCI_GROUP')) {
      const g = zdev.vfio_device_info_cap_zpci_group.decode(cap.bytes);
      seen.push(`ZPCI_GROUP v${cap.version}`);
      const flags = zdev.vfio_device_info_cap_zpci_group_flags.decode(Number(g.flags));
      v.expect(S, g.maxstbl > 0 && g.noi > 0,
        `${bdf}: ZPCI_GROUP v${cap.version}: dasm ${hex(g.dasm)}, msi_addr ${hex(g.msi_addr)}, flags ${flags.join('|') || '0'}, mui ${g.mui}, noi ${g.noi}, maxstbl ${g.maxstbl}, version ${g.version}${cap.version >= 2 ? `, imaxstbl ${g.imaxstbl}` : ''}`);
    } else if (cap.id === id('VFIO_DEVICE_INFO_CAP_ZPCI_UTIL') || cap.id === id('VFIO_DEVICE_INFO_CAP_ZPCI_PFIP')) {
      const util = cap.id === id('VFIO_DEVICE_INFO_CAP_ZPCI_UTIL');
      const codec = util ? zdev.vfio_device_info_cap_zpci_util : zdev.vfio_device_info_cap_zpci_pfip;
      const x = codec.decode(cap.bytes);
      const name = util ? 'ZPCI_UTIL' : 'ZPCI_PFIP';
      seen.push(`${name} v${cap.version}`);
      v.expect(S, codec.size + x.size <= cap.bytes.byteLength, `${bdf}: ${name} v${cap.version}: ${x.size} bytes of ${util ? 'utility string' : 'PCI function internal path'} after the ${codec.size}-byte header, within the capability (${cap.bytes.byteLength} bytes)`);
    }
  }
  return seen;
}
