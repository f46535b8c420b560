/**
 * A validator for the subset of JSON Schema (2020-12) that schemas/ uses: type,
 * const, enum, properties, required, additionalProperties, propertyNames,
 * items, minItems, minimum, minLength, pattern, oneOf. It reports every
 * violation with its JSON path; an unknown keyword is an error, so a schema
 * cannot silently use more than this checks.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', 'title', 'description', 'type', 'const', 'enum', 'properties', 'required', 'additionalProperties',
  'propertyNames', 'items', 'minItems', 'minimum', 'minLength', 'pattern', 'oneOf',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every violation of `schema` by `value`, as `path: what`; empty when it validates. */
export function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const out: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) out.push(`${path}: schema keyword '${k}' is not supported by this validator`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type as string[] : [schema.type as string];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return [...out, `${path}: expected ${types.join('|')}, got ${t}`];
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) out.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  if (schema.enum && !(schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) out.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) out.push(`${path}: ${value} < ${schema.minimum}`);
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) out.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) out.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => out.push(...validate(schema.items as Schema, v, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) out.push(`${path}: missing '${r}'`);
    for (const [k, v] of Object.entries(obj)) {
      if (schema.propertyNames) out.push(...validate(schema.propertyNames as Schema, k, `${path}{${k}}`));
      if (k in props) out.push(...validate(props[k]!, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${path}: unexpected '${k}'`);
      else if (typeof schema.additionalProperties === 'object') out.push(...validate(schema.additionalProperties as Schema, v, `${path}.${k}`));
    }
  }
  if (schema.oneOf) {
    const ok = (schema.oneOf as Schema[]).filter((s) => validate(s, value, path).length === 0).length;
    if (ok !== 1) out.push(`${path}: matches ${ok} of the oneOf alternatives, not exactly 1`);
  }
  return out;
}
