// Draws the app's PNG icons from its SVG with the test browser (Chromium),
// so there is no image tool to install: `node icons.mjs` in end2end/.
// The home-screen icons of the web app manifest (public/manifest.webmanifest):
// 192 and 512 px, and a maskable one whose glyph keeps inside the safe zone
// (the middle 80 %) so a launcher can crop it to any shape.
import { chromium } from '@playwright/test';
import { readFile } from 'node:fs/promises';

const out = new URL('../public/icons/', import.meta.url);
const favicon = await readFile(new URL('../public/favicon.svg', import.meta.url), 'utf8');
// The maskable one: the brand colour to every edge, the lines scaled into the safe zone.
const maskable = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" fill="#0f766e"/><g transform="translate(16 16) scale(0.72) translate(-16 -16)"><path d="M9 11h14M9 16h10M9 21h6" stroke="#fff" stroke-width="3" stroke-linecap="round"/></g></svg>`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage();
for (const [name, svg, size] of [
  ['icon-192.png', favicon, 192],
  ['icon-512.png', favicon, 512],
  ['icon-maskable-512.png', maskable, 512],
]) {
  await page.setViewportSize({ width: size, height: size });
  const inline = svg.replace('<svg ', `<svg width="${size}" height="${size}" `);
  await page.setContent(`<html><body style="margin:0;background:transparent">${inline}</body></html>`);
  await page.locator('svg').screenshot({ path: new URL(name, out).pathname, omitBackground: true });
  console.log(`public/icons/${name}`);
}
await browser.close();
