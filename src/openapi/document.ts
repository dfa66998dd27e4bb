/**
 * The OpenAPI 3.1 document of SPEC §9, generated from the schema snapshot and the configuration
 * alone (no clock, no data), so that it can be cached per snapshot and `sluice openapi` prints the
 * same document the server serves. Resources are listed in name order.
 */
import type { Config } from '../config/schema.ts';
import type { Snapshot } from '../schema/model.ts';
import { PROBLEMS } from '../errors/registry.ts';
import { VERSION } from '../version.ts';
import { componentNames } from './names.ts';
import { filterComponents, sharedParameters } from './parameters.ts';
import { resourcePaths } from './paths.ts';
import { errorResponseComponents } from './responses.ts';
import { FIELD_ERROR_SCHEMA, PAGINATION_SCHEMA, PROBLEM_SCHEMA, resourceSchemas } from './schemas.ts';

/** The JSON Schema dialect of OpenAPI 3.1 schema objects (its default, stated for tools). */
const OAS_DIALECT = 'https://spec.openapis.org/oas/3.1/dialect/base';

function description(snapshot: Snapshot, config: Config): string {
  const problems = Object.values(PROBLEMS).map((p) => `[${p.slug}](/problems/${p.slug})`).join(', ');
  return [
    `Every table and view of the ${snapshot.dialect === 'postgres' ? `PostgreSQL database (schemas: ${config.database.schemas.join(', ')})` : 'SQLite database'} as a REST resource under \`${config.server.basePath || '/'}\`.`,
    'Interactive documentation: [/docs](/docs); this document: [/openapi.json](/openapi.json).',
    'Lists take filters (`col=value`, `col[op]=value`, `or=(…)`), `fields`, `include`, `sort`, `limit`, `offset`, `cursor` and `count`. Exact numerics and 64-bit integers beyond 2^53 are strings; timestamps are ISO 8601.',
    `Errors are \`application/problem+json\` (RFC 9457); their \`type\` is a page that explains them: ${problems}.`,
  ].join('\n\n');
}

/**
 * Given a role's view of the snapshot, it documents exactly what that role may use.
 * @example openapiDocument(engine.snapshot(), config).paths['/orders'].get.operationId === 'listOrders'
 */
export function openapiDocument(snapshot: Snapshot, config: Config): Record<string, unknown> {
  const resources = [...snapshot.resources.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = componentNames(resources);
  const schemas: Record<string, unknown> = {};
  const parameters: Record<string, unknown> = sharedParameters(config);
  const paths: Record<string, unknown> = {};
  for (const resource of resources) {
    const base = names.get(resource.name)!;
    Object.assign(schemas, resourceSchemas(resource, names));
    Object.assign(parameters, filterComponents(resource, base));
    Object.assign(paths, resourcePaths(resource, base, config));
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: OAS_DIALECT,
    info: { title: 'Sluice API', version: VERSION, description: description(snapshot, config) },
    servers: [{ url: config.server.basePath || '/' }],
    tags: resources.map((r) => ({ name: r.name, description: r.comment ?? `${r.kind === 'view' ? 'View' : 'Table'} \`${r.schema}.${r.table}\`` })),
    paths,
    components: {
      schemas: { ...schemas, Pagination: PAGINATION_SCHEMA, Problem: PROBLEM_SCHEMA, FieldError: FIELD_ERROR_SCHEMA },
      parameters,
      responses: errorResponseComponents(),
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (`sluice keys create`); also accepted as `Authorization: Bearer sk_…`.' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT whose role claim names a configured role.' },
      },
    },
    // Either credential, or none where an anonymous role is configured.
    security: [{ apiKey: [] }, { bearer: [] }, ...(config.auth.anonRole ? [{}] : [])],
  };
}
