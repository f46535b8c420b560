/**
 * Guest side: container and group ioctls: API version, extensions, group
 * status and viability, attaching groups to the container, choosing the
 * IOMMU model, the IOMMU info and its capabilities, getting device fds, and
 * the teardown (unset container).
 */
import { existsSync, readFileSync } from 'node:fs';
import { OwnedFd, decodeCapability } from 'vfio-uapi/runtime';
import { int32Bytes, type Context } from './context.js';
import { checkMinsz, infoWithCaps } from './info.js';

/** `VFIO_GET_API_VERSION` and `VFIO_CHECK_EXTENSION` before any group; opens the container. */
export function containerChecks(ctx: Context): void {
  const { k, v } = ctx;
  ctx.container = OwnedFd.open('/dev/vfio/vfio');
  const c = ctx.container;

  v.run('VFIO_GET_API_VERSION', 'GET_API_VERSION', () => {
    const version = ctx.call(c, 'VFIO_GET_API_VERSION');
    v.expect('VFIO_GET_API_VERSION', version === k.c('VFIO_API_VERSION'), `returns ${version} = VFIO_API_VERSION`, `header says ${k.c('VFIO_API_VERSION')}`);
  });

  v.run('VFIO_CHECK_EXTENSION', 'CHECK_EXTENSION before SET_IOMMU', () => {
    checkExtensions(ctx, 'before SET_IOMMU');
    const unknown = ctx.call(c, 'VFIO_CHECK_EXTENSION', 0x7fff);
    v.expect('VFIO_CHECK_EXTENSION', unknown === 0, 'unknown extension 0x7fff -> 0', `got ${unknown}`);
  });

  v.run('VFIO_SET_IOMMU', 'SET_IOMMU without a group', () => {
    const type = iommuType(ctx);
    v.expectErrno('VFIO_SET_IOMMU', `SET_IOMMU(${type}) on a container without groups`, 'EINVAL',
      () => ctx.call(c, 'VFIO_SET_IOMMU', k.c(type)));
  });
}

/** Whether vfio runs in unsafe no-IOMMU mode (then `VFIO_NOIOMMU_IOMMU` is offered). */
function noiommuMode(): boolean {
  const param = '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode';
  return existsSync(param) && readFileSync(param, 'utf8').trim() === 'Y';
}

/** The container type the suite uses on this platform. */
export function iommuType(ctx: Context): string {
  return ctx.platform.iommu === 'spapr' ? 'VFIO_SPAPR_TCE_v2_IOMMU' : 'VFIO_TYPE1v2_IOMMU';
}

/** Extensions whose answer is fixed on this platform (others are recorded as they are). */
function expectedExtension(ctx: Context, name: string, beforeSetIommu: boolean): number | undefined {
  const fixed = ctx.platform.extensions[name];
  if (fixed !== undefined) return fixed;
  switch (name) {
    case 'VFIO_NOIOMMU_IOMMU':
      return noiommuMode() ? 1 : 0;
    case 'VFIO_DMA_CC_IOMMU':
      return beforeSetIommu ? 0 : undefined; // type1 answers 0 without an IOMMU context
    default:
      return undefined;
  }
}

function checkExtensions(ctx: Context, phase: string): void {
  const { k, v } = ctx;
  const answers: string[] = [];
  for (const name of k.manifest.extensions) {
    const got = ctx.call(ctx.container!, 'VFIO_CHECK_EXTENSION', k.c(name));
    const expected = expectedExtension(ctx, name, phase.startsWith('before'));
    if (expected !== undefined && got !== expected) v.fail('VFIO_CHECK_EXTENSION', `${phase}: ${name} -> ${got}, expected ${expected}`);
    answers.push(`${name}=${got}`);
  }
  v.pass('VFIO_CHECK_EXTENSION', `${phase}: ${answers.join(' ')}`);
}

/** Group status and viability, SET_CONTAINER (and its refusals), SET_IOMMU, then the extensions again. */
export function groupChecks(ctx: Context): void {
  const { k, v } = ctx;
  const c = ctx.container!;
  const S = 'VFIO_GROUP_GET_STATUS';
  const VIABLE = k.c('VFIO_GROUP_FLAGS_VIABLE');
  const SET = k.c('VFIO_GROUP_FLAGS_CONTAINER_SET');
  const status = (fd: OwnedFd) => {
    const bytes = k.encode('vfio_group_status', {});
    ctx.call(fd, S, bytes);
    return k.decode('vfio_group_status', bytes).flags as number;
  };

  for (const g of [...new Set(ctx.entries.map((e) => e.iommuGroup))]) {
    const fd = OwnedFd.open(`/dev/vfio/${g}`);
    ctx.groups.set(g, fd);
    v.run(S, `group ${g}`, () => {
      const flags = status(fd);
      v.expect(S, (flags & VIABLE) !== 0 && (flags & SET) === 0, `group ${g}: VIABLE, no container (flags 0x${flags.toString(16)})`);
      checkMinsz(ctx, fd, S, 'vfio_group_status', 'flags', {}, S, `group ${g}`);
    });
  }
  const [firstGroup, firstFd] = [...ctx.groups][0]!;
  const firstDevice = ctx.entries.find((e) => e.iommuGroup === firstGroup)!;

  v.run('VFIO_GROUP_GET_DEVICE_FD', 'before SET_CONTAINER', () => {
    v.expectErrno('VFIO_GROUP_GET_DEVICE_FD', `${firstDevice.bdf} before the group has a container`, 'EINVAL',
      () => ctx.call(firstFd, 'VFIO_GROUP_GET_DEVICE_FD', cString(firstDevice.bdf)));
  });

  const SC = 'VFIO_GROUP_SET_CONTAINER';
  v.run(SC, 'SET_CONTAINER', () => {
    // Linux < 6.2 checks `fd < 0` first (EINVAL), later ones go straight to fdget (EBADF).
    v.expectErrno(SC, 'container fd -1', ['EBADF', 'EINVAL'], () => ctx.call(firstFd, SC, int32Bytes([-1])));
    const notContainer = OwnedFd.open('/dev/null');
    try {
      // EINVAL before 6.2; since then a file that is neither a container nor an iommufd is EBADFD
      // (errno 77, which Node's errno table, hence the runtime, does not name: E77).
      v.expectErrno(SC, 'an fd that is not a container (/dev/null)', ['EINVAL', 'EBADFD', 'E77'], () => ctx.call(firstFd, SC, int32Bytes([notContainer.fd])));
    } finally {
      notContainer.close();
    }
    for (const [g, fd] of ctx.groups) {
      ctx.call(fd, SC, int32Bytes([c.fd]));
      const flags = status(fd);
      v.expect(SC, (flags & SET) !== 0, `group ${g} attached: GET_STATUS has CONTAINER_SET`, `flags 0x${flags.toString(16)}`);
      v.expect(S, (flags & (VIABLE | SET)) === (VIABLE | SET), `group ${g} after SET_CONTAINER: VIABLE | CONTAINER_SET`);
    }
    v.expectErrno(SC, `group ${firstGroup} a second time`, 'EINVAL', () => ctx.call(firstFd, SC, int32Bytes([c.fd])));
  });

  const SI = 'VFIO_SET_IOMMU';
  v.run(SI, 'SET_IOMMU', () => {
    const foreign = ctx.platform.foreignIommu;
    v.expectErrno(SI, `SET_IOMMU(${foreign}) on ${ctx.platform.arch} (no such IOMMU driver)`, 'ENODEV', () => ctx.call(c, SI, k.c(foreign)));
    const type = iommuType(ctx);
    const r = ctx.call(c, SI, k.c(type));
    ctx.iommuSet = v.expect(SI, r === 0, `SET_IOMMU(${type}) -> 0 with ${ctx.groups.size} groups attached`);
    v.expectErrno(SI, 'SET_IOMMU again', 'EINVAL', () => ctx.call(c, SI, k.c(type)));
  });

  v.run('VFIO_CHECK_EXTENSION', 'CHECK_EXTENSION after SET_IOMMU', () => checkExtensions(ctx, 'after SET_IOMMU'));
}

/** The IOMMU info and its capability chain. Returns DMA_AVAIL (or undefined). */
export function iommuInfoChecks(ctx: Context): { dmaAvail?: number; ranges: { start: bigint; end: bigint }[] } {
  const { k, v } = ctx;
  const S = 'VFIO_IOMMU_GET_INFO';
  const out: { dmaAvail?: number; ranges: { start: bigint; end: bigint }[] } = { ranges: [] };
  v.run(S, 'GET_INFO', () => {
    checkMinsz(ctx, ctx.container!, S, 'vfio_iommu_type1_info', 'iova_pgsizes', {}, S, 'IOMMU info');
    const info = infoWithCaps(ctx, ctx.container!, S, 'vfio_iommu_type1_info', {}, S, 'IOMMU info');
    const flags = info.value.flags as number;
    const pgsizes = BigInt(info.value.iova_pgsizes);
    v.expect(S, (flags & k.c('VFIO_IOMMU_INFO_PGSIZES')) !== 0 && (pgsizes & 0x1000n) !== 0n,
      `flags 0x${flags.toString(16)} has PGSIZES; iova_pgsizes 0x${pgsizes.toString(16)} includes 4 KiB`);
    if (k.has('VFIO_IOMMU_INFO_CAPS')) {
      v.expect(S, ((flags & k.c('VFIO_IOMMU_INFO_CAPS')) !== 0) === (info.caps.length > 0), `VFIO_IOMMU_INFO_CAPS ${info.caps.length ? 'set, with' : 'clear, without'} a chain`);
    }
    for (const cap of info.caps) {
      const spec = k.capability('vfio_iommu_type1_info', cap.id);
      if (!spec) { v.fail(S, `capability id ${cap.id} is not in this header`); continue; }
      if (spec.id === 'VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE') {
        const rec = 'vfio_iommu_type1_info_cap_iova_range';
        const head = k.decode(rec, cap.bytes);
        const at = k.field(rec, 'iova_ranges').offset;
        const esize = k.sizeof('vfio_iova_range');
        const n = Number(head.nr_iovas);
        v.expect(S, n >= 1 && at + n * esize <= cap.bytes.byteLength, `IOVA_RANGE: ${n} ranges fit in the capability (${cap.bytes.byteLength} bytes)`);
        for (let i = 0; i < n && at + (i + 1) * esize <= cap.bytes.byteLength; i++) {
          const r = k.decode('vfio_iova_range', cap.bytes, at + i * esize);
          out.ranges.push({ start: BigInt(r.start), end: BigInt(r.end) });
        }
        const sorted = out.ranges.every((r, i) => r.start <= r.end && (i === 0 || out.ranges[i - 1]!.end < r.start));
        v.expect(S, sorted, `IOVA_RANGE: ${out.ranges.map((r) => `[0x${r.start.toString(16)}, 0x${r.end.toString(16)}]`).join(' ')} ordered and disjoint`);
      } else if (spec.id === 'VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION') {
        const m = k.decode('vfio_iommu_type1_info_cap_migration', cap.bytes);
        v.expect(S, (BigInt(m.pgsize_bitmap) & 0x1000n) !== 0n && BigInt(m.max_dirty_bitmap_size) > 0n,
          `MIGRATION: flags ${m.flags}, pgsize_bitmap 0x${BigInt(m.pgsize_bitmap).toString(16)}, max_dirty_bitmap_size ${m.max_dirty_bitmap_size}`);
      } else if (spec.id === 'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL') {
        const d = k.decode('vfio_iommu_type1_info_dma_avail', cap.bytes);
        out.dmaAvail = Number(d.avail);
        v.expect(S, out.dmaAvail > 0, `DMA_AVAIL: ${out.dmaAvail} mappings available`);
      } else if (spec.record) {
        k.decode(spec.record, cap.bytes);
        v.pass(S, `${spec.id}: decoded as struct ${spec.record}`);
      }
    }
    // The same decoding through the runtime's generic helper, as a cross-check of the bindings.
    for (const cap of info.caps) {
      const spec = k.capability('vfio_iommu_type1_info', cap.id);
      if (spec?.record) decodeCapability(cap, k.codec(spec.record).codec);
    }
  });
  return out;
}

/** The current DMA_AVAIL, re-reading the IOMMU info (undefined without the capability). */
export function dmaAvail(ctx: Context): number | undefined {
  const { k } = ctx;
  if (!k.has('VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL')) return undefined;
  const size = k.sizeof('vfio_iommu_type1_info');
  const bytes = new Uint8Array(4096);
  bytes.set(k.encode('vfio_iommu_type1_info', { argsz: bytes.byteLength }));
  ctx.call(ctx.container!, 'VFIO_IOMMU_GET_INFO', bytes);
  const info = k.decode('vfio_iommu_type1_info', bytes);
  if (!info.cap_offset) return undefined;
  const id = k.c('VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL');
  for (let at = Number(info.cap_offset); at >= size && at + 8 <= bytes.byteLength;) {
    const h = k.decode('vfio_info_cap_header', bytes, at);
    if (h.id === id) return Number(k.decode('vfio_iommu_type1_info_dma_avail', bytes, at).avail);
    if (!h.next) break;
    at = Number(h.next);
  }
  return undefined;
}

/** Opens every device with GROUP_GET_DEVICE_FD; an unknown name must be refused. */
export function openDevices(ctx: Context): Map<string, OwnedFd> {
  const { v } = ctx;
  const S = 'VFIO_GROUP_GET_DEVICE_FD';
  const fds = new Map<string, OwnedFd>();
  for (const e of ctx.entries) {
    v.run(S, e.bdf, () => {
      const fd = ctx.call(ctx.groups.get(e.iommuGroup)!, S, cString(e.bdf));
      fds.set(e.bdf, new OwnedFd(fd, `device ${e.bdf}`));
      v.expect(S, fd >= 0, `${e.bdf} (group ${e.iommuGroup}) -> fd ${fd}`);
    });
  }
  const g = ctx.groups.values().next().value!;
  v.run(S, 'unknown device', () => {
    v.expectErrno(S, 'unknown name 0000:ff:1f.7', ['ENODEV', 'EINVAL'], () => ctx.call(g, S, cString('0000:ff:1f.7')));
  });
  return fds;
}

/** Unset the container of every group (refused while a device fd is open), then close everything. */
export function teardownChecks(ctx: Context): void {
  const { k, v } = ctx;
  const S = 'VFIO_GROUP_UNSET_CONTAINER';
  v.run(S, 'UNSET_CONTAINER', () => {
    const open = [...ctx.devices.values()][0];
    if (open) {
      const g = ctx.groups.get(open.entry.iommuGroup)!;
      v.expectErrno(S, `group ${open.entry.iommuGroup} while ${open.entry.bdf} is open`, 'EBUSY', () => ctx.call(g, S));
    }
    for (const d of ctx.devices.values()) d.fd.close();
    ctx.devices.clear();
    for (const [g, fd] of ctx.groups) {
      ctx.call(fd, S);
      const bytes = k.encode('vfio_group_status', {});
      ctx.call(fd, 'VFIO_GROUP_GET_STATUS', bytes);
      const flags = k.decode('vfio_group_status', bytes).flags as number;
      v.expect(S, (flags & k.c('VFIO_GROUP_FLAGS_CONTAINER_SET')) === 0, `group ${g}: unset, CONTAINER_SET cleared`);
    }
    const [g, fd] = [...ctx.groups][0]!;
    v.expectErrno(S, `group ${g} again (no container)`, 'EINVAL', () => ctx.call(fd, S));
  });
  for (const fd of ctx.groups.values()) fd.close();
  ctx.groups.clear();
  ctx.container?.close();
  ctx.container = undefined;
}

/** A NUL-terminated string argument. */
export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}
