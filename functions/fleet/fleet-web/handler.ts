/**
 * fleet-web — the operator's page, behind the gateway at /fleet/ (functions/fleet/routes.yaml): a map of the
 * vehicles moving live, their list with speed and status, and a vehicle's trail and speed over time. A plain HTTP
 * function serving its built page (`page/` → `static/`, bundled by esbuild: platform/build/pages.ts; `make pages`,
 * and `make dev` builds it first). The page reads vehicles-api through the same gateway: /api/vehicles and its
 * live stream. No tile server and no CDN: the routes and the town's outline are the shipped GeoJSON
 * (lib/map/), bundled into the page.
 */
import { join } from 'node:path';
import { type HttpFunction, loadStaticFiles } from '../../runtime/src/index.ts';

export const PREFIX = '/fleet/';

export const serve: HttpFunction['serve'] = async () => {
  const site = await loadStaticFiles(join(import.meta.dirname, 'static'), { prefix: PREFIX });
  return site.handle;
};
