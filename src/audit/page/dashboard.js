// The dashboard page: draws the identity graph `lanyard dashboard` serves and follows it live.
// Plain JavaScript and SVG, no library: nodes are identities (or the addresses of peers that
// proved none), edges are (client, server, port) with their allowed and refused counts; a
// click on an edge lists its recent audit records. Every value from the network goes into the
// page as text (textContent, attributes), never as markup.

const SVG = 'http://www.w3.org/2000/svg';
const NODE_RADIUS = 30;
const MAX_EVENTS = 50;

const state = { graph: null, drawn: null, selected: null, events: [] };
const $ = (sel) => document.querySelector(sel);

/** `web.default` for `web.default.serviceaccount.identity.lanyard.cluster.local`; anything else as it is. */
export function shortName(id) {
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.serviceaccount\.identity\.[a-z0-9.-]+$/.exec(id);
  return m ? `${m[1]}.${m[2]}` : id;
}

const isAddress = (name) => /^\d+\.\d+\.\d+\.\d+$/.test(name) || name.includes(':');

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function html(name, text, cls) {
  const e = document.createElement(name);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** Nodes on a circle, in name order, so a graph that gains an edge moves as little as possible. */
function layout(names, width, height) {
  const pos = new Map();
  const cx = width / 2;
  const cy = height / 2;
  if (names.length === 1) return pos.set(names[0], { x: cx, y: cy });
  const r = Math.max(60, Math.min(width, height) / 2 - NODE_RADIUS - 40);
  names.forEach((n, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / names.length;
    pos.set(n, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) });
  });
  return pos;
}

const edgeId = (e) => `${e.client}\u0000${e.server}\u0000${e.port}`;
const status = (e) => (e.denied > 0 ? 'denied' : e.would_deny > 0 ? 'would' : 'ok');

/** A quadratic curve from a to b, bent by `bend` to its left (so a→b and b→a do not overlap), ending at the nodes' rims. */
function curve(a, b, bend) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len;
  const ny = dx / len;
  const c = { x: (a.x + b.x) / 2 + nx * bend, y: (a.y + b.y) / 2 + ny * bend };
  const rim = (from, to) => {
    const l = Math.hypot(to.x - from.x, to.y - from.y) || 1;
    return { x: from.x + ((to.x - from.x) / l) * NODE_RADIUS, y: from.y + ((to.y - from.y) / l) * NODE_RADIUS };
  };
  const p0 = rim(a, c);
  const p2 = rim(b, c);
  const mid = { x: 0.25 * p0.x + 0.5 * c.x + 0.25 * p2.x, y: 0.25 * p0.y + 0.5 * c.y + 0.25 * p2.y };
  return { d: `M ${p0.x.toFixed(1)} ${p0.y.toFixed(1)} Q ${c.x.toFixed(1)} ${c.y.toFixed(1)} ${p2.x.toFixed(1)} ${p2.y.toFixed(1)}`, mid };
}

function loop(a, i) {
  const r = 22 + 10 * i;
  const d = `M ${(a.x - 12).toFixed(1)} ${(a.y - NODE_RADIUS + 4).toFixed(1)} C ${(a.x - r * 2).toFixed(1)} ${(a.y - NODE_RADIUS - r * 2.5).toFixed(1)} ${(a.x + r * 2).toFixed(1)} ${(a.y - NODE_RADIUS - r * 2.5).toFixed(1)} ${(a.x + 12).toFixed(1)} ${(a.y - NODE_RADIUS + 4).toFixed(1)}`;
  return { d, mid: { x: a.x, y: a.y - NODE_RADIUS - r * 1.9 } };
}

/**
 * Draws the graph anew only when it changed: a re-read that found the same edges keeps the
 * elements (and the pointer's target, the keyboard focus) in place and updates the status.
 */
function render(graph, force = false) {
  const key = JSON.stringify([graph?.edges, graph?.sources]);
  state.graph = graph;
  if (!force && key === state.drawn) return renderStatus(graph);
  state.drawn = key;
  const svg = $('#graph');
  const width = svg.clientWidth || 900;
  const height = svg.clientHeight || 600;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const edges = graph?.edges ?? [];
  const names = [...new Set(edges.flatMap((e) => [e.client, e.server]))].sort();
  const pos = layout(names, width, height);
  const nodesG = $('#nodes');
  const edgesG = $('#edges');
  nodesG.replaceChildren();
  edgesG.replaceChildren();
  const perPair = new Map();
  for (const e of edges) {
    const pair = `${e.client}\u0000${e.server}`;
    const i = perPair.get(pair) ?? 0;
    perPair.set(pair, i + 1);
    const shape = e.client === e.server ? loop(pos.get(e.client), i) : curve(pos.get(e.client), pos.get(e.server), 28 + 34 * i);
    const g = el('g', {
      class: `edge ${status(e)}${e.mtls ? '' : ' plain'}${state.selected && edgeId(state.selected) === edgeId(e) ? ' selected' : ''}`,
      tabindex: 0,
      role: 'button',
      'data-client': e.client,
      'data-server': e.server,
      'data-port': e.port,
      'data-allowed': e.allowed,
      'data-denied': e.denied,
      'data-would-deny': e.would_deny,
      'aria-label': `${shortName(e.client)} to ${shortName(e.server)} port ${e.port}: ${e.allowed} allowed, ${e.denied} denied`,
    });
    g.append(
      el('title', {}, `${e.client} → ${e.server} :${e.port}\nallowed ${e.allowed}, denied ${e.denied}, would deny ${e.would_deny}\nmTLS ${e.mtls ? 'yes' : 'no'}, last seen ${e.last_seen ?? '-'}`),
      el('path', { class: 'line', d: shape.d }),
      el('path', { class: 'hit', d: shape.d }),
      el('text', { class: 'label', x: shape.mid.x.toFixed(1), y: shape.mid.y.toFixed(1), 'text-anchor': 'middle' }, `:${e.port} ✓${e.allowed} ✗${e.denied}${e.would_deny ? ` ⚠${e.would_deny}` : ''}`),
    );
    g.addEventListener('click', () => select(e));
    g.addEventListener('keydown', (ev) => (ev.key === 'Enter' || ev.key === ' ') && select(e));
    edgesG.append(g);
  }
  for (const n of names) {
    const p = pos.get(n);
    const g = el('g', { class: `node${isAddress(n) ? ' address' : ''}`, 'data-id': n, transform: `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})` });
    g.append(el('title', {}, n), el('circle', { r: NODE_RADIUS }), el('text', { y: NODE_RADIUS + 14 }, shortName(n)));
    nodesG.append(g);
  }
  $('#empty').hidden = edges.length > 0;
  renderStatus(graph);
  // The open panel's counts follow the graph too.
  const open = state.selected && edges.find((e) => edgeId(e) === edgeId(state.selected));
  if (open) renderSummary(open);
}

function renderStatus(graph) {
  const sources = graph?.sources ?? [];
  const ok = sources.filter((s) => !s.error).length;
  const when = graph ? new Date(graph.generated_at).toLocaleTimeString() : '-';
  $('#status').textContent = `${ok} of ${sources.length} prox${sources.length === 1 ? 'y' : 'ies'} read · ${graph?.edges.length ?? 0} edges · updated ${when}`;
  const footer = $('#sources');
  footer.replaceChildren(
    ...sources.map((s) => html('div', s.error ? `${s.name}: ${s.error}` : `${s.name} (${shortName(s.identity)}) counting since ${s.since}`, s.error ? 'error' : undefined)),
  );
}

async function select(edge) {
  state.selected = { client: edge.client, server: edge.server, port: edge.port };
  state.events = [];
  for (const g of document.querySelectorAll('#edges .edge')) {
    g.classList.toggle('selected', g.dataset.client === edge.client && g.dataset.server === edge.server && Number(g.dataset.port) === edge.port);
  }
  $('#events-title').textContent = `${shortName(edge.client)} → ${shortName(edge.server)} :${edge.port}`;
  renderSummary(edge);
  const q = new URLSearchParams({ client: edge.client, server: edge.server, port: String(edge.port) });
  const res = await fetch(`/api/events?${q}`);
  const body = await res.json();
  if (!state.selected || edgeId(state.selected) !== edgeId(edge)) return; // another edge was clicked meanwhile
  state.events = body.events;
  renderEvents();
}

function renderSummary(edge) {
  $('#events-summary').textContent = `${edge.allowed} allowed, ${edge.denied} denied, ${edge.would_deny} would be denied; mTLS ${edge.mtls ? 'yes' : 'no'}`;
  if (state.events.length === 0 && state.selected) $('#events-summary').textContent += ' — no records since the dashboard started';
}

function renderEvents() {
  const table = $('#events table');
  const rows = state.events.map((r) => {
    const tr = html('tr');
    tr.dataset.decision = r.decision;
    const inbound = r.direction === 'inbound';
    const decision = r.would_deny ? 'audit (would deny)' : r.decision;
    tr.append(
      html('td', r.time.slice(11, 23)),
      html('td', `${r.direction} ${shortName(r.local_identity)}`),
      html('td', decision, r.decision),
      html('td', r.rule),
      html('td', r.close_reason),
      html('td', String(inbound ? r.bytes_rx : r.bytes_tx)),
      html('td', String(inbound ? r.bytes_tx : r.bytes_rx)),
    );
    tr.title = r.reason;
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  const edge = state.graph?.edges.find((e) => edgeId(e) === edgeId(state.selected));
  if (edge) renderSummary(edge);
}

function follow() {
  const stream = new EventSource('/api/stream');
  stream.addEventListener('graph', (ev) => render(JSON.parse(ev.data)));
  stream.addEventListener('audit', (ev) => {
    const { edge, record } = JSON.parse(ev.data);
    if (!state.selected || edgeId(state.selected) !== edgeId(edge)) return;
    state.events = [record, ...state.events].slice(0, MAX_EVENTS);
    renderEvents();
  });
  stream.addEventListener('error', () => ($('#status').textContent = 'reconnecting…'));
}

addEventListener('resize', () => state.graph && render(state.graph, true));
follow();
