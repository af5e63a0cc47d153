import { test, expect } from './fixtures';

test.describe('watching a call', () => {
  test('a call opens by its address with its details and the transcript so far', async ({ writer, dashboard, page }) => {
    const id = await writer.createCall('+14155550123', { mergeStatus: 'pending' });
    await writer.say(id, 'Agent', 0, 'Thank you for calling TravoIQ.');
    await writer.say(id, 'Customer', 2500, 'I need to change my flight.');

    await dashboard.goto(`/calls/${id}`);
    await expect(page).toHaveURL(`/calls/${id}`);
    await expect(dashboard.callId).toHaveText(id);
    await expect(dashboard.phone).toHaveText('+14155550123');
    await expect(dashboard.start).not.toHaveText('unknown');
    await expect(dashboard.callState).toHaveText('Live');
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await expect(dashboard.status).toHaveText('Connected');
    await expect(dashboard.bubbles).toHaveCount(2);
    await expect(dashboard.bubble('Agent', 0)).toContainText('Thank you for calling TravoIQ.');
    await expect(dashboard.bubble('Customer', 2500)).toContainText('0:02');
    // Other attributes of the item are shown as extra details, named in words.
    await dashboard.showDetails();
    await page.getByText('More details').click();
    await expect(page.getByText('Recording merge')).toBeVisible();
    await expect(page.getByText('pending')).toBeVisible();
  });

  test('the duration ticks while the call is live', async ({ writer, dashboard }) => {
    const id = await writer.createCall();
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.duration).toHaveText(/^\d+:\d\d$/);
    const first = await dashboard.duration.textContent();
    await expect(dashboard.duration).not.toHaveText(first!, { timeout: 4_000 });
  });

  test('a partial grows in one bubble and becomes final in place', async ({ writer, dashboard }) => {
    const id = await writer.createCall();
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');

    const bubble = dashboard.bubble('Customer', 1000);
    await writer.say(id, 'Customer', 1000, 'I would', true);
    await expect(bubble).toContainText('I would');
    await expect(bubble).toHaveAttribute('data-partial', 'true');
    await expect(bubble).toHaveClass(/partial/);

    await writer.say(id, 'Customer', 1000, 'I would like to', true);
    await expect(bubble.getByTestId('bubble-text')).toHaveText('I would like to');
    await writer.say(id, 'Customer', 1000, 'I would like to book a hotel.', false);
    await expect(bubble.getByTestId('bubble-text')).toHaveText('I would like to book a hotel.');
    await expect(bubble).toHaveAttribute('data-partial', 'false');
    await expect(bubble).not.toHaveClass(/partial/);
    await expect(dashboard.bubbles).toHaveCount(1);
  });

  test('the conversation is in start-time order, customer left in green, agent right in gray', async ({
    writer,
    dashboard,
  }) => {
    const id = await writer.createCall();
    await writer.say(id, 'Agent', 3000, 'Second, from the agent');
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    // Written later, spoken earlier: goes first.
    await writer.say(id, 'Customer', 1000, 'First, from the customer');
    await expect(dashboard.bubbles).toHaveCount(2);
    await expect(dashboard.bubbles.nth(0)).toHaveAttribute('data-speaker', 'Customer');
    await expect(dashboard.bubbles.nth(1)).toHaveAttribute('data-speaker', 'Agent');

    const customer = dashboard.bubble('Customer', 1000);
    const agent = dashboard.bubble('Agent', 3000);
    const box = await dashboard.transcript.boundingBox();
    const c = await customer.boundingBox();
    const a = await agent.boundingBox();
    expect(c!.x - box!.x).toBeLessThan(box!.width * 0.15); // hugs the left
    expect(a!.x + a!.width).toBeGreaterThan(box!.x + box!.width * 0.85); // hugs the right
    const bg = (l: typeof customer) => l.evaluate((el) => getComputedStyle(el).backgroundColor);
    const [cr, cg, cb] = (await bg(customer)).match(/\d+/g)!.map(Number);
    expect(cg).toBeGreaterThan(cr + 10); // green
    expect(cg).toBeGreaterThan(cb + 10);
    const [ar, ag, ab] = (await bg(agent)).match(/\d+/g)!.map(Number);
    expect(Math.max(ar, ag, ab) - Math.min(ar, ag, ab)).toBeLessThan(12); // gray
  });

  test('hostile transcript text is shown as text, never run as HTML', async ({ writer, dashboard, page }) => {
    const id = await writer.createCall('<img src=x onerror="window.__pwned=1">');
    const hostile = [
      '<img src=x onerror="window.__pwned=1">',
      '<script>window.__pwned=1</script>',
      '"><svg onload="window.__pwned=1">',
      'مرحبا، أريد تغيير رحلتي ✈️🙂',
      // Odd Unicode: combining accents, a ZWJ family emoji, a right-to-left
      // override, CJK, letters outside the basic plane.
      'Zoe\u0308 cafe\u0301 👩\u200d👩\u200d👧 \u202egnp.exe 你好 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
      '',
    ];
    await writer.say(id, 'Customer', 0, hostile[0]);
    await dashboard.goto(`/calls/${id}`); // server-rendered…
    for (const [i, text] of hostile.slice(1).entries()) {
      await writer.say(id, i % 2 ? 'Customer' : 'Agent', (i + 1) * 1000, text); // …and live
    }
    await expect(dashboard.bubbles).toHaveCount(hostile.length);
    for (const [i, text] of hostile.entries()) {
      await expect(dashboard.bubbles.nth(i).getByTestId('bubble-text')).toHaveText(text);
    }
    await expect(dashboard.phone).toHaveText('<img src=x onerror="window.__pwned=1">');
    await expect(dashboard.transcript.locator('img, script, svg')).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  });

  test('follows the newest line, but not while the reader has scrolled up', async ({ writer, dashboard, page }) => {
    const id = await writer.createCall();
    for (let i = 0; i < 40; i++) {
      await writer.say(id, i % 2 ? 'Agent' : 'Customer', i * 2000, `Line ${i}: ${'words '.repeat(8)}`);
    }
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.bubbles).toHaveCount(40);
    const distanceFromEnd = () =>
      dashboard.transcript.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await expect.poll(distanceFromEnd).toBeLessThan(5);

    // A new line while at the end: stays at the end.
    await writer.say(id, 'Agent', 90_000, 'Newest line');
    await expect(dashboard.bubbles).toHaveCount(41);
    await expect.poll(distanceFromEnd).toBeLessThan(5);
    await expect(dashboard.newMessages).toBeHidden();

    // Scrolled up to read: stays put and offers a jump.
    await dashboard.transcript.evaluate((el) => el.scrollTo(0, 0));
    await expect.poll(() => dashboard.transcript.evaluate((el) => el.scrollTop)).toBe(0);
    await writer.say(id, 'Customer', 92_000, 'Another new line');
    await expect(dashboard.newMessages).toBeVisible();
    expect(await dashboard.transcript.evaluate((el) => el.scrollTop)).toBe(0);

    await dashboard.newMessages.click();
    await expect.poll(distanceFromEnd).toBeLessThan(5);
    await expect(dashboard.newMessages).toBeHidden();
    await expect(dashboard.transcript.getByText('Another new line')).toBeInViewport();
  });

  test('the end of a call shows as ended', async ({ writer, dashboard }) => {
    const id = await writer.createCall();
    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.status).toHaveAttribute('data-state', 'live');
    await writer.end(id);
    await expect(dashboard.status).toHaveAttribute('data-state', 'ended');
    await expect(dashboard.status).toHaveText('Call ended');
    await expect(dashboard.callState).toHaveText('Ended');
    // The duration stops.
    const frozen = await dashboard.duration.textContent();
    await dashboard.page.waitForTimeout(1500);
    await expect(dashboard.duration).toHaveText(frozen!);
  });
});
