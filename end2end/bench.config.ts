import base from './playwright.config';
import { defineConfig } from '@playwright/test';

// The browser benchmarks: the suite's servers and browser, another folder,
// desktop only, no retries. `npx playwright test -c bench.config.ts`.
export default defineConfig({
  ...base,
  testDir: './bench',
  retries: 0,
  timeout: 600_000,
  projects: (base.projects ?? []).filter((p) => p.name === 'desktop'),
});
