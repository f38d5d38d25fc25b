import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// Relative asset URLs: the server may mount the UI under any path (ui.path).
export default defineConfig({
  base: './',
  plugins: [solid()],
  build: {
    target: 'es2022',
    assetsDir: 'assets',
    // No inline scripts or styles: the server sends a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
