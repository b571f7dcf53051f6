// The explorer's views beyond the attention weights, in headless Chromium on the toy model:
// the weight / value-weighted / rollout switch (the sink head L0H2 moves nothing), thumbnails
// ranked by direct logit attribution for a locked token (the induction head first), and the
// composition panel (L0H0 -> L1H0 by K-composition). Screenshots go to the artifacts directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cli, launch, openExplorer, ARTIFACTS } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
  if (browser) {
    assert.deepEqual(browser.requests, [], 'the explorer made network requests');
    await browser.close();
  }
});

// BOS, "abcdefghij", " ", "abcde": at the second "c" (position 14) the next token is "d", which
// the induction head L1H0 copies from position 4.
const PROMPT = 'abcdefghij abcde';

async function setLayer(page, li) {
  await page.evaluate((v) => {
    const s = document.getElementById('layer-slider');
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, li);
}

test('analysis views: value-weighted, rollout, DLA ranking and composition edges', async () => {
  const out = path.join(ARTIFACTS, 'explorer_analysis_toy.html');
  const r = cli(['explore', '-p', PROMPT, '-o', out, '--force']);
  assert.equal(r.status, 0, r.stderr);
  const { page, events } = await openExplorer(browser, out);
  assert.equal(await page.locator('#view-switch button').count(), 3);
  const read = (li, h, q, k) => page.evaluate(([a, b, c, d]) => window.attnscopeExplorer.value(a, b, c, d), [li, h, q, k]);

  // Weights: the sink head L0H2 puts ~all its weight on BOS. Value-weighted: it moves nothing.
  await setLayer(page, 0);
  assert.ok(await read(0, 2, 8, 0) > 0.99);
  await page.click('#view-value');
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'value');
  for (const q of [1, 8, 15]) assert.equal(await read(0, 2, q, 0), 0);
  // The previous-token head still takes its whole contribution from the previous token.
  assert.ok(await read(0, 0, 8, 7) > 0.99);
  await page.screenshot({ path: path.join(ARTIFACTS, 'explorer_analysis_value.png'), fullPage: true });

  // Rollout: rows are distributions over the input tokens.
  await page.click('#view-rollout');
  await setLayer(page, 1);
  let sum = 0;
  for (let k = 0; k <= 10; k++) sum += await read(1, 0, 10, k);
  assert.ok(Math.abs(sum - 1) < 0.01, 'rollout row sums to ' + sum);
  await page.screenshot({ path: path.join(ARTIFACTS, 'explorer_analysis_rollout.png'), fullPage: true });
  await page.click('#view-weight');

  // DLA for the actual next token at the locked second "c": L1H0 ranks first.
  await page.selectOption('#dla-target', '1');
  await page.locator('#tokens .token').nth(14).click();
  await setLayer(page, 1);
  assert.match(await page.textContent('#dla-info'), /target d/);
  const first = await page.evaluate(() => [...document.querySelectorAll('#heads .head')].find((e) => e.dataset.dlaRank === '0').dataset.head);
  assert.equal(first, '0');
  assert.equal(await page.getAttribute('#dla-list .row >> nth=0', 'data-head'), 'L1H0');

  // Composition: into L1H0 the strongest edge is L0H0 by K-composition; out of L0H0 it is L1H0.
  await page.locator('#heads .head[data-head="0"]').click();
  assert.equal(await page.getAttribute('#composition-into .row >> nth=0', 'data-head'), 'L0H0');
  assert.equal(await page.getAttribute('#composition-into .row >> nth=0', 'data-kind'), 'K');
  await page.screenshot({ path: path.join(ARTIFACTS, 'explorer_analysis_dla_composition.png'), fullPage: true });
  await page.locator('#composition-into .row >> nth=0').click();
  assert.match(await page.textContent('#heatmap-title'), /^L0H0/);
  assert.equal(await page.getAttribute('#composition-out .row >> nth=0', 'data-head'), 'L1H0');

  assert.deepEqual(events.errors, []);
  assert.deepEqual(events.dialogs, []);
  await page.close();
});

test('explorer without analysis (patterns from a file) has no view switch', async () => {
  const out = path.join(ARTIFACTS, 'explorer_analysis_synthetic.html');
  const r = cli(['explore', '--synthetic', '6,2,2', '--no-detect', '-o', out, '--force']);
  assert.equal(r.status, 0, r.stderr);
  const { page, events } = await openExplorer(browser, out);
  assert.equal(await page.locator('#view-switch').isHidden(), true);
  assert.equal(await page.locator('#analysis').isHidden(), true);
  assert.deepEqual(events.errors, []);
  await page.close();
});
