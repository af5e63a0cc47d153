import { test, expect } from './fixtures';

test('no horizontal scrolling, even with very long unbroken text', async ({ writer, dashboard, page }) => {
  const id = await writer.createCall('+14155550123', { audioFromCustomer: 's3://' + 'a'.repeat(300) });
  await writer.say(id, 'Customer', 0, 'x'.repeat(50_000));
  await writer.say(id, 'Agent', 1000, 'https://example.com/' + 'segment/'.repeat(60));
  await dashboard.goto(`/calls/${id}`);
  await expect(dashboard.bubbles).toHaveCount(2);
  await page.getByText('More details').click();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('controls are thumb-sized and text is readable on a phone', async ({ writer, dashboard, page }, info) => {
  test.skip(info.project.name !== 'phone', 'phone viewport only');
  const id = await writer.createCall();
  await writer.say(id, 'Customer', 0, 'Hello');
  await dashboard.goto(`/calls/${id}`);
  for (const control of [dashboard.callIdInput, dashboard.startButton, page.locator('label.switch')]) {
    const box = await control.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
  }
  const fontSize = await dashboard.bubble('Customer', 0).getByTestId('bubble-text')
    .evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  expect(fontSize).toBeGreaterThanOrEqual(16);
  const inputFont = await dashboard.callIdInput.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  expect(inputFont).toBeGreaterThanOrEqual(16); // no zoom-on-focus
});
