// What esbuild accepts in a page (platform/build/pages.ts) beyond TypeScript: CSS imported for its side effect
// (bundled into main.css). tsconfig.pages.json includes this file for every page.
declare module '*.css';
