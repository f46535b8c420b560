/** The bounds check of `viewOf`, without creating a view (for the hand-edited codec variants). */
function tooShort(cName: string, size: number, offset: number, have: number): never {
  throw new RangeError(`${cName}: need ${size} bytes at offset ${offset}, buffer has ${have}`);
}

/** `size` bytes at `offset` of `bytes` exist (RangeError otherwise), like `viewOf`. */
export function fits(bytes: Uint8Array, offset: number, size: number, cName: string): void {
  if (!(offset >= 0) || offset + size > bytes.byteLength || !Number.isInteger(offset)) tooShort(cName, size, offset, bytes.byteLength);
}

/** `size` bytes at `offset` of `view` exist (RangeError otherwise). */
export function fitsView(view: DataView, offset: number, size: number, cName: string): void {
  if (!(offset >= 0) || offset + size > view.byteLength || !Number.isInteger(offset)) tooShort(cName, size, offset, view.byteLength);
}
