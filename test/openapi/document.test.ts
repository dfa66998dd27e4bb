/**
 * The OpenAPI document (SPEC §9) of the shop on every dialect: valid OpenAPI 3.1, component schemas
 * that are valid JSON Schema and accept their own examples, the paths and types a client relies
 * on, and the same document from `/openapi.json` and from `sluice openapi`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openapiDocument } from '../../src/openapi/document.ts';
import { dialects, dropPostgres, postgresEmpty, shop, sqliteShop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const run = promisify(execFile);
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

async function expectValidOpenApi(doc: Json): Promise<void> {
  const result = await new Validator().validate(structuredClone(doc));
  expect(result.errors).toBeUndefined();
  expect(result.valid).toBe(true);
}

/** Every component schema compiles as JSON Schema 2020-12 and accepts a row made of its examples. */
function expectSchemasAcceptExamples(doc: Json): void {
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  // Rows carry timestamps and times without an offset where the column has no time zone (ISO 8601,
  // SPEC §3), which RFC 3339 `date-time`/`time` would refuse.
  ajv.addFormat('date-time', fullFormats['iso-date-time']);
  ajv.addFormat('time', fullFormats['iso-time']);
  ajv.addSchema({ $id: 'doc', components: doc.components });
  for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
    const validate = ajv.getSchema(`doc#/components/schemas/${name}`)!;
    expect(validate, name).toBeTypeOf('function');
    if (name === 'Problem' || name === 'Pagination' || name === 'FieldError' || !schema.properties) continue;
    const row = Object.fromEntries(Object.entries(schema.properties as Record<string, Json>)
      .filter(([, p]) => p.examples).map(([k, p]) => [k, p.examples[0]]));
    expect(validate(row), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }
}

async function cliDocument(url: string): Promise<Json> {
  const { stdout } = await run('node_modules/.bin/node', ['src/cli/main.ts', 'openapi', '--db', url], {
    // The same anonymous role as the test server's, so the documents' `security` agree.
    cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', SLUICE_AUTH_ANON_ROLE: 'anon' }, maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Json;
}

describe.each(await dialects())('OpenAPI document of the shop on %s', (dialect) => {
  let s: TestSluice;
  let url: string;
  let dispose: () => Promise<void>;
  let doc: Json;
  beforeAll(async () => {
    ({ url, dispose } = await shop(dialect));
    s = await startSluice({ url });
    doc = openapiDocument(s.sluice.snapshot(), s.sluice.engine.config);
  });
  afterAll(async () => {
    await s?.close();
    await dispose?.();
  });

  test('is valid OpenAPI 3.1 with valid JSON Schemas whose examples fit', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Sluice API', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(doc.info.description).toContain('(/docs)');
    expect(doc.servers).toEqual([{ url: '/api/v1' }]);
    await expectValidOpenApi(doc);
    expectSchemasAcceptExamples(doc);
  });

  test('orders has list and item paths with every method a table takes', () => {
    expect(Object.keys(doc.paths['/orders']).sort()).toEqual(['delete', 'get', 'patch', 'post']);
    expect(Object.keys(doc.paths['/orders/{id}']).filter((k) => k !== 'parameters').sort()).toEqual(['delete', 'get', 'patch', 'put']);
    const list = doc.paths['/orders'].get;
    expect(list.responses['200'].content['application/json'].schema.properties.data.items).toEqual({ $ref: '#/components/schemas/Orders' });
    expect(Object.keys(list.responses['200'].content)).toEqual(['application/json', 'application/x-ndjson', 'text/csv']);
    expect(list.description).toContain('/orders?status=');
    expect(doc.paths['/orders'].post.responses['201'].headers.Location).toBeDefined();
    expect(doc.paths['/orders'].post.requestBody.content['application/json'].schema.oneOf[1]).toMatchObject({ type: 'array', maxItems: 1000 });
  });

  test('list parameters: limits from config, relations named in include, one deepObject filter per column', () => {
    const params = doc.paths['/orders'].get.parameters as Json[];
    const resolved = params.map((p) => (p.$ref ? doc.components.parameters[p.$ref.split('/').pop()] : p));
    const byName = new Map(resolved.map((p) => [p.name, p]));
    expect(byName.get('limit').schema).toMatchObject({ default: 25, maximum: 1000 });
    expect(byName.get('include').description).toMatch(/`customer`: to-one → customers/);
    expect(byName.get('include').description).toMatch(/`items`[^\n]*: to-many → order_items/);
    expect(byName.get('order_items.limit') ?? byName.get('items.limit')).toMatchObject({ in: 'query', schema: { type: 'integer' } });
    expect(byName.get('count').schema.enum).toEqual(['exact', 'estimated']);
    const total = byName.get('total');
    expect(total).toMatchObject({ in: 'query', style: 'deepObject', explode: true });
    expect(Object.keys(total.schema.properties)).toEqual(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'null']);
    expect(Object.keys(byName.get('status').schema.properties)).toContain('ilike');
    // (name, in) pairs are unique
    expect(new Set(resolved.map((p) => `${p.in}:${p.name}`)).size).toBe(resolved.length);
    expect(doc.paths['/orders'].delete.parameters).toContainEqual({ $ref: '#/components/parameters/Orders.total' });
  });

  test('column types: email is a string, total an exact decimal string', () => {
    expect(doc.components.schemas.Customers.properties.email).toMatchObject({ type: 'string' });
    const total = doc.components.schemas.Orders.properties.total;
    expect(total.type).toBe('string');
    expect(total.pattern).toBeDefined();
    expect(doc.components.schemas.Orders.properties.customer.anyOf[0]).toEqual({ $ref: '#/components/schemas/Customers' });
    expect(doc.components.schemas.OrdersInsert.required).toEqual(expect.arrayContaining(['customer_id', 'status', 'total', 'created_at']));
    expect(doc.components.schemas.OrdersUpdate.minProperties).toBe(1);
  });

  test('errors are problem+json responses', () => {
    const post = doc.paths['/orders'].post.responses;
    for (const status of ['400', '409', '413', '415', '422', '503', '504']) expect(post[status], status).toBeDefined();
    expect(doc.components.responses.Conflict.content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(doc.components.responses.NotFound.description).toContain('/problems/not-found');
    expect(doc.components.schemas.Problem.required).toEqual(['type', 'title', 'status', 'detail', 'code', 'requestId']);
    expect(doc.components.schemas.Pagination.properties.nextCursor.type).toEqual(['string', 'null']);
  });

  test('a composite key is one path parameter in key order', () => {
    const [id] = doc.paths['/order_items/{id}'].parameters as Json[];
    expect(id).toMatchObject({ name: 'id', in: 'path', required: true, style: 'simple', explode: false, schema: { type: 'array', minItems: 2, maxItems: 2 } });
    expect(id!.description).toContain('`order_id,product_id`');
  });

  test('GET /openapi.json serves exactly this document', async () => {
    const res = await s.get('/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual(doc);
    expect((await s.get('/openapi.json')).body).toBe(res.body);
  });

  test('`sluice openapi` prints the same document', async () => {
    expect(await cliDocument(url)).toEqual(doc);
  });

  test('the document depends on the configuration: base path and limits', async () => {
    const other = await startSluice({ url, flags: { 'server.basePath': '/v2', 'limits.maxLimit': 50, 'limits.defaultLimit': 10 } });
    try {
      const res = (await other.get('/openapi.json')).json();
      expect(res.servers).toEqual([{ url: '/v2' }]);
      expect(res.components.parameters.limit.schema).toMatchObject({ default: 10, maximum: 50 });
      expect(Object.keys(res.paths)).toEqual(Object.keys(doc.paths));
    } finally {
      await other.close();
    }
  });
});

describe('OpenAPI document of views and tables without a key (SQLite)', () => {
  let s: TestSluice;
  let doc: Json;
  beforeAll(async () => {
    const url = sqliteShop();
    const db = new DatabaseSync(url.slice('sqlite:'.length));
    db.exec(`create view paid_orders as select * from orders where status = 'paid';
             create table audit_log (at text not null, message text)`);
    db.close();
    s = await startSluice({ url });
    doc = (await s.get('/openapi.json')).json();
  });
  afterAll(() => s?.close());

  test('a view the database cannot write has GET only, and says writes answer 405', async () => {
    expect(Object.keys(doc.paths['/paid_orders']).filter((k) => k !== 'description')).toEqual(['get']);
    expect(doc.paths['/paid_orders'].description).toContain('405');
    // SQLite does not say whether a view's columns can be null, so they are nullable.
    expect(doc.components.schemas.PaidOrders.properties.total.anyOf).toContainEqual(expect.objectContaining({ type: 'string' }));
    expect(doc.components.schemas.PaidOrdersInsert).toBeUndefined();
    expect(doc.tags).toContainEqual({ name: 'paid_orders', description: 'View `main.paid_orders`' });
    await expectValidOpenApi(doc);
  });

  test('resources without a primary key have no item path and no cursor', () => {
    expect(doc.paths['/paid_orders/{id}']).toBeUndefined();
    expect(doc.paths['/audit_log/{id}']).toBeUndefined();
    expect(Object.keys(doc.paths['/audit_log']).sort()).toEqual(['delete', 'get', 'patch', 'post']);
    expect(doc.paths['/audit_log'].get.parameters).not.toContainEqual({ $ref: '#/components/parameters/cursor' });
    expect(doc.components.schemas.AuditLogReplace).toBeUndefined();
  });

  test('the document is the same for the same schema (deterministic)', async () => {
    const again = await startSluice({ url: s.sluice.engine.config.database.url });
    try {
      expect(JSON.stringify((await again.get('/openapi.json')).json())).toBe(JSON.stringify(doc));
    } finally {
      await again.close();
    }
  });
});

describe.runIf((await dialects()).includes('postgres'))('OpenAPI document of every column kind (PostgreSQL)', () => {
  test('is valid and every example fits its schema', async () => {
    const url = await postgresEmpty();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`create type mood as enum ('happy', 'sad');
      create table kinds (
        id uuid primary key, small smallint, big bigint not null, real_ double precision, exact numeric(8,3), flag boolean,
        day date, at timestamptz, at_local timestamp, clock time, code varchar(3) not null, feeling mood not null, doc jsonb, raw bytea,
        tags text[], nums int[], body tsvector, span interval, "odd name" text, "limit" int,
        len int generated always as (length(code)) stored)`);
    await client.end();
    const s = await startSluice({ url });
    try {
      const doc = (await s.get('/openapi.json')).json();
      await expectValidOpenApi(doc);
      expectSchemasAcceptExamples(doc);
      const props = doc.components.schemas.Kinds.properties;
      expect(props.feeling).toMatchObject({ type: 'string', enum: ['happy', 'sad'], examples: ['happy'] });
      expect(props.code).toMatchObject({ maxLength: 3, examples: ['ABC'] });
      expect(doc.components.schemas.KindsInsert.properties.len).toBeUndefined();
      const filters = Object.keys(doc.components.parameters).filter((k) => k.startsWith('Kinds.'));
      // `odd name` cannot be written in the URL grammar, `limit` is taken by the limit parameter.
      expect(filters).not.toContain('Kinds.odd_name');
      expect(filters).not.toContain('Kinds.limit');
      expect(doc.paths['/kinds'].get.description).toContain('`limit[eq]=…`');
      expect(Object.keys(doc.components.parameters['Kinds.body'].schema.properties)).toEqual(['null', 'search']);
    } finally {
      await s.close();
      await dropPostgres(url);
    }
  });
});
