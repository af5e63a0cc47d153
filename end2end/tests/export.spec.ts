import { readFile } from 'node:fs/promises';
import { test, expect } from './fixtures';

/** A strict RFC 4180 reader (quoted cells, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"' && cell === '') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else {
      cell += c;
    }
  }
  expect(quoted || cell !== '' || row.length > 0, 'the last row ends').toBe(false);
  return rows;
}

test.describe('downloading a transcript', () => {
  test('the call page offers its transcript as text, CSV and JSON, every line shown in order', async ({
    writer,
    dashboard,
    page,
  }) => {
    const id = await writer.createCall();
    const lines: ['Customer' | 'Agent', number, string][] = [
      ['Agent', 0, 'Thank you for calling TravoIQ.'],
      ['Customer', 2500, 'Hi, I said "change", not cancel'],
      ['Agent', 5000, '=1+1 is no formula here'],
      ['Customer', 7500, 'Ünïcödé ☎ 日本語 <b>not bold</b>'],
    ];
    // Written last first: the files follow the conversation, as the page does.
    for (const [speaker, startMs, text] of [...lines].reverse()) await writer.say(id, speaker, startMs, text);

    await dashboard.goto(`/calls/${id}`);
    await expect(dashboard.bubbles).toHaveCount(lines.length);
    const shown = await page.getByTestId('bubble-text').allTextContents();
    expect(shown).toEqual(lines.map(([, , text]) => text));
    // The shipped "cancel" rule marked the second line (the files say so too).
    await expect(page.locator('[data-testid="alert-badge"][data-label="Cancellation"]')).toHaveCount(1);

    for (const ext of ['txt', 'csv', 'json']) {
      await expect(page.getByTestId(`download-${ext}`)).toHaveAttribute('href', `/calls/${id}/transcript.${ext}`);
    }

    // The CSV link downloads a file named for the call and its day.
    await dashboard.showDetails();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^transcript-${id}-\\d{4}-\\d\\d-\\d\\d\\.csv$`));
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.charCodeAt(0), 'a BOM first').toBe(0xfeff);
    const [header, ...rows] = parseCsv(csv.slice(1));
    expect(header).toEqual(['speaker', 'start', 'end', 'text', 'alerts']);
    expect(rows.map((r) => r[0])).toEqual(lines.map(([speaker]) => speaker));
    expect(rows.map((r) => r[1])).toEqual(['0.00', '2.50', '5.00', '7.50']);
    // A formula-like line is defused with an apostrophe.
    expect(rows.map((r) => r[3])).toEqual(shown.map((t) => (t.startsWith('=') ? `'${t}` : t)));
    expect(rows.map((r) => r[4])).toEqual(['', 'Cancellation', '', '']);

    // The text file has every line shown, in the same order.
    const txt = await page.request.get(`/calls/${id}/transcript.txt`);
    expect(txt.status()).toBe(200);
    expect(txt.headers()['content-type']).toBe('text/plain; charset=utf-8');
    const txtLines = (await txt.text()).split('\n').filter((l) => l.startsWith('['));
    expect(txtLines).toEqual([
      '[00:00.0 - 00:00.9] Agent: Thank you for calling TravoIQ.',
      // The shipped rules raise an alert on "cancel": its label goes with the line.
      '[00:02.5 - 00:03.4] Customer: Hi, I said "change", not cancel [alerts: Cancellation]',
      '[00:05.0 - 00:05.9] Agent: =1+1 is no formula here',
      '[00:07.5 - 00:08.4] Customer: Ünïcödé ☎ 日本語 <b>not bold</b>',
    ]);

    const json = await (await page.request.get(`/calls/${id}/transcript.json`)).json();
    expect(json.call.callId).toBe(id);
    expect(json.segments.map((s: { text: string }) => s.text)).toEqual(shown);
  });
});
