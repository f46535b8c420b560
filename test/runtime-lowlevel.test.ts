import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Codec, FieldLayout, IoctlDescriptor } from '../runtime/codec/codec.js';
import {
  AnonymousMemory, ArgszError, CapabilityChainError, EventFd, IoctlError, OwnedFd, SyscallError,
  O_CREAT, O_RDWR, O_TRUNC, O_CLOEXEC, O_NOCTTY,
  capabilities, decodeCapability, errnoDescription, errnoName, findCapability, ioctl, ioctlArgsz,
  isNoDevice, isWrongFdKind, libc, pageSize, type Capability, type RawIoctl, type StructIoctl,
  ioctlPath, useIoctlPath,
} from '../runtime/index.js';

// ---------------------------------------------------------------------------
// Test fixtures: request numbers and a tiny hand-written codec (the generated
// codecs are not available to this layer's tests).

/**
 * VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0), with VFIO_TYPE = ';' (0x3b)
 * and VFIO_BASE = 100 (include/uapi/linux/vfio.h). asm-generic/ioctl.h:
 * _IO(type, nr) = _IOC(_IOC_NONE, type, nr, 0) = (0 << 30) | (type << 8) | nr | (0 << 16)
 * = (0x3b << 8) | 100 = 0x3b64.
 */
const VFIO_GET_API_VERSION: IoctlDescriptor = {
  name: 'VFIO_GET_API_VERSION', request: 0x3b64, fd: 'container', arg: { kind: 'none' },
};

/** FIONREAD (asm-generic/ioctls.h, x86_64): 0x541B, `int *` out. */
const FIONREAD: IoctlDescriptor = { name: 'FIONREAD', request: 0x541b, fd: 'unknown', arg: { kind: 'int-pointer' } };

type Scalar = 'u16' | 'u32' | 'u64';
const scalarSize: Record<Scalar, number> = { u16: 2, u32: 4, u64: 8 };

/** A little-endian struct codec of unsigned scalars, enough to stand in for generated ones. */
function structCodec<T extends Record<string, number | bigint>>(
  cName: string,
  layout: readonly (readonly [keyof T & string, number, Scalar])[],
  size: number,
): Codec<T> {
  const fields: FieldLayout[] = layout.map(([path, offset, t]) => ({ path, offset, size: scalarSize[t], type: `__${t}`, signed: false }));
  const codec: Codec<T> = {
    cName, size, align: Math.max(...layout.map(([, , t]) => scalarSize[t])), fields,
    decode(bytes, offset = 0) {
      if (bytes.byteLength < offset + size) throw new RangeError(`${cName}: ${bytes.byteLength} bytes`);
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
      const out: Record<string, number | bigint> = {};
      for (const [path, off, t] of layout) {
        out[path] = t === 'u16' ? view.getUint16(off, true) : t === 'u32' ? view.getUint32(off, true) : view.getBigUint64(off, true);
      }
      return out as T;
    },
    encode(value) {
      const bytes = new Uint8Array(size);
      codec.encodeInto(new DataView(bytes.buffer), 0, value);
      return bytes;
    },
    encodeInto(view, offset, value) {
      for (const [path, off, t] of layout) {
        const v = (value as Record<string, number | bigint | undefined>)[path];
        if (v === undefined) continue;
        if (t === 'u16') view.setUint16(offset + off, Number(v), true);
        else if (t === 'u32') view.setUint32(offset + off, Number(v), true);
        else view.setBigUint64(offset + off, BigInt(v), true);
      }
    },
  };
  return codec;
}

/** struct vfio_region_info (include/uapi/linux/vfio.h), 32 bytes. */
interface RegionInfo extends Record<string, number | bigint> {
  argsz: number; flags: number; index: number; cap_offset: number; size: bigint; offset: bigint;
}
const regionInfo = structCodec<RegionInfo>('struct vfio_region_info', [
  ['argsz', 0, 'u32'], ['flags', 4, 'u32'], ['index', 8, 'u32'], ['cap_offset', 12, 'u32'],
  ['size', 16, 'u64'], ['offset', 24, 'u64'],
], 32);

/** struct vfio_region_info_cap_type: header + type + subtype, 16 bytes. */
const capType = structCodec<{ id: number; version: number; next: number; type: number; subtype: number }>(
  'struct vfio_region_info_cap_type',
  [['id', 0, 'u16'], ['version', 2, 'u16'], ['next', 4, 'u32'], ['type', 8, 'u32'], ['subtype', 12, 'u32']], 16);

/** Builds a chain in `buf`: each entry is [offset, id, version, next, payload length]. */
function writeChain(buf: Uint8Array, caps: readonly [number, number, number, number][]): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const [offset, id, version, next] of caps) {
    view.setUint16(offset, id, true);
    view.setUint16(offset + 2, version, true);
    view.setUint32(offset + 4, next, true);
  }
}

function chainError(fn: () => unknown): CapabilityChainError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CapabilityChainError);
    return error as CapabilityChainError;
  }
  throw new Error('expected a CapabilityChainError');
}

const walk = (buf: Uint8Array, start: number, options?: Parameters<typeof capabilities>[2]): Capability[] =>
  Array.from(capabilities(buf, start, options));

const openFds = (): string[] => readdirSync('/proc/self/fd').sort();

function pipe(): [number, number] {
  const fds = new Int32Array(2);
  expect(libc().pipe2(fds, O_CLOEXEC)).toBe(0);
  return [fds[0], fds[1]];
}

const tmp = mkdtempSync(join(tmpdir(), 'vfio-runtime-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------

// ioctl() takes the fastest addon `npm run build` built (V8-API, else Node-API), else koffi: every path passes
// the same bytes (at a typed array's offset) and reports the errno of the call it made.
const available = (path: 'v8' | 'napi') => {
  try {
    useIoctlPath(path);
    return true;
  } catch {
    return false;
  } finally {
    useIoctlPath('koffi');
  }
};
describe.each([['koffi', true], ['napi', available('napi')], ['v8', available('v8')]] as const)('ioctl() through %s', (path, built) => {
  it.skipIf(!built)(`FIONREAD, an offset view, and errno on failure (${path}${built ? '' : ': not built here, no C/C++ compiler'})`, () => {
    useIoctlPath(path);
    const [r, w] = pipe();
    try {
      expect(ioctlPath()).toBe(path);
      const count = new Int32Array([-1]);
      expect(ioctl(r, FIONREAD, count)).toBe(0);
      expect(count[0]).toBe(0);
      expect(writeSync(w, Buffer.alloc(77, 1))).toBe(77);
      const backing = new Uint8Array(12).fill(0xee);
      expect(ioctl(r, FIONREAD, new DataView(backing.buffer, 4, 4))).toBe(0);
      expect(new DataView(backing.buffer).getInt32(4, true)).toBe(77);
      expect([...backing.subarray(0, 4), ...backing.subarray(8)]).toEqual(new Array(8).fill(0xee));
      // A pipe has no TCGETS: ENOTTY, from the path's own errno.
      expect(() => ioctl(r, { name: 'TCGETS', request: 0x5401, arg: { kind: 'struct', codec: { size: 60 } } } as never, new Uint8Array(60)))
        .toThrow(expect.objectContaining({ code: 'ENOTTY', ioctl: 'TCGETS' }));
      closeSync(w);
      const closed = w;
      expect(() => ioctl(closed, FIONREAD, count)).toThrow(expect.objectContaining({ code: 'EBADF', ioctl: 'FIONREAD' }));
    } finally {
      closeSync(r);
      try { closeSync(w); } catch { /* closed above */ }
      useIoctlPath('koffi');
    }
  });
});

describe('errors', () => {
  it('names and describes errno values', () => {
    expect(errnoName(25)).toBe('ENOTTY');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(4095)).toBe('E4095');
    expect(errnoDescription(25)).toBe('Inappropriate ioctl for device');
    expect(errnoDescription(19)).toBe('No such device');
  });
});

describe('ioctl', () => {
  it('VFIO_GET_API_VERSION on /dev/null fails with ENOTTY, naming the ioctl', () => {
    expect((0x3b << 8) | 100).toBe(VFIO_GET_API_VERSION.request);
    using devNull = OwnedFd.open('/dev/null', O_RDWR);
    let caught: unknown;
    try {
      ioctl(devNull.fd, VFIO_GET_API_VERSION);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(IoctlError);
    const error = caught as IoctlError;
    expect(error.code).toBe('ENOTTY');
    expect(error.errno).toBe(25);
    expect(error.ioctl).toBe('VFIO_GET_API_VERSION');
    expect(error.request).toBe(0x3b64);
    expect(error.fd).toBe(devNull.fd);
    expect(error.message).toBe(`VFIO_GET_API_VERSION (0x3b64) on fd ${devNull.fd}: ENOTTY (Inappropriate ioctl for device)`);
    expect(isWrongFdKind(error)).toBe(true);
    expect(isNoDevice(error)).toBe(false);
  });

  it('a plain request number (the C habit) is looked up among the imported bindings, or named by its value', async () => {
    const vfio = await import('../generated/vfio/index.js');
    using devNull = OwnedFd.open('/dev/null', O_RDWR);
    expect(() => ioctl(devNull.fd, vfio.VFIO_GET_API_VERSION))
      .toThrow(expect.objectContaining({ code: 'ENOTTY', ioctl: 'VFIO_GET_API_VERSION', request: vfio.VFIO_GET_API_VERSION }));
    // The descriptor found checks the argument before the call: a struct ioctl takes its struct, not an integer.
    expect(() => ioctl(devNull.fd, vfio.VFIO_DEVICE_GET_INFO, 5)).toThrow(new TypeError('VFIO_DEVICE_GET_INFO takes a pointer (struct), not an integer'));
    expect(() => ioctl(devNull.fd, 0x7fff_0001)).toThrow(expect.objectContaining({ code: 'ENOTTY', ioctl: 'ioctl 0x7fff0001' }));
    expect(() => ioctl(devNull.fd, undefined as unknown as number)).toThrow(new TypeError('ioctl: request undefined is neither a descriptor nor a number; pass a descriptor such as vfio.ioctls.VFIO_GET_API_VERSION, or its number'));
    expect(() => ioctl(devNull.fd, -1)).toThrow(new RangeError('ioctl: request -1 is not a 32-bit unsigned integer; pass a descriptor such as vfio.ioctls.VFIO_GET_API_VERSION, or its number'));
  });

  it('reports EBADF on a closed fd', () => {
    const fd = OwnedFd.open('/dev/null');
    const n = fd.fd;
    fd.close();
    expect(() => ioctl(n, VFIO_GET_API_VERSION)).toThrow(expect.objectContaining({ code: 'EBADF', ioctl: 'VFIO_GET_API_VERSION' }));
  });

  it('FIONREAD on a pipe returns the queued byte count through an int pointer', () => {
    const [r, w] = pipe();
    try {
      const count = new Int32Array([-1]);
      expect(ioctl(r, FIONREAD, count)).toBe(0);
      expect(count[0]).toBe(0);
      expect(writeSync(w, Buffer.alloc(1234, 7))).toBe(1234);
      expect(ioctl(r, FIONREAD, count)).toBe(0);
      expect(count[0]).toBe(1234);

      // A DataView into the middle of a bigger buffer: the kernel writes at its offset only.
      const backing = new Uint8Array(12).fill(0xee);
      ioctl(r, FIONREAD, new DataView(backing.buffer, 4, 4));
      expect(new DataView(backing.buffer).getInt32(4, true)).toBe(1234);
      expect([...backing.subarray(0, 4), ...backing.subarray(8)]).toEqual(new Array(8).fill(0xee));

      // The same ioctl described as an 'out' struct: encoded, passed, decoded.
      const intCodec = structCodec<{ value: number }>('int', [['value', 0, 'u32']], 4);
      const asStruct: StructIoctl<{ value: number }> = {
        name: 'FIONREAD', request: 0x541b, fd: 'unknown', arg: { kind: 'struct', codec: intCodec, direction: 'out' },
      };
      const { result, value, bytes } = ioctl(r, asStruct);
      expect(result).toBe(0);
      expect(value.value).toBe(1234);
      expect(bytes.byteLength).toBe(4);
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  it('refuses arguments that do not match the descriptor, before the call', () => {
    const [r, w] = pipe();
    try {
      expect(() => ioctl(r, FIONREAD, 0x1000)).toThrow(TypeError);
      expect(() => ioctl(r, FIONREAD)).toThrow(TypeError);
      expect(() => ioctl(r, FIONREAD, new Uint8Array(2))).toThrow(RangeError);
      expect(() => ioctl(r, VFIO_GET_API_VERSION, 1)).toThrow(TypeError);
      expect(() => ioctl(r, VFIO_GET_API_VERSION, new Uint8Array(8))).toThrow(TypeError);
      expect(() => ioctl(r, { name: 'BAD', request: -1 })).toThrow(RangeError);
      const tooSmall = new Uint8Array(16);
      expect(() => ioctl(r, { name: 'REGION', request: 0x3b6c, fd: 'device', arg: { kind: 'struct', codec: regionInfo, direction: 'inout' } }, tooSmall))
        .toThrow(RangeError);
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  it('passes an integer by value as an unsigned long', () => {
    // TCFLSH (asm-generic/ioctls.h 0x540B) takes its queue selector by value: 2 = TCIOFLUSH is valid,
    // anything else is EINVAL. 2^32 + 2 must reach the kernel untruncated (and be refused).
    const TCFLSH = { name: 'TCFLSH', request: 0x540b, fd: 'unknown', arg: { kind: 'int' } } as const;
    using ptm = OwnedFd.open('/dev/ptmx', O_RDWR | O_NOCTTY);
    expect(ioctl(ptm.fd, TCFLSH, 2)).toBe(0);
    expect(ioctl(ptm.fd, TCFLSH, 2n)).toBe(0);
    expect(() => ioctl(ptm.fd, TCFLSH, 99)).toThrow(expect.objectContaining({ code: 'EINVAL', ioctl: 'TCFLSH' }));
    expect(() => ioctl(ptm.fd, TCFLSH, 2 ** 32 + 2)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => ioctl(ptm.fd, TCFLSH, 2n ** 64n + 2n)).toThrow(RangeError);
    expect(() => ioctl(ptm.fd, TCFLSH, 0.5)).toThrow(TypeError);
  });

  it('issues argument-less ioctls (FIONCLEX / FIOCLEX toggle close-on-exec)', () => {
    const FIONCLEX = { name: 'FIONCLEX', request: 0x5450, fd: 'unknown', arg: { kind: 'none' } } as const;
    const FIOCLEX = { name: 'FIOCLEX', request: 0x5451, fd: 'unknown', arg: { kind: 'none' } } as const;
    using fd = OwnedFd.open('/dev/null');
    const flags = () => parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd.fd}`, 'utf8'))![1], 8);
    expect(flags() & O_CLOEXEC).toBe(O_CLOEXEC); // OwnedFd.open always sets it
    expect(ioctl(fd.fd, FIONCLEX)).toBe(0);
    expect(flags() & O_CLOEXEC).toBe(0);
    expect(ioctl(fd.fd, FIOCLEX)).toBe(0);
    expect(flags() & O_CLOEXEC).toBe(O_CLOEXEC);
  });
});

describe('argsz protocol', () => {
  const REGION_INFO = { name: 'VFIO_DEVICE_GET_REGION_INFO', request: 0x3b6c };
  const FLAG_CAPS = 1 << 3;

  /** A fake kernel for VFIO_DEVICE_GET_REGION_INFO: 32-byte info + two capabilities (24 + 16 bytes). */
  function fakeKernel(log: { argsz: number; index: number }[]): RawIoctl {
    const capsSize = 40;
    return (_fd, request, buf) => {
      expect(request).toBe(REGION_INFO.request);
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const argsz = view.getUint32(0, true);
      const index = view.getUint32(8, true);
      log.push({ argsz, index });
      expect(argsz).toBe(buf.byteLength); // the runtime always describes its own buffer
      if (argsz < 32) return -22; // -EINVAL, like the kernel's minsz check
      view.setUint32(4, FLAG_CAPS | 0x3, true);
      view.setBigUint64(16, 0x1000n, true);
      view.setBigUint64(24, BigInt(index) << 40n, true);
      if (argsz < 32 + capsSize) {
        view.setUint32(0, 32 + capsSize, true);
        view.setUint32(12, 0, true);
        return 0;
      }
      // vfio_info_cap_shift(): offsets relative to the info buffer, 8-byte aligned.
      writeChain(buf, [[32, 1, 1, 56], [56, 2, 1, 0]]);
      view.setUint32(32 + 8, 0xaaaa, true);
      view.setUint32(56 + 8, 0x8086, true); // cap_type.type
      view.setUint32(56 + 12, 0x3, true); // cap_type.subtype
      view.setUint32(12, 32, true);
      return 0;
    };
  }

  it('grows the buffer to the argsz the kernel asks for, then walks the capabilities', () => {
    const log: { argsz: number; index: number }[] = [];
    const { value, bytes, rounds } = ioctlArgsz(7, REGION_INFO, regionInfo, { index: 5 }, { call: fakeKernel(log) });
    expect(log).toEqual([{ argsz: 32, index: 5 }, { argsz: 72, index: 5 }]);
    expect(rounds).toBe(2);
    expect(bytes.byteLength).toBe(72);
    expect(value).toMatchObject({ argsz: 72, index: 5, cap_offset: 32, size: 0x1000n, offset: 5n << 40n });
    expect(value.flags & FLAG_CAPS).toBeTruthy();

    const caps = walk(bytes, value.cap_offset, { minOffset: regionInfo.size, alignment: 8 });
    expect(caps.map((c) => [c.id, c.version, c.offset, c.bytes.byteLength])).toEqual([[1, 1, 32, 24], [2, 1, 56, 16]]);
    const typeCap = findCapability(bytes, value.cap_offset, 2)!;
    expect(decodeCapability(typeCap, capType)).toMatchObject({ id: 2, type: 0x8086, subtype: 3 });
  });

  it('does a single call when the fixed part is all there is', () => {
    let calls = 0;
    const call: RawIoctl = (_fd, _req, buf) => {
      calls++;
      new DataView(buf.buffer).setUint32(4, 0x7, true);
      return 0;
    };
    const { value, bytes, rounds } = ioctlArgsz(7, REGION_INFO, regionInfo, { index: 1 }, { call });
    expect([calls, rounds, bytes.byteLength, value.flags, value.cap_offset]).toEqual([1, 1, 32, 7, 0]);
  });

  it('is bounded in size and rounds', () => {
    const greedy = (size: number): RawIoctl => (_fd, _req, buf) => {
      new DataView(buf.buffer).setUint32(0, size === 0 ? buf.byteLength + 8 : size, true);
      return 0;
    };
    expect(() => ioctlArgsz(7, REGION_INFO, regionInfo, {}, { call: greedy(0xffff_fff0) })).toThrow(ArgszError);
    expect(() => ioctlArgsz(7, REGION_INFO, regionInfo, {}, { call: greedy(4096), maxSize: 1024 })).toThrow(/4096.*1024/);
    let calls = 0;
    const ever: RawIoctl = (fd, req, buf) => (calls++, greedy(0)(fd, req, buf));
    expect(() => ioctlArgsz(7, REGION_INFO, regionInfo, {}, { call: ever, maxRounds: 3 })).toThrow(ArgszError);
    expect(calls).toBe(3);
  });

  it('turns -errno into an IoctlError and rejects codecs without argsz', () => {
    expect(() => ioctlArgsz(7, REGION_INFO, regionInfo, {}, { call: () => -22 }))
      .toThrow(expect.objectContaining({ code: 'EINVAL', ioctl: 'VFIO_DEVICE_GET_REGION_INFO', fd: 7 }));
    const noArgsz = structCodec<{ flags: number }>('struct x', [['flags', 0, 'u32']], 4);
    expect(() => ioctlArgsz(7, REGION_INFO, noArgsz, {}, { call: () => 0 })).toThrow(TypeError);
  });

  it('uses the real ioctl by default', () => {
    using devNull = OwnedFd.open('/dev/null');
    expect(() => ioctlArgsz(devNull.fd, REGION_INFO, regionInfo, { index: 0 }))
      .toThrow(expect.objectContaining({ code: 'ENOTTY', message: expect.stringMatching(/^VFIO_DEVICE_GET_REGION_INFO \(0x3b6c\)/) }));
  });
});

describe('capability chains', () => {
  it('walks a well-formed chain with each capability bounded by the next', () => {
    const buf = new Uint8Array(96);
    writeChain(buf, [[32, 3, 1, 48], [48, 1, 2, 80], [80, 7, 1, 0]]);
    const caps = walk(buf, 32);
    expect(caps.map(({ id, version, offset, next }) => ({ id, version, offset, next }))).toEqual([
      { id: 3, version: 1, offset: 32, next: 48 },
      { id: 1, version: 2, offset: 48, next: 80 },
      { id: 7, version: 1, offset: 80, next: 0 },
    ]);
    expect(caps.map((c) => c.bytes.byteLength)).toEqual([16, 32, 16]);
    expect(caps[1].bytes.buffer).toBe(buf.buffer); // views, not copies
    expect(findCapability(buf, 32, 7)?.offset).toBe(80);
    expect(findCapability(buf, 32, 9)).toBeUndefined();
    expect(walk(buf, 0)).toEqual([]);
  });

  it('accepts a backward link that is not a cycle, bounding extents by the nearest later cap', () => {
    const buf = new Uint8Array(64);
    writeChain(buf, [[40, 2, 1, 16], [16, 1, 1, 0]]);
    expect(walk(buf, 40).map((c) => [c.id, c.offset, c.bytes.byteLength])).toEqual([[2, 40, 24], [1, 16, 24]]);
  });

  it('reads the headers in the requested byte order', () => {
    const buf = new Uint8Array(32);
    const view = new DataView(buf.buffer);
    view.setUint16(8, 0x0102, false);
    view.setUint16(10, 3, false);
    view.setUint32(12, 0, false);
    expect(walk(buf, 8, { endianness: 'BE' })).toMatchObject([{ id: 0x0102, version: 3, next: 0 }]);
  });

  it('works on a subarray (offsets relative to the view)', () => {
    const outer = new Uint8Array(128);
    const info = outer.subarray(40, 104);
    writeChain(info, [[16, 4, 1, 32], [32, 5, 1, 0]]);
    expect(walk(info, 16).map((c) => c.id)).toEqual([4, 5]);
  });

  it('rejects cycles instead of looping', () => {
    const self = new Uint8Array(64);
    writeChain(self, [[16, 1, 1, 16]]);
    expect(chainError(() => walk(self, 16))).toMatchObject({ problem: 'cycle', offset: 16 });

    const loop = new Uint8Array(64);
    writeChain(loop, [[16, 1, 1, 32], [32, 2, 1, 48], [48, 3, 1, 16]]);
    const error = chainError(() => walk(loop, 16));
    expect(error.problem).toBe('cycle');
    expect(error.message).toMatch(/capability 3 at 48: next points to 16, already visited/);
    // Validation comes first: a broken chain yields nothing, not a prefix.
    const seen: number[] = [];
    expect(() => { for (const cap of capabilities(loop, 16)) seen.push(cap.id); }).toThrow(CapabilityChainError);
    expect(seen).toEqual([]);
  });

  it('rejects offsets out of range, truncated headers and misaligned offsets', () => {
    const buf = new Uint8Array(64);
    writeChain(buf, [[16, 1, 1, 4096]]);
    expect(chainError(() => walk(buf, 16))).toMatchObject({ problem: 'out-of-range', offset: 4096 });
    expect(chainError(() => walk(buf, 64))).toMatchObject({ problem: 'out-of-range', offset: 64 });
    expect(chainError(() => walk(buf, 60))).toMatchObject({ problem: 'truncated', offset: 60 });
    expect(chainError(() => walk(buf, 18))).toMatchObject({ problem: 'misaligned', offset: 18 });
    expect(chainError(() => walk(buf, 8, { minOffset: 16 }))).toMatchObject({ problem: 'out-of-range', offset: 8 });

    const fourAligned = new Uint8Array(64);
    writeChain(fourAligned, [[20, 1, 1, 36], [36, 2, 1, 0]]);
    expect(walk(fourAligned, 20).map((c) => c.offset)).toEqual([20, 36]);
    expect(chainError(() => walk(fourAligned, 20, { alignment: 8 }))).toMatchObject({ problem: 'misaligned', offset: 20 });

    const shortCap: Capability = { id: 2, version: 1, offset: 48, next: 0, bytes: new Uint8Array(8) };
    expect(chainError(() => decodeCapability(shortCap, capType))).toMatchObject({ problem: 'truncated', offset: 48 });
  });

  it('terminates on arbitrary bytes', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    let walked = 0;
    for (let i = 0; i < 2000; i++) {
      const buf = new Uint8Array(8 + rand(120));
      for (let j = 0; j < buf.length; j++) buf[j] = rand(256);
      // Make links point inside the buffer often enough to build long or cyclic chains.
      const view = new DataView(buf.buffer);
      for (let off = 0; off + 8 <= buf.length; off += 4) if (rand(4) !== 0) view.setUint32(off + 4, rand(buf.length) & ~3, true);
      try {
        walked += walk(buf, 4 * rand(buf.length / 4)).length;
      } catch (error) {
        expect(error).toBeInstanceOf(CapabilityChainError);
      }
    }
    expect(walked).toBeGreaterThan(0);
  });
});

describe('EventFd', () => {
  it('round-trips the counter', () => {
    using efd = EventFd.create();
    efd.write(5);
    efd.write(2n);
    expect(efd.read()).toBe(7n);
    efd.write(0xffff_ffff_fffen);
    expect(efd.read()).toBe(0xffff_ffff_fffen);
    expect(() => efd.write(-1)).toThrow(RangeError);
    expect(() => efd.write(2n ** 64n - 1n)).toThrow(RangeError);
    expect(readdirSync('/proc/self/fd')).toContain(String(efd.fd));
  });

  it('starts from an initial value and honours semaphore mode', () => {
    using sem = EventFd.create({ initial: 3, semaphore: true, nonBlocking: true });
    expect([sem.read(), sem.read(), sem.read()]).toEqual([1n, 1n, 1n]);
    expect(sem.tryRead()).toBeUndefined();
  });

  it('does not block when non-blocking or when waiting with a timeout', () => {
    using nb = EventFd.create({ nonBlocking: true });
    expect(() => nb.read()).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'read' }));
    expect(nb.tryRead()).toBeUndefined();

    using blocking = EventFd.create();
    const start = Date.now();
    expect(blocking.wait(30)).toBe(false);
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
    expect(blocking.tryRead()).toBeUndefined();
    blocking.write(9);
    expect(blocking.wait(0)).toBe(true);
    expect(blocking.tryRead()).toBe(9n);
  });

  it('waits asynchronously without blocking the event loop', async () => {
    using efd = EventFd.create();
    expect(await efd.waitAsync(20)).toBe(false);
    setTimeout(() => efd.write(1), 20);
    const start = Date.now();
    expect(await efd.waitAsync(5000)).toBe(true);
    expect(Date.now() - start).toBeLessThan(4000);
    expect(efd.read()).toBe(1n);
    await expect(efd.waitAsync(-1)).rejects.toThrow(RangeError);
  });
});

describe('AnonymousMemory', () => {
  it('is page aligned, zeroed, readable back through libc, and freed', () => {
    const page = pageSize();
    const mem = AnonymousMemory.allocate(page * 2 + 100);
    expect(mem.size).toBe(page * 3);
    expect(mem.address % BigInt(page)).toBe(0n);
    expect(mem.address).not.toBe(0n);
    // Mapped (the kernel may merge it with an adjacent anonymous mapping, so look for a VMA that covers it).
    const covered = readFileSync('/proc/self/maps', 'utf8').split('\n').some((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
      return m !== null && BigInt(`0x${m[1]}`) <= mem.address && mem.address + BigInt(mem.size) <= BigInt(`0x${m[2]}`);
    });
    expect(covered).toBe(true);

    const bytes = mem.bytes;
    expect(bytes.byteLength).toBe(mem.size);
    expect(bytes.every((b) => b === 0)).toBe(true);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;

    // The kernel reads the mapping itself: pwrite straight from its address to a file.
    const file = join(tmp, 'mem.bin');
    using out = OwnedFd.open(file, O_RDWR | O_CREAT | O_TRUNC, 0o600);
    expect(libc().pwrite(out.fd, mem.pointer, mem.size, 0)).toBe(mem.size);
    expect(new Uint8Array(readFileSync(file))).toEqual(bytes);

    // And writes into it: pread from the file into the mapping at an offset.
    new Uint8Array(mem.buffer).fill(0);
    const tail = new Uint8Array(mem.buffer, page, page);
    expect(libc().pread(out.fd, tail, page, 0)).toBe(page);
    expect(tail.every((b, i) => b === ((i * 31 + 7) & 0xff))).toBe(true);

    mem.free();
    expect(mem.freed).toBe(true);
    expect(() => mem.buffer).toThrow(/freed/);
    expect(() => mem.pointer).toThrow(/freed/);
    // Views kept past free() do not crash the process (issue 13): the pages were replaced by fresh zero pages.
    expect(bytes.every((b) => b === 0)).toBe(true);
    expect(tail.every((b) => b === 0)).toBe(true);
    bytes[0] = 1; // writable too, and harmless
    mem.free(); // idempotent
  });

  it('returns the address range to the system once no view of it is left', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let range = '';
    (() => {
      const mem = AnonymousMemory.allocate(pageSize());
      range = `${mem.address.toString(16)}-${(mem.address + BigInt(mem.size)).toString(16)}`;
      mem.bytes[0] = 1;
      mem.free();
    })();
    for (let i = 0; i < 20 && readFileSync('/proc/self/maps', 'utf8').includes(range); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(readFileSync('/proc/self/maps', 'utf8')).not.toContain(range);
  });

  it('maps at least one page, supports populate and dispose', () => {
    let address: bigint;
    {
      using mem = AnonymousMemory.allocate(0, { populate: true });
      expect(mem.size).toBe(pageSize());
      address = mem.address;
    }
    expect(address).not.toBe(0n);
    expect(() => AnonymousMemory.allocate(-1)).toThrow(RangeError);
    expect(() => AnonymousMemory.allocate(2 ** 50)).toThrow(expect.objectContaining({ syscall: 'mmap', code: 'ENOMEM' }));
  });
});

describe('fd hygiene', () => {
  it('OwnedFd closes once and reports open errors', () => {
    const fd = OwnedFd.open('/dev/null');
    const n = fd.fd;
    expect(readdirSync('/proc/self/fd')).toContain(String(n));
    fd.close();
    fd.close();
    expect(fd.closed).toBe(true);
    expect(() => fd.fd).toThrow(/closed/);

    let error: unknown;
    try {
      OwnedFd.open('/dev/vfio/does-not-exist');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SyscallError);
    expect(isNoDevice(error)).toBe(true);
    expect((error as SyscallError).message).toBe('open /dev/vfio/does-not-exist: ENOENT (No such file or directory)');

    const released = OwnedFd.open('/dev/null');
    const raw = released.release();
    released.close(); // no longer ours: must not close it
    expect(readdirSync('/proc/self/fd')).toContain(String(raw));
    closeSync(raw);
  });

  it('10,000 open/close cycles of OwnedFd and EventFd leave /proc/self/fd unchanged', () => {
    const before = openFds();
    for (let i = 0; i < 10_000; i++) OwnedFd.open('/dev/null').close();
    for (let i = 0; i < 10_000; i++) {
      using efd = EventFd.create();
      efd.write(1);
    }
    for (let i = 0; i < 1_000; i++) expect(() => OwnedFd.open(join(tmp, 'missing'))).toThrow(SyscallError);
    for (let i = 0; i < 1_000; i++) AnonymousMemory.allocate(1).free();
    expect(openFds()).toEqual(before);
  });
});
