/**
 * Path items of one resource (SPEC §2): `/{res}` (list, create, bulk update and delete) and, when
 * the resource has a primary key, `/{res}/{id}`. Only the methods the resource takes are listed:
 * a view the database cannot write is read-only here too.
 */
import type { Config } from '../config/schema.ts';
import type { JsonSchema } from '../schema/json-schema.ts';
import type { Resource } from '../schema/model.ts';
import { exampleFilter, exampleListUrls } from './examples.ts';
import { ref, resourcePath } from './names.ts';
import { bulkParameters, keyParameter, listParameters, shadowedColumns, shapeParameters } from './parameters.ts';
import { errorResponses, type ErrorStatus } from './responses.ts';

type Operation = Record<string, unknown>;

const READ_ERRORS: ErrorStatus[] = [400, 406, 503, 504];
const WRITE_ERRORS: ErrorStatus[] = [400, 406, 409, 413, 415, 422, 503, 504];

const data = (schema: JsonSchema): JsonSchema => ({ type: 'object', required: ['data'], properties: { data: schema } });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const LOCATION = { Location: { description: 'The path of the created row.', schema: { type: 'string', format: 'uri-reference' } } };
const LINK = { Link: { description: 'The next page: `<…?cursor=…>; rel="next"` (absent on the last page).', schema: { type: 'string' } } };

function fieldsParameter(): JsonSchema {
  return { name: 'fields', in: 'query', schema: { type: 'string' }, description: 'Comma list of columns to return of the written row (default: all).' };
}

function collection(resource: Resource, base: string, config: Config): Record<string, Operation> {
  const path = resourcePath(resource);
  const row = ref(base);
  const examples = exampleListUrls(resource, path).map((u) => `- \`GET ${u}\``).join('\n');
  const shadowed = shadowedColumns(resource).map((c) => `\`${c.name}[eq]=…\``);
  const shadowNote = shadowed.length ? ` Columns named like a parameter are filtered with an explicit operator: ${shadowed.join(', ')}.` : '';
  const ops: Record<string, Operation> = {
    get: {
      operationId: `list${base}`, tags: [resource.name], summary: `List ${resource.name}`,
      description: `Rows of ${resource.name}, filtered, sorted and paged in one SQL statement. \`rel.col=value\` filters through a relation (\`include\` lists them).${shadowNote} \`Accept: application/x-ndjson\` or \`text/csv\` streams every matching row (up to limits.maxStreamRows = ${config.limits.maxStreamRows}).\n\nExamples:\n${examples}`,
      parameters: listParameters(resource, base, config),
      responses: {
        200: {
          description: 'A page of rows.',
          headers: LINK,
          content: {
            'application/json': { schema: { type: 'object', required: ['data', 'pagination'], properties: { data: { type: 'array', items: row }, pagination: ref('Pagination') } } },
            'application/x-ndjson': { schema: { type: 'string', description: `One ${base} row as JSON per line.` } },
            'text/csv': { schema: { type: 'string', description: 'A header line of column names, then one line per row (RFC 4180).' } },
          },
        },
        ...errorResponses(READ_ERRORS),
      },
    },
  };
  if (resource.insertable) {
    const unique = resource.uniqueKeys.map((k) => `\`${k.join(',')}\``).join(', ');
    const insert = ref(`${base}Insert`);
    ops.post = {
      operationId: `create${base}`, tags: [resource.name], summary: `Create ${resource.name}`,
      description: `One row (object) or many (array, up to limits.maxBatch = ${config.limits.maxBatch}) in one transaction.${resource.updatable && unique ? ` \`?onConflict=${resource.uniqueKeys[0]!.join(',')}\` upserts on a unique key (${unique}).` : ''}`,
      parameters: [
        fieldsParameter(),
        ...(resource.updatable && unique ? [{ name: 'onConflict', in: 'query', schema: { type: 'string' }, description: `Upsert: the unique key whose conflict updates the existing row instead: one of ${unique}.` }] : []),
      ],
      requestBody: { required: true, content: json({ oneOf: [insert, { type: 'array', items: insert, minItems: 1, maxItems: config.limits.maxBatch }] }) },
      responses: {
        201: { description: 'Created: the row (object body) or the rows (array body) as stored.', headers: LOCATION, content: json(data({ oneOf: [row, { type: 'array', items: row }] })) },
        ...errorResponses(resource.updatable ? WRITE_ERRORS : [...WRITE_ERRORS, 405]),
      },
    };
  }
  const filter = exampleFilter(resource);
  const bulk = (kind: 'update' | 'delete'): Operation => ({
    operationId: `${kind}${base}Where`, tags: [resource.name], summary: `${kind === 'update' ? 'Update' : 'Delete'} ${resource.name} by filter`,
    description: `Every row matching the filters (at least one is required), in one statement. More than limits.maxAffected = ${config.limits.maxAffected} matching rows is a 400 and nothing changes.${filter ? `\n\nExample: \`${kind === 'update' ? 'PATCH' : 'DELETE'} ${path}?${filter}\`` : ''}`,
    parameters: bulkParameters(resource, base),
    ...(kind === 'update' ? { requestBody: { required: true, content: json(ref(`${base}Update`)) } } : {}),
    responses: {
      200: { description: `The ${kind === 'update' ? 'updated' : 'deleted'} rows.`, content: json(data({ type: 'array', items: row })) },
      ...errorResponses(kind === 'update' ? WRITE_ERRORS : [400, 406, 409, 503, 504]),
    },
  });
  if (resource.updatable) ops.patch = bulk('update');
  if (resource.deletable) ops.delete = bulk('delete');
  return ops;
}

function item(resource: Resource, base: string, config: Config): Record<string, Operation> {
  const row = ref(base);
  const one = json(data(row));
  const ops: Record<string, Operation> = {
    get: {
      operationId: `get${base}`, tags: [resource.name], summary: `Get one ${resource.name} row`,
      parameters: shapeParameters(resource, config),
      responses: { 200: { description: 'The row.', content: one }, ...errorResponses([...READ_ERRORS, 404]) },
    },
  };
  const writeErrors = [...WRITE_ERRORS, 404] as ErrorStatus[];
  if (resource.updatable) {
    ops.patch = {
      operationId: `update${base}`, tags: [resource.name], summary: `Update one ${resource.name} row`,
      parameters: [fieldsParameter()], requestBody: { required: true, content: json(ref(`${base}Update`)) },
      responses: { 200: { description: 'The updated row.', content: one }, ...errorResponses(writeErrors) },
    };
  }
  if (resource.insertable && resource.updatable) {
    ops.put = {
      operationId: `replace${base}`, tags: [resource.name], summary: `Create or replace one ${resource.name} row`,
      parameters: [fieldsParameter()], requestBody: { required: true, content: json(ref(`${base}Replace`)) },
      responses: {
        200: { description: 'Replaced.', content: one },
        201: { description: 'Created.', headers: LOCATION, content: one },
        ...errorResponses(WRITE_ERRORS),
      },
    };
  }
  if (resource.deletable) {
    ops.delete = {
      operationId: `delete${base}`, tags: [resource.name], summary: `Delete one ${resource.name} row`,
      responses: { 204: { description: 'Deleted.' }, ...errorResponses([400, 404, 409, 503, 504]) },
    };
  }
  return ops;
}

/**
 * The path items of a resource, keyed by path relative to the server URL.
 * @example resourcePaths(orders, 'Orders', config)['/orders/{id}'].get.operationId === 'getOrders'
 */
export function resourcePaths(resource: Resource, base: string, config: Config): Record<string, Record<string, unknown>> {
  const path = resourcePath(resource);
  const readOnly = !resource.insertable && !resource.updatable && !resource.deletable;
  const note = readOnly ? { description: `${resource.kind === 'view' ? 'A read-only view' : 'Read-only'}: POST, PATCH, PUT and DELETE answer 405 Method Not Allowed.` } : {};
  const out: Record<string, Record<string, unknown>> = { [path]: { ...note, ...collection(resource, base, config) } };
  if (resource.primaryKey.length > 0) {
    out[`${path}/{id}`] = { ...note, parameters: [keyParameter(resource)], ...item(resource, base, config) };
  }
  return out;
}
