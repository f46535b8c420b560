/** Binding ABI-independent ioctl specs to one ABI's numbers and codecs. */
import type { Codec, FdKind, IoctlArgument, IoctlDescriptor } from './codec.js';

/** An ioctl as the header documents it, names only (generated). */
export interface IoctlSpec {
  readonly name: string;
  readonly fd: FdKind;
  readonly arg:
    | { readonly kind: 'none' }
    | { readonly kind: 'struct'; readonly record: string; readonly direction: 'in' | 'out' | 'inout' }
    | { readonly kind: 'scalar'; readonly cType: string; readonly direction: 'in' | 'out' | 'inout' | 'value' }
    | { readonly kind: 'string' }
    | { readonly kind: 'unknown'; readonly reason: string };
}

/** Descriptors bound so far, by request number: what a plain number passed to `ioctl()` is looked up in. */
const byRequest = new Map<number, IoctlDescriptor>();

/** The descriptor of request number `request` among the bindings imported so far (the first bound wins). */
export function ioctlByRequest(request: number): IoctlDescriptor | undefined {
  return byRequest.get(request);
}

/** Descriptors for `specs`, taking request numbers and codecs from `abi` (a generated ABI module). */
export function bindIoctls(specs: readonly IoctlSpec[], abi: object): Readonly<Record<string, IoctlDescriptor>> {
  const values = abi as Readonly<Record<string, unknown>>;
  const out: Record<string, IoctlDescriptor> = {};
  for (const spec of specs) {
    const request = values[spec.name];
    if (typeof request !== 'number') throw new Error(`ioctl ${spec.name} has no number in this ABI module`);
    let arg: IoctlArgument;
    if (spec.arg.kind === 'struct') {
      const codec = values[spec.arg.record] as Codec<unknown> | undefined;
      arg = codec ? { kind: 'struct', codec, direction: spec.arg.direction } : { kind: 'unknown', reason: `no codec for struct ${spec.arg.record}` };
    } else arg = spec.arg;
    const d = { name: spec.name, request, fd: spec.fd, arg };
    out[spec.name] = d;
    if (!byRequest.has(request)) byRequest.set(request, d);
  }
  return out;
}
