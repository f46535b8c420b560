/**
 * Guest side: the GFX plane ioctls on the display mdev samples. mdpy exposes
 * its framebuffer as a region (`VFIO_GFX_PLANE_TYPE_REGION`); mbochs as a
 * dma-buf (`VFIO_GFX_PLANE_TYPE_DMABUF`) once a mode is set through its bochs
 * dispi registers (BAR2 + 0x500), which the suite programs (640x480x32) as a
 * guest driver would.
 */
import { readFileSync } from 'node:fs';
import { OwnedFd } from 'vfio-uapi/runtime';
import { regionOffsets } from './backends.js';
import { hex, writeRegion, type Context } from './context.js';
import { IommufdSession } from './iommufd.js';
import { attempt } from './verdicts.js';
import { createMdev, mdevTypes, openMdev, removeMdev, type Mdev } from './mdev.js';

const Q = 'VFIO_DEVICE_QUERY_GFX_PLANE';
const G = 'VFIO_DEVICE_GET_GFX_DMABUF';
/** DRM_PLANE_TYPE_PRIMARY (include/drm/drm_plane.h; not in vfio.h). */
const DRM_PLANE_TYPE_PRIMARY = 1;
/** bochs dispi register indexes (samples/vfio-mdev/mbochs.c) and VBE_DISPI_ENABLED. */
const VBE = { XRES: 1, YRES: 2, BPP: 3, ENABLE: 4 } as const;

/** Queries a plane; returns the struct as the kernel filled it. */
function query(ctx: Context, fd: OwnedFd, flags: number): Record<string, any> {
  const { k } = ctx;
  const bytes = k.encode('vfio_device_gfx_plane_info', { flags, drm_plane_type: DRM_PLANE_TYPE_PRIMARY });
  ctx.call(fd, Q, bytes);
  return k.decode('vfio_device_gfx_plane_info', bytes);
}

/** QUERY_GFX_PLANE / GET_GFX_DMABUF on mdpy (region) and mbochs (dma-buf). */
export function gfxChecks(ctx: Context): void {
  const { k, v } = ctx;
  const PROBE = k.c('VFIO_GFX_PLANE_TYPE_PROBE');
  const REGION = k.c('VFIO_GFX_PLANE_TYPE_REGION');
  const DMABUF = k.c('VFIO_GFX_PLANE_TYPE_DMABUF');
  const made: Mdev[] = [];
  using s = IommufdSession.open(ctx);
  try {
    v.run(Q, 'mdpy', () => {
      const type = mdevTypes('mdpy')[0];
      if (!type) throw new Error('no mdpy mdev type (CONFIG_SAMPLE_VFIO_MDEV_MDPY)');
      const m = createMdev('mdpy', type);
      made.push(m);
      using fd = openMdev(ctx, m, s);
      v.expect(Q, query(ctx, fd, PROBE | REGION).argsz !== undefined, `mdpy (${type}): PROBE|REGION -> 0`);
      v.expectErrno(Q, 'mdpy: PROBE|DMABUF (region only)', 'EINVAL', () => query(ctx, fd, PROBE | DMABUF));
      const plane = query(ctx, fd, REGION);
      // mdpy's display region sits past the PCI ones (MDPY_DISPLAY_REGION).
      const regions = regionOffsets(ctx, fd, (plane.region_index as number) + 1);
      const region = regions[plane.region_index as number];
      v.expect(Q, plane.width > 0 && plane.height > 0 && region !== undefined && region.size >= BigInt(plane.size),
        `mdpy: REGION plane ${plane.width}x${plane.height}, stride ${plane.stride}, format ${hex(plane.drm_format)}, in region ${plane.region_index} (${region?.size ?? 'absent'} bytes >= plane size ${plane.size})`);
      v.expectErrno(G, 'on mdpy (no dma-buf planes)', 'ENOTTY', () => ctx.call(fd, G, new Uint8Array(4)));
    });

    v.run(G, 'mbochs', () => {
      const type = mdevTypes('mbochs')[0];
      if (!type) throw new Error('no mbochs mdev type (CONFIG_SAMPLE_VFIO_MDEV_MBOCHS)');
      const m = createMdev('mbochs', type);
      made.push(m);
      using fd = openMdev(ctx, m, s);
      query(ctx, fd, PROBE | DMABUF);
      v.pass(Q, `mbochs (${type}): PROBE|DMABUF -> 0`);
      v.expectErrno(Q, 'mbochs: PROBE|REGION (dma-buf only)', 'EINVAL', () => query(ctx, fd, PROBE | REGION));
      const idle = query(ctx, fd, DMABUF);
      v.expect(Q, idle.drm_format === 0, `mbochs before a mode is set: DMABUF plane with drm_format ${idle.drm_format} (no framebuffer)`);
      const bar2 = regionOffsets(ctx, fd, 3)[2];
      if (!bar2) throw new Error('mbochs has no BAR2 (its MMIO bar)');
      for (const [index, value] of [[VBE.XRES, 640], [VBE.YRES, 480], [VBE.BPP, 32], [VBE.ENABLE, 1]] as const) writeRegion(fd, bar2.offset + 0x500n + BigInt(index * 2), value, 2);
      // samples/vfio-mdev/mbochs.c (7.2) drops mbochs_dmabuf_alloc()'s result: the first DMABUF query after a mode
      // change allocates the dma-buf but answers ENOMEM; the next query finds it.
      const first = attempt(() => query(ctx, fd, DMABUF));
      if (!first.ok) v.note(Q, `mbochs: the first DMABUF query after setting the mode -> ${first.code} (samples/vfio-mdev/mbochs.c: mbochs_query_gfx_plane() ignores mbochs_dmabuf_alloc()'s return value), the second finds the dma-buf`);
      const plane = first.ok ? first.value : query(ctx, fd, DMABUF);
      v.expect(Q, plane.width === 640 && plane.height === 480 && plane.drm_format !== 0,
        `mbochs after setting 640x480x32 through the dispi registers: DMABUF plane ${plane.width}x${plane.height}, stride ${plane.stride}, size ${plane.size}, format ${hex(plane.drm_format)}, dmabuf_id ${plane.dmabuf_id}`);
      const id = new Uint8Array(4);
      new DataView(id.buffer).setUint32(0, plane.dmabuf_id as number, true);
      const buf = new OwnedFd(ctx.call(fd, G, id), 'gfx dma-buf');
      try {
        const info = readFileSync(`/proc/self/fdinfo/${buf.fd}`, 'utf8');
        const size = Number(/^size:\s*(\d+)/m.exec(info)?.[1]);
        const exporter = /^exp_name:\s*(\S+)/m.exec(info)?.[1];
        v.expect(G, size >= (plane.size as number), `dmabuf_id ${plane.dmabuf_id} -> dma-buf fd (fdinfo: size ${size} >= plane size ${plane.size}, exporter ${exporter})`);
      } finally {
        buf.close();
      }
      new DataView(id.buffer).setUint32(0, 0x7777, true);
      v.expectErrno(G, 'an unknown dmabuf_id', 'ENOENT', () => ctx.call(fd, G, id));
    });
  } finally {
    for (const m of made) removeMdev(m);
  }
}
