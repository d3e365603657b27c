import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// emptyOutDir clears dist/, including the placeholder that keeps the
// directory (and so Go's embed pattern) valid in a fresh clone.
const keepPlaceholder: Plugin = {
  name: 'berth-keep-placeholder',
  closeBundle() {
    writeFileSync(fileURLToPath(new URL('../internal/ui/dist/.gitkeep', import.meta.url)), '');
  },
};

// The build goes into the Go package that embeds it (internal/ui/dist).
// `npm run dev` proxies the APIs to a berth on BERTH_URL (default
// http://127.0.0.1:5000, as `make run TLS=off` serves).
const berth = process.env.BERTH_URL ?? 'http://127.0.0.1:5000';

export default defineConfig({
  plugins: [react(), keepPlaceholder],
  build: {
    outDir: '../internal/ui/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': berth,
      '/c': berth,
      '/v2': berth,
      '/service': berth,
    },
  },
});
