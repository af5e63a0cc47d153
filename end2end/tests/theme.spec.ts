import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';

/** WCAG relative luminance of a CSS `rgb(...)` colour. */
function luminance(rgb: string): number {
  const [r, g, b] = rgb.match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Text colour and the background it sits on, for `selector`. */
async function colours(page: Page, selector: string): Promise<{ fg: string; bg: string }> {
  return page.locator(selector).first().evaluate((el) => {
    let bg = 'rgba(0, 0, 0, 0)';
    for (let e: Element | null = el; e && bg.startsWith('rgba(0, 0, 0, 0)'); e = e.parentElement) {
      bg = getComputedStyle(e).backgroundColor;
    }
    return { fg: getComputedStyle(el).color, bg };
  });
}

for (const scheme of ['light', 'dark'] as const) {
  // Colours and icons, whatever the store: the DynamoDB runs leave them out.
  test.describe(`the ${scheme} theme`, { tag: '@browser-only' }, () => {
    test.use({ colorScheme: scheme });

    test(`follows the system setting and keeps text readable (${scheme})`, async ({ writer, dashboard, page }) => {
      const id = await writer.createCall();
      await writer.say(id, 'Customer', 0, 'Hello, I need help');
      await writer.say(id, 'Agent', 1500, 'Of course');
      await dashboard.goto(`/calls/${id}`);
      await expect(dashboard.bubbles).toHaveCount(2);

      const page_bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      const dark = luminance(page_bg) < 0.1;
      expect(dark, `page background ${page_bg}`).toBe(scheme === 'dark');

      // WCAG AA: 4.5:1 for body text, in both bubbles and the details.
      for (const selector of [
        '[data-speaker="Customer"] [data-testid="bubble-text"]',
        '[data-speaker="Agent"] [data-testid="bubble-text"]',
        '[data-speaker="Customer"] .who',
        '[data-testid="call-id"]',
        '.facts dt',
        '[data-testid="connection-status"]',
      ]) {
        const { fg, bg } = await colours(page, selector);
        expect(contrast(fg, bg), `${selector}: ${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
      }
      // The two sides stay apart by more than colour: each bubble names
      // its speaker, and they sit on opposite sides.
      await expect(dashboard.bubble('Customer', 0).locator('.who')).toHaveText('Customer');
      await expect(dashboard.bubble('Agent', 1500).locator('.who')).toHaveText('Agent');
      const customer = (await dashboard.bubble('Customer', 0).boundingBox())!;
      const agent = (await dashboard.bubble('Agent', 1500).boundingBox())!;
      expect(agent.x + agent.width).toBeGreaterThan(customer.x + customer.width);
    });
  });
}

test('the app can be installed: a valid manifest with home-screen icons', { tag: '@browser-only' }, async ({ page, request }) => {
  await page.goto('/');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBe('/manifest.webmanifest');
  const res = await request.get(href!);
  expect(res.status()).toBe(200);
  const manifest = await res.json();
  expect(manifest.name).toBe('TravoIQ Monitor');
  expect(manifest.start_url).toBe('/');
  expect(manifest.display).toBe('standalone');
  expect(manifest.icons.length).toBeGreaterThan(0);
  for (const icon of manifest.icons) {
    const got = await request.get(icon.src);
    expect(got.status(), icon.src).toBe(200);
    expect(got.headers()['content-type']).toContain(icon.type);
    // A PNG is as large as it says (its IHDR width and height).
    if (icon.type === 'image/png') {
      const png = await got.body();
      expect(png.subarray(1, 4).toString('latin1'), icon.src).toBe('PNG');
      const [w, h] = icon.sizes.split('x').map(Number);
      expect([png.readUInt32BE(16), png.readUInt32BE(20)], icon.src).toEqual([w, h]);
    }
  }
  // What Android and iOS ask for: 192 and 512 px PNGs, one maskable.
  const png = (size: string, purpose: string) =>
    manifest.icons.some((i: { type: string; sizes: string; purpose: string }) =>
      i.type === 'image/png' && i.sizes === size && i.purpose.split(' ').includes(purpose));
  expect(png('192x192', 'any')).toBe(true);
  expect(png('512x512', 'any')).toBe(true);
  expect(png('512x512', 'maskable')).toBe(true);
  const touch = await page.locator('link[rel="apple-touch-icon"]').getAttribute('href');
  expect((await request.get(touch!)).status()).toBe(200);
});
