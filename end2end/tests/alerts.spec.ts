import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';

const row = (page: Page, id: string) => page.locator(`[data-testid="call-row"][data-call-id="${id}"]`);

async function live(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'live');
}

/** Resolves with the page's clock (ms) when `selector` first matches. */
function whenShown(page: Page, selector: string): Promise<number> {
  return page.evaluate(
    (sel) =>
      new Promise<number>((resolve) => {
        const seen = () => document.querySelector(sel) !== null;
        if (seen()) return resolve(performance.timeOrigin + performance.now());
        const watch = new MutationObserver(() => {
          if (seen()) {
            watch.disconnect();
            resolve(performance.timeOrigin + performance.now());
          }
        });
        watch.observe(document.body, { subtree: true, childList: true, attributes: true });
      }),
    selector,
  );
}

test('an escalation lights up the call and the floor within a second, its words marked; a partial never does', async ({
  writer,
  page,
  context,
}, info) => {
  const id = await writer.createCall('+14155550142', { agentUsername: 'amy' });
  await writer.say(id, 'Agent', 0, 'TravoIQ, this is Amy.');
  await live(page, `/calls/${id}`);
  const floor = await context.newPage();
  await live(floor, '/calls');
  await expect(row(floor, id)).toBeVisible();

  // A partial with the words: nothing (it may still change).
  await writer.say(id, 'Customer', 2_000, 'I want to speak to a manager', true);
  await expect(page.locator('[data-testid="bubble"][data-partial="true"]')).toContainText('speak to a manager');
  await page.waitForTimeout(500);
  await expect(page.getByTestId('alert-badge')).toHaveCount(0);
  await expect(page.getByTestId('alert-hit')).toHaveCount(0);

  const onCall = whenShown(page, '[data-testid="alert-badge"][data-label="Escalation"]');
  const onFloor = whenShown(floor, `[data-call-id="${id}"] [data-testid="alert-badge"][data-label="Escalation"]`);
  const written = Date.now();
  await writer.say(id, 'Customer', 2_000, 'I want to speak to a manager, and a refund.', false);
  const [callAt, floorAt] = await Promise.all([onCall, onFloor]);
  console.log(
    `${info.project.name}: final written -> badge on the call ${Math.round(callAt - written)} ms, on the floor ${Math.round(floorAt - written)} ms`,
  );
  const badge = page.locator('[data-testid="alert-badge"][data-label="Escalation"]');
  await expect(badge).toHaveAttribute('data-severity', 'critical');
  await expect(badge).toHaveAttribute('data-count', '1');
  await expect(page.locator('[data-testid="alert-badge"][data-label="Refund"]')).toHaveAttribute('data-count', '1');
  // The words that raised it are marked in their bubble, as text.
  const hits = page.getByTestId('alert-hit');
  await expect(hits).toHaveText(['speak to a manager', 'refund']);
  await expect(hits.first()).toHaveAttribute('data-label', 'Escalation');
  await expect(page.locator('[data-testid="bubble-text"]').last()).toHaveText(
    'I want to speak to a manager, and a refund.',
  );
  // The floor counts them; sorting by alerts puts the call first.
  await expect(row(floor, id).getByTestId('alert-badge')).toHaveCount(2);
  const quiet = await writer.createCall('+14155550143', { agentUsername: 'bob' });
  await expect(row(floor, quiet)).toBeVisible();
  await floor.getByTestId('floor-sort').selectOption('alerts');
  await expect(floor).toHaveURL(/sort=alerts/);
  await expect(floor.getByTestId('call-row').first()).toHaveAttribute('data-call-id', id);
  await floor.locator('label.switch', { has: floor.getByTestId('floor-with-alerts') }).click();
  await expect(floor.getByTestId('floor-with-alerts')).toBeChecked();
  await expect(floor).toHaveURL(/alerts=1/);
  await expect(floor.getByTestId('call-row')).toHaveCount(1);

  // Kept with the call: a page opened later shows them.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('[data-testid="alert-badge"][data-label="Escalation"]')).toBeVisible();
  await expect(page.getByTestId('alert-hit')).toHaveCount(2);

  // The export names the alerts on their line.
  const csv = await (await page.request.get(`/calls/${id}/transcript.csv`)).text();
  expect(csv).toContain('"I want to speak to a manager, and a refund.",Escalation; Refund');
});

test.describe('the Rules page', () => {
  // The refused rule is a 400 answer, which the browser logs.
  test.use({ allowConsole: ['status of 400'] });
  test('a rule added on the Rules page applies to the next final; a broken one is refused with the reason', async ({
    writer,
    page,
  }) => {
    const id = await writer.createCall('+14155550144', { agentUsername: 'amy' });
    const phrase = `zebra${Date.now() % 100000}`;
    await page.goto('/rules');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByTestId('rule-row').filter({ hasText: 'Escalation' })).toBeVisible();

    await page.getByTestId('rule-label').fill('Zebra');
    await page.getByTestId('rule-kind').selectOption('regex');
    await page.getByTestId('rule-pattern-input').fill('speak to (a|your');
    await page.getByTestId('rule-save').click();
    await expect(page.getByTestId('rules-error')).toContainText('Not a valid regular expression');

    await page.getByTestId('rule-kind').selectOption('phrase');
    await page.getByTestId('rule-pattern-input').fill(phrase);
    await page.getByTestId('rule-speaker').selectOption('agent');
    await page.getByTestId('rule-severity').selectOption('info');
    await page.getByTestId('rule-save').click();
    await expect(page.getByTestId('rules-message')).toContainText('Zebra');
    const rule = page.getByTestId('rule-row').filter({ hasText: phrase });
    await expect(rule).toBeVisible();

    try {
      await live(page, `/calls/${id}`);
      // The customer saying it: the rule watches the agent only.
      await writer.say(id, 'Customer', 0, `A ${phrase} here`);
      await writer.say(id, 'Agent', 1_000, `Yes, a ${phrase.toUpperCase()} there`);
      await expect(page.locator('[data-testid="alert-badge"][data-label="Zebra"]')).toHaveAttribute('data-count', '1');
      await expect(page.getByTestId('alert-hit')).toHaveText([phrase.toUpperCase()]);
    } finally {
      await page.goto('/rules');
      await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
      page.once('dialog', (d) => d.accept());
      await page.getByTestId('rule-row').filter({ hasText: phrase }).getByTestId('rule-delete').click();
      await expect(page.getByTestId('rule-row').filter({ hasText: phrase })).toHaveCount(0);
    }
  });
});

test.describe('as an agent', () => {
  test.use({ signInAs: 'agent' });

  test('the rules are not theirs to see, and their floor shows their own alerts only', async ({ writer, page }) => {
    const mine = await writer.createCall('+14155550145', { agentUsername: 'agent' });
    const theirs = await writer.createCall('+14155550146', { agentUsername: 'bob' });
    await writer.say(mine, 'Customer', 0, 'I would like to cancel.');
    await writer.say(theirs, 'Customer', 0, 'Let me speak to your supervisor.');
    await page.goto('/rules');
    await expect(page.getByTestId('rules-refused')).toBeVisible();
    await expect(page.getByTestId('rule-form')).toHaveCount(0);
    await live(page, '/calls');
    await expect(page.getByTestId('call-row')).toHaveCount(1);
    await expect(row(page, mine).locator('[data-testid="alert-badge"][data-label="Cancellation"]')).toBeVisible();
    await expect(page.locator('[data-label="Escalation"]')).toHaveCount(0);
    await expect(page.getByTestId('rules-link')).toHaveCount(0);
  });
});

test('alert latency, write to badge, on the call, the floor and the wall (figures printed)', async ({
  writer,
  page,
  context,
}, info) => {
  const id = await writer.createCall('+14155550147', { agentUsername: 'amy' });
  await live(page, `/calls/${id}`);
  const floor = await context.newPage();
  await live(floor, '/calls');
  await expect(row(floor, id)).toBeVisible();
  const wall = await context.newPage();
  await wall.goto(`/wall?calls=${id}`);
  await expect(wall.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(wall.locator(`[data-call-id="${id}"] [data-testid="connection-status"]`)).toHaveAttribute(
    'data-state',
    'live',
  );
  const where = { call: [] as number[], floor: [] as number[], wall: [] as number[] };
  const runs = 15;
  for (let i = 1; i <= runs; i++) {
    const badge = `[data-testid="alert-badge"][data-label="Escalation"][data-count="${i}"]`;
    const shown = Promise.all([
      whenShown(page, badge),
      whenShown(floor, `[data-call-id="${id}"] ${badge}`),
      whenShown(wall, `[data-call-id="${id}"] ${badge}`),
    ]);
    const written = Date.now();
    await writer.say(id, 'Customer', i * 2_000, `Line ${i}: let me speak to your supervisor.`);
    const [a, b, c] = await shown;
    where.call.push(a - written);
    where.floor.push(b - written);
    where.wall.push(c - written);
  }
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((x, y) => x - y);
    return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]);
  };
  const figures = Object.entries(where)
    .map(([name, xs]) => `${name} p50 ${pct(xs, 50)} ms, p95 ${pct(xs, 95)} ms`)
    .join('; ');
  console.log(`${info.project.name}: alert write -> badge over ${runs} finals: ${figures}`);
  await expect(page.locator('[data-testid="alert-badge"][data-label="Escalation"]')).toHaveAttribute('data-count', String(runs));
  await expect(page.getByTestId('alert-hit')).toHaveCount(runs);
  await expect(wall.getByTestId('alert-hit')).toHaveCount(runs);
});

test('critical alerts notify only once switched on, and the choice is remembered', async ({ writer, page }) => {
  // The page's notifications, recorded instead of shown.
  await page.addInitScript(() => {
    const w = window as unknown as { __notes: { title: string; body?: string }[]; Notification: unknown };
    w.__notes = [];
    class Recorded {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title: string, options?: { body?: string }) {
        w.__notes.push({ title, body: options?.body });
      }
    }
    w.Notification = Recorded;
  });
  const notes = () => page.evaluate(() => (window as unknown as { __notes: { body?: string }[] }).__notes);
  const id = await writer.createCall('+14155550148', { agentUsername: 'amy' });
  await live(page, `/calls/${id}`);
  const toggle = page.getByTestId('details-toggle');
  if (await toggle.isVisible()) await toggle.click();
  const sw = page.getByTestId('notify-critical');
  await expect(sw).not.toBeChecked();

  // Off by default: a critical alert shows its badge, and nothing else.
  await writer.say(id, 'Customer', 0, 'I want to speak to a manager.');
  await expect(page.locator('[data-testid="alert-badge"][data-label="Escalation"]')).toHaveAttribute('data-count', '1');
  expect(await notes()).toEqual([]);

  await page.locator('label.switch', { has: sw }).click();
  await expect(sw).toBeChecked();
  await writer.say(id, 'Customer', 2_000, 'A refund, please.');
  await expect(page.locator('[data-testid="alert-badge"][data-label="Refund"]')).toBeVisible();
  await writer.say(id, 'Customer', 4_000, 'Let me speak to your supervisor.');
  await expect(page.locator('[data-testid="alert-badge"][data-label="Escalation"]')).toHaveAttribute('data-count', '2');
  // One notification: the critical one (a warning never notifies).
  await expect.poll(notes).toHaveLength(1);
  expect((await notes())[0].body).toContain(`call ${id.split('-')[0]}`);

  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  if (await toggle.isVisible()) await toggle.click();
  await expect(page.getByTestId('notify-critical')).toBeChecked();
});
