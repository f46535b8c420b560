/**
 * Guest side: the argsz protocol of the `*_GET_INFO` ioctls, checked against
 * the kernel's header: an argsz one byte below the kernel's `minsz` must give
 * EINVAL; an argsz of `sizeof` must work; when capabilities do not fit, the
 * size the kernel asks for and the offset of the first capability must both
 * follow from `sizeof` as the bindings lay the struct out.
 */
import { capabilities, type Capability, type OwnedFd } from 'vfio-uapi/runtime';
import type { Context } from './context.js';
import type { Decoded } from './kabi.js';

/** What {@link infoWithCaps} returns. */
export interface InfoReply {
  value: Decoded;
  /** The final buffer: the struct, then the capability chain. */
  bytes: Uint8Array;
  /** The chain, validated (empty when there is none). */
  caps: Capability[];
}

/**
 * Issues `ioctlName` (an info ioctl taking `record`) with `input`, following
 * the argsz protocol, and records under `subject` whether the kernel's
 * replies agree with the kernel header's `sizeof(record)`.
 */
export function infoWithCaps(ctx: Context, fd: OwnedFd, ioctlName: string, record: string, input: Decoded, subject: string, label: string): InfoReply {
  const { k, v } = ctx;
  const size = k.sizeof(record);
  const first = k.encode(record, input);
  ctx.call(fd, ioctlName, first);
  const reply = k.decode(record, first);
  const wanted = Number(reply.argsz);
  if (!(wanted > size)) {
    if ('cap_offset' in reply && reply.cap_offset !== 0) {
      v.fail(subject, `${label}: cap_offset ${reply.cap_offset} with argsz ${size} and no larger argsz asked for`);
    }
    return { value: reply, bytes: first, caps: [] };
  }
  v.expect(subject, reply.cap_offset === 0, `${label}: capabilities do not fit in argsz ${size}: kernel asks for ${wanted}, cap_offset 0`, `cap_offset is ${reply.cap_offset}`);
  const bytes = new Uint8Array(wanted);
  bytes.set(k.encode(record, { ...input, argsz: wanted }));
  ctx.call(fd, ioctlName, bytes);
  const full = k.decode(record, bytes);
  v.expect(subject, full.cap_offset === size,
    `${label}: first capability at the kernel's sizeof = this header's sizeof(struct ${record}) = ${size}`,
    `kernel put it at ${full.cap_offset}: the kernel's struct is ${full.cap_offset} bytes`);
  let caps: Capability[] = [];
  try {
    caps = [...capabilities(bytes, full.cap_offset, { minOffset: Math.min(size, full.cap_offset) })];
    const ids = caps.map((c) => `${k.capability(record, c.id)?.id ?? `id ${c.id}`}@${c.offset}`);
    v.pass(subject, `${label}: capability chain of ${wanted - size} bytes: ${ids.join(', ')}`);
  } catch (e) {
    v.fail(subject, `${label}: capability chain: ${(e as Error).message}`);
  }
  return { value: full, bytes, caps };
}

/**
 * Checks that `argsz` one byte below `offsetofend(record, minszField)` (the
 * kernel's `minsz`) gives EINVAL, and that exactly `minsz` does not.
 */
export function checkMinsz(ctx: Context, fd: OwnedFd, ioctlName: string, record: string, minszField: string, input: Decoded, subject: string, label: string): void {
  const { k, v } = ctx;
  const minsz = k.offsetofend(record, minszField);
  const short = new Uint8Array(Math.max(k.sizeof(record), minsz));
  short.set(k.encode(record, { ...input, argsz: minsz - 1 }).subarray(0, short.byteLength));
  v.expectErrno(subject, `${label}: argsz ${minsz - 1} (minsz ${minsz} - 1)`, 'EINVAL', () => ctx.call(fd, ioctlName, short));
}
