/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real node
 * process: the numbers it shows, a reading showing up live, the range, hover values, the search,
 * the token flow, a phone-sized screen.
 * Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, readNodeKey } from '../../src/auth/tokens.js';
import { ROOT } from '../helpers/guests.js';
import { requireBinary } from '../helpers/binaries.js';
import { NodeProcess } from '../helpers/node-process.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const REGION = 'browser-lab';
const RANGE_REGION = 'browser-range';
const MINUTE = 60_000;
/** The numbers of the selected range come with their own request, again a few seconds after a region changes. */
const LIVE = { timeout: 10_000 };

let node: NodeProcess;
let browser: Browser;
let read: string;
let gateway: string;
/** Uncaught errors in any page: a test fails if there is one. */
const pageErrors: Error[] = [];

async function post(body: unknown): Promise<unknown> {
  const res = await node.postReadings(body, gateway);
  expect(res.status).toBe(200);
  return res.json();
}

async function open(context: BrowserContext, hash = `#token=${read}`): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(`${node.url}/${hash}`);
  return page;
}

function field(page: Page, name: string, region = REGION) {
  return page.locator(`[data-region="${region}"] [data-field="${name}"]`);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  node = await NodeProcess.start();
  [read, gateway] = await Promise.all([node.token('read'), node.token('gateway')]);
  const page = await node.fetch('/');
  if (!page.headers.get('content-type')?.startsWith('text/html')) {
    throw new Error(`the node does not serve the dashboard at / (${page.status}): give dashboardRoutes() (src/web) to the server's routes`);
  }
  const base = Math.floor(Date.now() / MINUTE) * MINUTE;
  // count 5, sum 103.5, mean 20.7, min 19.75, max 22, over the last few minutes.
  await post([20.5, 21.25, 19.75, 22, 20].map((t, i) => ({ device_id: `lab-${i % 2}`, region: REGION, temperature_c: t, timestamp: base - (5 - i) * MINUTE + 1_000 })));
  await post({ device_id: 'other-1', region: 'browser-other', temperature_c: 4.5, timestamp: base - 2 * MINUTE });
  // One reading in the last hour, one three hours ago: the last hour and the last 24 hours differ.
  await post([
    { device_id: 'range-1', region: RANGE_REGION, temperature_c: 21, timestamp: base - 2 * MINUTE },
    { device_id: 'range-1', region: RANGE_REGION, temperature_c: 11, timestamp: base - 180 * MINUTE },
  ]);
  browser = await chromium.launch({
    executablePath: requireBinary('/usr/bin/chromium'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await node?.stop();
  node?.cleanup();
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

describe('dashboard', () => {
  it("shows each region's count, mean, min and max, and a new reading live without a reload", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await open(context);
      let navigations = 0;
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) navigations++;
      });
      await expect.poll(() => field(page, 'count').textContent(), LIVE).toBe('5');
      expect(await field(page, 'mean').textContent()).toBe('20.70');
      expect(await field(page, 'min').textContent()).toBe('19.75');
      expect(await field(page, 'max').textContent()).toBe('22.00');
      expect(await field(page, 'count', 'browser-other').textContent()).toBe('1');
      expect(await field(page, 'mean', 'browser-other').textContent()).toBe('4.50');
      // The token left the address bar, and stays for the session.
      expect(page.url()).toBe(`${node.url}/`);
      expect(await page.evaluate(() => sessionStorage.getItem('edgeagg.readToken'))).toBe(read);
      // The chart is drawn from the series endpoint.
      await page.locator(`[data-region="${REGION}"] .u-wrap canvas`).waitFor();
      await expect.poll(() => page.textContent('#connection')).toBe('live');
      await expect.poll(() => page.textContent('[data-health="ready"]')).toBe('ready');
      await expect.poll(() => page.textContent('[data-health="circuit"]')).toBe('closed');
      // GET /v1/fleet: a node without --nats says it runs alone.
      await expect.poll(() => page.textContent('[data-health="fleet"]')).toBe('alone (no replication)');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });

      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
      // The tile changes from the event; the chart fetches the region's series again.
      const seriesAgain = page.waitForRequest((r) => r.url().includes(`/v1/regions/${REGION}/series?bucket=1m`));
      await post([
        { device_id: 'lab-9', region: REGION, temperature_c: 30, timestamp: Date.now() },
        { device_id: 'lab-9', region: REGION, temperature_c: 5000, timestamp: Date.now() + 1 },
      ]);
      await expect.poll(() => field(page, 'last').textContent()).toMatch(/^30\.00 °C from lab-9 at /);
      await expect.poll(() => field(page, 'count').textContent(), LIVE).toBe('6');
      expect(await field(page, 'max').textContent()).toBe('30.00');
      expect(await field(page, 'mean').textContent()).toBe('22.25');
      expect(await field(page, 'age').textContent()).toMatch(/just now|\d s ago/);
      await seriesAgain;
      // The node's counters: a rejected reading shows under its reason.
      await page.locator('[data-health="reasons"] [data-reason="out_of_range"]').waitFor();
      await expect.poll(() => page.textContent('[data-health="ingest"]')).toMatch(/^\d+(\.\d)?\/s$/);
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
      expect(navigations).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live-update.png'), fullPage: true });

      // The day view asks for hourly buckets.
      const hourly = page.waitForRequest((r) => r.url().includes(`/v1/regions/${REGION}/series?bucket=1h`));
      await page.selectOption('#range', '24h');
      await hourly;
      await page.locator(`[data-region="${REGION}"] [data-field="chart"][data-bucket="1h"] canvas`).waitFor();
      expect(await page.textContent('#range-label')).toBe('last 24 hours · hour data');

      // A reload keeps the session's token (and the range).
      await page.reload();
      await expect.poll(() => field(page, 'count').textContent(), LIVE).toBe('6');
      expect(await page.inputValue('#range')).toBe('24h');
      expect(await page.locator('#token-dialog').isVisible()).toBe(false);
    } finally {
      await context.close();
    }
  });

  it("shows the selected range's numbers and says which, a bucket's values on hover, and finds a region by name", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await open(context);
      await expect.poll(() => field(page, 'count', RANGE_REGION).textContent(), LIVE).toBe('1');
      expect(await field(page, 'mean', RANGE_REGION).textContent()).toBe('21.00');
      expect(await field(page, 'range', RANGE_REGION).textContent()).toBe('last hour');
      expect(await page.textContent('#range-label')).toBe('last hour · minute data');

      // Hovering the chart where the readings are writes that bucket's values.
      const over = page.locator(`[data-region="${REGION}"] .u-over`);
      await over.waitFor();
      const box = (await over.boundingBox())!;
      const readout = field(page, 'readout');
      expect(await readout.textContent()).toMatch(/^Hover for values/);
      let shown = '';
      for (const f of [0.966, 0.95, 0.983, 0.932]) {
        await page.mouse.move(box.x + box.width * f, box.y + box.height / 2);
        shown = (await readout.textContent()) ?? '';
        if (/mean/.test(shown)) break;
      }
      expect(shown).toMatch(/^\d\d:\d\d(–\d\d:\d\d)? mean \d+\.\d\d °C \(\d+\.\d\d to \d+\.\d\d\) · \d+ readings?$/);

      // Dragging across zooms in; the reset button zooms back out.
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
      await page.mouse.up();
      const reset = field(page, 'reset-zoom');
      await reset.waitFor({ state: 'visible' });
      await reset.click();
      await reset.waitFor({ state: 'hidden' });

      // The last 24 hours hold the older reading too: the big numbers and their label change.
      await page.selectOption('#range', '24h');
      await expect.poll(() => field(page, 'count', RANGE_REGION).textContent(), LIVE).toBe('2');
      expect(await field(page, 'mean', RANGE_REGION).textContent()).toBe('16.00');
      expect(await field(page, 'min', RANGE_REGION).textContent()).toBe('11.00');
      expect(await field(page, 'range', RANGE_REGION).textContent()).toBe('last 24 hours');

      // The search keeps only the regions whose name matches.
      await page.fill('#region-search', 'OTHER');
      await page.locator(`[data-region="${REGION}"]`).waitFor({ state: 'hidden' });
      expect(await page.locator('[data-region="browser-other"]').isVisible()).toBe(true);
      expect(await page.textContent('#region-count')).toBe('1 of 3');
      await page.fill('#region-search', 'nothing-like-this');
      await page.locator('#no-match').waitFor();
      await page.fill('#region-search', '');
      await page.locator(`[data-region="${REGION}"]`).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-range.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('asks for a token, says clearly why a token is refused, and takes a good one', async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    try {
      const page = await open(context, '');
      await page.locator('#token-dialog').waitFor();
      expect(await page.textContent('#token-message')).toBe('This dashboard needs a read token.');

      await page.fill('#token-input', 'not-a-jwt');
      await page.click('#token-form button[type="submit"]');
      await expect.poll(() => page.textContent('#token-message')).toBe('The node refused this token: the token is not a JWT.');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-wrong-token.png') });

      const expired = await new SignJWT({ scope: 'read' })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject('read')
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
        .sign(readNodeKey(node.dataDir).privateKey);
      await page.fill('#token-input', expired);
      await page.click('#token-form button[type="submit"]');
      await expect.poll(() => page.textContent('#token-message')).toBe('The node refused this token: the token has expired: create a new one.');

      await page.fill('#token-input', gateway);
      await page.click('#token-form button[type="submit"]');
      await expect.poll(() => page.textContent('#token-message')).toMatch(/^This token may not read the dashboard: a gateway token cannot do this/);

      await page.fill('#token-input', read);
      await page.click('#token-form button[type="submit"]');
      await expect.poll(() => field(page, 'count').textContent(), LIVE).toMatch(/^\d+$/);
      expect(await page.locator('#token-dialog').isVisible()).toBe(false);
      expect(await page.evaluate(() => sessionStorage.getItem('edgeagg.readToken'))).toBe(read);

      // A wrong token in the address is refused the same way, and not kept.
      const other = await open(context, '#token=garbage');
      await expect.poll(() => other.textContent('#token-message')).toBe('The node refused this token: the token is not a JWT.');
      expect(other.url()).toBe(`${node.url}/`);
    } finally {
      await context.close();
    }
  });

  it('fits a phone-sized screen without horizontal scrolling', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const page = await open(context);
      await expect.poll(() => field(page, 'count').textContent(), LIVE).toMatch(/^\d+$/);
      await page.locator(`[data-region="${REGION}"] .u-wrap canvas`).waitFor();
      await expect.poll(() => page.textContent('[data-health="circuit"]')).toBe('closed');
      const sizes = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        widest: Math.max(...[...document.querySelectorAll('.tile, .health, .bar, canvas')].map((e) => e.getBoundingClientRect().right)),
      }));
      expect(sizes.scrollWidth).toBeLessThanOrEqual(sizes.innerWidth);
      expect(sizes.widest).toBeLessThanOrEqual(sizes.innerWidth);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('lays many regions out as one row each with a sparkline, sorts them, and still fits a phone', async () => {
    const now = Date.now();
    await post(Array.from({ length: 6 }, (_, i) => ({ device_id: `many-${i}`, region: `browser-many-${i}`, temperature_c: 10 + i, timestamp: now - i * MINUTE })));
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const page = await open(context);
      await page.locator('#regions.compact').waitFor();
      await expect.poll(() => field(page, 'mean', 'browser-many-5').textContent(), LIVE).toBe('15.00');
      await page.locator('[data-region="browser-many-5"] .u-wrap canvas').waitFor();
      await page.selectOption('#region-sort', 'mean-desc');
      await expect.poll(() => page.locator('#regions > .tile:not([hidden])').first().getAttribute('data-region')).toBe(REGION);
      const sizes = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      expect(sizes.scrollWidth).toBeLessThanOrEqual(sizes.innerWidth);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone-many.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
