import { test, expect, CallWriter } from '../tests/fixtures';
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { DEV_PORT } from '../playwright.config';

// A two-hour call: how fast the page shows it, scrolls it and updates it,
// and what it costs the browser and the server. Prints figures; asserts
// only that every line is shown (times are for people to read: these
// machines are shared and noisy). 500 lines are measured in the same run,
// for ratios.

const SIZES = [500, 5000];
const UPDATES = 20;

/** The dev server's resident memory, from /proc (kB). */
function serverRssKb(): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${DEV_PORT}`]).toString();
  const pid = /pid=(\d+)/.exec(out)?.[1];
  if (!pid) return NaN;
  const status = execFileSync('cat', [`/proc/${pid}/status`]).toString();
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function writeCall(writer: CallWriter, lines: number): Promise<string> {
  const id = await writer.createCall();
  // About 1.4 s a line: 5,000 lines make a two-hour call.
  const words = 'so I was wondering whether the later flight still has a window seat available';
  for (let start = 0; start < lines; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, lines - start) }, (_, k) => {
        const i = start + k;
        return writer.say(id, i % 2 ? 'Agent' : 'Customer', i * 1400, `${i}: ${words}`, false, 1200);
      }),
    );
  }
  return id;
}

/** Milliseconds from `write` to the frame after the bubble at `start`
 * reads `text`. */
async function timeToShow(page: Page, start: number, text: string, write: () => Promise<void>): Promise<number> {
  const seen = page.evaluate(
    ({ start, text }) =>
      new Promise<number>((resolve) => {
        const shown = () =>
          document.querySelector(`[data-testid="bubble"][data-start="${start}"] [data-testid="bubble-text"]`)
            ?.textContent === text;
        const done = () => requestAnimationFrame(() => setTimeout(() => resolve(performance.now())));
        if (shown()) return done();
        const observer = new MutationObserver(() => {
          if (shown()) {
            observer.disconnect();
            done();
          }
        });
        observer.observe(document.querySelector('[data-testid="transcript"]')!, {
          subtree: true,
          childList: true,
          characterData: true,
        });
      }),
    { start, text },
  );
  const sent = await page.evaluate(() => performance.now());
  await write();
  return Math.round((await seen) - sent);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

/** Scrolls the transcript from top to bottom, a step a frame; frame times. */
async function scrollFrames(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const el = document.querySelector('[data-testid="transcript"]') as HTMLElement;
    el.scrollTop = 0;
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const frames: number[] = [];
    const step = Math.max(200, el.scrollHeight / 300);
    let last = performance.now();
    while (el.scrollTop + el.clientHeight < el.scrollHeight - 2 && frames.length < 2000) {
      el.scrollTop += step;
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    return frames;
  });
}

test('a two-hour call with 5,000 lines', async ({ page, writer }) => {
  const results: Record<string, number | string>[] = [];
  for (const lines of SIZES) {
    // No page open while writing: it would follow the new call and render
    // every line as it is written.
    await page.goto('about:blank');
    await writer.reset();
    const rssBefore = serverRssKb();
    const t0 = Date.now();
    const id = await writeCall(writer, lines);
    const writeMs = Date.now() - t0;
    const rssAfter = serverRssKb();

    const opened = Date.now();
    await page.goto(`/calls/${id}`);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 120_000 });
    await expect(page.getByTestId('bubble')).toHaveCount(lines, { timeout: 120_000 });
    const shownMs = Date.now() - opened;
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'live');

    const frames = await scrollFrames(page);

    // New lines at the end, as the call goes on, then a partial growing in
    // place: from the write to the frame after the bubble changed (timed in
    // the page, so the test runner's polling does not count).
    const updates: number[] = [];
    for (let u = 0; u < UPDATES; u++) {
      const start = (lines + u) * 1400;
      updates.push(await timeToShow(page, start, `update ${u}`, () => writer.say(id, u % 2 ? 'Agent' : 'Customer', start, `update ${u}`)));
    }
    const grows: number[] = [];
    const growing = (lines + UPDATES) * 1400;
    for (let g = 1; g <= UPDATES; g++) {
      const text = 'growing '.repeat(g).trim();
      grows.push(await timeToShow(page, growing, text, () => writer.say(id, 'Customer', growing, text, true)));
    }

    const dom = await page.evaluate(() => document.getElementsByTagName('*').length);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN;
    await cdp.detach();

    results.push({
      lines,
      'write (ms)': writeMs,
      'shown (ms)': shownMs,
      'scroll frame p50 (ms)': +median(frames).toFixed(1),
      'scroll frame p95 (ms)': +p95(frames).toFixed(1),
      frames: frames.length,
      'new line p50 (ms)': median(updates),
      'new line p95 (ms)': p95(updates),
      'partial grows p50 (ms)': median(grows),
      'DOM elements': dom,
      'JS heap (MB)': +(heap / 1e6).toFixed(1),
      'server RSS before (MB)': +(rssBefore / 1024).toFixed(1),
      'server RSS after writing (MB)': +(rssAfter / 1024).toFixed(1),
    });
  }
  console.log('\nLong call benchmark (desktop Chromium, release build, embedded store):');
  console.table(results);
  const [small, big] = results;
  const ratio = (k: string) => ((big[k] as number) / (small[k] as number)).toFixed(2);
  console.log(
    `5,000 / 500 lines: shown ×${ratio('shown (ms)')}, scroll p95 ×${ratio('scroll frame p95 (ms)')}, ` +
      `new line p50 ×${ratio('new line p50 (ms)')}, partial p50 ×${ratio('partial grows p50 (ms)')}, DOM ×${ratio('DOM elements')}, heap ×${ratio('JS heap (MB)')}`,
  );
});
