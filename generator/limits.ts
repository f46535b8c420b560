/**
 * The generator's own limits, in one place. Each bounds the work or the
 * recursion depth that a header can cause, so that any input ends quickly with
 * an answer or a located error (never a JavaScript stack overflow, a hang or an
 * unbounded allocation). Where a limit is ours and not C's, the error says so
 * ({@link ourLimit}); where it matches clang's (bracket depth, include depth),
 * clang rejects the same header.
 */

/** Largest file the preprocessor reads (a header, or a file it includes). */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** `#include` nesting, as clang's default (`-fmax-include-depth` is 200). */
export const MAX_INCLUDE_DEPTH = 200;

/** Nesting of parentheses, brackets and braces in a declaration or expression: clang's `-fbracket-depth` default. */
export const MAX_BRACKET_DEPTH = 256;

/** Depth of an expression tree (operators nested in operands, `?:` chains, operator chains). */
export const MAX_EXPR_DEPTH = 2000;

/** Depth of a declared type: array dimensions, pointers, nested records. */
export const MAX_TYPE_DEPTH = 256;

/** Tokens one macro expansion may produce. */
export const MAX_EXPANSION_TOKENS = 262_144;

/** Nesting of macro invocations inside macro arguments. */
export const MAX_MACRO_NESTING = 200;

/** Member access paths listed per record in `layout --json` (nested named members of nested records). */
export const MAX_MEMBER_PATHS = 100_000;

/**
 * Code of the codecs of one header (each distinct codec counted once). A record nested in a record inlines
 * its members, so a chain of n records each holding the previous prints O(n^3) bytes; real headers stay
 * under 1 MB.
 */
export const MAX_CODEC_BYTES = 32 * 1024 * 1024;

/** The wording of an error caused by one of our limits rather than by the C language. */
export function ourLimit(what: string, limit: number | string): string {
  return `${what} exceeds a limit of vfio-uapi (${limit}); the header may be valid C, but vfio-uapi cannot process it`;
}
