/**
 * Takes the README's screenshot: serves a filled data directory (e.g. one `npm run demo -- --no-serve` made),
 * signs in to the console in Chromium and captures the standard CLV dashboard.
 *
 *   npx tsx scripts/readme-screenshot.ts --data-dir .roundtrip-demo --key rt_… [--out docs/images/clv-dashboard.png]
 */
import { parseArgs } from 'node:util';
import { resolveConfig } from '../src/core/config.ts';
import { openPlatform } from '../src/platform/platform.ts';
import { buildApp } from '../src/server/app.ts';
import { openBrowser } from '../src/testing/browser.ts';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, key: { type: 'string' }, out: { type: 'string', default: 'docs/images/clv-dashboard.png' } } });
const platform = await openPlatform(resolveConfig({ env: {}, flags: { dataDir: values['data-dir']!, logLevel: 'warn' } }));
const app = await buildApp(platform, { auth: 'api-key', logLevel: 'warn' });
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const browser = await openBrowser('readme');
try {
  const { page } = browser;
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(`${url}/console/`);
  await page.getByLabel('API key').fill(values.key!);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Screens' }).waitFor();
  await page.goto(`${url}/console/#/insights/dsh_std_clv_overview`);
  const dashboard = page.locator('section[aria-label="Dashboard Customer lifetime value"]');
  await dashboard.waitFor();
  await dashboard.locator('[data-rendered="true"]').nth(3).waitFor({ timeout: 30_000 });
  await page.waitForTimeout(500);
  await dashboard.screenshot({ path: values.out });
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
  await app.close();
  await platform.close();
}
