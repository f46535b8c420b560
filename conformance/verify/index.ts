/** `vfio-uapi verify`: the emitted bindings against clang, on every ABI. */
export { verifyBindings, type VerifyOptions, type VerifyResult, type AbiReport, type UnitReport, type BindingsReport } from './verify.js';
export { formatText, formatMarkdown, formatJson } from './report.js';
export { type Mismatch, type MismatchKind, type Claims, type AbiChecks, type CRoundTrip, abiChecks, readClaims, cRoundTrips } from './checks.js';
export { loadBindings, findHeader, parseProvenance, defaultBindingsDirs, expandBindingsDir, corpusDirs, packageRoot, VerifyInputError, type LoadedBindings, type Provenance } from './load.js';
export { compileUnit, siblingIncludeDir, type Probe, type CObject, type Designator, type HeaderUnit, type UnitResult } from './ctu.js';
export { planRecord, expectedValues, checkRoundTrip, isCodec, valueAt, sameValue, byteDiff, show, type Leaf, type RecordPlan, type RoundTripFailure } from './roundtrip.js';
