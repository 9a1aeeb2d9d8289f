/**
 * Browser tests: Debian's Chromium driven by playwright-core (no browser download), a fresh profile per run,
 * console errors collected so a test can require there were none, and screenshots written under
 * `test-artifacts/<suite>/` (CI keeps them). `BROWSER_SKIP` says why the suite cannot run on this machine.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from './temp.ts';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));
export const CHROMIUM = CANDIDATES.find((p) => existsSync(p));
export const BROWSER_SKIP: string | false = CHROMIUM ? false : 'Chromium is not installed (apt-get install -y chromium, or bash scripts/install-test-services.sh)';

export const ARTIFACTS_DIR = path.resolve(import.meta.dirname, '../../test-artifacts');

export interface BrowserSession {
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(suite: string): Promise<BrowserSession> {
  const profile = tempDir('roundtrip-chromium-');
  const context: BrowserContext = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM!,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  // Name the URL of failed requests: the console message alone does not.
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()} ${new URL(response.url()).pathname}${new URL(response.url()).search}`);
  });
  const dir = path.join(ARTIFACTS_DIR, suite);
  mkdirSync(dir, { recursive: true });
  return {
    page,
    errors,
    screenshot: async (name) => {
      const file = path.join(dir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    close: async () => {
      await context.close();
      profile.remove();
    },
  };
}
