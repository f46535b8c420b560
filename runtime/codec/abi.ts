/**
 * Which ABI the running process has, for generated bindings. No Node.js
 * built-in is imported (bundlers for other platforms can take the bindings):
 * the byte order is read from a typed array, the architecture from
 * `process.arch` where there is a `process`.
 */

/** `LE` or `BE`: the byte order of this machine. */
export function byteOrder(): 'LE' | 'BE' {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'LE' : 'BE';
}

/**
 * Picks the ABI of the running process from a table keyed `<process.arch>/<LE|BE>`
 * (written by the generator from its ABI table). Throws a clear error when the
 * process runs on an ABI the bindings do not cover; per-ABI modules stay importable.
 */
export function selectAbi<A extends string>(
  table: Readonly<Record<string, A>>, header: string,
  arch: string | undefined = (globalThis as { process?: { arch?: string } }).process?.arch, order: 'LE' | 'BE' = byteOrder(),
): A {
  const abi = arch === undefined ? undefined : table[`${arch}/${order}`];
  if (abi === undefined) {
    const where = arch === undefined ? `no process.arch on this platform, ${order}` : `process.arch ${arch}, ${order}`;
    throw new Error(`vfio-uapi: no bindings of ${header} for this process (${where}); supported: ${Object.keys(table).join(', ')}. Import one ABI's module instead (vfio-uapi/vfio/abi/<abi>.js, or byAbi).`);
  }
  return abi;
}
