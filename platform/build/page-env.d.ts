// What esbuild accepts in a page (platform/build/pages.ts) beyond TypeScript: CSS imported for its side effect
// (bundled into main.css), and GeoJSON bundled as JSON (its default export the parsed document). tsconfig.pages.json
// includes this file for every page.
declare module '*.css';
declare module '*.geojson' {
  const document: unknown;
  export default document;
}
