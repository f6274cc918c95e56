// wf_graph.js - a workflow's graph drawn as SVG: the trigger at the top,
// each node one layer below the longest path that reaches it, edges as
// curves with their branch ("true", "false", a switch's case) written on
// them. Used by the blueprint screen, the Architect's draft and the live run
// view, which passes each node's latest status to colour it.
//
// A saved graph is always valid (docs/workflows.md: one trigger, no cycles,
// every node reachable), but the drawing does not rely on it: a node it
// cannot place goes on a last layer, and an edge to an unknown node is left
// out. Every text goes in through textContent, never as markup.

const SVG = 'http://www.w3.org/2000/svg';
const W = 164; // node box
const H = 46;
const GAP_X = 22;
const GAP_Y = 58;
const PAD = 14;
const MAX_CHARS = 24;

const TYPE_LABEL = {
  en: {
    trigger: 'Trigger', condition: 'If', switch: 'Switch', wait: 'Wait', for_each: 'For each',
    send_message: 'Send message', create_invoice: 'Create invoice', record_payment: 'Record payment',
    adjust_stock: 'Adjust stock', update_record: 'Update customer', http_request: 'HTTP request',
    set: 'Set', stop: 'Stop',
  },
  hi: {
    trigger: 'शुरुआत', condition: 'अगर', switch: 'चुनाव', wait: 'रुको', for_each: 'हर एक के लिए',
    send_message: 'संदेश भेजो', create_invoice: 'बिल बनाओ', record_payment: 'भुगतान दर्ज करो',
    adjust_stock: 'स्टॉक बदलो', update_record: 'ग्राहक बदलो', http_request: 'HTTP अनुरोध',
    set: 'मान रखो', stop: 'रुक जाओ',
  },
};

export function typeLabel(type, lang) {
  const d = TYPE_LABEL[lang] || TYPE_LABEL.en;
  return d[type] || TYPE_LABEL.en[type] || String(type);
}

/** One line saying what a node does, from its params (or its own label). */
export function nodeSummary(n) {
  if (n.label) return String(n.label);
  const p = n.params && typeof n.params === 'object' ? n.params : {};
  const keys = (o) => (o && typeof o === 'object' ? Object.keys(o).join(', ') : '');
  switch (n.type) {
    case 'trigger':
      if (p.event) return String(p.event);
      if (p.cron) return `cron ${p.cron}${p.timezone ? ` (${p.timezone})` : ''}`;
      if (p.webhook) return 'webhook';
      if (p.manual) return 'manual';
      return '';
    case 'wait': return p.for ? String(p.for) : p.until ? `until ${p.until}` : '';
    case 'condition': return String(p.if ?? '');
    case 'switch': return String(p.on ?? '');
    case 'for_each': return String(p.over ?? '');
    case 'send_message': return `→ ${p.to ?? ''}`;
    case 'update_record': return keys(p.fields);
    case 'http_request': return `${p.method || 'GET'} ${p.url ?? ''}`;
    case 'set': return keys(p.values);
    case 'stop': return p.error ? String(p.error) : '';
    default: return '';
  }
}

/**
 * Places the nodes: {pos: Map id -> {x, y, layer}, width, height, edges}.
 * Layers by longest path from the roots (Kahn's order); within a layer,
 * nodes sit near the mean place of their parents, then in graph order.
 */
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const es = (edges || []).filter((e) => known.has(e.from) && known.has(e.to));
  const indeg = new Map(ids.map((id) => [id, 0]));
  const out = new Map(ids.map((id) => [id, []]));
  const parents = new Map(ids.map((id) => [id, []]));
  for (const e of es) {
    indeg.set(e.to, indeg.get(e.to) + 1);
    out.get(e.from).push(e.to);
    parents.get(e.to).push(e.from);
  }
  const layer = new Map();
  // Roots: the trigger first, then any other node nothing leads into.
  const queue = ids.filter((id) => indeg.get(id) === 0)
    .sort((a, b) => (nodes.find((n) => n.id === b).type === 'trigger') - (nodes.find((n) => n.id === a).type === 'trigger'));
  for (const id of queue) layer.set(id, 0);
  const left = new Map(indeg);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const to of out.get(id)) {
      layer.set(to, Math.max(layer.get(to) ?? 0, layer.get(id) + 1));
      left.set(to, left.get(to) - 1);
      if (left.get(to) === 0) queue.push(to);
    }
  }
  let maxLayer = 0;
  for (const v of layer.values()) maxLayer = Math.max(maxLayer, v);
  for (const id of ids) if (!queue.includes(id)) layer.set(id, maxLayer + 1); // on a cycle
  const layers = [];
  for (const id of ids) {
    const l = layer.get(id);
    (layers[l] ||= []).push(id);
  }
  const order = new Map();
  const widest = Math.max(1, ...layers.map((l) => (l ? l.length : 0)));
  const width = PAD * 2 + widest * W + (widest - 1) * GAP_X;
  const pos = new Map();
  layers.forEach((row, l) => {
    if (!row) return;
    const score = (id) => {
      const ps = parents.get(id).filter((p) => order.has(p));
      return ps.length ? ps.reduce((s, p) => s + order.get(p), 0) / ps.length : ids.indexOf(id);
    };
    row.sort((a, b) => score(a) - score(b) || ids.indexOf(a) - ids.indexOf(b));
    const rowW = row.length * W + (row.length - 1) * GAP_X;
    const x0 = (width - rowW) / 2;
    row.forEach((id, i) => {
      order.set(id, i);
      pos.set(id, { x: x0 + i * (W + GAP_X), y: PAD + l * (H + GAP_Y), layer: l });
    });
  });
  const height = PAD * 2 + layers.length * H + Math.max(0, layers.length - 1) * GAP_Y;
  return { pos, width, height, edges: es };
}

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const cut = (s, n = MAX_CHARS) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Draws the graph into container (replacing what was there). opts.status:
 * Map node id -> status ("running", "completed", ...), shown as the node's
 * data-status and colour; opts.lang for the type names.
 */
export function drawGraph(container, graph, opts = {}) {
  const nodes = Array.isArray(graph.nodes) ? graph.nodes.filter((n) => n && n.id) : [];
  const { pos, width, height, edges } = layout(nodes, graph.edges);
  const svg = el('svg', {
    class: 'wf-graph', viewBox: `0 0 ${width} ${height}`, width, role: 'img',
    'aria-label': graph.name || 'workflow',
  });
  const defs = el('defs');
  const marker = el('marker', { id: 'wf-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.appendChild(el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'wf-arrow' }));
  defs.appendChild(marker);
  svg.appendChild(defs);

  const status = opts.status || new Map();
  const labels = [];
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    const x1 = a.x + W / 2;
    const y1 = a.y + H;
    const x2 = b.x + W / 2;
    const y2 = b.y;
    const dy = Math.max(24, (y2 - y1) / 2);
    const st = status.get(e.to);
    svg.appendChild(el('path', {
      d: `M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}`,
      class: `wf-edge${st ? ' taken' : ''}`, 'marker-end': 'url(#wf-arrow)',
      'data-from': e.from, 'data-to': e.to,
    }));
    if (e.when !== undefined && e.when !== null && e.when !== '') {
      // The middle of the cubic curve (t = 0.5) is the mean of its ends.
      labels.push({ x: (x1 + x2) / 2, y: (y1 + y2) / 2, text: cut(String(e.when), 14), from: e.from, to: e.to });
    }
  }
  for (const lb of labels) {
    const g = el('g', { class: 'wf-when', 'data-from': lb.from, 'data-to': lb.to });
    const w = 10 + lb.text.length * 7;
    g.appendChild(el('rect', { x: lb.x - w / 2, y: lb.y - 10, width: w, height: 20, rx: 10 }));
    g.appendChild(el('text', { x: lb.x, y: lb.y + 4, 'text-anchor': 'middle' }, lb.text));
    svg.appendChild(g);
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    if (!p) continue;
    const st = status.get(n.id) || '';
    const g = el('g', {
      class: `gnode type-${n.type}`, 'data-node': n.id, 'data-status': st,
      transform: `translate(${p.x},${p.y})`, tabindex: 0,
    });
    const summary = nodeSummary(n);
    g.appendChild(el('title', {}, `${n.id} · ${typeLabel(n.type, opts.lang)}${summary ? `: ${summary}` : ''}${st ? ` (${st})` : ''}`));
    g.appendChild(el('rect', { width: W, height: H, rx: 9 }));
    g.appendChild(el('text', { x: 10, y: 18, class: 'gtype' }, cut(typeLabel(n.type, opts.lang), 20)));
    g.appendChild(el('text', { x: 10, y: 36, class: 'gsum' }, cut(summary || n.id)));
    if (opts.onNode) g.addEventListener('click', () => opts.onNode(n.id));
    svg.appendChild(g);
  }
  container.replaceChildren(svg);
  return svg;
}
