/** Which ABI the running process has, for generated bindings. */
import { endianness } from 'node:os';

/**
 * Picks the ABI of the running process from a table keyed `<process.arch>/<LE|BE>`
 * (written by the generator from its ABI table). Throws a clear error when the
 * process runs on an ABI the bindings do not cover; per-ABI modules stay importable.
 */
export function selectAbi<A extends string>(table: Readonly<Record<string, A>>, header: string, arch: string = process.arch, order: 'LE' | 'BE' = endianness()): A {
  const abi = table[`${arch}/${order}`];
  if (abi === undefined) {
    throw new Error(`vfio-uapi: no bindings of ${header} for this process (process.arch ${arch}, ${order}); supported: ${Object.keys(table).join(', ')}. Import a specific ABI from byAbi instead.`);
  }
  return abi;
}
