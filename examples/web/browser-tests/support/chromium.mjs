import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Debian's chromium (scripts/install-chromium.sh); override with VITZOO_CHROMIUM. Never a downloaded browser. */
export const chromiumPath = process.env.VITZOO_CHROMIUM ?? '/usr/bin/chromium';

const baseArguments = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Flags that give headless Chromium a software (SwiftShader) WebGPU adapter where it can. */
const webGpuArguments = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'];

/**
 * Launches headless Chromium. Each launch gets a fresh temporary profile (playwright-core's
 * launch() creates its own --user-data-dir and removes it on close).
 */
export async function launchChromium({ webgpu = false } = {}) {
  if (!existsSync(chromiumPath)) {
    throw new Error(`No Chromium at ${chromiumPath}: run scripts/install-chromium.sh (installs Debian's chromium) or set VITZOO_CHROMIUM.`);
  }
  const args = [...baseArguments, ...(webgpu ? webGpuArguments : [])];
  return chromium.launch({ executablePath: chromiumPath, args, headless: true });
}
