/**
 * IommuFd, Ioas, HwPagetable, device cdevs and migration v2 without
 * /dev/iommu: real syscalls on /dev/null for the error paths, and recorded
 * kernel replies through the injectable syscalls for the rest.
 *
 * Where the replies come from: every byte layout is written with the generated
 * codecs (checked against clang by `verify`); every errno is the one iommufd.h
 * or vfio.h documents for that case (quoted next to it), or, where a header is
 * silent, what the kernel source returns (named). Memory the runtime hands the
 * kernel by address (IOVA ranges, dirty bitmaps, HW info) is read and written
 * by the fake kernel through that address, as copy_to_user would.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';
import * as iommufd from '../generated/iommufd/index.js';
import * as vfio from '../generated/vfio/index.js';
import {
  Device, IommuFd, IoctlError, MigrationData, OwnedFd, VfioError,
  createMemfd, disposingAll, isNoDevice, isWrongFdKind, koffi, libc, migrationStateName, migrationStateValue, vfioCdevPath,
  O_CLOEXEC, type RawIoctl, type VfioSyscalls,
} from '../runtime/index.js';

const EINVAL = 22;
const E2BIG = 7;
const ENOENT = 2;
const ENOTTY = 25;
const EMSGSIZE = 90;
const EBUSY = 16;

type Handler = (buf: Uint8Array) => number;
const requestOf = (name: string): number =>
  ((vfio.ioctls as Record<string, { request: number }>)[name] ?? (iommufd.ioctls as Record<string, { request: number }>)[name]).request;
const openFds = () => readdirSync('/proc/self/fd').sort();
const dataView = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** `length` bytes of process memory at `address`, writable: what the kernel reaches through a `__u64` user pointer. */
function memoryAt(address: bigint, length: number): Uint8Array {
  const pointer = koffi().decode(new Uint8Array(new BigUint64Array([address]).buffer), 'void *');
  return new Uint8Array(koffi().view(pointer, length));
}


/**
 * A fake kernel: a handler per ioctl name; anything else is `-ENOTTY`
 * ("The IOCTL number itself is not supported at all", iommufd.h). Every iommufd
 * command is first put through the size rule of iommufd.h's "General ioctl
 * format" (a `size` smaller than the struct: EINVAL; larger with non-zero
 * bytes past it: E2BIG), and the log records what arrived.
 */
function kernel(handlers: Record<string, Handler>, log: string[] = []): VfioSyscalls & { log: string[] } {
  const byRequest = new Map(Object.entries(handlers).map(([name, h]) => [requestOf(name), { name, h }]));
  // IOMMU_OPTION and IOMMU_IOAS_CHANGE_PROCESS name no struct in their _IO(); their structs are named after them.
  const codecs = iommufd as unknown as Record<string, { size: number } | undefined>;
  const sizes = new Map(iommufd.IOCTL_SPECS.map((s) => [requestOf(s.name), codecs[s.arg.kind === 'struct' ? s.arg.record : s.name.toLowerCase()]?.size]));
  const ioctl: RawIoctl = (_fd, request, buf) => {
    const entry = byRequest.get(request);
    const sizeof = sizes.get(request);
    if (sizeof !== undefined) {
      const size = dataView(buf).getUint32(0, true);
      log.push(`${entry?.name ?? request.toString(16)} size=${size} buf=${buf.byteLength}`);
      if (size < sizeof) return -EINVAL;
      if (buf.subarray(sizeof, size).some((b) => b !== 0)) return -E2BIG;
    } else log.push(`${entry?.name ?? request.toString(16)} argsz=${buf.byteLength}`);
    return entry ? entry.h(buf) : -ENOTTY;
  };
  return { ioctl, ioctlValue: () => -ENOTTY, log };
}

/** Handlers every IommuFd needs: the `IOMMU_OPTION` GET of RLIMIT_MODE done on open (0: user-based accounting, the default). */
const optionHandler: Handler = (buf) => {
  const option = iommufd.iommu_option.decode(buf);
  if (option.option_id !== iommufd.IOMMU_OPTION_RLIMIT_MODE || option.op !== iommufd.IOMMU_OPTION_OP_GET) return -EINVAL;
  iommufd.iommu_option.encodeInto(dataView(buf), 0, { ...option, val64: 0n });
  return 0;
};

/** `IOMMU_IOAS_ALLOC` answering `id`. */
const ioasAlloc = (id: number): Handler => (buf) => {
  iommufd.iommu_ioas_alloc.encodeInto(dataView(buf), 0, { ...iommufd.iommu_ioas_alloc.decode(buf), out_ioas_id: id });
  return 0;
};

const devNull = () => OwnedFd.open('/dev/null');
const openIommufd = (handlers: Record<string, Handler>, log?: string[]) =>
  IommuFd.fromFd(devNull(), kernel({ IOMMU_OPTION: optionHandler, ...handlers }, log));

describe('IommuFd on the wrong fd and paths', () => {
  it('IommuFd.open on /dev/null: ENOTTY naming IOMMU_OPTION, fd closed', () => {
    const before = openFds();
    const error = thrown(() => IommuFd.open({ path: '/dev/null' }));
    expect(error).toBeInstanceOf(IoctlError);
    expect(error).toMatchObject({ code: 'ENOTTY', ioctl: 'IOMMU_OPTION', request: iommufd.IOMMU_OPTION });
    expect(error.message).toContain('/dev/null does not implement it (not an iommufd (/dev/iommu) fd');
    expect(isWrongFdKind(error)).toBe(true);
    expect(openFds()).toEqual(before);
  });

  it('no /dev/iommu: SyscallError ENOENT with a hint', () => {
    const error = thrown(() => IommuFd.open({ path: '/nonexistent/iommu' }));
    expect(error).toMatchObject({ name: 'SyscallError', code: 'ENOENT', syscall: 'open' });
    expect(error.message).toContain('no iommufd');
    expect(isNoDevice(error)).toBe(true);
  });

  it('every command carries size = sizeof its struct in this ABI, at the number the bindings give', () => {
    const log: string[] = [];
    using ictx = openIommufd({ IOMMU_IOAS_ALLOC: (buf) => (dataView(buf).setUint32(8, 7, true), 0), IOMMU_DESTROY: () => 0 }, log);
    const ioas = ictx.allocIoas();
    ioas.destroy();
    expect(log).toEqual([
      `IOMMU_OPTION size=${iommufd.iommu_option.size} buf=${iommufd.iommu_option.size}`,
      `IOMMU_IOAS_ALLOC size=${iommufd.iommu_ioas_alloc.size} buf=${iommufd.iommu_ioas_alloc.size}`,
      `IOMMU_DESTROY size=${iommufd.iommu_destroy.size} buf=${iommufd.iommu_destroy.size}`,
    ]);
  });

  it('the size rule in the fake kernel answers as iommufd.h says (so the checks above mean something)', () => {
    const k = kernel({ IOMMU_DESTROY: () => 0 });
    const req = requestOf('IOMMU_DESTROY');
    const size = iommufd.iommu_destroy.size;
    const call = (bytes: Uint8Array) => k.ioctl!(3, req, bytes);
    const with_ = (sizeField: number, length: number, trailing = 0) => {
      const b = new Uint8Array(length);
      dataView(b).setUint32(0, sizeField, true);
      if (length > size) b[size] = trailing;
      return b;
    };
    expect(call(with_(size - 1, size))).toBe(-EINVAL);
    expect(call(with_(size + 1, size + 1, 1))).toBe(-E2BIG);
    expect(call(with_(size + 1, size + 1, 0))).toBe(0);
  });
});

describe('Ioas and HwPagetable against recorded replies', () => {
  it('allocIoas owns its id: destroy issues IOMMU_DESTROY once; after the iommufd is closed it does nothing', () => {
    const destroyed: number[] = [];
    const ictx = openIommufd({
      IOMMU_IOAS_ALLOC: (buf) => {
        const a = iommufd.iommu_ioas_alloc.decode(buf);
        expect(a.flags).toBe(0); // "@flags: Must be 0"
        iommufd.iommu_ioas_alloc.encodeInto(dataView(buf), 0, { ...a, out_ioas_id: 2 + destroyed.length });
        return 0;
      },
      IOMMU_DESTROY: (buf) => (destroyed.push(iommufd.iommu_destroy.decode(buf).id), 0),
    });
    {
      using ioas = ictx.allocIoas();
      expect(ioas.id).toBe(2);
    }
    const second = ictx.allocIoas();
    expect(second.id).toBe(3);
    second.destroy();
    second.destroy();
    expect(second.destroyed).toBe(true);
    expect(() => second.id).toThrow(VfioError);
    const third = ictx.allocIoas();
    ictx.close();
    third.destroy(); // closing the iommufd destroyed it already
    expect(destroyed).toEqual([2, 3]);
  });

  it('iovaRanges: first asked with no room, EMSGSIZE with num_iovas = 2, then filled through the pointer', () => {
    const log: string[] = [];
    const seen: { num_iovas: number; allowed_iovas: bigint }[] = [];
    const ranges = [{ start: 0n, last: 0xfedfffffn }, { start: 0xfef00000n, last: 0xffffffffffffn }];
    using ictx = openIommufd({
      IOMMU_IOAS_ALLOC: ioasAlloc(5),
      IOMMU_IOAS_IOVA_RANGES: (buf) => {
        const codec = iommufd.iommu_ioas_iova_ranges;
        const q = codec.decode(buf);
        seen.push({ num_iovas: q.num_iovas, allowed_iovas: q.allowed_iovas });
        // "The ioctl will return -EMSGSIZE and set num_iovas to the required value if num_iovas is too small."
        const room = q.num_iovas;
        const out = room >= ranges.length ? memoryAt(q.allowed_iovas, ranges.length * iommufd.iommu_iova_range.size) : undefined;
        ranges.forEach((r, i) => out && iommufd.iommu_iova_range.encodeInto(dataView(out), i * iommufd.iommu_iova_range.size, r));
        codec.encodeInto(dataView(buf), 0, { ...q, num_iovas: ranges.length, out_iova_alignment: 4096n });
        return room < ranges.length ? -EMSGSIZE : 0;
      },
    }, log);
    const ioas = ictx.allocIoas();
    const result = ioas.iovaRanges();
    expect(result).toEqual({ ranges, alignment: 4096n, rounds: 2 });
    expect(seen[0]).toEqual({ num_iovas: 0, allowed_iovas: 0n });
    expect(seen[1].num_iovas).toBe(2);
    expect(seen[1].allowed_iovas).not.toBe(0n);
  });

  it('allowIovas hands the kernel an array of iommu_iova_range by address; [] clears', () => {
    const got: { num: number; ranges: unknown[] }[] = [];
    using ictx = openIommufd({
      IOMMU_IOAS_ALLOC: ioasAlloc(2),
      IOMMU_IOAS_ALLOW_IOVAS: (buf) => {
        const q = iommufd.iommu_ioas_allow_iovas.decode(buf);
        expect(q.ioas_id).toBe(2);
        const size = iommufd.iommu_iova_range.size;
        const bytes = q.num_iovas > 0 ? memoryAt(q.allowed_iovas, q.num_iovas * size) : new Uint8Array(0);
        got.push({ num: q.num_iovas, ranges: Array.from({ length: q.num_iovas }, (_, i) => iommufd.iommu_iova_range.decode(bytes, i * size)) });
        return 0;
      },
    });
    const ioas = ictx.allocIoas();
    ioas.allowIovas([{ start: 0x100000n, last: 0x1fffffn }, { start: 0x400000n, last: 0x4fffffn }]);
    ioas.allowIovas([]);
    expect(got).toEqual([
      { num: 2, ranges: [{ start: 0x100000n, last: 0x1fffffn }, { start: 0x400000n, last: 0x4fffffn }] },
      { num: 0, ranges: [] },
    ]);
  });

  it('map / mapFile / copy / unmap encode the documented fields and return what the kernel wrote back', () => {
    const seen: Record<string, unknown>[] = [];
    const R = iommufd.IOMMU_IOAS_MAP_READABLE;
    const W = iommufd.IOMMU_IOAS_MAP_WRITEABLE;
    const FIXED = iommufd.IOMMU_IOAS_MAP_FIXED_IOVA;
    let nextId = 2;
    using ictx = openIommufd({
      IOMMU_IOAS_ALLOC: (buf) => ioasAlloc(nextId++)(buf),
      IOMMU_IOAS_MAP: (buf) => {
        const m = iommufd.iommu_ioas_map.decode(buf);
        seen.push({ map: m });
        // "If FIXED_IOVA is specified then the mapping will be established at iova, otherwise a suitable location ... returned in iova."
        if (!(m.flags & FIXED)) iommufd.iommu_ioas_map.encodeInto(dataView(buf), 0, { ...m, iova: 0xfff00000n });
        return 0;
      },
      IOMMU_IOAS_MAP_FILE: (buf) => (seen.push({ mapFile: iommufd.iommu_ioas_map_file.decode(buf) }), 0),
      IOMMU_IOAS_COPY: (buf) => {
        const c = iommufd.iommu_ioas_copy.decode(buf);
        seen.push({ copy: c });
        iommufd.iommu_ioas_copy.encodeInto(dataView(buf), 0, { ...c, dst_iova: 0x7000000n });
        return 0;
      },
      IOMMU_IOAS_UNMAP: (buf) => {
        const u = iommufd.iommu_ioas_unmap.decode(buf);
        seen.push({ unmap: u });
        // "@length: Number of bytes to unmap, and return back the bytes unmapped"; nothing mapped there: ENOENT ("An ID or IOVA provided does not exist").
        if (u.iova === 0xdead000n) return -ENOENT;
        iommufd.iommu_ioas_unmap.encodeInto(dataView(buf), 0, { ...u, length: u.length === 0xffff_ffff_ffff_ffffn ? 0x3000n : u.length });
        return 0;
      },
    });
    const a = ictx.allocIoas();
    const b = ictx.allocIoas();
    expect(a.map({ userVa: 0x7f0000000000n, length: 4096, iova: 0x100000n })).toBe(0x100000n);
    expect(a.map({ userVa: 0x7f0000001000n, length: 8192, flags: R })).toBe(0xfff00000n);
    expect(a.mapFile({ fd: 9, start: 4096, length: 4096, iova: 0x200000n })).toBe(0x200000n);
    expect(b.copy({ src: a, srcIova: 0x100000n, length: 4096 })).toBe(0x7000000n);
    expect(a.unmap({ iova: 0x100000n, length: 4096 })).toBe(4096n);
    expect(a.unmap({ all: true })).toBe(0x3000n);
    expect(thrown(() => a.unmap({ iova: 0xdead000n, length: 4096 }))).toMatchObject({ code: 'ENOENT', ioctl: 'IOMMU_IOAS_UNMAP' });
    const size = (codec: { size: number }) => codec.size;
    expect(seen).toEqual([
      { map: { size: size(iommufd.iommu_ioas_map), flags: R | W | FIXED, ioas_id: 2, __reserved: 0, user_va: 0x7f0000000000n, length: 4096n, iova: 0x100000n } },
      { map: { size: size(iommufd.iommu_ioas_map), flags: R, ioas_id: 2, __reserved: 0, user_va: 0x7f0000001000n, length: 8192n, iova: 0n } },
      { mapFile: { size: size(iommufd.iommu_ioas_map_file), flags: R | W | FIXED, ioas_id: 2, fd: 9, start: 4096n, length: 4096n, iova: 0x200000n } },
      { copy: { size: size(iommufd.iommu_ioas_copy), flags: R | W, dst_ioas_id: 3, src_ioas_id: 2, length: 4096n, dst_iova: 0n, src_iova: 0x100000n } },
      { unmap: { size: size(iommufd.iommu_ioas_unmap), ioas_id: 2, iova: 0x100000n, length: 4096n } },
      { unmap: { size: size(iommufd.iommu_ioas_unmap), ioas_id: 2, iova: 0n, length: 0xffff_ffff_ffff_ffffn } },
      { unmap: { size: size(iommufd.iommu_ioas_unmap), ioas_id: 2, iova: 0xdead000n, length: 4096n } },
    ]);
  });

  it('options: RLIMIT_MODE is global (object 0), HUGE_PAGES per IOAS', () => {
    const options: unknown[] = [];
    let huge = 1n;
    using ictx = openIommufd({
      IOMMU_IOAS_ALLOC: ioasAlloc(4),
      IOMMU_OPTION: (buf) => {
        const o = iommufd.iommu_option.decode(buf);
        options.push([o.option_id, o.op, o.object_id, o.val64]);
        // RLIMIT_MODE: "Global option, object_id must be 0"; HUGE_PAGES: "the object_id must be the IOAS ID".
        if (o.option_id === iommufd.IOMMU_OPTION_HUGE_PAGES && o.object_id !== 4) return -ENOENT;
        if (o.op === iommufd.IOMMU_OPTION_OP_SET) huge = o.val64;
        else iommufd.iommu_option.encodeInto(dataView(buf), 0, { ...o, val64: o.option_id === iommufd.IOMMU_OPTION_HUGE_PAGES ? huge : 0n });
        return 0;
      },
    });
    const ioas = ictx.allocIoas();
    expect(ioas.hugePages()).toBe(true);
    expect(ioas.hugePages(false)).toBe(false);
    expect(ictx.getOption(iommufd.IOMMU_OPTION_RLIMIT_MODE)).toBe(0n);
    const { OP_GET, OP_SET, HUGE, RLIMIT } = { OP_GET: iommufd.IOMMU_OPTION_OP_GET, OP_SET: iommufd.IOMMU_OPTION_OP_SET, HUGE: iommufd.IOMMU_OPTION_HUGE_PAGES, RLIMIT: iommufd.IOMMU_OPTION_RLIMIT_MODE };
    expect(options).toEqual([[RLIMIT, OP_GET, 0, 0n], [HUGE, OP_GET, 4, 0n], [HUGE, OP_SET, 4, 0n], [HUGE, OP_GET, 4, 0n], [RLIMIT, OP_GET, 0, 0n]]);
  });

  it('HWPT: alloc on an IOAS, dirty tracking, the bitmap written through its pointer, invalidate', () => {
    const seen: unknown[] = [];
    const pageSize = 4096n;
    using ictx = openIommufd({
      IOMMU_IOAS_ALLOC: ioasAlloc(2),
      IOMMU_HWPT_ALLOC: (buf) => {
        const h = iommufd.iommu_hwpt_alloc.decode(buf);
        seen.push({ alloc: [h.flags, h.dev_id, h.pt_id, h.data_type, h.data_len, h.data_uptr] });
        iommufd.iommu_hwpt_alloc.encodeInto(dataView(buf), 0, { ...h, out_hwpt_id: 9 });
        return 0;
      },
      IOMMU_HWPT_SET_DIRTY_TRACKING: (buf) => {
        const d = iommufd.iommu_hwpt_set_dirty_tracking.decode(buf);
        seen.push({ dirty: [d.flags, d.hwpt_id] });
        return 0;
      },
      IOMMU_HWPT_GET_DIRTY_BITMAP: (buf) => {
        const g = iommufd.iommu_hwpt_get_dirty_bitmap.decode(buf);
        seen.push({ bitmap: [g.hwpt_id, g.flags, g.iova, g.length, g.page_size] });
        // "data[(iova / page_size) / 64] & (1ULL << ((iova / page_size) % 64))": pages 0, 1 and 65 of the range dirty.
        const words = new BigUint64Array([0b11n, 0b10n]);
        memoryAt(g.data, 16).set(new Uint8Array(words.buffer));
        return 0;
      },
      IOMMU_HWPT_INVALIDATE: (buf) => {
        const i = iommufd.iommu_hwpt_invalidate.decode(buf);
        const entries = i.entry_num > 0 ? memoryAt(i.data_uptr, i.entry_num * i.entry_len) : new Uint8Array(0);
        seen.push({ invalidate: [i.hwpt_id, i.data_type, i.entry_len, i.entry_num, i.entry_num > 0 ? iommufd.iommu_hwpt_vtd_s1_invalidate.decode(entries) : null] });
        // "@entry_num: ... Output the number of requests successfully handled by kernel."
        iommufd.iommu_hwpt_invalidate.encodeInto(dataView(buf), 0, { ...i, entry_num: i.entry_num });
        return 0;
      },
    });
    const ioas = ictx.allocIoas();
    const hwpt = ictx.allocHwpt({ devId: 1, pt: ioas, flags: iommufd.IOMMU_HWPT_ALLOC_DIRTY_TRACKING });
    expect(hwpt.id).toBe(9);
    hwpt.setDirtyTracking(true);
    const bitmap = hwpt.dirtyBitmap({ iova: 0x100000n, length: 80n * pageSize, pageSize, noClear: true });
    expect(Array.from(bitmap.words)).toEqual([0b11n, 0b10n]);
    expect(bitmap.dirtyPages).toBe(3);
    hwpt.setDirtyTracking(false);
    const entry = iommufd.iommu_hwpt_vtd_s1_invalidate.encode({ addr: 0n, npages: 0xffff_ffff_ffff_ffffn, flags: 0 });
    expect(hwpt.invalidate(iommufd.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, [entry])).toBe(1);
    expect(hwpt.invalidate(iommufd.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1)).toBe(0);
    expect(seen).toEqual([
      { alloc: [iommufd.IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 1, 2, iommufd.IOMMU_HWPT_DATA_NONE, 0, 0n] },
      { dirty: [iommufd.IOMMU_HWPT_DIRTY_TRACKING_ENABLE, 9] },
      { bitmap: [9, iommufd.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, 0x100000n, 80n * pageSize, pageSize] },
      { dirty: [0, 9] },
      { invalidate: [9, iommufd.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, iommufd.iommu_hwpt_vtd_s1_invalidate.size, 1, { addr: 0n, npages: 0xffff_ffff_ffff_ffffn, flags: 0, __reserved: 0 }] },
      { invalidate: [9, iommufd.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 0, 0, null] },
    ]);
  });

  it('a HWPT still attached cannot be destroyed (EBUSY) and stays alive', () => {
    using ictx = openIommufd({
      IOMMU_IOAS_ALLOC: ioasAlloc(2),
      IOMMU_HWPT_ALLOC: (buf) => (iommufd.iommu_hwpt_alloc.encodeInto(dataView(buf), 0, { ...iommufd.iommu_hwpt_alloc.decode(buf), out_hwpt_id: 3 }), 0),
      // iommufd's object destroy refuses an object that still has users with EBUSY (drivers/iommu/iommufd/main.c).
      IOMMU_DESTROY: () => -EBUSY,
    });
    const hwpt = ictx.allocHwpt({ devId: 1, pt: ictx.allocIoas() });
    expect(thrown(() => hwpt.destroy())).toMatchObject({ code: 'EBUSY', ioctl: 'IOMMU_DESTROY' });
    expect(hwpt.destroyed).toBe(false);
    expect(hwpt.id).toBe(3);
  });

  it('hwInfo: VT-d data written through data_uptr and decoded, capabilities named', () => {
    const cap = 0x00d2008c222f0686n;
    const ecap = 0x00000000f00f5an;
    using ictx = openIommufd({
      IOMMU_GET_HW_INFO: (buf) => {
        const q = iommufd.iommu_hw_info.decode(buf);
        expect(q.dev_id).toBe(1);
        // "Trailing bytes will be zeroed if the user buffer is larger than the data that kernel has."
        const data = iommufd.iommu_hw_info_vtd.encode({ flags: 0, cap_reg: cap, ecap_reg: ecap });
        memoryAt(q.data_uptr, q.data_len).set(data.subarray(0, Math.min(q.data_len, data.byteLength)));
        iommufd.iommu_hw_info.encodeInto(dataView(buf), 0, {
          ...q, data_len: data.byteLength, out_data_type: iommufd.IOMMU_HW_INFO_TYPE_INTEL_VTD,
          out_capabilities: BigInt(iommufd.IOMMU_HW_CAP_DIRTY_TRACKING) | 0x100n, out_max_pasid_log2: 0,
        });
        return 0;
      },
    });
    const info = ictx.hwInfo(1);
    expect(info).toMatchObject({ dataType: iommufd.IOMMU_HW_INFO_TYPE_INTEL_VTD, dataTypeName: 'IOMMU_HW_INFO_TYPE_INTEL_VTD', dataLen: iommufd.iommu_hw_info_vtd.size, maxPasidLog2: 0 });
    expect(info.capabilityNames).toEqual(['IOMMU_HW_CAP_DIRTY_TRACKING', '0x100']);
    expect(info.vtd).toEqual({ flags: 0, __reserved: 0, cap_reg: cap, ecap_reg: ecap });
    expect(info.data.byteLength).toBe(iommufd.iommu_hw_info_vtd.size);
  });
});

/** A pipe: [read end, write end], both owned by the caller. */
function pipe(): [OwnedFd, OwnedFd] {
  const fds = new Int32Array(2);
  expect(libc().pipe2(fds, O_CLOEXEC)).toBe(0);
  return [new OwnedFd(fds[0], 'pipe read end'), new OwnedFd(fds[1], 'pipe write end')];
}

/** `VFIO_DEVICE_GET_INFO` of an mdev with 9 regions and 5 irqs; refused with EINVAL until bound (as the kernel does to an unbound cdev). */
function deviceInfo(bound: () => boolean): Handler {
  return (buf) => {
    if (!bound()) return -EINVAL;
    vfio.vfio_device_info.encodeInto(dataView(buf), 0, { argsz: vfio.vfio_device_info.size, flags: vfio.VFIO_DEVICE_FLAGS_PCI, num_regions: 9, num_irqs: 5 });
    return 0;
  };
}

describe('device cdevs', () => {
  it('openCdev without an iommufd issues nothing; bind returns the dev id; attach returns the kernel pt id; detach', () => {
    const log: string[] = [];
    let boundTo = -1;
    using ictx = openIommufd({ IOMMU_IOAS_ALLOC: ioasAlloc(2) });
    const ioas = ictx.allocIoas();
    const attaches: unknown[] = [];
    using device = Device.openCdev('/dev/null', kernel({
      VFIO_DEVICE_GET_INFO: deviceInfo(() => boundTo >= 0),
      VFIO_DEVICE_BIND_IOMMUFD: (buf) => {
        const b = vfio.vfio_device_bind_iommufd.decode(buf);
        expect(b).toMatchObject({ argsz: vfio.vfio_device_bind_iommufd.size, flags: 0, token_uuid_ptr: 0n });
        boundTo = b.iommufd;
        vfio.vfio_device_bind_iommufd.encodeInto(dataView(buf), 0, { ...b, out_devid: 1 });
        return 0;
      },
      VFIO_DEVICE_ATTACH_IOMMUFD_PT: (buf) => {
        const a = vfio.vfio_device_attach_iommufd_pt.decode(buf);
        attaches.push(a);
        // "Output the input ioas id or the attached hwpt id which could be ... a hwpt automatically created for the specified ioas"
        vfio.vfio_device_attach_iommufd_pt.encodeInto(dataView(buf), 0, { ...a, pt_id: a.pt_id === 2 ? 3 : a.pt_id });
        return 0;
      },
      VFIO_DEVICE_DETACH_IOMMUFD_PT: (buf) => (attaches.push(vfio.vfio_device_detach_iommufd_pt.decode(buf)), 0),
    }, log));
    expect(log).toEqual([]);
    expect(thrown(() => device.info())).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_DEVICE_GET_INFO' });
    expect(device.bindIommufd(ictx)).toBe(1);
    expect(boundTo).toBe(ictx.fd);
    expect(device.devId).toBe(1);
    expect(device.info().numRegions).toBe(9);
    expect(device.attachPt(ioas)).toBe(3);
    expect(device.attachPt(7, { pasid: 5 })).toBe(7);
    device.detachPt();
    expect(attaches).toEqual([
      { argsz: 16, flags: 0, pt_id: 2, pasid: 0 },
      { argsz: 16, flags: vfio.VFIO_DEVICE_ATTACH_PASID, pt_id: 7, pasid: 5 },
      { argsz: 12, flags: 0, pasid: 0 },
    ]);
  });

  it('openCdev with an iommufd binds and checks GET_INFO; a failed bind closes the fd', () => {
    const before = openFds();
    using ictx = openIommufd({});
    let bound = false;
    const handlers = {
      VFIO_DEVICE_GET_INFO: deviceInfo(() => bound),
      VFIO_DEVICE_BIND_IOMMUFD: (buf: Uint8Array) => {
        bound = true;
        vfio.vfio_device_bind_iommufd.encodeInto(dataView(buf), 0, { ...vfio.vfio_device_bind_iommufd.decode(buf), out_devid: 4 });
        return 0;
      },
    };
    {
      using device = Device.openCdev('/dev/null', { iommufd: ictx, ...kernel(handlers) });
      expect(device.devId).toBe(4);
    }
    // A group-path device fd, or a second bind: the kernel refuses (vfio_df_ioctl_bind_iommufd: EINVAL).
    for (let i = 0; i < 20; i++) {
      expect(() => Device.openCdev('/dev/null', { iommufd: ictx, ...kernel({ VFIO_DEVICE_BIND_IOMMUFD: () => -EINVAL }) })).toThrow(IoctlError);
    }
    // The real ioctl on /dev/null: ENOTTY.
    expect(thrown(() => Device.openCdev('/dev/null', { iommufd: ictx }))).toMatchObject({ code: 'ENOTTY', ioctl: 'VFIO_DEVICE_BIND_IOMMUFD' });
    expect(thrown(() => Device.openCdev('/nonexistent/vfio0'))).toMatchObject({ code: 'ENOENT', message: expect.stringContaining('no VFIO device cdev') });
    ictx.close();
    expect(openFds()).toEqual(before);
  });

  it('vfioCdevPath finds vfio-dev/vfioN under the sysfs device', async () => {
    const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const root = mkdtempSync(`${tmpdir()}/sysfs-`);
    try {
      mkdirSync(`${root}/bus/pci/devices/0000:00:03.0/vfio-dev/vfio2`, { recursive: true });
      mkdirSync(`${root}/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001/vfio-dev/vfio5`, { recursive: true });
      mkdirSync(`${root}/bus/pci/devices/0000:00:04.0`, { recursive: true });
      expect(vfioCdevPath('0000:00:03.0', root)).toBe('/dev/vfio/devices/vfio2');
      expect(vfioCdevPath('83b8f4f2-509f-382f-3c1e-e6bfe0fa1001', root)).toBe('/dev/vfio/devices/vfio5');
      expect(() => vfioCdevPath('0000:00:04.0', root)).toThrow(/no vfio-dev entry/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('migration v2 against recorded replies (mtty as Linux answers)', () => {
  const S = (name: Parameters<typeof migrationStateValue>[0]) => migrationStateValue(name);

  it('state names and values come from the bindings', () => {
    expect(migrationStateName(vfio.VFIO_DEVICE_STATE_STOP_COPY)).toBe('STOP_COPY');
    expect(S('PRE_COPY_P2P')).toBe(vfio.VFIO_DEVICE_STATE_PRE_COPY_P2P);
    expect(migrationStateName(99)).toBeUndefined();
  });

  it('save: RUNNING -> PRE_COPY (a data fd, precopy info) -> STOP_COPY (same fd, to EOF) -> STOP; resume: STOP -> RESUMING -> STOP -> RUNNING', () => {
    const before = openFds();
    // mtty's stream: a 24-byte header in PRE_COPY, the ports appended in STOP_COPY (samples/vfio-mdev/mtty.c).
    const header = Uint8Array.from({ length: 24 }, (_, i) => i + 1);
    const ports = Uint8Array.from({ length: 48 }, (_, i) => 0xa0 + i);
    let state = S('RUNNING');
    let saving: [OwnedFd, OwnedFd] | undefined;
    let resumedFrom: OwnedFd | undefined;
    const features: string[] = [];
    const feature: Handler = (buf) => {
      const f = vfio.vfio_device_feature.decode(buf);
      const id = f.flags & vfio.VFIO_DEVICE_FEATURE_MASK;
      const data = buf.subarray(vfio.vfio_device_feature.size);
      features.push(`${f.flags & vfio.VFIO_DEVICE_FEATURE_GET ? 'GET' : 'SET'} ${id} argsz=${f.argsz}`);
      if (id === vfio.VFIO_DEVICE_FEATURE_MIGRATION) {
        data.set(vfio.vfio_device_feature_migration.encode({ flags: BigInt(vfio.VFIO_MIGRATION_STOP_COPY | vfio.VFIO_MIGRATION_P2P | vfio.VFIO_MIGRATION_PRE_COPY) }));
        return 0;
      }
      if (id === vfio.VFIO_DEVICE_FEATURE_MIG_DATA_SIZE) {
        data.set(vfio.vfio_device_feature_mig_data_size.encode({ stop_copy_length: 72n }));
        return 0;
      }
      if (id !== vfio.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE) return -ENOTTY;
      const codec = vfio.vfio_device_feature_mig_state;
      // "Upon VFIO_DEVICE_FEATURE_GET, get the current migration state of the VFIO device, data_fd will be -1."
      if (f.flags & vfio.VFIO_DEVICE_FEATURE_GET) return (data.set(codec.encode({ device_state: state, data_fd: -1 })), 0);
      const next = codec.decode(data).device_state;
      let fd = -1;
      // "STOP_COPY -> PRE_COPY ... These arcs are not permitted and return error"; vfio_mig_get_next_state answers EINVAL.
      if (state === S('STOP_COPY') && next === S('PRE_COPY')) return -EINVAL;
      if (state === S('RUNNING') && next === S('PRE_COPY')) {
        saving = pipe();
        libc().write(saving[1].fd, header, header.byteLength);
        fd = saving[0].release();
      } else if (state === S('PRE_COPY') && next === S('STOP_COPY')) {
        // Moving within the saving group keeps the session: no new fd.
        libc().write(saving![1].fd, ports, ports.byteLength);
        saving![1].close();
      } else if (state === S('STOP') && next === S('RESUMING')) {
        const [r, w] = pipe();
        resumedFrom = r;
        fd = w.release();
      }
      state = next;
      data.set(codec.encode({ device_state: state, data_fd: fd }));
      return 0;
    };
    const precopy: RawIoctl = (_fd, request, buf) => {
      if (request !== vfio.VFIO_MIG_GET_PRECOPY_INFO) return -ENOTTY;
      // "This ioctl is valid only in PRE_COPY states and kernel driver should return -EINVAL from any other migration state."
      if (state !== S('PRE_COPY') && state !== S('PRE_COPY_P2P')) return -EINVAL;
      vfio.vfio_precopy_info.encodeInto(dataView(buf), 0, { ...vfio.vfio_precopy_info.decode(buf), initial_bytes: 24n, dirty_bytes: 0n });
      return 0;
    };
    const k = kernel({ VFIO_DEVICE_GET_INFO: deviceInfo(() => true), VFIO_DEVICE_FEATURE: feature });
    const syscalls: VfioSyscalls = { ioctl: (fd, request, buf) => (request === vfio.VFIO_MIG_GET_PRECOPY_INFO ? precopy(fd, request, buf) : k.ioctl!(fd, request, buf)) };

    const device = Device.fromFd(devNull(), syscalls);
    expect(device.migrationInfo()).toEqual({
      flags: 7n, flagNames: ['VFIO_MIGRATION_STOP_COPY', 'VFIO_MIGRATION_P2P', 'VFIO_MIGRATION_PRE_COPY'], stopCopy: true, p2p: true, preCopy: true,
    });
    expect(device.migrationState()).toBe('RUNNING');
    expect(device.migrationDataSize()).toBe(72n);

    const pre = device.setMigrationState('PRE_COPY');
    expect(pre.state).toBe('PRE_COPY');
    expect(pre.data).toBeInstanceOf(MigrationData);
    using data = pre.data!;
    expect(data.precopyInfo()).toEqual({ initialBytes: 24n, dirtyBytes: 0n, flags: 0 });
    const first = data.read(24);
    expect(first).toEqual(header);
    const stop = device.setMigrationState('STOP_COPY');
    expect(stop).toEqual({ state: 'STOP_COPY', data: undefined });
    expect(thrown(() => data.precopyInfo())).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_MIG_GET_PRECOPY_INFO', fd: data.fd });
    expect(thrown(() => device.setMigrationState('PRE_COPY'))).toMatchObject({ code: 'EINVAL', ioctl: 'VFIO_DEVICE_FEATURE' });
    const rest = data.readAll(16);
    expect(rest).toEqual(ports);
    expect(data.read()).toEqual(new Uint8Array(0));
    data.close();
    expect(device.setMigrationState('STOP').data).toBeUndefined();

    // The same device as its own target, for the resuming half.
    const resuming = device.setMigrationState('RESUMING');
    expect(resuming.state).toBe('RESUMING');
    {
      using sink = resuming.data!;
      sink.write(header);
      sink.write(rest);
    }
    const written = new Uint8Array(128);
    expect(libc().read(resumedFrom!.fd, written, 128)).toBe(72);
    expect(written.subarray(0, 72)).toEqual(new Uint8Array([...header, ...ports]));
    expect(device.setMigrationState('STOP').state).toBe('STOP');
    expect(device.setMigrationState('RUNNING').state).toBe('RUNNING');
    resumedFrom!.close();
    device.close();

    const F = vfio.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
    const argsz = vfio.vfio_device_feature.size + vfio.vfio_device_feature_mig_state.size;
    expect(features.filter((f) => f.startsWith('SET'))).toEqual(Array(7).fill(`SET ${F} argsz=${argsz}`));
    expect(features.slice(0, 3)).toEqual([
      `GET ${vfio.VFIO_DEVICE_FEATURE_MIGRATION} argsz=${vfio.vfio_device_feature.size + 8}`, `GET ${F} argsz=${argsz}`,
      `GET ${vfio.VFIO_DEVICE_FEATURE_MIG_DATA_SIZE} argsz=${vfio.vfio_device_feature.size + 8}`,
    ]);
    expect(openFds()).toEqual(before);
  });

  it('a device without migration: ENOTTY from the feature GET', () => {
    using device = Device.fromFd(devNull(), kernel({ VFIO_DEVICE_GET_INFO: deviceInfo(() => true), VFIO_DEVICE_FEATURE: () => -ENOTTY }));
    expect(thrown(() => device.migrationInfo())).toMatchObject({ code: 'ENOTTY', ioctl: 'VFIO_DEVICE_FEATURE' });
  });

  it('a write the driver refuses is a SyscallError naming write', () => {
    const [r, w] = pipe();
    r.close();
    using data = new MigrationData(w);
    // Writing to a pipe without a reader: EPIPE (SIGPIPE is ignored by Node).
    expect(thrown(() => data.write(new Uint8Array(8)))).toMatchObject({ name: 'SyscallError', syscall: 'write', code: 'EPIPE' });
  });
});

describe('disposingAll', () => {
  it('disposes what was registered last first, and on a failed open what was registered so far', () => {
    const order: string[] = [];
    const res = (name: string): Disposable => ({ [Symbol.dispose]: () => order.push(name) });
    {
      using opened = disposingAll((own) => ({ a: own(res('iommufd')), b: own(res('ioas')), c: own(res('device')) }));
      expect(Object.keys(opened)).toEqual(['a', 'b', 'c']);
    }
    expect(order).toEqual(['device', 'ioas', 'iommufd']);
    order.length = 0;
    expect(() => disposingAll((own) => {
      own(res('container'));
      own(res('group'));
      throw new Error('openDevice failed');
    })).toThrow('openDevice failed');
    expect(order).toEqual(['group', 'container']);
  });
});

describe('createMemfd', () => {
  it('a zero-filled memfd of the size asked for, read and written with pread/pwrite', () => {
    const before = openFds();
    {
      using memfd = createMemfd('vfio-uapi-test', 8192);
      expect(readlinkSync(`/proc/self/fd/${memfd.fd}`)).toMatch(/^\/memfd:vfio-uapi-test/);
      expect(libc().pwrite(memfd.fd, Uint8Array.of(1, 2, 3), 3, 4096)).toBe(3);
      const back = new Uint8Array(8);
      expect(libc().pread(memfd.fd, back, 8, 4094)).toBe(8);
      expect(Array.from(back)).toEqual([0, 0, 1, 2, 3, 0, 0, 0]);
      expect(libc().pread(memfd.fd, back, 8, 8192)).toBe(0);
    }
    expect(openFds()).toEqual(before);
  });
});
