import { defineConfig } from 'vitest/config';

declare const process: { env: Record<string, string | undefined> };

/** The Solo server the dev server proxies to (`SOLO_API` overrides it). */
const server = process.env.SOLO_API ?? 'http://127.0.0.1:7070';

export default defineConfig({
  // JSX is compiled by esbuild with React's automatic runtime.
  esbuild: { jsx: 'automatic' },
  server: {
    proxy: {
      '/api': { target: server },
      '/connection': { target: server, ws: true },
      // The HTTP transports' later commands (the fallbacks when WebSocket is refused).
      '/emulation': { target: server },
    },
  },
  preview: {
    proxy: {
      '/api': { target: server },
      '/connection': { target: server, ws: true },
      '/emulation': { target: server },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      onwarn(warning, warn) {
        // Libraries mark their modules "use client"; that directive means nothing in this bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
