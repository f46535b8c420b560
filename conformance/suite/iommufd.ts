/**
 * Guest side: `/dev/iommu` (iommufd.h). Every command is issued with the
 * request number and struct size of the kernel's own header (the manifest),
 * like the rest of the suite; the objects here are the suite's, not the
 * runtime's.
 *
 * - The size rule of every iommufd ioctl (drivers/iommu/iommufd/main.c, and the
 *   kernel selftest `cmd_length`): `size` one byte below the command's minimum
 *   is EINVAL; `sizeof + 1` with a non-zero trailing byte is E2BIG; `sizeof + 1`
 *   with a zero trailing byte behaves exactly as `sizeof`.
 * - IOAS: alloc, IOVA ranges (grown on EMSGSIZE), allow, map / map-file
 *   (memfd) / copy / unmap, options, the VFIO compat IOAS, change-process,
 *   fault queues, destroy.
 * - The selftests' mock IOMMU (`IOMMU_TEST_CMD`, CONFIG_IOMMUFD_TEST, its
 *   numbers and layout from the kernel source's iommufd_test.h): HW info, HWPT
 *   alloc (nest parent, dirty tracking), dirty tracking and bitmaps, vIOMMU,
 *   nested HWPT + invalidate, vDEVICE, vEVENTQ, HW queue.
 */
import { AnonymousMemory, IoctlError, OwnedFd, ioctl, koffi } from 'vfio-uapi/runtime';
import { hex, type Context } from './context.js';
import type { Decoded } from './kabi.js';
import { attempt } from './verdicts.js';

export const PAGE = 4096;

/**
 * The member that ends each command's minimum size: the `_last` argument of
 * its IOCTL_OP() in drivers/iommu/iommufd/main.c (the kernel's table; the
 * header does not say it). Offsets come from the manifest.
 */
export const MIN_MEMBER: Readonly<Record<string, string>> = {
  IOMMU_DESTROY: 'id',
  IOMMU_FAULT_QUEUE_ALLOC: 'out_fault_fd',
  IOMMU_GET_HW_INFO: '__reserved',
  IOMMU_HW_QUEUE_ALLOC: 'length',
  IOMMU_HWPT_ALLOC: '__reserved',
  IOMMU_HWPT_GET_DIRTY_BITMAP: 'data',
  IOMMU_HWPT_INVALIDATE: '__reserved',
  IOMMU_HWPT_SET_DIRTY_TRACKING: '__reserved',
  IOMMU_IOAS_ALLOC: 'out_ioas_id',
  IOMMU_IOAS_ALLOW_IOVAS: 'allowed_iovas',
  IOMMU_IOAS_CHANGE_PROCESS: '__reserved',
  IOMMU_IOAS_COPY: 'src_iova',
  IOMMU_IOAS_IOVA_RANGES: 'out_iova_alignment',
  IOMMU_IOAS_MAP: 'iova',
  IOMMU_IOAS_MAP_FILE: 'iova',
  IOMMU_IOAS_UNMAP: 'length',
  IOMMU_OPTION: 'val64',
  IOMMU_VDEVICE_ALLOC: 'virt_id',
  IOMMU_VEVENTQ_ALLOC: 'out_veventq_fd',
  IOMMU_VFIO_IOAS: '__reserved',
  IOMMU_VIOMMU_ALLOC: 'out_viommu_id',
};

/** An open `/dev/iommu` and the commands on it. */
export class IommufdSession implements Disposable {
  constructor(readonly ctx: Context, readonly fd: OwnedFd) {}

  static open(ctx: Context): IommufdSession {
    return new IommufdSession(ctx, OwnedFd.open('/dev/iommu'));
  }

  /** Issues iommufd command `name` with `value` (`size` = the header's sizeof unless given); returns the struct as the kernel left it. */
  cmd(name: string, value: Decoded = {}): Decoded {
    const { k } = this.ctx;
    const { record } = k.argRecord(name);
    const bytes = k.encode(record, { size: k.sizeof(record), ...value });
    this.ctx.call(this.fd, name, bytes);
    return k.decode(record, bytes);
  }

  ioasAlloc(): number {
    return this.cmd('IOMMU_IOAS_ALLOC').out_ioas_id as number;
  }

  /** Maps `size` bytes at `vaddr` read/write; at `iova` (FIXED_IOVA) or where the kernel chooses. Returns the IOVA. */
  map(ioas: number, vaddr: bigint, size: number, iova?: bigint): bigint {
    const { k } = this.ctx;
    const flags = k.c('IOMMU_IOAS_MAP_READABLE') | k.c('IOMMU_IOAS_MAP_WRITEABLE') | (iova === undefined ? 0 : k.c('IOMMU_IOAS_MAP_FIXED_IOVA'));
    return BigInt(this.cmd('IOMMU_IOAS_MAP', { flags, ioas_id: ioas, user_va: vaddr, length: BigInt(size), iova: iova ?? 0n }).iova);
  }

  /** Unmaps [iova, iova + length); returns the bytes the kernel reports unmapped. */
  unmap(ioas: number, iova: bigint, length: bigint): bigint {
    return BigInt(this.cmd('IOMMU_IOAS_UNMAP', { ioas_id: ioas, iova, length }).length);
  }

  destroy(id: number): void {
    this.cmd('IOMMU_DESTROY', { id });
  }

  /** `IOMMU_TEST_CMD` op `op` (an `IOMMU_TEST_OP_*` name) on object `id`; `fields` by member path (`dirty.iova`). */
  test(op: string, id: number, fields: Decoded = {}): Decoded {
    const { k } = this.ctx;
    const rec = 'iommu_test_cmd';
    const bytes = k.encode(rec, { size: k.sizeof(rec), op: k.c(op), id, ...fields });
    ioctl(this.fd.fd, { name: `IOMMU_TEST_CMD(${op})`, request: k.c('IOMMU_TEST_CMD'), fd: 'iommufd' }, bytes);
    return k.decode(rec, bytes);
  }

  [Symbol.dispose](): void {
    this.fd.close();
  }
}

/** memfd_create + ftruncate (libc through koffi: Node has no memfd). */
export function memfd(name: string, size: number): OwnedFd {
  const lib = koffi().load('libc.so.6');
  const create = lib.func('int memfd_create(const char *name, unsigned int flags)');
  const truncate = lib.func('int ftruncate(int fd, int64_t length)');
  const fd = create(name, 1 /* MFD_CLOEXEC */) as number;
  if (fd < 0) throw new Error(`memfd_create failed (errno ${koffi().errno()})`);
  const owned = new OwnedFd(fd, `memfd ${name}`);
  if ((truncate(fd, size) as number) < 0) {
    owned.close();
    throw new Error(`ftruncate(memfd, ${size}) failed (errno ${koffi().errno()})`);
  }
  return owned;
}

/** Whether the kernel has `/dev/iommu` and the manifest has iommufd.h. */
export function hasIommufd(ctx: Context): boolean {
  return ctx.k.ioctl('IOMMU_IOAS_ALLOC') !== undefined;
}

/** The size rule of every iommufd ioctl of the manifest (failures fail the ioctl; a kept rule is a note). */
export function sizeRuleChecks(ctx: Context): void {
  const { k, v } = ctx;
  using s = IommufdSession.open(ctx);
  for (const spec of k.manifest.ioctls.filter((i) => i.fd === 'iommufd' || i.name.startsWith('IOMMU_'))) {
    v.run(spec.name, 'size rule', () => {
      const member = MIN_MEMBER[spec.name];
      if (!member) { v.fail(spec.name, 'size rule: the suite does not know its minimum (no IOCTL_OP entry in its table)'); return; }
      const { record } = k.argRecord(spec.name);
      const size = k.sizeof(record);
      const min = k.offsetofend(record, member);
      const call = (sz: number, tail: number) => {
        const bytes = new Uint8Array(size + 8);
        new DataView(bytes.buffer).setUint32(0, sz, true);
        bytes[size] = tail;
        const r = attempt(() => ctx.call(s.fd, spec.name, bytes));
        // A zero-filled command that succeeded may have made an fd (FAULT_QUEUE_ALLOC): close it.
        if (r.ok) for (const [name, f] of Object.entries(k.record(record).fields)) if (/^out_\w*fd$/.test(name) && f.size === 4) new OwnedFd(new DataView(bytes.buffer).getInt32(f.offset, true), name).close();
        return r;
      };
      const short = call(min - 1, 0xff);
      const long = call(size + 1, 0xff);
      const exact = call(size, 0xff);
      const zeroTail = call(size + 1, 0);
      const show = (r: ReturnType<typeof call>) => (r.ok ? '0' : r.code);
      const ok = !short.ok && short.code === 'EINVAL' && !long.ok && long.code === 'E2BIG' && show(exact) === show(zeroTail);
      const text = `size rule (struct ${record}: sizeof ${size}, minimum ${min} = offsetofend(${member})): size ${min - 1} -> ${show(short)}, size ${size + 1} with a non-zero trailing byte -> ${show(long)}, size ${size} -> ${show(exact)}, size ${size + 1} with a zero trailing byte -> ${show(zeroTail)}`;
      if (ok) v.note(spec.name, text);
      else v.fail(spec.name, `${text} (expected EINVAL, E2BIG, and the last two alike)`);
    });
  }
}

/** The IOAS ioctls, options, the VFIO compat IOAS, change-process, fault queues, destroy. */
export function ioasChecks(ctx: Context): void {
  const { k, v } = ctx;
  using s = IommufdSession.open(ctx);
  const mem = AnonymousMemory.allocate(4 * PAGE);
  try {
    let ioas = 0;
    v.run('IOMMU_IOAS_ALLOC', 'alloc', () => {
      ioas = s.ioasAlloc();
      const second = s.ioasAlloc();
      v.expect('IOMMU_IOAS_ALLOC', ioas > 0 && second > 0 && second !== ioas, `two IOAS: ids ${ioas} and ${second}`);
      s.destroy(second);
      v.expectErrno('IOMMU_IOAS_ALLOC', 'flags 1 (none defined)', 'EOPNOTSUPP', () => s.cmd('IOMMU_IOAS_ALLOC', { flags: 1 }));
    });
    if (!ioas) return;

    const R = 'IOMMU_IOAS_IOVA_RANGES';
    const ranges = (): { start: bigint; last: bigint }[] => {
      const first = attempt(() => s.cmd(R, { ioas_id: ioas, num_iovas: 0 }));
      if (first.ok) return [];
      if (first.code !== 'EMSGSIZE') throw new Error(`IOVA_RANGES with num_iovas 0 -> ${first.code}, expected EMSGSIZE`);
      // The kernel wrote back how many ranges it has: ask again with room for them.
      const probe = k.encode('iommu_ioas_iova_ranges', { size: k.sizeof('iommu_ioas_iova_ranges'), ioas_id: ioas, num_iovas: 0 });
      attempt(() => ctx.call(s.fd, R, probe));
      const n = k.decode('iommu_ioas_iova_ranges', probe).num_iovas as number;
      const rsz = k.sizeof('iommu_iova_range');
      const buf = AnonymousMemory.allocate(Math.max(1, n) * rsz);
      try {
        const out = s.cmd(R, { ioas_id: ioas, num_iovas: n, allowed_iovas: buf.address });
        v.expect(R, out.num_iovas === n, `EMSGSIZE with num_iovas 0 reports ${n}; asked again with room for ${n}: ${out.num_iovas} ranges, alignment ${hex(out.out_iova_alignment)}`);
        v.expect(R, BigInt(out.out_iova_alignment) > 0n && (BigInt(out.out_iova_alignment) & (BigInt(out.out_iova_alignment) - 1n)) === 0n, `out_iova_alignment ${hex(out.out_iova_alignment)} is a power of two`);
        return Array.from({ length: n }, (_, i) => {
          const r = k.decode('iommu_iova_range', buf.bytes, i * rsz);
          return { start: BigInt(r.start), last: BigInt(r.last) };
        });
      } finally {
        buf.free();
      }
    };
    v.run(R, 'IOVA ranges', () => {
      const rs = ranges();
      v.expect(R, rs.length > 0 && rs.every((r, i) => r.start <= r.last && (i === 0 || rs[i - 1]!.last < r.start)),
        `ranges of an empty IOAS: ${rs.map((r) => `[${hex(r.start)}, ${hex(r.last)}]`).join(' ')} (sorted, disjoint)`);
    });

    const A = 'IOMMU_IOAS_ALLOW_IOVAS';
    v.run(A, 'allow', () => {
      const buf = AnonymousMemory.allocate(PAGE);
      try {
        const start = 0x4000000n;
        const last = 0x40fffffn;
        buf.bytes.set(k.encode('iommu_iova_range', { start, last }));
        s.cmd(A, { ioas_id: ioas, num_iovas: 1, allowed_iovas: buf.address });
        const iova = s.map(ioas, mem.address, PAGE);
        v.expect(A, iova >= start && iova + BigInt(PAGE) - 1n <= last, `allowed [${hex(start)}, ${hex(last)}]: a map without FIXED_IOVA got IOVA ${hex(iova)}, inside it`);
        s.unmap(ioas, iova, BigInt(PAGE));
        s.cmd(A, { ioas_id: ioas, num_iovas: 0, allowed_iovas: 0n });
        v.pass(A, 'num_iovas 0 clears the allowed ranges');
      } finally {
        buf.free();
      }
    });

    const M = 'IOMMU_IOAS_MAP';
    const U = 'IOMMU_IOAS_UNMAP';
    v.run(M, 'map', () => {
      const iova = s.map(ioas, mem.address, 2 * PAGE, 0x100000n);
      v.expect(M, iova === 0x100000n, `2 pages at FIXED_IOVA ${hex(0x100000n)}`);
      v.expectErrno(M, 'the same IOVA again (overlap)', 'EEXIST', () => s.map(ioas, mem.address, PAGE, 0x100000n));
      v.expectErrno(M, 'length 0', 'EINVAL', () => s.cmd(M, { flags: k.c('IOMMU_IOAS_MAP_READABLE'), ioas_id: ioas, user_va: mem.address, length: 0n }));
      const auto = s.map(ioas, mem.address + BigInt(2 * PAGE), PAGE);
      v.pass(M, `without FIXED_IOVA the kernel chose IOVA ${hex(auto)}`);
      v.expect(U, s.unmap(ioas, auto, BigInt(PAGE)) === BigInt(PAGE), `unmap of the chosen IOVA: ${PAGE} bytes`);
    });

    const C = 'IOMMU_IOAS_COPY';
    v.run(C, 'copy', () => {
      const dst = s.ioasAlloc();
      try {
        s.cmd(C, { flags: k.c('IOMMU_IOAS_MAP_READABLE') | k.c('IOMMU_IOAS_MAP_WRITEABLE') | k.c('IOMMU_IOAS_MAP_FIXED_IOVA'), dst_ioas_id: dst, src_ioas_id: ioas, length: BigInt(2 * PAGE), dst_iova: 0x500000n, src_iova: 0x100000n });
        v.expectErrno(C, 'the same copy again (overlap in the destination)', 'EEXIST', () =>
          s.cmd(C, { flags: k.c('IOMMU_IOAS_MAP_READABLE') | k.c('IOMMU_IOAS_MAP_FIXED_IOVA'), dst_ioas_id: dst, src_ioas_id: ioas, length: BigInt(PAGE), dst_iova: 0x500000n, src_iova: 0x100000n }));
        v.expectErrno(C, 'a source range that is not mapped', 'ENOENT', () =>
          s.cmd(C, { flags: k.c('IOMMU_IOAS_MAP_READABLE') | k.c('IOMMU_IOAS_MAP_FIXED_IOVA'), dst_ioas_id: dst, src_ioas_id: ioas, length: BigInt(PAGE), dst_iova: 0x700000n, src_iova: 0x900000n }));
        const n = s.unmap(dst, 0x500000n, BigInt(2 * PAGE));
        v.expect(C, n === BigInt(2 * PAGE), `2 pages of IOAS ${ioas} at ${hex(0x100000n)} copied to IOAS ${dst} at ${hex(0x500000n)}; unmapping them there reports ${n} bytes`);
      } finally {
        s.destroy(dst);
      }
    });

    v.run(U, 'unmap', () => {
      v.expectErrno(U, 'a range never mapped', 'ENOENT', () => s.unmap(ioas, 0x900000n, BigInt(PAGE)));
      v.expectErrno(U, 'the second page of a 2-page mapping (no bisecting an area)', 'ENOENT', () => s.unmap(ioas, 0x100000n + BigInt(PAGE), BigInt(PAGE)));
      s.map(ioas, mem.address + BigInt(3 * PAGE), PAGE, 0x200000n);
      const all = s.unmap(ioas, 0n, 0xffff_ffff_ffff_ffffn);
      v.expect(U, all === BigInt(3 * PAGE), `iova 0, length U64_MAX unmaps everything: ${all} bytes (3 pages)`);
    });

    const F = 'IOMMU_IOAS_MAP_FILE';
    const P = 'IOMMU_IOAS_CHANGE_PROCESS';
    v.run(F, 'map file', () => {
      using file = memfd('vfio-uapi', 2 * PAGE);
      const flags = k.c('IOMMU_IOAS_MAP_READABLE') | k.c('IOMMU_IOAS_MAP_WRITEABLE') | k.c('IOMMU_IOAS_MAP_FIXED_IOVA');
      s.cmd(F, { flags, ioas_id: ioas, fd: file.fd, start: 0n, length: BigInt(2 * PAGE), iova: 0x600000n });
      v.pass(F, `memfd (2 pages) at FIXED_IOVA ${hex(0x600000n)}`);
      v.expectErrno(F, 'length 0', 'EINVAL', () => s.cmd(F, { flags, ioas_id: ioas, fd: file.fd, start: 0n, length: 0n, iova: 0x800000n }));
      v.run(P, 'change process', () => {
        s.map(ioas, mem.address, PAGE, 0x100000n);
        v.expectErrno(P, 'with a user-VA (not file) mapping in the IOAS', 'EINVAL', () => s.cmd(P));
        s.unmap(ioas, 0x100000n, BigInt(PAGE));
        s.cmd(P);
        v.pass(P, 'with only memfd mappings -> 0 (the pinned pages are now accounted to this process)');
      });
      v.expect(U, s.unmap(ioas, 0x600000n, BigInt(2 * PAGE)) === BigInt(2 * PAGE), 'unmap of the memfd mapping: 2 pages');
    });

    const O = 'IOMMU_OPTION';
    v.run(O, 'options', () => {
      const GET = k.c('IOMMU_OPTION_OP_GET');
      const SET = k.c('IOMMU_OPTION_OP_SET');
      const get = (id: string, object: number) => BigInt(s.cmd(O, { option_id: k.c(id), op: GET, object_id: object }).val64);
      const set = (id: string, object: number, val: bigint) => s.cmd(O, { option_id: k.c(id), op: SET, object_id: object, val64: val });
      // The accounting mode may change only while the iommufd has no objects (ioas.c): a fresh fd for it.
      using fresh = IommufdSession.open(ctx);
      const fget = () => BigInt(fresh.cmd(O, { option_id: k.c('IOMMU_OPTION_RLIMIT_MODE'), op: GET, object_id: 0 }).val64);
      const fset = (val: bigint) => fresh.cmd(O, { option_id: k.c('IOMMU_OPTION_RLIMIT_MODE'), op: SET, object_id: 0, val64: val });
      const mode = fget();
      fset(1n);
      const mode1 = fget();
      fset(mode);
      v.expect(O, mode1 === 1n, `RLIMIT_MODE on an iommufd without objects: ${mode}, SET 1 -> GET ${mode1}, restored`);
      v.expectErrno(O, 'RLIMIT_MODE SET 2', 'EINVAL', () => fset(2n));
      v.expectErrno(O, 'RLIMIT_MODE SET while an IOAS exists', 'EBUSY', () => set('IOMMU_OPTION_RLIMIT_MODE', 0, 1n));
      v.expect(O, get('IOMMU_OPTION_RLIMIT_MODE', 0) === mode, `RLIMIT_MODE GET with an IOAS: ${mode} (unchanged)`);
      const huge = get('IOMMU_OPTION_HUGE_PAGES', ioas);
      set('IOMMU_OPTION_HUGE_PAGES', ioas, 0n);
      const huge0 = get('IOMMU_OPTION_HUGE_PAGES', ioas);
      set('IOMMU_OPTION_HUGE_PAGES', ioas, 1n);
      v.expect(O, huge === 1n && huge0 === 0n, `HUGE_PAGES of IOAS ${ioas}: ${huge} (default), SET 0 -> GET ${huge0}, SET 1`);
      v.expectErrno(O, 'an unknown option id', 'EOPNOTSUPP', () => s.cmd(O, { option_id: 0x7f, op: GET, object_id: 0 }));
    });

    const VI = 'IOMMU_VFIO_IOAS';
    v.run(VI, 'vfio compat IOAS', () => {
      // No compat IOAS: get_compat_ioas() answers ENODEV (vfio_compat.c).
      v.expectErrno(VI, 'GET before any SET', 'ENODEV', () => s.cmd(VI, { op: k.c('IOMMU_VFIO_IOAS_GET') }));
      s.cmd(VI, { op: k.c('IOMMU_VFIO_IOAS_SET'), ioas_id: ioas });
      const got = s.cmd(VI, { op: k.c('IOMMU_VFIO_IOAS_GET') }).ioas_id;
      s.cmd(VI, { op: k.c('IOMMU_VFIO_IOAS_CLEAR') });
      v.expect(VI, got === ioas, `SET ${ioas} -> GET ${got} -> CLEAR`);
      v.expectErrno(VI, 'GET after CLEAR', 'ENODEV', () => s.cmd(VI, { op: k.c('IOMMU_VFIO_IOAS_GET') }));
    });

    const FQ = 'IOMMU_FAULT_QUEUE_ALLOC';
    v.run(FQ, 'fault queue', () => {
      const out = s.cmd(FQ, { flags: 0 });
      const fd = new OwnedFd(out.out_fault_fd as number, 'fault queue');
      try {
        v.expect(FQ, (out.out_fault_id as number) > 0 && fd.fd >= 0, `fault object ${out.out_fault_id}, fd ${fd.fd}`);
        v.expectErrno(FQ, 'flags 1 (none defined)', 'EOPNOTSUPP', () => s.cmd(FQ, { flags: 1 }));
      } finally {
        fd.close();
      }
      s.destroy(out.out_fault_id as number);
    });

    const D = 'IOMMU_DESTROY';
    v.run(D, 'destroy', () => {
      s.destroy(ioas);
      v.pass(D, `IOAS ${ioas} destroyed`);
      v.expectErrno(D, 'the same id again', 'ENOENT', () => s.destroy(ioas));
    });
  } finally {
    mem.free();
  }
}

/** The ioctls that need an IOMMU driver feature QEMU's VT-d lacks, through the selftests' mock IOMMU. */
export function mockChecks(ctx: Context): void {
  const { k, v } = ctx;
  if (!k.has('IOMMU_TEST_CMD')) {
    v.note('IOMMU_HWPT_ALLOC', 'no iommufd_test.h in the manifest: the mock IOMMU checks were not run');
    return;
  }
  using s = IommufdSession.open(ctx);
  const mem = AnonymousMemory.allocate(8 * PAGE);
  try {
    const ioas = s.ioasAlloc();
    const mock = s.test('IOMMU_TEST_OP_MOCK_DOMAIN', ioas);
    const idev = mock['mock_domain']?.out_idev_id as number;
    v.note('IOMMU_HWPT_ALLOC', `mock device: IOMMU_TEST_OP_MOCK_DOMAIN on IOAS ${ioas} -> stdev ${mock['mock_domain']?.out_stdev_id}, hwpt ${mock['mock_domain']?.out_hwpt_id}, idev ${idev}`);

    const H = 'IOMMU_GET_HW_INFO';
    v.run(H, 'mock hw info', () => {
      const data = AnonymousMemory.allocate(PAGE);
      try {
        const out = s.cmd(H, { dev_id: idev, data_len: k.sizeof('iommu_test_hw_info'), data_uptr: data.address });
        const info = k.decode('iommu_test_hw_info', data.bytes);
        v.expect(H, out.out_data_type === k.c('IOMMU_HW_INFO_TYPE_SELFTEST') && info.test_reg === k.c('IOMMU_HW_INFO_SELFTEST_REGVAL'),
          `mock device: out_data_type ${hex(out.out_data_type)} (IOMMU_HW_INFO_TYPE_SELFTEST), test_reg ${hex(info.test_reg)} (IOMMU_HW_INFO_SELFTEST_REGVAL), capabilities ${hex(out.out_capabilities)}`);
      } finally {
        data.free();
      }
    });

    const HA = 'IOMMU_HWPT_ALLOC';
    const SD = 'IOMMU_HWPT_SET_DIRTY_TRACKING';
    const GD = 'IOMMU_HWPT_GET_DIRTY_BITMAP';
    v.run(SD, 'dirty tracking', () => {
      const hwpt = s.cmd(HA, { flags: k.c('IOMMU_HWPT_ALLOC_DIRTY_TRACKING'), dev_id: idev, pt_id: ioas }).out_hwpt_id as number;
      v.pass(HA, `mock device, IOAS ${ioas}, flags DIRTY_TRACKING -> HWPT ${hwpt}`);
      const dev2 = s.test('IOMMU_TEST_OP_MOCK_DOMAIN', hwpt);
      // One IOPTE per page, so that one dirty bit is one page (large IOPTEs would report their whole span).
      s.cmd('IOMMU_OPTION', { option_id: k.c('IOMMU_OPTION_HUGE_PAGES'), op: k.c('IOMMU_OPTION_OP_SET'), object_id: ioas, val64: 0n });
      const iova = s.map(ioas, mem.address, 4 * PAGE);
      s.cmd(SD, { flags: k.c('IOMMU_HWPT_DIRTY_TRACKING_ENABLE'), hwpt_id: hwpt });
      v.pass(SD, `ENABLE on HWPT ${hwpt} (a second mock device attached to it)`);
      const bitmap = AnonymousMemory.allocate(PAGE);
      try {
        // The mock marks pages 0 and 2 dirty (a bitmap of one bit per page, as the selftest does).
        new DataView(bitmap.buffer).setBigUint64(0, 0b101n, true);
        const marked = s.test('IOMMU_TEST_OP_DIRTY', hwpt, { dirty: { iova, length: BigInt(4 * PAGE), page_size: BigInt(PAGE), uptr: bitmap.address } });
        bitmap.bytes.fill(0);
        s.cmd(GD, { hwpt_id: hwpt, flags: 0, iova, length: BigInt(4 * PAGE), page_size: BigInt(PAGE), data: bitmap.address });
        const word = new DataView(bitmap.buffer).getBigUint64(0, true);
        v.expect(GD, word === 0b101n, `the mock dirtied pages 0 and 2 (${marked['dirty']?.out_nr_dirty} dirty); GET_DIRTY_BITMAP over 4 pages -> ${hex(word)}`);
        bitmap.bytes.fill(0);
        s.cmd(GD, { hwpt_id: hwpt, flags: 0, iova, length: BigInt(4 * PAGE), page_size: BigInt(PAGE), data: bitmap.address });
        const again = new DataView(bitmap.buffer).getBigUint64(0, true);
        v.expect(GD, again === 0n, `read again: ${hex(again)} (reading clears)`);
        v.expectErrno(GD, 'page_size 0', 'EINVAL', () => s.cmd(GD, { hwpt_id: hwpt, iova, length: BigInt(4 * PAGE), page_size: 0n, data: bitmap.address }));
      } finally {
        bitmap.free();
      }
      s.cmd(SD, { flags: 0, hwpt_id: hwpt });
      v.pass(SD, 'disable -> 0');
      v.expectErrno(SD, 'an unknown flag', 'EOPNOTSUPP', () => s.cmd(SD, { flags: 0x80, hwpt_id: hwpt }));
      s.destroy(dev2['mock_domain']?.out_stdev_id as number);
      s.unmap(ioas, iova, BigInt(4 * PAGE));
      s.destroy(hwpt);
    });

    const VA = 'IOMMU_VIOMMU_ALLOC';
    const INV = 'IOMMU_HWPT_INVALIDATE';
    const VD = 'IOMMU_VDEVICE_ALLOC';
    const VE = 'IOMMU_VEVENTQ_ALLOC';
    const HQ = 'IOMMU_HW_QUEUE_ALLOC';
    v.run(VA, 'vIOMMU', () => {
      const parent = s.cmd(HA, { flags: k.c('IOMMU_HWPT_ALLOC_NEST_PARENT'), dev_id: idev, pt_id: ioas }).out_hwpt_id as number;
      v.pass(HA, `NEST_PARENT HWPT ${parent}`);
      v.expectErrno(VA, 'type DEFAULT (the mock has no default vIOMMU)', ['EOPNOTSUPP', 'EINVAL'], () => s.cmd(VA, { type: k.c('IOMMU_VIOMMU_TYPE_DEFAULT'), dev_id: idev, hwpt_id: parent }));
      const viommu = s.cmd(VA, { type: k.c('IOMMU_VIOMMU_TYPE_SELFTEST'), dev_id: idev, hwpt_id: parent }).out_viommu_id as number;
      v.pass(VA, `type SELFTEST on the nest parent -> vIOMMU ${viommu}`);

      const data = AnonymousMemory.allocate(PAGE);
      try {
        data.bytes.set(k.encode('iommu_hwpt_selftest', { iotlb: k.c('IOMMU_TEST_IOTLB_DEFAULT') }));
        const nested = s.cmd(HA, { flags: 0, dev_id: idev, pt_id: viommu, data_type: k.c('IOMMU_HWPT_DATA_SELFTEST'), data_len: k.sizeof('iommu_hwpt_selftest'), data_uptr: data.address }).out_hwpt_id as number;
        v.pass(HA, `nested HWPT ${nested} on vIOMMU ${viommu} (data type SELFTEST)`);
        data.bytes.fill(0);
        data.bytes.set(k.encode('iommu_hwpt_invalidate_selftest', { flags: k.c('IOMMU_TEST_INVALIDATE_FLAG_ALL'), iotlb_id: 0 }));
        const inv = s.cmd(INV, { hwpt_id: nested, data_uptr: data.address, data_type: k.c('IOMMU_HWPT_INVALIDATE_DATA_SELFTEST'), entry_len: k.sizeof('iommu_hwpt_invalidate_selftest'), entry_num: 1 });
        v.expect(INV, inv.entry_num === 1, `one SELFTEST request (FLAG_ALL) on nested HWPT ${nested}: entry_num ${inv.entry_num} handled`);
        const zero = s.cmd(INV, { hwpt_id: nested, data_uptr: data.address, data_type: k.c('IOMMU_HWPT_INVALIDATE_DATA_SELFTEST'), entry_len: k.sizeof('iommu_hwpt_invalidate_selftest'), entry_num: 0 });
        v.expect(INV, zero.entry_num === 0, 'entry_num 0 -> 0 (nothing to do)');
        v.expectErrno(INV, 'data type VTD_S1 on the mock', 'EINVAL', () => s.cmd(INV, { hwpt_id: nested, data_uptr: data.address, data_type: k.c('IOMMU_HWPT_INVALIDATE_DATA_VTD_S1'), entry_len: k.sizeof('iommu_hwpt_invalidate_selftest'), entry_num: 1 }));
        s.destroy(nested);
      } finally {
        data.free();
      }

      v.run(VD, 'vDEVICE', () => {
        const vdev = s.cmd(VD, { viommu_id: viommu, dev_id: idev, virt_id: 0x99n }).out_vdevice_id as number;
        v.pass(VD, `virt_id 0x99 for the mock device on vIOMMU ${viommu} -> vDEVICE ${vdev}`);
        v.expectErrno(VD, 'the same device again', 'EEXIST', () => s.cmd(VD, { viommu_id: viommu, dev_id: idev, virt_id: 0x98n }));
        s.destroy(vdev);
      });
      v.run(VE, 'vEVENTQ', () => {
        const out = s.cmd(VE, { viommu_id: viommu, type: k.c('IOMMU_VEVENTQ_TYPE_SELFTEST'), veventq_depth: 2 });
        const fd = new OwnedFd(out.out_veventq_fd as number, 'veventq');
        fd.close();
        v.pass(VE, `type SELFTEST, depth 2 -> vEVENTQ ${out.out_veventq_id}, fd ${out.out_veventq_fd}`);
        v.expectErrno(VE, 'depth 0', 'EINVAL', () => s.cmd(VE, { viommu_id: viommu, type: k.c('IOMMU_VEVENTQ_TYPE_SELFTEST'), veventq_depth: 0 }));
        s.destroy(out.out_veventq_id as number);
      });
      v.run(HQ, 'HW queue', () => {
        const iova = s.map(ioas, mem.address + BigInt(4 * PAGE), PAGE);
        v.expectErrno(HQ, 'type DEFAULT', 'EOPNOTSUPP', () => s.cmd(HQ, { viommu_id: viommu, type: k.c('IOMMU_HW_QUEUE_TYPE_DEFAULT'), index: 0, nesting_parent_iova: iova, length: BigInt(PAGE) }));
        const q = s.cmd(HQ, { viommu_id: viommu, type: k.c('IOMMU_HW_QUEUE_TYPE_SELFTEST'), index: 0, nesting_parent_iova: iova, length: BigInt(PAGE) }).out_hw_queue_id as number;
        v.pass(HQ, `type SELFTEST, index 0, one mapped page at IOVA ${hex(iova)} -> HW queue ${q}`);
        v.expectErrno(HQ, 'index 0 again', 'EEXIST', () => s.cmd(HQ, { viommu_id: viommu, type: k.c('IOMMU_HW_QUEUE_TYPE_SELFTEST'), index: 0, nesting_parent_iova: iova, length: BigInt(PAGE) }));
        v.expectErrno('IOMMU_IOAS_UNMAP', 'unmap of a page a HW queue owns', 'EBUSY', () => s.unmap(ioas, iova, BigInt(PAGE)));
        s.destroy(q);
        s.unmap(ioas, iova, BigInt(PAGE));
      });
      s.destroy(viommu);
      s.destroy(parent);
    });
  } catch (e) {
    if (!(e instanceof IoctlError)) throw e;
    v.fail('IOMMU_HWPT_ALLOC', `mock IOMMU setup: ${e.message}`);
  } finally {
    mem.free();
  }
}
