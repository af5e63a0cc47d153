import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';

async function openCall(page: Page, id: string): Promise<void> {
  await page.goto(`/calls/${id}`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'live');
  // On a phone the tools are under "Details".
  const toggle = page.getByTestId('details-toggle');
  if (await toggle.isVisible()) await toggle.click();
}

test('find in the transcript counts every hit, steps from one to the next, and keeps up with new lines', async ({
  writer,
  page,
}) => {
  const id = await writer.createCall('+14155550150');
  for (let i = 0; i < 40; i++) {
    const who = i % 2 ? 'Customer' : 'Agent';
    const text = i % 10 === 3 ? `Line ${i}: the Booking reference, booking twice` : `Line ${i}: nothing to see <b>here</b>`;
    await writer.say(id, who, i * 1_000, text);
  }
  await openCall(page, id);
  const input = page.getByTestId('find-input');
  await input.fill('b');
  await expect(page.getByTestId('find-count')).toHaveText('Type one more letter');
  await input.fill('booking');
  // Four lines with two each; matched ignoring case.
  await expect(page.getByTestId('find-count')).toHaveText('1 of 8');
  await expect(page.getByTestId('find-hit')).toHaveCount(8);
  await expect(page.locator('mark.find.current')).toHaveText('Booking');
  // The first hit is brought into view (the transcript followed the end).
  await expect(page.locator('mark.find.current')).toBeInViewport();
  await page.getByTestId('find-next').click();
  await expect(page.getByTestId('find-count')).toHaveText('2 of 8');
  await input.press('Enter');
  await expect(page.getByTestId('find-count')).toHaveText('3 of 8');
  await expect(page.locator('mark.find.current')).toBeInViewport();
  await input.press('Shift+Enter');
  await page.getByTestId('find-prev').click();
  await page.getByTestId('find-prev').click();
  await expect(page.getByTestId('find-count')).toHaveText('8 of 8');
  // A new line with the words counts at once.
  await writer.say(id, 'Agent', 50_000, 'One more booking.');
  await expect(page.getByTestId('find-count')).toHaveText(/ of 9$/);
  // Hostile text stays text, and a search for markup finds the text.
  await input.fill('<b>');
  await expect(page.getByTestId('find-count')).toHaveText('1 of 36');
  await expect(page.locator('[data-testid="bubble-text"] b')).toHaveCount(0);
  await input.press('Escape');
  await expect(page.getByTestId('find-hit')).toHaveCount(0);
  await expect(page.getByTestId('find-count')).toHaveText('');
});

test('talk time shows each side, the silence and the longest silence, live', async ({ writer, page }) => {
  const id = await writer.createCall('+14155550151');
  // Agent 0–4 s, customer 6–10 s: a 10 s span, 2 s of silence.
  await writer.say(id, 'Agent', 0, 'Hello, TravoIQ.', false, 4_000);
  await writer.say(id, 'Customer', 6_000, 'Hi, I need help.', false, 4_000);
  await openCall(page, id);
  await expect(page.getByTestId('talk-agent')).toHaveText('0:04 (40%)');
  await expect(page.getByTestId('talk-customer')).toHaveText('0:04 (40%)');
  await expect(page.getByTestId('talk-silence')).toHaveText('20%');
  await expect(page.getByTestId('talk-longest')).toHaveText('0:02');
  // Twelve seconds of silence, then the agent: the chart follows.
  await writer.say(id, 'Agent', 22_000, 'Sorry for the wait.', false, 3_000);
  await expect(page.getByTestId('talk-longest')).toHaveText('0:12');
  await expect(page.getByTestId('talk-agent')).toHaveText('0:07 (28%)');
});
