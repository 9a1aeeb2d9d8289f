// Vite build of the console: served by `roundtrip serve` under /console/, one chunk per screen.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '^/(?!console).*': 'http://127.0.0.1:8080' } },
});
