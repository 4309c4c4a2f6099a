/**
 * The dashboard's devices panel in a real browser (Debian's chromium through playwright-core) against a
 * real node process: it lists the devices, highlights the silent ones for the chosen threshold, filters,
 * and fits a phone's width. Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/guests.js';
import { requireBinary } from '../helpers/binaries.js';
import { NodeProcess } from '../helpers/node-process.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const MINUTE = 60_000;

let node: NodeProcess;
let browser: Browser;
let read: string;
const pageErrors: Error[] = [];

function row(page: Page, device: string) {
  return page.locator(`#devices-body tr[data-device="${device}"]`);
}

async function open(width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: 'dark' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(`${node.url}/#token=${read}`);
  await row(page, 'probe-quiet').waitFor();
  return page;
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  node = await NodeProcess.start();
  const gateway = await node.token('gateway');
  read = await node.token('read');
  const now = Date.now();
  const res = await node.postReadings(
    [
      { device_id: 'probe-fresh', region: 'devices-lab', temperature_c: 20, timestamp: now - 5_000 },
      { device_id: 'probe-fresh', region: 'devices-lab', temperature_c: 20.5, timestamp: now - 65_000 },
      { device_id: 'probe-quiet', region: 'devices-cellar', temperature_c: 12, timestamp: now - 40 * MINUTE },
      { device_id: 'greenhouse-sensor-with-a-rather-long-name-17', region: 'devices-greenhouse.north-wing', temperature_c: 25, timestamp: now - 2 * MINUTE },
    ],
    gateway,
  );
  expect(res.status).toBe(200);
  browser = await chromium.launch({
    executablePath: requireBinary('/usr/bin/chromium'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await node?.stop();
  node?.cleanup();
  expect(pageErrors).toEqual([]);
});

describe('devices panel', () => {
  it('lists every device quietest first and highlights the one silent for more than 15 minutes', async () => {
    const page = await open(1280, 900);
    try {
      await expect.poll(() => page.locator('#devices-body tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.device))).toEqual([
        'probe-quiet',
        'greenhouse-sensor-with-a-rather-long-name-17',
        'probe-fresh',
      ]);
      expect(await page.locator('#device-silent').inputValue()).toBe('15');
      expect(await row(page, 'probe-quiet').getAttribute('data-silent')).toBe('');
      expect(await row(page, 'probe-fresh').getAttribute('data-silent')).toBeNull();
      expect(await row(page, 'probe-quiet').locator('.device-seen').textContent()).toBe('40 min ago');
      expect(await row(page, 'probe-quiet').locator('.device-region').textContent()).toBe('devices-cellar');
      expect(await row(page, 'probe-fresh').locator('.device-readings').textContent()).toBe('2');
      expect(await page.textContent('#device-silent-count')).toBe('1 silent');
      await page.locator('#devices-section').screenshot({ path: join(ARTIFACTS, 'devices-desktop.png') });

      // A longer threshold: nothing is silent any more.
      await page.selectOption('#device-silent', '60');
      await expect.poll(() => row(page, 'probe-quiet').getAttribute('data-silent')).toBeNull();
      expect(await page.textContent('#device-silent-count')).toBe('');
      await page.selectOption('#device-silent', '15');

      // "Silent only" asks the node for silent sensors; the filter box narrows what is shown.
      await page.check('#device-silent-only');
      await expect.poll(() => page.locator('#devices-body tr').count()).toBe(1);
      expect(await row(page, 'probe-quiet').count()).toBe(1);
      await page.uncheck('#device-silent-only');
      await expect.poll(() => page.locator('#devices-body tr').count()).toBe(3);
      await page.fill('#device-search', 'GREENHOUSE');
      await expect.poll(() => page.locator('#devices-body tr').count()).toBe(1);
      expect(await page.textContent('#device-count')).toBe('1 of 3');
      await page.fill('#device-search', 'nothing-like-this');
      await expect.poll(() => page.locator('#devices-empty').isVisible()).toBe(true);
      expect(await page.textContent('#devices-empty')).toBe('No device matches.');
    } finally {
      await page.context().close();
    }
  });

  it('fits a phone: no sideways scrolling, the region under the device id', async () => {
    const page = await open(390, 844);
    try {
      const section = page.locator('#devices-section');
      const overflow = await section.evaluate((el) => el.scrollWidth - el.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      const table = await page.locator('.devices-scroll').evaluate((el) => el.scrollWidth - el.clientWidth);
      expect(table).toBeLessThanOrEqual(0);
      expect(await page.locator('th.device-region').isVisible()).toBe(false);
      expect(await row(page, 'probe-quiet').locator('.device-region-sub').isVisible()).toBe(true);
      await section.screenshot({ path: join(ARTIFACTS, 'devices-phone.png') });
    } finally {
      await page.context().close();
    }
  });
});
