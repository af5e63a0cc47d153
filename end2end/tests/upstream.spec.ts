import { test, expect } from './fixtures';

// What the real upstream writers do, seen in the browser: a transcription
// session that restarts mid-call (its times start again near zero) must
// not lose or misplace a line. The DynamoDB reader is what copes with it,
// so these run on the DynamoDB backend only.
const onDynamo = (process.env.E2E_BACKEND ?? 'memory') === 'dynamodb';

test.describe('upstream writers as they are', () => {
  test.skip(!onDynamo, 'the DynamoDB reader only');

  test('a session that restarts mid-call shows every line once, in the order spoken', async ({
    writer,
    dashboard,
  }) => {
    test.setTimeout(60_000);
    const id = await writer.createCall();
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');

    const expected: string[] = [];
    for (let i = 0; i < 17; i++) {
      const speaker = i % 2 === 0 ? 'Customer' : 'Agent';
      // 700 ms a line, in real time; the new session began just before line 9.
      const start = i < 9 ? i * 700 : 300 + (i - 9) * 700;
      const text = `Line ${i} of the call`;
      expected.push(text);
      await writer.say(id, speaker, start, text.slice(0, 6), true);
      await writer.say(id, speaker, start, text, false);
      // The failed session is noticed and a new one started.
      await dashboard.page.waitForTimeout(i === 8 ? 1500 : 700);
    }
    const texts = dashboard.bubbles.getByTestId('bubble-text');
    await expect(texts).toHaveText(expected, { timeout: 15_000 });
    await expect(dashboard.bubbles.and(dashboard.page.locator('[data-partial="true"]'))).toHaveCount(0);

    // Opened afresh, the page shows the same.
    await dashboard.goto(`/calls/${id}`);
    await expect(texts).toHaveText(expected);
  });
});
