// attnscope explorer, views beyond the weights: a switch between the attention weights,
// value-weighted attention (Kobayashi et al. 2020) and attention rollout (Abnar & Zuidema 2020);
// head thumbnails ranked by direct logit attribution for the locked query token and a target;
// the composition edges into and out of the selected head. explorer.js calls
// window.attnscopeAnalysis(api) once its own data is decoded. Data reaches the page through
// textContent only.
window.attnscopeAnalysis = async function (api) {
  'use strict';
  const { cfg, st, E, NL, H, Q } = api;
  const A = cfg.analysis;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const signed = (v) => (v >= 0 ? '+' : '') + v.toFixed(3);

  // ---- views ------------------------------------------------------------------------------------
  const views = { weight: api.getData() };
  const labels = { weight: 'attention weights', value: 'value-weighted ‖α v W_O‖ (row share)', rollout: 'attention rollout (all heads)' };
  if (A.value) views.value = await api.decodeBlob(A.value, NL * H * E);
  if (A.rollout) {
    // One matrix per layer, shown in every head's place.
    const r = await api.decodeBlob(A.rollout, NL * E);
    const rep = new r.constructor(NL * H * E);
    for (let li = 0; li < NL; li++)
      for (let h = 0; h < H; h++) rep.set(r.subarray(li * E, (li + 1) * E), (li * H + h) * E);
    views.rollout = rep;
  }
  A.value = A.rollout = null;
  st.view = 'weight';
  const sw = $('view-switch');
  const name = el('span', '', labels.weight);
  name.id = 'view-name';
  for (const v of Object.keys(views)) {
    const b = el('button', v === 'weight' ? 'active' : '', v === 'weight' ? 'weights' : v === 'value' ? 'value-weighted' : 'rollout');
    b.type = 'button';
    b.id = 'view-' + v;
    b.title = labels[v];
    b.addEventListener('click', () => setView(v));
    sw.appendChild(b);
  }
  sw.appendChild(name);
  sw.hidden = Object.keys(views).length < 2;
  function setView(v) {
    st.view = v;
    sw.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b.id === 'view-' + v));
    name.textContent = labels[v];
    document.body.dataset.view = v;
    api.setData(views[v]);
  }
  document.body.dataset.view = 'weight';

  // ---- direct logit attribution -------------------------------------------------------------------
  const dlaPanel = $('dla-panel'), compPanel = $('composition-panel');
  let dlaIndex = 0;
  const dlaSelect = el('select');
  dlaSelect.id = 'dla-target';
  A.dla.forEach((d, i) => { const o = el('option', '', d.name); o.value = String(i); dlaSelect.appendChild(o); });
  dlaSelect.addEventListener('change', () => { dlaIndex = Number(dlaSelect.value); paint(); });
  const dlaTitle = el('h2', '', 'Direct logit attribution');
  const dlaInfo = el('div');
  dlaInfo.id = 'dla-info';
  const dlaList = el('div');
  dlaList.id = 'dla-list';
  if (A.dla.length) {
    dlaPanel.append(dlaTitle, dlaSelect, dlaInfo, dlaList);
  }
  // The model's layer index of explorer layer li (DLA covers every layer of the model).
  const layerOf = (li) => cfg.layers[li];
  function queryPos() { return st.tokLocked && st.tok !== null ? st.tok - (cfg.keys - Q) : Q - 1; }
  function dlaValue(d, q, layer, h) { return d.values[(q * d.layers + layer) * H + h]; }

  function paintDla() {
    if (!A.dla.length) return;
    const d = A.dla[dlaIndex], q = queryPos();
    if (q < 0 || q >= Q) return;
    const target = d.targets[q];
    dlaInfo.textContent = 'query ' + api.disp(cfg.tokens[q + cfg.keys - Q]) + ' (position ' + (q + cfg.keys - Q) + ')' +
      (target === '' ? ': no target' : ' \u2192 target ' + api.disp(target)) + (st.tokLocked ? '' : ' \u00b7 click a token to lock it');
    // Thumbnails of this layer ranked by their attribution.
    const layer = layerOf(st.li);
    const ranked = [...Array(H).keys()].sort((a, b) => dlaValue(d, q, layer, b) - dlaValue(d, q, layer, a));
    ranked.forEach((h, rank) => {
      const e = api.headEls[h];
      e.style.order = String(rank);
      e.dataset.dlaRank = String(rank);
      let tag = e.querySelector('.dla');
      if (!tag) { tag = el('span', 'dla'); e.appendChild(tag); }
      const v = target === '' ? 0 : dlaValue(d, q, layer, h);
      tag.textContent = target === '' ? '' : signed(v);
      tag.className = 'dla ' + (v >= 0 ? 'pos' : 'neg');
    });
    // The strongest heads of every shown layer.
    dlaList.replaceChildren();
    if (target === '') return;
    const all = [];
    for (let li = 0; li < NL; li++)
      for (let h = 0; h < H; h++) all.push({ li, h, v: dlaValue(d, q, layerOf(li), h) });
    all.sort((a, b) => Math.abs(b.v) - Math.abs(a.v));
    for (const x of all.slice(0, 10)) {
      const row = el('span', 'row ' + (x.v >= 0 ? 'pos' : 'neg'), api.headName(x.li, x.h) + '  ' + signed(x.v));
      row.dataset.head = api.headName(x.li, x.h);
      row.addEventListener('click', () => api.selectHead(x.li, x.h));
      dlaList.appendChild(row);
    }
  }

  // ---- composition -------------------------------------------------------------------------------------
  const edges = A.composition.map((e) => ({ l1: e[0], h1: e[1], l2: e[2], h2: e[3], kind: e[4], score: e[5] }));
  function edgeRow(label, layer, head, e) {
    const row = el('span', 'row', label + '  ' + e.kind + '  ' + e.score.toFixed(3));
    row.dataset.head = 'L' + layer + 'H' + head;
    row.dataset.kind = e.kind;
    const li = cfg.layers.indexOf(layer);
    if (li >= 0) row.addEventListener('click', () => api.selectHead(li, head));
    return row;
  }
  function paintComposition() {
    if (!edges.length) return;
    const layer = layerOf(st.li), head = api.shownHead();
    compPanel.replaceChildren(el('h2', '', 'Composition of L' + layer + 'H' + head));
    const into = edges.filter((e) => e.l2 === layer && e.h2 === head).sort((a, b) => b.score - a.score).slice(0, 8);
    const out = edges.filter((e) => e.l1 === layer && e.h1 === head).sort((a, b) => b.score - a.score).slice(0, 8);
    const inBox = el('div'), outBox = el('div');
    inBox.id = 'composition-into';
    outBox.id = 'composition-out';
    inBox.appendChild(el('b', '', 'into (reads from):'));
    for (const e of into) inBox.appendChild(edgeRow('L' + e.l1 + 'H' + e.h1 + ' \u2192', e.l1, e.h1, e));
    if (!into.length) inBox.appendChild(el('div', '', 'none'));
    outBox.appendChild(el('b', '', 'out of (read by):'));
    for (const e of out) outBox.appendChild(edgeRow('\u2192 L' + e.l2 + 'H' + e.h2, e.l2, e.h2, e));
    if (!out.length) outBox.appendChild(el('div', '', 'none'));
    compPanel.append(inBox, outBox);
  }

  function paint() { paintDla(); paintComposition(); }
  $('analysis').hidden = !(A.dla.length || edges.length);
  api.onUpdate(paint);
  paint();
  window.attnscopeExplorer.setView = setView;
};
