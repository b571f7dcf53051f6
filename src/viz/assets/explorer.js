// attnscope explorer: reads the JSON block written by src/viz/explorer.cpp, decodes the quantised
// patterns and draws the token strip, head thumbnails, main heatmap and cross-layer strip.
// Every piece of data reaches the page through textContent or canvas drawing, never as HTML.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const cfg = JSON.parse($('attnscope-data').textContent);
  // Head types arrive as [layer, head, label index, score]; expand them once.
  cfg.headTypes = cfg.headTypes.map((m) => ({ layer: m[0], head: m[1], label: cfg.typeLabels[m[2]], score: m[3] }));
  const NL = cfg.layers.length, H = cfg.heads, Q = cfg.queries, K = cfg.keys, OFF = K - Q;
  // Codes 0..MAXQ are weights 0..1; the code above them marks a non-finite weight (NaN / inf).
  const NANQ = cfg.bits === 16 ? 65535 : 255, MAXQ = NANQ - 1;
  const tokens = cfg.tokens;

  // Stored values per head: the causal triangle (row q has q + OFF + 1 keys) or the full matrix.
  const rowStart = new Array(Q + 1);
  rowStart[0] = 0;
  for (let q = 0; q < Q; q++) rowStart[q + 1] = rowStart[q] + (cfg.triangle ? q + OFF + 1 : K);
  const E = rowStart[Q];
  let data = null;

  function value(li, h, q, k) {
    if (cfg.triangle && k > q + OFF) return 0;
    const c = data[(li * H + h) * E + rowStart[q] + k];
    return c === NANQ ? NaN : c / MAXQ;
  }
  // Whether a head's pattern holds a non-finite weight (drawn blank, reported as NaN).
  const nanCache = new Map();
  function headHasNaN(li, h) {
    const key = li * H + h;
    if (!nanCache.has(key)) {
      let bad = false;
      for (let i = key * E, end = i + E; i < end && !bad; i++) bad = data[i] === NANQ;
      nanCache.set(key, bad);
    }
    return nanCache.get(key);
  }

  // Decodes one base64 zlib blob of `count` stored values (the weights, or another view of the
  // same layout: explorer_analysis.js).
  async function decodeBlob(b64, count) {
    if (typeof DecompressionStream === 'undefined')
      throw new Error('this browser cannot decompress the data (DecompressionStream is missing)');
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    const buf = await new Response(stream).arrayBuffer();
    const expected = count * (cfg.bits / 8);
    if (buf.byteLength !== expected)
      throw new Error('pattern data has ' + buf.byteLength + ' bytes, expected ' + expected);
    if (cfg.bits === 16) {
      // Two planes: all high bytes, then all low bytes.
      const b = new Uint8Array(buf), n = b.length / 2, out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = (b[i] << 8) | b[n + i];
      return out;
    }
    return new Uint8Array(buf);
  }
  function decode() { return decodeBlob(cfg.data, NL * H * E); }
  // Called after every repaint (layer, head or token change), for the analysis views.
  const listeners = [];
  function notify() { for (const fn of listeners) fn(); }

  // Colour lookup table: 256 entries of [r, g, b].
  const lut = cfg.lut.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const lutCss = cfg.lut;
  function colourIndex(v) { return Math.max(0, Math.min(255, Math.round(v * 255))); }

  // What a person reads for a token: control characters made visible, never interpreted.
  function disp(s) {
    if (s === '') return '\u2205';
    if (/^ +$/.test(s)) return '\u2423'.repeat(s.length);  // a space-only token stays visible
    let out = '';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === '\n') out += '\u21b5';
      else if (ch === '\t') out += '\u21e5';
      else if (ch === '\r') out += '\u240d';
      else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
      else out += ch;
    }
    return out;
  }
  // Axis labels are cut so one long token cannot push the heatmap off the page.
  function shortDisp(s) {
    const d = Array.from(disp(s));
    return d.length > 16 ? d.slice(0, 15).join('') + '\u2026' : d.join('');
  }
  function headName(li, h) { return 'L' + cfg.layers[li] + 'H' + h; }
  function pct(v) { return Number.isNaN(v) ? 'NaN' : (v * 100).toFixed(1) + '%'; }
  function scoreText(s, digits) { return s === null ? 'NaN' : s.toFixed(digits); }

  const types = new Map();  // "layer:head" -> [{label, score}]
  for (const t of cfg.headTypes) {
    const key = t.layer + ':' + t.head;
    if (!types.has(key)) types.set(key, []);
    types.get(key).push(t);
  }
  const ABBREV = { previous_token: 'prev', first_token: 'BOS', current_token: 'self', duplicate_token: 'dup', induction: 'ind' };

  const st = {
    li: 0, head: 0, headLocked: false, preview: null,
    tok: null, tokLocked: false, dir: 'src', zoom: 1, normalise: false, hover: null,
  };
  function shownHead() { return st.preview !== null ? st.preview : st.head; }

  // Scale of one head: 1, or its own largest weight when "per-head scale" is on.
  const maxCache = new Map();
  function headMax(li, h) {
    if (!st.normalise) return 1;
    const key = li * H + h;
    if (!maxCache.has(key)) {
      let m = 0;
      const base = key * E;
      for (let i = 0; i < E; i++) if (data[base + i] > m && data[base + i] !== NANQ) m = data[base + i];
      maxCache.set(key, Math.max(m / MAXQ, 1e-9));
    }
    return maxCache.get(key);
  }

  // One head as an image of w x h pixels; when smaller than the matrix each pixel shows the
  // largest weight of the cells it covers, so thin lines (diagonals) survive shrinking.
  function headImage(li, h, w, hgt) {
    const img = new ImageData(w, hgt);
    const px = img.data, scale = headMax(li, h);
    const base = (li * H + h) * E;
    for (let y = 0; y < hgt; y++) {
      const q0 = Math.floor(y * Q / hgt), q1 = Math.max(q0 + 1, Math.floor((y + 1) * Q / hgt));
      for (let x = 0; x < w; x++) {
        const k0 = Math.floor(x * K / w), k1 = Math.max(k0 + 1, Math.floor((x + 1) * K / w));
        let m = -1, bad = false;
        for (let q = q0; q < q1; q++) {
          const lim = cfg.triangle ? Math.min(k1, q + OFF + 1) : k1;
          const rb = base + rowStart[q];
          for (let k = k0; k < lim; k++) { const v = data[rb + k]; if (v === NANQ) bad = true; else if (v > m) m = v; }
        }
        const o = 4 * (y * w + x);
        if (m < 0 || bad) { px[o + 3] = 0; continue; }  // in the future, or non-finite: blank
        const c = lut[colourIndex(m / MAXQ / scale)];
        px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = 255;
      }
    }
    return img;
  }
  function imageCanvas(img) {
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    c.getContext('2d').putImageData(img, 0, 0);
    return c;
  }

  // ---- token strip --------------------------------------------------------------------------
  const tokenEls = [];
  function buildTokens() {
    const box = $('tokens');
    tokens.forEach((t, i) => {
      const el = document.createElement('span');
      el.className = 'token';
      el.textContent = disp(t);
      el.dataset.index = String(i);
      el.title = 'token ' + i;
      el.addEventListener('mouseenter', () => { if (!st.tokLocked) { st.tok = i; updateSelection(); } });
      el.addEventListener('click', () => {
        if (st.tokLocked && st.tok === i) st.tokLocked = false;
        else { st.tok = i; st.tokLocked = true; }
        updateSelection();
      });
      box.appendChild(el);
      tokenEls.push(el);
    });
    box.addEventListener('mouseleave', () => { if (!st.tokLocked) { st.tok = null; updateSelection(); } });
  }

  // Weights of the selected token: the keys it attends to (src) or the queries attending to it (dst).
  function tokenWeights(li, h, t) {
    const w = new Float64Array(K).fill(NaN);
    if (st.dir === 'src') {
      const q = t - OFF;
      if (q < 0) return w;
      for (let k = 0; k < K; k++) w[k] = (cfg.triangle && k > q + OFF) ? NaN : value(li, h, q, k);
    } else {
      for (let j = OFF; j < K; j++) {
        const q = j - OFF;
        w[j] = (cfg.triangle && t > q + OFF) ? NaN : value(li, h, q, t);
      }
    }
    return w;
  }

  function paintTokens() {
    const h = shownHead();
    let weights = null, best = -1, norm = 1;
    if (st.tok !== null) {
      weights = tokenWeights(st.li, h, st.tok);
      let m = 0;
      weights.forEach((v, j) => { if (v > m) { m = v; best = j; } });
      norm = m > 0 ? m : 1;  // colour relative to the strongest weight so small ones show
    }
    tokenEls.forEach((el, j) => {
      el.classList.toggle('selected', st.tok === j);
      el.classList.toggle('locked', st.tokLocked && st.tok === j);
      el.classList.toggle('strongest', weights !== null && j === best);
      const v = weights ? weights[j] : NaN;
      if (weights && !Number.isNaN(v)) {
        const ci = colourIndex(v / norm);
        const c = lut[ci];
        el.style.background = lutCss[ci];
        el.style.color = (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) < 140 ? '#fff' : '#111';
        el.dataset.weight = v.toFixed(4);
        el.title = 'token ' + j + ': ' + pct(v);
      } else {
        el.style.background = '';
        el.style.color = '';
        delete el.dataset.weight;
        el.title = 'token ' + j;
      }
    });
    const info = $('info');
    info.textContent = '';
    if (st.tok === null) {
      info.textContent = 'Hover a token to see ' + (st.dir === 'src' ? 'what it attends to' : 'what attends to it') +
        '; click to lock it.';
      return;
    }
    const line = document.createElement('span');
    line.textContent = 'Token ' + st.tok + ' "' + disp(tokens[st.tok]) + '" in ' + headName(st.li, h) + ' ' +
      (st.dir === 'src' ? 'attends to: ' : 'is attended by: ');
    info.appendChild(line);
    const order = [];
    weights.forEach((v, j) => { if (!Number.isNaN(v)) order.push(j); });
    order.sort((a, b) => weights[b] - weights[a]);
    const top = order.slice(0, 3).map((j) => '"' + disp(tokens[j]) + '"[' + j + '] ' + pct(weights[j]));
    const rest = document.createElement('span');
    rest.textContent = top.length ? top.join(', ') : '(no positions)';
    info.appendChild(rest);
    if (st.tokLocked) {
      const lock = document.createElement('span');
      lock.className = 'lock';
      lock.textContent = ' [LOCKED]';
      info.appendChild(lock);
    }
  }

  // ---- head thumbnails ----------------------------------------------------------------------
  const headEls = [];
  function buildHeads() {
    const box = $('heads');
    for (let h = 0; h < H; h++) {
      const el = document.createElement('div');
      el.className = 'head';
      el.dataset.head = String(h);
      const c = document.createElement('canvas');
      el.appendChild(c);
      const cap = document.createElement('div');
      cap.className = 'caption';
      el.appendChild(cap);
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.hidden = true;
      el.appendChild(badge);
      el.addEventListener('mouseenter', () => { if (!st.headLocked) { st.preview = h; updateHead(); } });
      el.addEventListener('mouseleave', () => { if (st.preview !== null) { st.preview = null; updateHead(); } });
      el.addEventListener('click', () => {
        if (st.headLocked && st.head === h) st.headLocked = false;
        else { st.head = h; st.headLocked = true; }
        st.preview = null;
        updateHead();
      });
      box.appendChild(el);
      headEls.push(el);
    }
  }
  function paintThumbnails() {
    const side = Math.min(96, Math.max(Q, K));
    const w = Math.min(K, side), hgt = Math.min(Q, side);
    headEls.forEach((el, h) => {
      const c = el.querySelector('canvas');
      c.width = w; c.height = hgt;
      c.getContext('2d').putImageData(headImage(st.li, h, w, hgt), 0, 0);
      el.querySelector('.caption').textContent = headName(st.li, h);
      const marks = types.get(cfg.layers[st.li] + ':' + h) || [];
      const badge = el.querySelector('.badge');
      badge.hidden = marks.length === 0;
      badge.className = 'badge' + (marks.length ? ' ' + marks[0].label.replace(/[^A-Za-z0-9_-]/g, '') : '');
      badge.textContent = marks.map((m) => ABBREV[m.label] || m.label.slice(0, 5)).join(' ');
      el.title = headName(st.li, h) + (headHasNaN(st.li, h) ? '\nholds non-finite values (NaN)' : '') +
        (marks.length ? '\n' + marks.map((m) => m.label + ' ' + scoreText(m.score, 3)).join('\n') : '');
      el.dataset.types = marks.map((m) => m.label).join(' ');
    });
    paintHeadState();
  }
  function paintHeadState() {
    headEls.forEach((el, h) => {
      el.classList.toggle('current', h === shownHead());
      el.classList.toggle('locked', st.headLocked && h === st.head);
    });
  }
  function buildTypes() {
    const box = $('types');
    if (!cfg.headTypes.length) return;
    const byLabel = new Map();
    for (const t of cfg.headTypes) {
      if (!byLabel.has(t.label)) byLabel.set(t.label, []);
      byLabel.get(t.label).push(t);
    }
    const h = document.createElement('h2');
    h.textContent = 'Detected head types';
    box.appendChild(h);
    for (const [label, list] of byLabel) {
      const row = document.createElement('div');
      row.className = 'type-row';
      const name = document.createElement('b');
      name.textContent = label + ' (' + list.length + '): ';
      row.appendChild(name);
      list.sort((a, b) => b.score - a.score);
      for (const t of list) {
        const li = cfg.layers.indexOf(t.layer);
        if (li < 0) continue;
        const a = document.createElement('a');
        a.textContent = 'L' + t.layer + 'H' + t.head + ' ' + scoreText(t.score, 2);
        a.addEventListener('click', () => { st.head = t.head; st.headLocked = true; setLayer(li); updateHead(); });
        row.appendChild(a);
      }
      box.appendChild(row);
    }
  }

  // ---- main heatmap -------------------------------------------------------------------------
  const geo = { left: 0, top: 0, cell: 1 };
  function paintHeatmap() {
    const h = shownHead();
    $('heatmap-title').textContent = headName(st.li, h) + ' \u2014 query \u2193, key \u2192' +
      (headHasNaN(st.li, h) ? ' \u2014 holds non-finite values (NaN), drawn blank' : '');
    const base = $('heatmap'), over = $('overlay');
    const cell = cfg.heatmapSize / Math.max(Q, K) * st.zoom;
    const labels = cell >= 9;
    const ctx = base.getContext('2d');
    ctx.font = Math.min(12, Math.floor(cell * 0.8)) + 'px "DejaVu Sans", sans-serif';
    let left = 0, top = 0;
    if (labels) {
      for (let j = 0; j < K; j++) left = Math.max(left, ctx.measureText(shortDisp(tokens[j])).width);
      left = Math.min(left, 160) + 8;
      top = left * 0.75 + 8;
    }
    const gw = Math.round(K * cell), gh = Math.round(Q * cell);
    const W = left + gw, Ht = top + gh;
    for (const c of [base, over]) { c.width = W; c.height = Ht; c.style.width = W + 'px'; c.style.height = Ht + 'px'; }
    $('heatmap-stack').style.width = W + 'px';
    $('heatmap-stack').style.height = Ht + 'px';
    geo.left = left; geo.top = top; geo.cell = cell;
    const g = base.getContext('2d');
    g.clearRect(0, 0, W, Ht);
    const img = imageCanvas(headImage(st.li, h, Math.min(K, gw), Math.min(Q, gh)));
    g.imageSmoothingEnabled = false;
    g.drawImage(img, left, top, gw, gh);
    if (labels) {
      g.fillStyle = '#222';
      g.font = Math.min(12, Math.floor(cell * 0.8)) + 'px "DejaVu Sans", sans-serif';
      g.textBaseline = 'middle';
      g.textAlign = 'right';
      for (let q = 0; q < Q; q++) g.fillText(shortDisp(tokens[q + OFF]), left - 4, top + (q + 0.5) * cell, left - 6);
      for (let k = 0; k < K; k++) {
        g.save();
        g.translate(left + (k + 0.5) * cell, top - 4);
        g.rotate(-Math.PI / 4);
        g.textAlign = 'left';
        g.fillText(shortDisp(tokens[k]), 0, 0, left);
        g.restore();
      }
    }
    paintOverlay();
  }
  function paintOverlay() {
    const over = $('overlay'), g = over.getContext('2d');
    g.clearRect(0, 0, over.width, over.height);
    const { left, top, cell } = geo;
    g.lineWidth = 2;
    if (st.tok !== null) {
      g.strokeStyle = st.tokLocked ? '#d62728' : '#111';
      if (st.dir === 'src' && st.tok >= OFF) g.strokeRect(left + 1, top + (st.tok - OFF) * cell, K * cell - 2, Math.max(cell, 2));
      if (st.dir === 'dst') g.strokeRect(left + st.tok * cell, top + 1, Math.max(cell, 2), Q * cell - 2);
    }
    if (st.hover) {
      g.strokeStyle = '#ff7f0e';
      g.strokeRect(left + st.hover.k * cell, top + st.hover.q * cell, Math.max(cell, 2), Math.max(cell, 2));
    }
  }
  function cellAt(ev) {
    const r = $('overlay').getBoundingClientRect();
    const x = ev.clientX - r.left - geo.left, y = ev.clientY - r.top - geo.top;
    const k = Math.floor(x / geo.cell), q = Math.floor(y / geo.cell);
    if (x < 0 || y < 0 || k >= K || q >= Q) return null;
    return { q, k };
  }
  function setupHeatmapEvents() {
    const over = $('overlay'), tip = $('tooltip');
    over.addEventListener('mousemove', (ev) => {
      const c = cellAt(ev);
      if (!c || (cfg.triangle && c.k > c.q + OFF)) {
        tip.hidden = true;
        if (st.hover) { st.hover = null; paintOverlay(); }
        return;
      }
      st.hover = c;
      const h = shownHead();
      const v = value(st.li, h, c.q, c.k);
      tip.textContent = disp(tokens[c.q + OFF]) + ' \u2192 ' + disp(tokens[c.k]) + ': ' + pct(v) + ' (' + headName(st.li, h) + ')';
      tip.dataset.query = String(c.q + OFF);
      tip.dataset.key = String(c.k);
      tip.hidden = false;
      tip.style.left = (ev.clientX + 14) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
      paintOverlay();
    });
    over.addEventListener('mouseleave', () => { tip.hidden = true; st.hover = null; paintOverlay(); });
    over.addEventListener('click', (ev) => {
      // Clicking a cell locks its query (src) or key (dst) token.
      const c = cellAt(ev);
      if (!c) return;
      const t = st.dir === 'src' ? c.q + OFF : c.k;
      if (st.tokLocked && st.tok === t) st.tokLocked = false;
      else { st.tok = t; st.tokLocked = true; }
      updateSelection();
    });
    $('heatmap-scroll').addEventListener('wheel', (ev) => {
      if (!ev.ctrlKey) return;  // plain wheel scrolls; ctrl + wheel zooms
      ev.preventDefault();
      setZoom(st.zoom * (ev.deltaY < 0 ? 1.25 : 0.8));
    }, { passive: false });
  }
  function setZoom(z) {
    st.zoom = Math.max(0.25, Math.min(64, z));
    paintHeatmap();
  }

  // ---- cross-layer strip --------------------------------------------------------------------
  function paintFlow() {
    const h = shownHead();
    const t = st.tok !== null ? st.tok : K - 1;
    const box = $('flow');
    box.textContent = '';
    $('flow-title').textContent = 'Across layers: head ' + h + ', token ' + t + ' "' + disp(tokens[t]) + '" ' +
      (st.dir === 'src' ? '(attends to)' : '(attended by)');
    const w = Math.min(K, 260);
    for (let li = 0; li < NL; li++) {
      const row = document.createElement('div');
      row.className = 'flow-row' + (li === st.li ? ' current' : '');
      row.dataset.layer = String(cfg.layers[li]);
      const lab = document.createElement('span');
      lab.className = 'flow-label';
      lab.textContent = 'L' + cfg.layers[li];
      row.appendChild(lab);
      const c = document.createElement('canvas');
      c.width = w; c.height = 1;
      const wts = tokenWeights(li, h, t);
      const img = new ImageData(w, 1);
      for (let x = 0; x < w; x++) {
        const k0 = Math.floor(x * K / w), k1 = Math.max(k0 + 1, Math.floor((x + 1) * K / w));
        let m = -1;
        for (let k = k0; k < k1; k++) if (!Number.isNaN(wts[k]) && wts[k] > m) m = wts[k];
        if (m < 0) continue;
        const col = lut[colourIndex(m / headMax(li, h))];
        img.data.set([col[0], col[1], col[2], 255], 4 * x);
      }
      c.getContext('2d').putImageData(img, 0, 0);
      row.appendChild(c);
      let best = -1, bv = -1;
      wts.forEach((v, j) => { if (v > bv) { bv = v; best = j; } });
      const peak = document.createElement('span');
      peak.textContent = best >= 0 ? '\u2192 "' + disp(tokens[best]) + '" ' + pct(bv) : '';
      row.appendChild(peak);
      row.title = 'go to layer ' + cfg.layers[li];
      row.addEventListener('click', () => setLayer(li));
      box.appendChild(row);
    }
  }

  // ---- layer / head navigation --------------------------------------------------------------
  function buildLayerTicks() {
    const slider = $('layer-slider');
    slider.max = String(NL - 1);
    slider.addEventListener('input', () => setLayer(Number(slider.value)));
    const ticks = $('layer-ticks');
    cfg.layers.forEach((l, li) => {
      const s = document.createElement('span');
      s.textContent = String(l);
      s.dataset.index = String(li);
      s.title = 'layer ' + l;
      s.addEventListener('click', () => setLayer(li));
      ticks.appendChild(s);
    });
  }
  function setLayer(li) {
    st.li = Math.max(0, Math.min(NL - 1, li));
    const slider = $('layer-slider');
    slider.value = String(st.li);
    slider.setAttribute('aria-valuetext', 'layer ' + cfg.layers[st.li]);
    $('layer-label').textContent = 'Layer ' + cfg.layers[st.li];
    $('layer-ticks').querySelectorAll('span').forEach((s, i) => s.classList.toggle('current', i === st.li));
    paintThumbnails();
    paintHeatmap();
    paintTokens();
    paintFlow();
    notify();
  }
  function updateHead() {
    paintHeadState();
    paintHeatmap();
    paintTokens();
    paintFlow();
    notify();
  }
  function updateSelection() {
    paintTokens();
    paintOverlay();
    paintFlow();
    notify();
  }
  function setDirection(dir) {
    st.dir = dir;
    document.body.dataset.direction = dir;
    $('dir-src').classList.toggle('active', dir === 'src');
    $('dir-dst').classList.toggle('active', dir === 'dst');
    updateSelection();
  }
  function setupControls() {
    $('dir-src').addEventListener('click', () => setDirection('src'));
    $('dir-dst').addEventListener('click', () => setDirection('dst'));
    $('normalise').addEventListener('change', (ev) => { st.normalise = ev.target.checked; setLayer(st.li); });
    $('zoom-in').addEventListener('click', () => setZoom(st.zoom * 1.5));
    $('zoom-out').addEventListener('click', () => setZoom(st.zoom / 1.5));
    $('zoom-fit').addEventListener('click', () => setZoom(1));
    $('colormap-name').textContent = 'colormap: ' + cfg.colormap + (cfg.bits === 8 ? ' \u00b7 weights stored to 8 bits (\u00b10.2%)' : '');
    document.addEventListener('keydown', (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
        st.head = Math.max(0, Math.min(H - 1, shownHead() + (ev.key === 'ArrowRight' ? 1 : -1)));
        st.preview = null;
        updateHead();
      } else if (ev.key === 'ArrowUp' || ev.key === 'ArrowDown') {
        setLayer(st.li + (ev.key === 'ArrowUp' ? 1 : -1));
      } else if (ev.key === 'Escape') {
        st.tokLocked = false; st.headLocked = false;
        paintHeadState();
        updateSelection();
        return;
      } else {
        return;
      }
      ev.preventDefault();
    });
  }

  async function main() {
    $('title').textContent = cfg.title;
    $('subtitle').textContent = cfg.subtitle;
    document.title = cfg.title;
    data = await decode();
    cfg.data = null;  // the decoded array is all we need
    // Start on the first detected head, if any, so the overlay is visible at once.
    if (cfg.headTypes.length) {
      const li = cfg.layers.indexOf(cfg.headTypes[0].layer);
      if (li >= 0 && cfg.headTypes[0].head < H) { st.li = li; st.head = cfg.headTypes[0].head; }
    }
    buildTokens();
    buildHeads();
    buildTypes();
    buildLayerTicks();
    setupControls();
    setupHeatmapEvents();
    $('status').hidden = true;
    $('app').hidden = false;
    document.body.dataset.direction = st.dir;
    setLayer(st.li);
    window.attnscopeExplorer = { config: cfg, state: st, geo, value };
    // Views beyond the weights (explorer_analysis.js), when the file carries them.
    if (cfg.analysis && window.attnscopeAnalysis) {
      await window.attnscopeAnalysis({
        cfg, st, E, NL, H, Q, K, decodeBlob, headEls, headName, disp, shownHead,
        getData: () => data,
        setData: (d) => { data = d; maxCache.clear(); setLayer(st.li); },
        selectHead: (li, h) => { st.head = h; st.headLocked = true; st.preview = null; setLayer(li); },
        onUpdate: (fn) => listeners.push(fn),
      });
    }
    document.body.dataset.ready = '1';
  }
  main().catch((err) => {
    const s = $('status');
    s.textContent = 'Could not show the patterns: ' + err.message;
    s.className = 'error';
    document.body.dataset.ready = 'error';
  });
})();
