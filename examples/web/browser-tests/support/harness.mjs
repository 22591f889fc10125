import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { ortWasmFiles } from '@vitzoo/runtime-web/vite';
import { launchChromium } from './chromium.mjs';
import { serveStatic } from './static-server.mjs';
import { fixturesDirectory, workspaceSourceAliases } from './workspace.mjs';

const pageDirectory = fileURLToPath(new URL('../page/', import.meta.url));

/** Production-builds the test page (workspace packages from their sources) into a temporary folder. */
export async function buildHarnessPage() {
  const outDir = mkdtempSync(join(tmpdir(), 'vitzoo-harness-'));
  await build({
    root: pageDirectory,
    base: './',
    logLevel: 'warn',
    configFile: false,
    resolve: { alias: workspaceSourceAliases() },
    plugins: [ortWasmFiles()],
    build: { outDir, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, sourcemap: false, minify: false },
  });
  return { outDir, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

/**
 * Builds the harness page, serves it with the fixtures (and `mounts`: more URL prefixes → folders)
 * on 127.0.0.1 and launches Chromium. `open({ isolated, query, webgpu })` returns a ready page;
 * `close()` stops everything.
 */
export async function startHarness({ mounts: extra = {} } = {}) {
  const built = await buildHarnessPage();
  const mounts = { '/': built.outDir, '/fixtures/': fixturesDirectory, ...extra };
  const servers = { plain: await serveStatic({ mounts }), isolated: await serveStatic({ mounts, isolated: true }) };
  const browsers = new Map();
  const browserFor = async (webgpu) => {
    if (!browsers.has(webgpu)) browsers.set(webgpu, await launchChromium({ webgpu }));
    return browsers.get(webgpu);
  };
  return {
    servers,
    async open({ isolated = false, query = '', webgpu = false, console: onConsole } = {}) {
      const browser = await browserFor(webgpu);
      const page = await browser.newPage();
      if (onConsole) page.on('console', (message) => onConsole(`${message.type()}: ${message.text()}`));
      page.on('pageerror', (error) => onConsole?.(`pageerror: ${error.message}`));
      const server = isolated ? servers.isolated : servers.plain;
      await page.goto(`${server.url}/index.html${query}`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      return page;
    },
    async close() {
      for (const browser of browsers.values()) await browser.close();
      await servers.plain.close();
      await servers.isolated.close();
      built.remove();
    },
  };
}
