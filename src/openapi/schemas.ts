/**
 * Component schemas of the OpenAPI document: per resource the row as read (`Orders`, with the
 * relations `include` may embed) and the bodies of each kind of write (`OrdersInsert`, `…Update`,
 * `…Replace`), all from `schema/json-schema.ts` with an example per property; and the shared
 * `Problem` and `Pagination` shapes of SPEC §3 and §4.
 */
import type { JsonSchema, RowMode } from '../schema/json-schema.ts';
import { rowSchema } from '../schema/json-schema.ts';
import type { Resource } from '../schema/model.ts';
import { PROBLEMS } from '../errors/registry.ts';
import { exampleValue } from './examples.ts';
import { ref } from './names.ts';

/** Adds an example to every column property of a row schema. */
function withExamples(resource: Resource, schema: JsonSchema): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema>;
  const out: Record<string, JsonSchema> = {};
  for (const [name, property] of Object.entries(properties)) {
    const column = resource.columnsByName.get(name)!;
    out[name] = { ...property, examples: [exampleValue(column)] };
  }
  return { ...schema, properties: out };
}

/** Embedded rows a read row may carry: to-one as an object (or null), to-many as an array. */
function relationProperties(resource: Resource, names: ReadonlyMap<string, string>): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const key of [...resource.relations.keys()].sort()) {
    const relation = resource.relations.get(key)!;
    const target = names.get(relation.target);
    if (!target) continue;
    const how = key === relation.name ? '' : ` (alias of ${relation.name})`;
    out[key] = relation.kind === 'one'
      ? { anyOf: [ref(target), { type: 'null' }], description: `Embedded with include=${key}: the related ${relation.target} row${how}.` }
      : { type: 'array', items: ref(target), description: `Embedded with include=${key}: the related ${relation.target} rows${how}.` };
  }
  return out;
}

const WRITE_MODES: ReadonlyArray<[Exclude<RowMode, 'read'>, string, string]> = [
  ['insert', 'Insert', 'A row to create (POST).'],
  ['update', 'Update', 'Columns to change (PATCH); at least one.'],
  ['replace', 'Replace', 'A whole row to create or replace (PUT); the key comes from the path.'],
];

/**
 * The component schemas of one resource, keyed by component name.
 * @example resourceSchemas(orders, names).Orders.properties.total → { type: 'string', … }
 */
export function resourceSchemas(resource: Resource, names: ReadonlyMap<string, string>): Record<string, JsonSchema> {
  const base = names.get(resource.name)!;
  const read = withExamples(resource, rowSchema(resource, 'read'));
  const out: Record<string, JsonSchema> = {
    [base]: {
      ...read,
      title: resource.name,
      description: `${resource.comment ? `${resource.comment}\n\n` : ''}A row of ${resource.kind} \`${resource.schema}.${resource.table}\`. \`fields\` narrows it to the columns asked for; \`include\` adds the related rows below.`,
      properties: { ...(read.properties as object), ...relationProperties(resource, names) },
    },
  };
  const writes = WRITE_MODES.filter(([mode]) => mode === 'insert' ? resource.insertable
    : mode === 'update' ? resource.updatable
    : resource.insertable && resource.updatable && resource.primaryKey.length > 0);
  for (const [mode, suffix, description] of writes) {
    const schema = withExamples(resource, rowSchema(resource, mode));
    out[base + suffix] = { ...schema, title: `${resource.name} (${mode})`, description, ...(mode === 'update' ? { minProperties: 1 } : {}) };
  }
  return out;
}

/** The problem+json body (RFC 9457) that `http/problem.ts` writes. */
export const PROBLEM_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'An error (RFC 9457). `type` is a page of these docs that explains it.',
  required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri-reference', examples: ['/problems/unknown-column'] },
    title: { type: 'string', examples: ['Unknown column'] },
    status: { type: 'integer', minimum: 400, maximum: 599, examples: [400] },
    detail: { type: 'string', examples: ["orders has no column 'totl'"] },
    code: { type: 'string', enum: Object.keys(PROBLEMS), examples: ['SLUICE_UNKNOWN_COLUMN'] },
    requestId: { type: 'string', description: 'Also sent as the X-Request-Id header; finds the request in the logs.', examples: ['5d0f6c1e-8a43-4b8e-9f7a-0c1d2e3f4a5b'] },
    errors: { type: 'array', items: { $ref: '#/components/schemas/FieldError' } },
  },
};

export const FIELD_ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['field', 'message'],
  properties: {
    field: { type: 'string', description: 'The query parameter, path part or body field.', examples: ['totl'] },
    message: { type: 'string', examples: ['unknown column'] },
  },
};

/** `pagination` of a list response. */
export const PAGINATION_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['limit', 'hasMore', 'nextCursor'],
  properties: {
    limit: { type: 'integer', minimum: 0, examples: [25] },
    hasMore: { type: 'boolean', description: 'Whether another page follows.', examples: [true] },
    nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page (keyset pagination); null on the last page or without a primary key.', examples: ['eyJ2IjoxfQ'] },
    offset: { type: 'integer', minimum: 0, description: 'Present when the request used `offset`.' },
    total: { type: 'integer', minimum: 0, description: 'Present with `count=exact` or `count=estimated`.', examples: [250000] },
  },
};
