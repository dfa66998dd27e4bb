/**
 * The offline documentation page: Swagger UI from the `swagger-ui-dist` package, served by Sluice
 * itself so `/docs` needs no network beyond this server. Assets sit under a content-hashed path and
 * are cached for a year; the page's Content-Security-Policy lets the browser load nothing from
 * elsewhere, so a future asset that tried would fail visibly instead of leaking requests.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** Gzipped body for text assets, made on first use. */
  gzip(): Buffer | null;
}

export interface DocsUi {
  /** Changes when any asset changes: part of every asset URL so they can be cached for good. */
  readonly tag: string;
  readonly html: string;
  readonly assets: ReadonlyMap<string, Asset>;
}

/** Under `/docs/assets/{tag}/`. */
export const ASSET_PREFIX = '/docs/assets';

const FILES: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

// Our own start-up script (a file, not inline, so the policy needs no 'unsafe-inline' scripts).
// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  displayRequestDuration: true,
  showExtensions: true,
  defaultModelsExpandDepth: 0,
});
`;

/** `script-src 'self'` only; Swagger UI sets element styles, hence inline styles. */
export const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function page(tag: string): string {
  const at = `${ASSET_PREFIX}/${tag}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice API</title>
<link rel="stylesheet" href="${at}/swagger-ui.css">
<link rel="icon" type="image/png" sizes="32x32" href="${at}/favicon-32x32.png">
<link rel="icon" type="image/png" sizes="16x16" href="${at}/favicon-16x16.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${at}/swagger-ui-bundle.js"></script>
<script src="${at}/init.js"></script>
</body>
</html>
`;
}

function asset(type: string, body: Buffer): Asset {
  let zipped: Buffer | null | undefined;
  return {
    type, body,
    gzip: () => (zipped ??= type.startsWith('image/') ? null : gzipSync(body)),
  };
}

let loading: Promise<DocsUi> | undefined;

/**
 * The page and its assets, read from `swagger-ui-dist` once per process (on the first `/docs`).
 * @example const ui = await docsUi(); ui.assets.get('swagger-ui.css')!.type === 'text/css; charset=utf-8'
 */
export function docsUi(): Promise<DocsUi> {
  loading ??= (async () => {
    const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    const assets = new Map<string, Asset>();
    const hash = createHash('sha256').update(INIT);
    for (const [file, type] of Object.entries(FILES)) {
      const body = await readFile(join(dir, file));
      hash.update(body);
      assets.set(file, asset(type, body));
    }
    assets.set('init.js', asset('text/javascript; charset=utf-8', Buffer.from(INIT)));
    const tag = hash.digest('hex').slice(0, 16);
    return { tag, html: page(tag), assets };
  })().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}
