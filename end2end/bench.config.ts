import base from './playwright.config';
import { defineConfig } from '@playwright/test';

// The browser benchmarks: the suite's servers and browser, another folder,
// desktop only, no retries, no trace (a trace records every request, and
// the long-call bench writes 25,000 lines through the developer API: the
// runner slowed to a crawl). `npx playwright test -c bench.config.ts`.
export default defineConfig({
  ...base,
  use: { ...base.use, trace: 'off' },
  testDir: './bench',
  retries: 0,
  timeout: 1_800_000,
  projects: (base.projects ?? []).filter((p) => p.name === 'desktop'),
});
