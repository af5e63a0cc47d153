import { test, expect, CallWriter } from '../tests/fixtures';
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { DEV_PORT } from '../playwright.config';

// A two-hour call and an eight-hour one: how fast the page shows them,
// scrolls them and updates them, and what they cost the browser and the
// server. Prints figures; asserts only that every line is drawn on the way
// from the newest to the first (times are for people to read: these
// machines are shared and noisy). 500 lines are measured in the same run,
// for ratios.

// BENCH_LINES=500,2000 measures other sizes.
const SIZES = (process.env.BENCH_LINES ?? '500,5000,20000').split(',').map(Number);
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
  await writer.sayMany(id, lines, (i) => `${i}: ${words}`);
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

/** Scrolls the transcript from the newest line up to the first, a step a
 * frame (earlier lines are drawn as the top nears); frame times, and every
 * line seen drawn on the way. */
async function scrollUp(page: Page): Promise<{ frames: number[]; seen: number; most: number }> {
  return page.evaluate(async () => {
    const el = document.querySelector('[data-testid="transcript"]') as HTMLElement;
    el.scrollTop = el.scrollHeight;
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    const frames: number[] = [];
    const seen = new Set<string>();
    let most = 0;
    const look = () => {
      const bubbles = el.querySelectorAll('[data-testid="bubble"]');
      most = Math.max(most, bubbles.length);
      bubbles.forEach((b) => seen.add(b.getAttribute('data-start')!));
    };
    const step = Math.max(1000, el.clientHeight);
    let last = performance.now();
    look();
    while ((el.scrollTop > 0 || el.querySelector('[data-testid="earlier-lines"]')) && frames.length < 20000) {
      el.scrollTop -= step;
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      const now = performance.now();
      frames.push(now - last);
      last = now;
      look();
    }
    return { frames, seen: seen.size, most };
  });
}

test('calls of 500, 5,000 and 20,000 lines', async ({ page, writer }) => {
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

    // Shown: the newest line on screen as the server drew it; usable: the
    // page hydrated (it scrolls, searches and updates).
    const newest = page.locator(`[data-testid="bubble"][data-start="${(lines - 1) * 1400}"]`);
    const opened = Date.now();
    await page.goto(`/calls/${id}`, { waitUntil: 'commit' });
    await expect(newest).toBeAttached({ timeout: 120_000 });
    const shownMs = Date.now() - opened;
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 120_000 });
    const hydratedMs = Date.now() - opened;
    await expect(newest).toBeInViewport();
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'live');
    const domAtLoad = await page.evaluate(() => document.getElementsByTagName('*').length);

    // New lines on the page as opened, then again after the scroll through
    // every line below: a page that keeps some cost of each bubble it drew
    // (leptos memos once did) is slower after.
    const newLine = async (u: number) => {
      const start = (lines + u) * 1400;
      return timeToShow(page, start, `update ${u}`, () => writer.say(id, u % 2 ? 'Agent' : 'Customer', start, `update ${u}`));
    };
    const opening: number[] = [];
    for (let u = 0; u < UPDATES / 2; u++) opening.push(await newLine(u));

    const { frames, seen, most } = await scrollUp(page);
    expect(seen).toBe(lines + UPDATES / 2);
    // Back to the end, following.
    await page.getByTestId('new-messages').click();
    await expect(page.locator(`[data-testid="bubble"][data-start="${(lines + UPDATES / 2 - 1) * 1400}"]`)).toBeInViewport();

    // New lines at the end, as the call goes on, then a partial growing in
    // place: from the write to the frame after the bubble changed (timed in
    // the page, so the test runner's polling does not count).
    const updates: number[] = [];
    for (let u = UPDATES / 2; u < UPDATES * 1.5; u++) updates.push(await newLine(u));
    const grows: number[] = [];
    const growing = (lines + UPDATES * 1.5) * 1400;
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
      'hydrated (ms)': hydratedMs,
      'scroll frame p50 (ms)': +median(frames).toFixed(1),
      'scroll frame p95 (ms)': +p95(frames).toFixed(1),
      frames: frames.length,
      'most bubbles': most,
      'DOM at load': domAtLoad,
      'new line on opening p50 (ms)': median(opening),
      'new line after the scroll p50 (ms)': median(updates),
      'new line after the scroll p95 (ms)': p95(updates),
      'partial grows p50 (ms)': median(grows),
      'DOM elements': dom,
      'JS heap (MB)': +(heap / 1e6).toFixed(1),
      'server RSS before (MB)': +(rssBefore / 1024).toFixed(1),
      'server RSS after writing (MB)': +(rssAfter / 1024).toFixed(1),
    });
  }
  console.log('\nLong call benchmark (desktop Chromium, release build, embedded store; the page draws a window of each call):');
  console.table(results);
  for (const r of results) {
    const after = r['new line after the scroll p50 (ms)'] as number;
    const before = r['new line on opening p50 (ms)'] as number;
    console.log(`${r.lines} lines: a new line after the scroll ×${(after / before).toFixed(2)} of one on opening`);
  }
  const small = results[0];
  for (const big of results.slice(1)) {
    const ratio = (k: string) => ((big[k] as number) / (small[k] as number)).toFixed(2);
    console.log(
      `${big.lines} / ${small.lines} lines: shown ×${ratio('shown (ms)')}, hydrated ×${ratio('hydrated (ms)')}, ` +
        `scroll p95 ×${ratio('scroll frame p95 (ms)')}, new line p50 ×${ratio('new line after the scroll p50 (ms)')}, ` +
        `partial p50 ×${ratio('partial grows p50 (ms)')}, DOM ×${ratio('DOM elements')}, heap ×${ratio('JS heap (MB)')}`,
    );
  }
});
