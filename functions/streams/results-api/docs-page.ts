/**
 * Swagger UI for the results API, served from the `swagger-ui-dist` npm package (no CDN: it works offline and
 * loads nothing from elsewhere). The page and its initializer are ours, so the Content-Security-Policy can
 * forbid inline scripts; the package's own files are read once and kept in memory.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's files the page loads, by the name it asks for. */
export const ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
} as const;
export type AssetName = keyof typeof ASSETS;

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The page at `<prefix>/docs`: asset URLs relative to it (`docs/…`), the document at `openapi.json`, so the
 * same page works behind the gateway (`/api/streams/docs`) and on the function itself (`/streams/docs`).
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>sluice streams results API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script src="docs/initializer.js"></script>
</body>
</html>
`;

export const INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: new URL('openapi.json', window.location.href).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
  });
};
`;

/**
 * The package's folder, resolved from this module as any import would be: the repository's node_modules under
 * `make dev`, the bundle's own `node_modules/swagger-ui-dist/` in an image (bundle.json lists the files the
 * bundler copies there). Throws when it is not installed; the route answers 503 then.
 */
export function swaggerUiDir(): string {
  return dirname(fileURLToPath(import.meta.resolve('swagger-ui-dist/package.json')));
}

const cache = new Map<string, Buffer>();
export async function readAsset(name: AssetName, dir = swaggerUiDir()): Promise<Buffer> {
  const file = join(dir, name);
  let body = cache.get(file);
  if (body === undefined) {
    body = await readFile(file);
    cache.set(file, body);
  }
  return body;
}
