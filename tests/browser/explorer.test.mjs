// The explorer in headless Chromium, checked by reading the page: token hover highlights,
// locking, the row/column toggle, real layer numbers on the slider, exact tooltips, escaping of a
// hostile token, the toy model's previous-token head, and a 512-token page that stays usable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, launch, openExplorer, cellCentre, ARTIFACTS } from './helpers.mjs';

const XSS = '</script><img src=x onerror=alert(1)>';
let browser;
before(async () => { browser = await launch(); });
after(async () => {
  if (browser) {
    assert.deepEqual(browser.requests, [], 'the explorer made network requests');
    await browser.close();
  }
});

// Patterns with known weights: layers 3 and 7 (real numbers, not 0..1), 2 heads, 5 tokens.
// Head 1 of layer 3 puts exactly 0.372 from token 4 on token 2.
function knownPatterns() {
  const T = 5;
  const layer = (shift) => [0, 1].map((h) => Array.from({ length: T }, (_, q) => {
    const row = new Array(T).fill(0);
    if (h === 0) row[Math.max(0, q - shift)] = 1;  // previous-token (shift 1) / current (0)
    else for (let k = 0; k <= q; k++) row[k] = 1 / (q + 1);
    return row;
  }));
  const l3 = layer(1), l7 = layer(0);
  l3[1][4] = [0.1, 0.2, 0.372, 0.128, 0.2];
  return { tokens: ['<s>', 'Alex', XSS, ' met', ' Alex'], patterns: { '3': l3, '7': l7 } };
}

function writeKnown() {
  const json = path.join(ARTIFACTS, 'known_patterns.json');
  fs.writeFileSync(json, JSON.stringify(knownPatterns()));
  const out = path.join(ARTIFACTS, 'explorer_known.html');
  const r = cli(['explore', '--patterns', json, '-o', out, '--force']);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

test('tooltip shows the exact percentage and the real head name', async () => {
  const { page } = await openExplorer(browser, writeKnown());
  await page.keyboard.press('Escape');
  // Layer 3 is the first; select head 1 with the keyboard (→ from head 0).
  await page.evaluate(() => { window.attnscopeExplorer.state.head = 0; });
  await page.keyboard.press('ArrowRight');
  assert.match(await page.textContent('#heatmap-title'), /^L3H1/);
  const c = await cellCentre(page, 4, 2);
  await page.mouse.move(c.x, c.y);
  const tip = page.locator('#tooltip');
  await tip.waitFor({ state: 'visible' });
  assert.equal(await tip.textContent(), ' Alex \u2192 ' + XSS + ': 37.2% (L3H1)');
  await page.screenshot({ path: path.join(ARTIFACTS, 'explorer_known_tooltip.png'), fullPage: true });
  await page.close();
});

test('slider and ticks show the real layer numbers; arrows move layer and head', async () => {
  const { page } = await openExplorer(browser, writeKnown());
  assert.deepEqual(await page.locator('#layer-ticks span').allTextContents(), ['3', '7']);
  await page.keyboard.press('Escape');
  const before = await page.textContent('#layer-label');
  assert.equal(before, 'Layer 3');
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.textContent('#layer-label'), 'Layer 7');
  assert.equal(await page.getAttribute('#layer-slider', 'aria-valuetext'), 'layer 7');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.textContent('#layer-label'), 'Layer 3');
  // The cross-layer strip has one row per real layer.
  assert.deepEqual(await page.locator('.flow-row').evaluateAll((rows) => rows.map((r) => r.dataset.layer)), ['3', '7']);
  // Thumbnails are named with the real layer too; hovering one previews it, a click locks it,
  // and while locked, hovering another head does not change the view.
  assert.deepEqual(await page.locator('.head .caption').allTextContents(), ['L3H0', 'L3H1']);
  const heads = page.locator('.head');
  await heads.nth(1).hover();
  assert.match(await page.textContent('#heatmap-title'), /^L3H1/);
  await page.mouse.move(5, 5);
  assert.match(await page.textContent('#heatmap-title'), /^L3H0/);
  await heads.nth(1).click();
  assert.ok(await heads.nth(1).evaluate((e) => e.classList.contains('locked')));
  await heads.nth(0).hover();
  assert.match(await page.textContent('#heatmap-title'), /^L3H1/);
  await heads.nth(1).click();
  assert.ok(!(await heads.nth(1).evaluate((e) => e.classList.contains('locked'))));
  await page.close();
});

test('a hostile token is shown as text and no script runs', async () => {
  const { page, events } = await openExplorer(browser, writeKnown());
  assert.equal(await page.locator('.token').nth(2).textContent(), XSS);
  assert.equal(await page.locator('img').count(), 0);
  await page.locator('.token').nth(2).hover();
  await page.locator('.token').nth(2).click();
  await page.waitForTimeout(200);
  assert.deepEqual(events.dialogs, []);
  assert.deepEqual(events.errors, []);
  await page.close();
});

// The toy model: its previous-token head is found from the page's own head-type overlay.
test('toy model: hover, lock, unlock and toggle on the previous-token head', async (t) => {
  const out = path.join(ARTIFACTS, 'explorer_toy.html');
  const r = cli(['explore', '-o', out, '--force']);
  if (r.status !== 0 && /not available in this build/.test(r.stderr)) { t.skip('toy model not built yet'); return; }
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /previous_token/);
  const { page, events } = await openExplorer(browser, out);
  const mark = await page.evaluate(() => window.attnscopeExplorer.config.headTypes.find((m) => m.label === 'previous_token'));
  assert.ok(mark, 'the toy model reports a previous-token head');
  // Go to its layer with the slider's tick and lock the head by clicking its thumbnail.
  await page.locator('#layer-ticks span', { hasText: new RegExp('^' + mark.layer + '$') }).click();
  assert.equal(await page.textContent('#layer-label'), 'Layer ' + mark.layer);
  const thumb = page.locator(`.head[data-head="${mark.head}"]`);
  await thumb.click();
  assert.ok(await thumb.evaluate((e) => e.classList.contains('locked')));
  assert.match(await thumb.getAttribute('data-types'), /previous_token/);

  const tokens = page.locator('.token');
  const strongest = () => page.locator('.token.strongest').getAttribute('data-index');
  // Hover: token i attends most to token i - 1.
  for (const i of [3, 6, 10]) {
    await tokens.nth(i).hover();
    assert.equal(await strongest(), String(i - 1), 'token ' + i);
  }
  // Click locks: moving elsewhere keeps token 6 selected.
  await tokens.nth(6).click();
  assert.ok(await tokens.nth(6).evaluate((e) => e.classList.contains('locked')));
  assert.match(await page.textContent('#info'), /\[LOCKED\]/);
  await tokens.nth(12).hover();
  assert.equal(await strongest(), '5');
  // Toggle to "what attends to it": token 6 is attended most by token 7 (the next one).
  await page.click('#dir-dst');
  assert.equal(await page.evaluate(() => document.body.dataset.direction), 'dst');
  assert.equal(await strongest(), '7');
  await page.click('#dir-src');
  assert.equal(await strongest(), '5');
  // A second click unlocks: hovering follows the mouse again.
  await tokens.nth(6).click();
  assert.ok(!(await tokens.nth(6).evaluate((e) => e.classList.contains('locked'))));
  assert.doesNotMatch(await page.textContent('#info'), /\[LOCKED\]/);
  await tokens.nth(9).hover();
  assert.equal(await strongest(), '8');
  // Tooltip agrees with the strip's weight for the same pair.
  const w = Number(await tokens.nth(8).getAttribute('data-weight'));
  const c = await cellCentre(page, 9, 8);
  await page.mouse.move(c.x, c.y);
  const tip = await page.locator('#tooltip').textContent();
  assert.ok(tip.endsWith(': ' + (w * 100).toFixed(1) + '% (L' + mark.layer + 'H' + mark.head + ')'), tip);
  await tokens.nth(9).hover();
  await page.screenshot({ path: path.join(ARTIFACTS, 'explorer_toy.png'), fullPage: true });
  assert.deepEqual(events.errors, []);
  await page.close();
});

test('512 tokens x 16 layers x 32 heads opens and stays usable', async () => {
  const out = path.join(ARTIFACTS, 'explorer_512x16x32.html');
  const r = cli(['explore', '--synthetic', '512,16,32', '--no-detect', '-o', out, '--force']);
  assert.equal(r.status, 0, r.stderr);
  const size = fs.statSync(out).size;
  console.log(`# explorer 512 tokens x 16 layers x 32 heads: ${size} bytes`);
  const { page, events } = await openExplorer(browser, out, 300000);
  assert.equal(await page.locator('.head').count(), 32);
  assert.equal(await page.locator('.token').count(), 512);
  await page.locator('.token').nth(300).hover();
  assert.equal(await page.locator('.token.strongest').getAttribute('data-index'), '299');  // head 0: previous-token
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.textContent('#layer-label'), 'Layer 1');
  await page.click('#zoom-in');
  await page.click('#zoom-in');
  await page.locator('#heatmap-scroll').evaluate((e) => e.scrollTo(0, 0));
  const c = await cellCentre(page, 20, 19);
  await page.mouse.move(c.x, c.y);
  assert.match(await page.locator('#tooltip').textContent(), /^tok20 → tok19: \d+\.\d% \(L1H0\)$/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'explorer_512.png') });
  assert.deepEqual(events.errors, []);
  await page.close();
});

// A pattern with one NaN (null in the JSON file): the cell hovers as NaN, never as 0.0%, the
// title says the head holds non-finite values, and the cell is drawn blank (issue 13).
test('a NaN weight hovers as NaN and is drawn blank', async () => {
  const data = knownPatterns();
  data.patterns['3'][1][4] = [0.1, null, 0.372, 0.128, 0.2];
  const json = path.join(ARTIFACTS, 'nan_patterns.json');
  fs.writeFileSync(json, JSON.stringify(data));
  const out = path.join(ARTIFACTS, 'explorer_nan.html');
  const r = cli(['explore', '--patterns', json, '-o', out, '--force']);
  assert.equal(r.status, 0, r.stderr);
  const { page } = await openExplorer(browser, out);
  await page.keyboard.press('Escape');
  await page.evaluate(() => { window.attnscopeExplorer.state.head = 0; });
  await page.keyboard.press('ArrowRight');
  assert.match(await page.textContent('#heatmap-title'), /^L3H1 .*non-finite values \(NaN\)/);
  const c = await cellCentre(page, 4, 1);
  await page.mouse.move(c.x, c.y);
  const tip = page.locator('#tooltip');
  await tip.waitFor({ state: 'visible' });
  assert.equal(await tip.textContent(), ' Alex \u2192 Alex: NaN (L3H1)');
  // Its neighbour keeps its exact value.
  const d = await cellCentre(page, 4, 2);
  await page.mouse.move(d.x, d.y);
  assert.equal(await tip.textContent(), ' Alex \u2192 ' + XSS + ': 37.2% (L3H1)');
  // The NaN cell's pixel is transparent (blank), a finite cell's is opaque.
  const alpha = await page.evaluate(({ x, y, x2, y2 }) => {
    const cv = document.getElementById('heatmap');
    const r = cv.getBoundingClientRect();
    const g = cv.getContext('2d');
    const px = (a, b) => g.getImageData(Math.round(a - r.left), Math.round(b - r.top), 1, 1).data[3];
    return [px(x, y), px(x2, y2)];
  }, { x: c.x, y: c.y, x2: d.x, y2: d.y });
  assert.deepEqual(alpha, [0, 255]);
  await page.close();
});
