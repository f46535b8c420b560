/**
 * The diff stage: the ABI changes between two versions of a header, per ABI,
 * classified compatible or breaking, and their renderings.
 */
export { diffHeaders, diffHeaderFiles, countBySeverity, type DiffOptions, type DiffFilesOptions } from './diff.js';
export { diffJson, formatDiffJson, diffText, diffMarkdown, type DiffJson, type MarkdownOptions } from './render.js';
export type { Change, ChangeKind, ChangeWhat, HeaderDiff, Severity } from './model.js';
export { nameDistance } from './names.js';
