/**
 * Hostile input to the runtime (issue 13): capability chains as long as argsz
 * allows, arguments that must be refused before any system call, and array-likes
 * whose length lies.
 */
import { describe, expect, it } from 'vitest';
import { capabilities, findCapability, CAP_HEADER_SIZE } from '../runtime/driver/capabilities.js';
import { ioctl, ioctlBuffer } from '../runtime/driver/ioctl.js';
import { OwnedFd } from '../runtime/driver/fd.js';
import { checkCount, checkFd, checkLength, checkPath } from '../runtime/driver/validate.js';
import { vfio } from 'vfio-uapi';

/** A legal chain filling `size` bytes: a header every 8 bytes, each pointing to the next. */
function chain(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  for (let off = 8; off + CAP_HEADER_SIZE <= size; off += 8) {
    v.setUint16(off, off === size - 8 ? 0xbeef : 1, true);
    v.setUint16(off + 2, 1, true);
    v.setUint32(off + 4, off + 16 <= size ? off + 8 : 0, true);
  }
  return bytes;
}

const timed = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

describe('capability walker on a 1 MiB chain (the argsz limit)', () => {
  it('walks and finds in linear time', () => {
    const big = chain(1 << 20);
    const small = chain(1 << 18);
    let n = 0;
    const walkBig = timed(() => { for (const _ of capabilities(big, 8, { endianness: 'LE' })) n++; });
    const findBig = timed(() => expect(findCapability(big, 8, 0xbeef, { endianness: 'LE' })?.offset).toBe((1 << 20) - 8));
    const findSmall = timed(() => expect(findCapability(small, 8, 0xbeef, { endianness: 'LE' })?.offset).toBe((1 << 18) - 8));
    expect(n).toBe((1 << 17) - 1);
    console.log(`walker: 1 MiB chain (${n} capabilities) walked in ${walkBig.toFixed(0)} ms, findCapability ${findBig.toFixed(0)} ms; 256 KiB ${findSmall.toFixed(0)} ms (ratio ${(findBig / findSmall).toFixed(1)}, linear 4, quadratic 16)`);
    // Generous bounds for a loaded machine: the quadratic walker took 218 s here.
    expect(findBig).toBeLessThan(5_000);
  });

  it('validates its options and arguments before walking', () => {
    const b = chain(64);
    const walk = (o: object, off: unknown = 8) => () => [...capabilities(b, off as number, o)];
    expect(walk({ alignment: 3 })).toThrow(/options\.alignment must be a power of two/);
    expect(walk({ alignment: -8 })).toThrow(RangeError);
    expect(walk({ alignment: Number.NaN })).toThrow(/options\.alignment/);
    expect(walk({ minOffset: -1 })).toThrow(/options\.minOffset/);
    expect(walk({ minOffset: 2.5 })).toThrow(/options\.minOffset/);
    expect(walk({ endianness: 'middle' })).toThrow(/options\.endianness/);
    expect(walk({}, '8')).toThrow(TypeError);
  });
});

describe('arguments refused before any system call', () => {
  it('fds must be non-negative integers: ioctl(1.5, ...) is not issued on fd 1', () => {
    for (const fd of [1.5, -1, Number.NaN, Infinity, 2 ** 40]) {
      expect(() => ioctl(fd, vfio.ioctls.VFIO_GET_API_VERSION)).toThrow(/fd must be a non-negative integer/);
      expect(() => ioctlBuffer(fd, vfio.ioctls.VFIO_GET_API_VERSION, new Uint8Array(8))).toThrow(RangeError);
    }
    expect(() => ioctl('3' as unknown as number, vfio.ioctls.VFIO_GET_API_VERSION)).toThrow(TypeError);
  });

  it('paths must not contain NUL (open would use the prefix)', () => {
    expect(() => OwnedFd.open('/dev/null\0/etc/passwd')).toThrow(/path must not contain a NUL byte/);
    expect(() => OwnedFd.open('')).toThrow(RangeError);
    expect(() => OwnedFd.open(42 as unknown as string)).toThrow(TypeError);
  });

  it('the shared checks name the argument', () => {
    expect(() => checkFd(-3, 'groupFd')).toThrow(/groupFd/);
    expect(() => checkPath('a\0b', 'devicePath')).toThrow(/devicePath/);
    expect(() => checkCount(-1, 'count')).toThrow(/count must be a non-negative safe integer/);
    expect(() => checkCount(2.5, 'count')).toThrow(RangeError);
    expect(() => checkLength({ length: -12 }, 'data')).toThrow(/data\.length/);
    expect(() => checkLength([1, 2], 'data', 3)).toThrow(/data must have 3 elements/);
  });
});

describe('encoders and decoders with lying array-likes and counts', () => {
  const irq = vfio.vfio_irq_set;
  it('a flexible array with a negative or NaN length is refused', () => {
    for (const length of [-12, Number.NaN, 2.5, Infinity]) {
      expect(() => irq.encode({ argsz: 20, flags: 0, index: 0, start: 0, count: 0, data: { length } as unknown as number[] })).toThrow(RangeError);
    }
  });

  it('a length getter that grows after the check cannot make encodeInto write past the checked record', () => {
    let reads = 0;
    const data = { get length() { return reads++ === 0 ? 1 : 1000; }, 0: 7, 1: 8 } as unknown as number[];
    const buf = new Uint8Array(64).fill(0xee);
    irq.encodeInto(new DataView(buf.buffer), 0, { argsz: 21, flags: 0, index: 0, start: 0, count: 1, data });
    expect(buf[20]).toBe(7);
    expect(buf.subarray(21).every((b) => b === 0xee)).toBe(true);
    reads = 0;
    const bytes = irq.encode({ argsz: 21, flags: 0, index: 0, start: 0, count: 1, data: { get length() { return reads++ === 0 ? 1 : 500; }, 0: 9 } as unknown as number[] });
    expect(bytes.byteLength).toBe(irq.argszFor(1));
    expect(bytes[20]).toBe(9);
  });

  it('a typed array over a resizable buffer, grown by a getter after the check, cannot make encode or encodeInto write past the checked record', () => {
    const rab = new ArrayBuffer(1, { maxByteLength: 4096 });
    const data = new Uint8Array(rab); // length-tracking: its length follows the buffer's
    data[0] = 7;
    const growing = { get argsz() { rab.resize(1000); return 21; }, flags: 0, index: 0, start: 0, count: 1, data };
    const buf = new Uint8Array(64).fill(0xee);
    expect(() => irq.encodeInto(new DataView(buf.buffer), 0, growing)).toThrow(/1000 elements given, it holds 1/);
    expect(buf.subarray(21).every((b) => b === 0xee)).toBe(true);
    rab.resize(1);
    expect(() => irq.encode(growing)).toThrow(RangeError);
    // Shrunk instead: what is left is written, nothing more.
    rab.resize(4);
    data.set([1, 2, 3, 4]);
    const shrinking = { get argsz() { rab.resize(2); return 24; }, flags: 0, index: 0, start: 0, count: 4, data };
    const bytes = irq.encode(shrinking);
    expect(bytes.byteLength).toBe(irq.argszFor(4));
    expect([...bytes.subarray(20)]).toEqual([1, 2, 0, 0]);
  });

  it('decodeFlex takes only non-negative integer counts', () => {
    const bytes = new Uint8Array(64);
    for (const count of [-1, Number.NaN, 2.5]) expect(() => irq.decodeFlex(bytes, 0, count)).toThrow(RangeError);
    expect(irq.decodeFlex(bytes, 0, 4)).toHaveLength(4);
  });
});
