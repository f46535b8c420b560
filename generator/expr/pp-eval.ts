/**
 * `#if` evaluation: C evaluates preprocessor conditions in intmax_t/uintmax_t,
 * with identifiers that are not macros as 0 and no types at all.
 */
import { HeaderError } from '../errors.js';
import type { Expr } from './ast.js';
import { evaluate, intTypes } from './evaluate.js';

const T = intTypes(64);

/** The value of a `#if` condition, after macro expansion and `defined`. */
export function evaluatePreprocessorCondition(e: Expr): bigint {
  return evaluate(e, {
    longBits: 64,
    charSigned: true,
    ident: () => ({ value: 0n, type: T.long }),
    sizeOf: (_t, loc) => { throw new HeaderError(loc, "'sizeof' in a preprocessor condition"); },
    alignOf: (_t, loc) => { throw new HeaderError(loc, "'_Alignof' in a preprocessor condition"); },
    intTypeOf: (_t, loc) => { throw new HeaderError(loc, 'a cast in a preprocessor condition'); },
    offsetOf: (_t, _d, loc) => { throw new HeaderError(loc, "'__builtin_offsetof' in a preprocessor condition"); },
  }).value;
}
