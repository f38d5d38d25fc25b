import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// Relative asset URLs: the server may mount the UI under any path (ui.path).
export default defineConfig({
  base: './',
  plugins: [solid()],
  // `npm run dev` against a running berth (BERTH_URL, default http://127.0.0.1:5000).
  server: {
    proxy: {
      '/api': process.env.BERTH_URL ?? 'http://127.0.0.1:5000',
      '/v2': process.env.BERTH_URL ?? 'http://127.0.0.1:5000',
    },
  },
  build: {
    target: 'es2022',
    assetsDir: 'assets',
    // No inline scripts or styles: the server sends a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
