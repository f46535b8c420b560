/** A place in a header: file path, 1-based line and column. */
export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Formats a location the way compilers do: `file:line:col`. */
export function formatLoc(loc: SourceLoc): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/**
 * An error in a header (syntax, unknown type, unsupported construct), located at
 * `file:line:col`. The CLI prints the message and exits 1.
 */
export class HeaderError extends Error {
  constructor(readonly loc: SourceLoc, readonly detail: string) {
    super(`${formatLoc(loc)}: error: ${detail}`);
    this.name = 'HeaderError';
  }
}
