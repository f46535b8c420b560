/**
 * C tokenizer for UAPI headers: splits a file into logical lines of tokens
 * (backslash continuations joined, comments removed but kept aside, for doc text).
 */
import { HeaderError, type SourceLoc } from '../errors.js';

/** Token kinds the preprocessor and the expression parser distinguish. */
export type TokenKind = 'ident' | 'number' | 'char' | 'string' | 'punct' | 'other';

/** One token, with where it was written and, after macro expansion, what may not expand again. */
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Where the token (or the macro invocation that produced it) stands. */
  readonly loc: SourceLoc;
  /** Whitespace precedes the token (kept for readable output and stringizing). */
  readonly space: boolean;
  /** Macro names that must not expand this token again (C's "painted blue"). */
  readonly hide?: ReadonlySet<string>;
}

/** A comment, with the line span it covers. */
export interface Comment {
  readonly text: string;
  readonly loc: SourceLoc;
  readonly endLine: number;
}

/** A comment's text without its decoration (`/**`, `*\/`, leading ` * `), line by line. */
export function commentText(c: Comment): string {
  return c.text.replace(/^\/\*+|\*+\/$/g, '').split('\n').map((l) => l.replace(/^\s*\*?\s?/, '')).join('\n');
}

/** A logical source line: a directive when its first token is `#`. */
export interface LogicalLine {
  readonly tokens: Token[];
  readonly line: number;
}

/** The result of lexing one file. */
export interface LexedFile {
  readonly lines: LogicalLine[];
  readonly comments: Comment[];
}

// Longest first, so that `<<=` wins over `<<` and `<`.
const PUNCTUATORS = [
  '%:%:', '...', '<<=', '>>=', '->', '++', '--', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '*=', '/=', '%=',
  '+=', '-=', '&=', '^=', '|=', '##', '<:', ':>', '<%', '%>', '%:',
  '[', ']', '(', ')', '{', '}', '.', '&', '*', '+', '-', '~', '!', '/', '%', '<', '>', '^', '|', '?', ':', ';', '=', ',', '#',
];

const isIdentStart = (c: string) => /[A-Za-z_$]/.test(c);
const isIdentPart = (c: string) => /[A-Za-z0-9_$]/.test(c);

/** Tokenizes `text` (the contents of `file`). Throws HeaderError on an unterminated comment or literal. */
export function lex(file: string, text: string): LexedFile {
  const lines: LogicalLine[] = [];
  const comments: Comment[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  let current: Token[] = [];
  let currentLine = 1;
  let space = false;

  const at = (): SourceLoc => ({ file, line, col });
  const advance = (n: number) => {
    for (let k = 0; k < n; k++) {
      if (text[i] === '\n') { line++; col = 1; } else { col++; }
      i++;
    }
  };
  const endLine = () => {
    if (current.length > 0) lines.push({ tokens: current, line: currentLine });
    current = [];
    space = false;
  };

  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      advance(text[i + 1] === '\r' ? 3 : 2);
      space = true;
      continue;
    }
    if (c === '\n') { advance(1); endLine(); currentLine = line; continue; }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { advance(1); space = true; continue; }
    if (current.length === 0) currentLine = line;
    const start = at();
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) throw new HeaderError(start, 'unterminated /* comment');
      const body = text.slice(i, close + 2);
      advance(close + 2 - i);
      comments.push({ text: body, loc: start, endLine: line });
      space = true;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      let end = i;
      while (end < text.length && text[end] !== '\n') end++;
      comments.push({ text: text.slice(i, end), loc: start, endLine: line });
      advance(end - i);
      space = true;
      continue;
    }
    let kind: TokenKind;
    let len: number;
    if (isIdentStart(c)) {
      len = 1;
      while (i + len < text.length && isIdentPart(text[i + len]!)) len++;
      kind = 'ident';
      // Encoding prefixes of character and string literals: L'x', u8"x".
      const word = text.slice(i, i + len);
      if (/^(L|u|U|u8)$/.test(word) && (text[i + len] === "'" || text[i + len] === '"')) {
        len += quotedLength(text, i + len, start);
        kind = text[i + word.length] === "'" ? 'char' : 'string';
      }
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      // A preprocessing number: digits, letters, dots, and exponent signs.
      len = 1;
      while (i + len < text.length) {
        const d = text[i + len]!;
        if (/[eEpP]/.test(d) && /[+-]/.test(text[i + len + 1] ?? '')) { len += 2; continue; }
        if (/[A-Za-z0-9_.]/.test(d)) { len++; continue; }
        break;
      }
      kind = 'number';
    } else if (c === "'" || c === '"') {
      len = quotedLength(text, i, start);
      kind = c === "'" ? 'char' : 'string';
    } else {
      const p = PUNCTUATORS.find((q) => text.startsWith(q, i));
      len = p ? p.length : 1;
      kind = p ? 'punct' : 'other';
    }
    current.push({ kind, text: text.slice(i, i + len), loc: start, space });
    space = false;
    advance(len);
  }
  endLine();
  return { lines, comments };
}

function quotedLength(text: string, start: number, loc: SourceLoc): number {
  const quote = text[start];
  let j = start + 1;
  while (j < text.length && text[j] !== quote) {
    if (text[j] === '\n') break;
    j += text[j] === '\\' ? 2 : 1;
  }
  if (text[j] !== quote) throw new HeaderError(loc, `unterminated ${quote === '"' ? 'string' : 'character'} literal`);
  return j + 1 - start;
}
