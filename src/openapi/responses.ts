/**
 * Error responses of the OpenAPI document, one component per status, each listing the coded
 * problems of `errors/registry.ts` that answer with it and linking their pages under `/problems/`.
 */
import { PROBLEMS, type ProblemCode } from '../errors/registry.ts';
import type { JsonSchema } from '../schema/json-schema.ts';

/** The statuses operations refer to, with the component name of each. */
export const ERROR_RESPONSES = {
  400: 'BadRequest', 404: 'NotFound', 405: 'MethodNotAllowed', 406: 'NotAcceptable', 409: 'Conflict',
  413: 'ContentTooLarge', 415: 'UnsupportedMediaType', 422: 'UnprocessableContent', 503: 'ServiceUnavailable', 504: 'GatewayTimeout',
} as const;

export type ErrorStatus = keyof typeof ERROR_RESPONSES;

const HEADERS: Partial<Record<ErrorStatus, Record<string, JsonSchema>>> = {
  405: { Allow: { description: 'The methods this path takes.', schema: { type: 'string', examples: ['GET, HEAD'] } } },
  503: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', examples: [5] } } },
};

function response(status: ErrorStatus): JsonSchema {
  const codes = (Object.keys(PROBLEMS) as ProblemCode[]).filter((c) => PROBLEMS[c].status === status);
  const first = PROBLEMS[codes[0]!];
  const list = codes.map((c) => `- [\`${c}\`](/problems/${PROBLEMS[c].slug}): ${PROBLEMS[c].title}`).join('\n');
  return {
    description: `${first.title}. One of:\n\n${list}`,
    ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
    content: {
      'application/problem+json': {
        schema: { $ref: '#/components/schemas/Problem' },
        example: { type: `/problems/${first.slug}`, title: first.title, status, detail: first.help, code: codes[0], requestId: '5d0f6c1e-8a43-4b8e-9f7a-0c1d2e3f4a5b' },
      },
    },
  };
}

/**
 * `components.responses` for every status in {@link ERROR_RESPONSES}.
 * @example errorResponseComponents().NotFound.content['application/problem+json']
 */
export function errorResponseComponents(): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([status, name]) => [name, response(Number(status) as ErrorStatus)]));
}

/**
 * The `responses` entries of an operation for the given error statuses.
 * @example errorResponses([400, 404]) → { 400: { $ref: '#/components/responses/BadRequest' }, … }
 */
export function errorResponses(statuses: readonly ErrorStatus[]): Record<string, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/${ERROR_RESPONSES[s]}` }]));
}
