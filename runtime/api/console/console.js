/*
 * Glimmer operator console: plain JavaScript, no framework, no CDN. Data comes from the runtime's API with the admin
 * token as `Authorization: Bearer` (never in a URL); live updates come from GET /v1/events (Server-Sent Events read
 * with fetch(), because EventSource cannot send headers). Everything untrusted is rendered with textContent.
 */
/* global GlimmerMerkle, AbortController, TextDecoder, clearInterval, CSS */
(function () {
  'use strict';

  const TOKEN_KEY = 'glimmer.token';
  const STALE_AFTER_MS = 12000; // the server sends a heartbeat every 5 s
  const HISTORY = 120;
  const MAX_DECISIONS = 200;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    bootId: null,
    zones: [],
    agents: [],
    plant: null,
    history: new Map(),
    decisions: [],
    totals: null,
    scores: [],
    alerts: [],
    alarms: [],
    mimic: null,
    timeline: new Map(),
    leafResults: new Map(),
    focus: null,
    checkpoint: null,
    connected: false,
    lastEvent: 0,
    lastData: 0,
  };

  // ---- token: from the URL fragment into sessionStorage, then out of the address bar ----------------------------
  function takeToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      const token = decodeURIComponent(m[1]);
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  class Unauthenticated extends Error {}

  async function api(path, accept) {
    const res = await fetch(path, { headers: { authorization: 'Bearer ' + state.token, accept: accept || 'application/json' }, cache: 'no-store' });
    if (res.status === 401) {
      signOut('The runtime did not accept the token (it changes when the state dir is recreated). Sign in again.');
      throw new Unauthenticated('unauthenticated');
    }
    if (!res.ok) {
      let message = 'HTTP ' + res.status;
      try {
        const body = await res.json();
        if (body && body.error) message = body.error.code + ': ' + body.error.message;
      } catch {
        /* not JSON */
      }
      const err = new Error(message);
      err.status = res.status;
      throw err;
    }
    return res;
  }

  let currentStream = null;

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.connected = false;
    if (currentStream) currentStream.abort();
    $('app').hidden = true;
    $('signout').hidden = true;
    $('signin').hidden = false;
    $('signin-error').textContent = message || '';
    setConnection('off', 'signed out');
  }

  function signIn(token) {
    state.token = token;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
  }

  // ---- DOM helpers (textContent only) -------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children || []) if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function replace(container, children) {
    container.replaceChildren(...children);
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + ' s' : s < 3600 ? Math.floor(s / 60) + ' min' : Math.floor(s / 3600) + ' h';
  }

  function fmt(v) {
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  }

  // ---- rendering ----------------------------------------------------------------------------------------------
  function renderZones() {
    const zones = [...state.zones].sort((a, b) => b.isa95_level - a.isa95_level);
    const known = new Set(zones.map((z) => z.name));
    for (const a of state.agents) if (!known.has(a.zone)) zones.push({ name: a.zone, isa95_level: '?', security_level: '?' });
    replace(
      $('zones'),
      zones.map((z) => {
        const agents = state.agents.filter((a) => a.zone === z.name);
        return el('div', { class: 'zone', 'data-zone': z.name }, [
          el('h3', {}, [el('span', { text: z.name }), el('span', { class: 'muted small', text: 'L' + z.isa95_level + ' · SL' + z.security_level })]),
          ...(agents.length === 0 ? [el('div', { class: 'muted small', text: 'no agents' })] : []),
          ...agents.map((a) =>
            el('div', { class: 'agent', 'data-agent': a.id, 'data-state': a.state, title: a.last_error ? a.last_error.code + ': ' + a.last_error.message : 'since ' + a.since }, [
              el('span', {}, [el('strong', { text: a.id }), ' ', el('span', { class: 'muted small', text: a.kind })]),
              el('span', { class: 'state state-' + a.state, 'data-testid': 'agent-state', text: a.state }),
            ]),
          ),
        ]);
      }),
    );
  }

  function renderAlerts() {
    const alarms = state.alarms.filter((a) => a.state !== 'shelved');
    const shelved = state.alarms.length - alarms.length;
    const unack = state.alarms.filter((a) => a.state === 'unack' || a.state === 'rtn_unack').length;
    $('alert-count').textContent = unack ? String(unack) : '';
    $('shelved-count').textContent = shelved ? shelved + ' shelved' : '';
    if (alarms.length === 0) {
      replace($('alerts'), [el('li', { class: 'none', text: 'No active alerts' })]);
      return;
    }
    replace(
      $('alerts'),
      alarms.map((a) => {
        const ack = el('button', { type: 'button', 'data-ack': a.id, text: 'Acknowledge' });
        ack.addEventListener('click', () => alarmAction('/v1/alarms/ack', { id: a.id }));
        const shelve = el('button', { type: 'button', 'data-shelve': a.id, text: 'Shelve 1 h' });
        shelve.addEventListener('click', () => alarmAction('/v1/alarms/shelve', { id: a.id, minutes: 60 }));
        const why = a.decision_index !== null ? el('a', { href: '#decision-' + a.decision_index, 'data-why': a.decision_index, text: 'Why? decision #' + a.decision_index }) : null;
        if (why) why.addEventListener('click', (e) => {
          e.preventDefault();
          focusAsset(a.asset, a.decision_index);
        });
        return el('li', { class: a.severity + ' ' + a.state, 'data-alert': a.name, 'data-alarm': a.id, 'data-state': a.state }, [
          el('strong', { text: a.name }),
          ' ',
          el('span', { class: 'muted small', 'data-alarm-state': a.state, text: a.severity + ' · ' + STATE_WORDS[a.state] + (a.acked_by ? ' by ' + a.acked_by : '') + ' · since ' + new Date(a.since).toLocaleTimeString() }),
          el('div', { text: a.summary }),
          el('div', { class: 'muted small' }, [a.response_plan ? 'Runbook: ' + a.response_plan + ' ' : '', why]),
          el('div', { class: 'actions' }, [a.state === 'unack' || a.state === 'rtn_unack' ? ack : null, ' ', shelve]),
        ]);
      }),
    );
  }

  // ---- process picture (ISA-101: grey process, colour only where something is abnormal) ------------------------
  /** Draws the picture once per layout; live updates only change classes and texts (clicks never hit a stale node). */
  function drawMimic(m) {
    const root = svg('svg', { viewBox: '0 0 ' + m.width + ' ' + m.height, width: m.width, height: m.height, role: 'img', 'aria-label': 'process picture' });
    for (const u of m.units) {
      root.appendChild(svg('rect', { class: 'unit', x: u.x, y: u.y, width: u.width, height: u.height, rx: 4 }));
      const t = svg('text', { class: 'unit-label', x: u.x + 8, y: u.y + 16 });
      t.textContent = (u.safety ? 'Safety PLC' : 'Process PLC') + ' · unit ' + u.unit_id + ' · zone ' + u.zone;
      root.appendChild(t);
    }
    for (const [x1, y1, x2, y2] of m.pipes) root.appendChild(svg('line', { class: 'pipe', x1: x1, y1: y1, x2: x2, y2: y2 }));
    const nodes = [];
    for (const s of m.symbols) {
      const g = svg('g', { class: 'sym ' + s.kind, transform: 'translate(' + s.x + ',' + s.y + ')', 'data-asset': s.asset, 'data-kind': s.kind, tabindex: 0 });
      const title = svg('title', {});
      title.textContent = s.asset + ': ' + s.label + ' · click for its decisions';
      g.appendChild(title);
      if (s.kind === 'pump') {
        g.appendChild(svg('circle', { class: 'body', r: 22 }));
        g.appendChild(svg('path', { class: 'mark', d: 'M -10 -12 L 14 0 L -10 12 Z' }));
      } else if (s.kind === 'valve') {
        g.appendChild(svg('path', { class: 'body', d: 'M -22 -14 L 22 14 L 22 -14 L -22 14 Z' }));
      } else if (s.kind === 'tank') {
        g.appendChild(svg('rect', { class: 'body', x: -24, y: -40, width: 48, height: 70, rx: 6 }));
      } else if (s.kind === 'estop') {
        g.appendChild(svg('circle', { class: 'body', r: 20 }));
        g.appendChild(svg('circle', { class: 'mark', r: 10 }));
      } else {
        g.appendChild(svg('rect', { class: 'body', x: -26, y: -20, width: 52, height: 40, rx: 3 }));
      }
      const fill = s.kind === 'tank' ? svg('rect', { class: 'fill', x: -22, y: 28, width: 44, height: 0 }) : null;
      if (fill) g.appendChild(fill);
      const label = svg('text', { class: 'label', y: s.kind === 'tank' ? 48 : 38 });
      label.textContent = s.kind === 'estop' ? 'E-stop' : s.asset;
      g.appendChild(label);
      const text = svg('text', { class: 'state-text', y: s.kind === 'tank' ? 62 : 52, 'data-state-text': s.asset });
      g.appendChild(text);
      g.addEventListener('click', () => focusAsset(s.asset));
      root.appendChild(g);
      nodes.push({ s: s, g: g, fill: fill, text: text });
    }
    $('mimic').replaceChildren(root);
    return nodes;
  }

  function renderMimic() {
    const m = state.mimic;
    if (!m) return;
    if (!state.mimicNodes || state.mimicNodes.layout !== m) state.mimicNodes = { layout: m, nodes: drawMimic(m) };
    const plant = state.plant || { flags: {}, points: [], faults: [] };
    const values = new Map(plant.points.map((p) => [p.key, p.value]));
    const faulted = new Set(plant.faults.map((f) => f.asset));
    const alarmed = new Set(state.alarms.filter((a) => a.asset && a.active).map((a) => a.asset));
    // The console's lamps are keyed `asset.state`, the safety PLC's by the state alone.
    const flag = (id) => (id === undefined ? undefined : plant.flags[id] !== undefined ? plant.flags[id] : plant.flags[id.split('.').slice(1).join('.')]);
    for (const { s, g, fill, text } of state.mimicNodes.nodes) {
      const sig = s.signals;
      const running = flag(sig.running);
      const open = s.kind === 'valve' ? flag(sig.command) : undefined;
      const estop = flag(sig.estop);
      const tripped = flag(sig.tripped);
      const bypass = flag(sig.bypass);
      const alarm = flag(sig.alarm_high) || flag(sig.alarm_low);
      const abnormal = faulted.has(s.asset) || alarmed.has(s.asset) || !!alarm || (s.kind === 'estop' && !!estop) || (s.kind === 'safety' && (!!tripped || !!bypass));
      const on = s.kind === 'pump' ? !!running : s.kind === 'valve' ? !!open : s.kind === 'estop' ? !!estop : false;
      g.setAttribute('class', 'sym ' + s.kind + (on ? ' on' : '') + (abnormal ? ' abnormal' : ''));
      g.setAttribute('data-abnormal', abnormal ? 'true' : 'false');
      g.setAttribute('data-on', on ? 'true' : 'false');
      const level = values.get(s.asset + '.level_m');
      if (fill && level !== undefined) {
        const h = Math.max(0, Math.min(66, (level / 4) * 66));
        fill.setAttribute('y', String(28 - h));
        fill.setAttribute('height', String(h));
      }
      const word = s.kind === 'pump' ? (running ? 'running' : 'stopped') : s.kind === 'valve' ? (open ? 'open' : 'closed') : s.kind === 'tank' && level !== undefined ? level.toFixed(2) + ' m' : s.kind === 'estop' ? (estop ? 'TRIPPED' : 'armed') : s.kind === 'safety' ? (tripped ? 'TRIPPED' : bypass ? 'BYPASS' : 'ok') : '';
      text.textContent = word + (faulted.has(s.asset) ? ' · fault' : '') + (alarmed.has(s.asset) ? ' · alarm' : '');
    }
  }

  function sparkline(points) {
    const w = 140;
    const h = 28;
    const s = svg('svg', { class: 'spark', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' });
    if (points.length < 2) return s;
    const vs = points.map((p) => p.v);
    let lo = Math.min(...vs);
    let hi = Math.max(...vs);
    if (hi - lo < 1e-9) {
      lo -= 1;
      hi += 1;
    }
    const t0 = points[0].t;
    const span = Math.max(1, points[points.length - 1].t - t0);
    const coords = points.map((p) => ((p.t - t0) / span) * (w - 2) + 1 + ',' + (h - 2 - ((p.v - lo) / (hi - lo)) * (h - 4)).toFixed(1));
    s.appendChild(svg('polyline', { points: coords.join(' ') }));
    return s;
  }

  function recordPlant(plant) {
    if (!plant) return;
    for (const p of plant.points) {
      const h = state.history.get(p.key) || [];
      if (h.length === 0 || h[h.length - 1].t < plant.t) h.push({ t: plant.t, v: p.value });
      while (h.length > HISTORY) h.shift();
      state.history.set(p.key, h);
    }
  }

  function renderPlant() {
    const plant = state.plant;
    if (!plant) {
      replace($('plant'), [el('tr', {}, [el('td', { colspan: 4, class: 'muted', text: 'No plant data yet' })])]);
      return;
    }
    $('plant-time').textContent = 'sampled ' + new Date(plant.t).toLocaleTimeString();
    replace(
      $('flags'),
      Object.entries(plant.flags).map(([k, on]) => el('span', { class: 'lamp' + (on ? ' on' : '') + (/alarm|emergency|tripped|bypass/.test(k) ? ' alarm' : ''), 'data-flag': k, text: k.replace(/_/g, ' ') })),
    );
    replace(
      $('faults'),
      plant.faults.map((f) => el('span', { class: 'fault', 'data-fault': f.asset + ':' + f.fault, text: 'FAULT ' + f.asset + ': ' + f.fault.replace(/_/g, ' ') })),
    );
    replace(
      $('plant'),
      plant.points.map((p) =>
        el('tr', { 'data-key': p.key }, [
          el('td', { text: p.key }),
          el('td', { class: 'muted', text: p.zone }),
          el('td', { class: 'num', text: fmt(p.value) + ' ' + p.unit }),
          el('td', {}, [sparkline(state.history.get(p.key) || [])]),
        ]),
      ),
    );
  }

  function renderScores() {
    if (state.scores.length === 0) {
      replace($('scores'), [el('div', { class: 'muted', text: 'No scores yet' })]);
      return;
    }
    replace(
      $('scores'),
      [...state.scores]
        .sort((a, b) => a.asset.localeCompare(b.asset))
        .map((s) => {
          const high = s.score >= s.threshold;
          const fill = el('div', { class: 'fill' + (high ? ' high' : '') });
          fill.style.width = Math.round(Math.min(1, Math.max(0, s.score)) * 100) + '%';
          const mark = el('div', { class: 'mark', title: 'threshold ' + s.threshold });
          mark.style.left = Math.round(Math.min(1, Math.max(0, s.threshold)) * 100) + '%';
          return el('div', { class: 'score', 'data-asset': s.asset, 'data-anomalous': high ? 'true' : 'false' }, [
            el('span', { text: s.asset }),
            el('div', { class: 'bar' }, [fill, mark]),
            el('span', { class: 'num' + (high ? ' bad' : ''), text: s.score.toFixed(2) }),
          ]);
        }),
    );
  }

  function decisionItem(d) {
    return el('li', { class: d.decision, 'data-decision': d.decision }, [
      new Date(d.t).toLocaleTimeString() + ' ' + d.decision.toUpperCase() + ' ' + d.function + (d.address !== undefined ? ' @' + d.address : '') + (d.from_zone ? ' ' + d.from_zone : '') + ' → ' + d.zone + ' (' + d.reason + ')' + (d.principal ? ' by ' + d.principal : ''),
    ]);
  }

  function renderDecisions() {
    const denied = state.decisions.filter((d) => d.decision === 'deny').length;
    $('decision-counts').textContent = state.totals
      ? state.totals.allow + ' allowed · ' + state.totals.deny + ' denied since start'
      : state.decisions.length - denied + ' allowed · ' + denied + ' denied (last ' + state.decisions.length + ')';
    if (state.decisions.length === 0) {
      replace($('decisions'), [el('li', { class: 'muted', text: 'No gateway decisions yet' })]);
      return;
    }
    replace($('decisions'), state.decisions.slice().reverse().map(decisionItem));
  }

  /** What the browser itself checked: verified, invalid, or not checkable by this browser's WebCrypto. */
  function signatureSummary(results) {
    if (!results) return 'not checked';
    if (results.length === 0) return 'no signature from a key the log lists';
    const words = { verified: '✓ verified in this browser', invalid: '✗ does NOT verify', unsupported: 'not checkable here (this browser has no WebCrypto support for it)' };
    return results.map((r) => r.name + ' ' + r.algorithm + ': ' + words[r.status]).join('; ');
  }

  function renderCheckpoint() {
    const cp = state.checkpoint;
    if (!cp) return;
    if (cp.error) {
      replace($('checkpoint'), [el('dt', { text: 'checkpoint' }), el('dd', { class: 'bad', text: cp.error })]);
      return;
    }
    const rows = [
      ['origin', cp.origin],
      ['tree size', String(cp.size)],
      ['root', cp.rootBase64],
      ['hash', GlimmerMerkle.algorithmForRootLength(cp.root.length)],
      ['signed by', cp.signatures.join(', ') || '(no signatures)'],
      ['signatures', signatureSummary(cp.verification)],
      ['fetched', new Date(cp.fetched).toLocaleTimeString()],
    ];
    replace($('checkpoint'), rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { 'data-field': k.replace(' ', '-'), text: v })]));
  }

  function renderAll() {
    renderZones();
    renderAlerts();
    renderPlant();
    renderScores();
    renderDecisions();
    renderCheckpoint();
    renderMimic();
    renderTimeline();
  }

  // ---- data ---------------------------------------------------------------------------------------------------
  async function loadSnapshot() {
    const snap = await (await api('/v1/console/snapshot')).json();
    state.bootId = snap.boot_id;
    state.zones = snap.zones;
    state.agents = snap.agents;
    state.history = new Map();
    for (const p of snap.plant_history) recordPlant(p);
    state.plant = snap.plant;
    recordPlant(snap.plant);
    state.decisions = snap.decisions.slice(-MAX_DECISIONS);
    state.totals = snap.decision_totals || null;
    state.scores = snap.scores;
    state.alerts = snap.alerts;
    state.alarms = snap.alarms || [];
    state.mimic = snap.mimic || null;
    state.lastData = Date.now();
    renderAll();
    await Promise.all([loadAgents(), loadCheckpoint(), loadTimeline()]);
  }

  async function loadAgents() {
    state.agents = await (await api('/v1/agents')).json();
    renderZones();
    renderNorthbound();
  }

  // The Data Agent's Sparkplug edge node and its store-and-forward queue (status.northbound of GET /v1/agents).
  function renderNorthbound() {
    const agent = (state.agents || []).find((a) => a.status && a.status.northbound);
    $('northbound-card').hidden = !agent;
    if (!agent) return;
    const nb = agent.status.northbound;
    const kv = [
      ['Agent', agent.id], ['Link', nb.born ? 'born (publishing)' : nb.connected ? 'connected, waiting for the primary host' : 'down (storing)'],
      ['bdSeq', String(nb.bd_seq)], ['Broker zone', String(nb.broker_zone)], ['Metrics sent', String(nb.metrics)], ['Replayed', String(nb.replayed)],
      ['Denied devices', (nb.denied_devices || []).join(', ') || 'none'],
    ];
    $('northbound').replaceChildren(...kv.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    $('northbound-queue').replaceChildren(...Object.entries(nb.queue || {}).map(([stream, q]) => el('tr', { 'data-stream': stream }, [
      el('td', { text: stream }), el('td', { text: String(q.depth) }),
      el('td', { text: (q.bytes / 1048576).toFixed(1) + ' / ' + (q.budget_bytes / 1048576).toFixed(0) + ' MiB' }),
      el('td', { text: q.depth ? ago(q.oldest_age_s * 1000) : '-' }), el('td', { text: String(q.dropped) }),
    ])));
  }

  async function loadCheckpoint() {
    try {
      const [text, keys] = await Promise.all([
        api('/v1/audit/checkpoint', 'text/plain').then((r) => r.text()),
        api('/v1/audit/keys').then((r) => r.json()),
      ]);
      const verification = await GlimmerMerkle.verifyNoteSignatures(text, keys.keys);
      state.checkpoint = Object.assign(GlimmerMerkle.parseCheckpoint(text), { fetched: Date.now(), verification: verification });
    } catch (err) {
      if (err instanceof Unauthenticated) throw err;
      state.checkpoint = { error: 'checkpoint unavailable: ' + err.message };
    }
    renderCheckpoint();
  }

  function onEvent(type, data) {
    state.lastEvent = Date.now();
    if (type === 'hello') {
      const restarted = state.bootId !== null && data.boot_id !== state.bootId;
      $('restart-banner').hidden = !restarted;
      loadSnapshot().catch(() => undefined);
      return;
    }
    if (type === 'heartbeat') return;
    state.lastData = Date.now();
    if (type === 'agents') {
      state.agents = data.agents;
      renderZones();
    } else if (type === 'plant') {
      state.plant = data.plant;
      recordPlant(data.plant);
      renderPlant();
      renderMimic();
      renderTimeline();
    } else if (type === 'decisions') {
      state.decisions.push(...data.decisions);
      state.totals = data.totals;
      if (state.decisions.length > MAX_DECISIONS) state.decisions.splice(0, state.decisions.length - MAX_DECISIONS);
      renderDecisions();
    } else if (type === 'scores') {
      state.scores = data.scores;
      renderScores();
    } else if (type === 'alerts') {
      state.alerts = data.alerts;
    } else if (type === 'alarms') {
      state.alarms = data.alarms;
      renderAlerts();
      renderMimic();
    } else if (type === 'decision') {
      loadChain(data.index);
    } else if (type === 'checkpoint') {
      loadCheckpoint().catch(() => undefined);
    }
  }

  function setConnection(kind, text) {
    const pill = $('conn');
    pill.className = 'pill pill-' + kind;
    pill.textContent = text;
    pill.dataset.state = kind;
    const stale = kind === 'stale';
    document.body.classList.toggle('stale', stale);
    $('stale-banner').hidden = !stale;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Reads GET /v1/events forever: parses SSE frames, reconnects with backoff, marks data stale while disconnected. */
  async function streamLoop() {
    let delay = 500;
    for (;;) {
      if (!state.token) {
        await sleep(500);
        continue;
      }
      const ctrl = new AbortController();
      currentStream = ctrl;
      let watchdog;
      try {
        const res = await fetch('/v1/events', { headers: { authorization: 'Bearer ' + state.token, accept: 'text/event-stream' }, cache: 'no-store', signal: ctrl.signal });
        if (res.status === 401) {
          signOut('The runtime did not accept the token. Sign in again.');
          continue;
        }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        state.lastEvent = Date.now();
        watchdog = setInterval(() => {
          if (Date.now() - state.lastEvent > STALE_AFTER_MS) ctrl.abort();
        }, 1000);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        let first = true;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = 'message';
            const data = [];
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length === 0) continue;
            if (first) {
              first = false;
              delay = 500;
              state.connected = true;
              setConnection('live', 'live');
            }
            try {
              onEvent(type, JSON.parse(data.join('\n')));
            } catch {
              /* one bad frame must not end the stream */
            }
          }
        }
      } catch {
        /* network error or watchdog abort: reconnect below */
      } finally {
        clearInterval(watchdog);
      }
      if (state.token) {
        state.connected = false;
        setConnection('stale', 'disconnected · stale');
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }

  // ---- inclusion proof, verified here --------------------------------------------------------------------------
  /** GET /v1/audit/entries?start=I&end=I (end inclusive, as the runtime serves it); falls back to an exclusive end. */
  async function fetchEntry(index) {
    for (const end of [index, index + 1]) {
      try {
        const got = await (await api('/v1/audit/entries?start=' + index + '&end=' + end)).json();
        const entry = (Array.isArray(got) ? got : got.entries || []).find((e) => e.index === index);
        if (entry) return entry;
      } catch (err) {
        if (err instanceof Unauthenticated) throw err;
      }
    }
    return undefined;
  }

  /**
   * Verifies in this browser that audit entry `index` is included in the latest signed checkpoint (fetched fresh); an
   * entry newer than that checkpoint waits for the next one (the runtime signs about once a second) up to `waitMs`.
   */
  async function verifyLeaf(index, waitMs) {
    const deadline = Date.now() + (waitMs || 0);
    for (;;) {
      await loadCheckpoint();
      const cp = state.checkpoint;
      if (!cp || cp.error) throw new Error(cp ? cp.error : 'no checkpoint');
      if (cp.size === 0) throw new Error('the log is empty');
      if (index === undefined) index = cp.size - 1;
      if (index >= cp.size && Date.now() < deadline) {
        await sleep(500);
        continue;
      }
      if (!Number.isSafeInteger(index) || index < 0 || index >= cp.size) throw new Error('entry must be 0..' + (cp.size - 1) + ' (the latest signed checkpoint)');
      const entry = await fetchEntry(index);
      if (!entry) throw new Error('the runtime returned no entry ' + index);
      const proof = await (await api('/v1/audit/proof/inclusion?index=' + index + '&size=' + cp.size)).json();
      if (proof.index !== index || proof.size !== cp.size || !Array.isArray(proof.hashes)) throw new Error('the proof does not answer the question asked');
      const leaf = GlimmerMerkle.base64ToBytes(entry.leaf);
      const result = await GlimmerMerkle.verifyInclusion(leaf, index, cp.size, proof.hashes, cp.root);
      return { index: index, size: cp.size, leaf: leaf, hashes: proof.hashes.length, ok: result.ok, algorithm: result.algorithm, reason: result.reason };
    }
  }

  async function verifyEntry(event) {
    event.preventDefault();
    const out = $('verify-result');
    out.replaceChildren(el('span', { class: 'muted', text: 'verifying…' }));
    try {
      const raw = $('verify-index').value.trim();
      const r = await verifyLeaf(raw === '' ? undefined : Number(raw), 0);
      let preview = '';
      try {
        preview = new TextDecoder('utf-8', { fatal: true }).decode(r.leaf);
        if (preview.length > 2000) preview = preview.slice(0, 2000) + '…';
      } catch {
        preview = r.leaf.length + ' bytes (binary)';
      }
      out.replaceChildren(
        r.ok
          ? el('div', { class: 'ok', 'data-verified': 'true', text: '✓ Entry ' + r.index + ' is included in the tree of size ' + r.size + ' (' + r.algorithm + ', ' + r.hashes + ' proof hashes): the root matches the checkpoint.' })
          : el('div', { class: 'fail', 'data-verified': 'false', text: '✗ Entry ' + r.index + ' does NOT verify: ' + r.reason }),
        el('pre', { text: preview }),
      );
    } catch (err) {
      if (err instanceof Unauthenticated) return;
      out.replaceChildren(el('div', { class: 'fail', 'data-verified': 'false', text: '✗ ' + err.message }));
    }
  }

  // ---- decision timeline: one row per safety decision, its chain read from the audit log ----------------------
  const MAX_ROWS = 50;
  const chainLoads = new Map();

  /** Fetches (again) the chain of the decision at `index`; calls for the same row in flight are merged. */
  function loadChain(index) {
    if (chainLoads.has(index)) {
      chainLoads.get(index).again = true;
      return;
    }
    const job = { again: false };
    chainLoads.set(index, job);
    api('/v1/decisions/explain?index=' + index)
      .then((r) => r.json())
      .then((chain) => {
        state.timeline.set(chain.index, chain);
        renderTimeline();
      })
      .catch(() => undefined)
      .finally(() => {
        chainLoads.delete(index);
        if (job.again) loadChain(index);
      });
  }

  async function loadTimeline() {
    const body = await (await api('/v1/decisions?limit=' + MAX_ROWS)).json();
    state.timeline = new Map(body.decisions.map((c) => [c.index, c]));
    renderTimeline();
  }

  function field(name, label, value, abnormal) {
    return el('div', { class: 'link' + (abnormal ? ' abnormal' : ''), 'data-link': name }, [el('span', { class: 'muted', text: label }), el('span', { text: value })]);
  }

  const idx = (l) => (l ? ' #' + l.index : '');

  function timelineRow(c) {
    const target = c.assets[0];
    const verify = el('button', { type: 'button', 'data-verify-leaf': c.index, text: 'Verify leaf #' + c.index + ' in this browser' });
    const result = el('span', { class: 'leaf-result', 'data-leaf-result': c.index });
    // The outcome outlives redraws of the row (live state, focus).
    const show = (outcome) => {
      result.textContent = outcome.text;
      if (outcome.ok === undefined) result.removeAttribute('data-verified');
      else result.setAttribute('data-verified', outcome.ok ? 'true' : 'false');
    };
    if (state.leafResults.has(c.index)) show(state.leafResults.get(c.index));
    verify.addEventListener('click', async () => {
      show({ text: 'verifying…' });
      let outcome;
      try {
        const r = await verifyLeaf(c.index, 8000);
        outcome = { ok: r.ok, text: r.ok ? '✓ included in the signed tree of size ' + r.size + ' (' + r.algorithm + ', ' + r.hashes + ' proof hashes)' : '✗ does NOT verify: ' + r.reason };
      } catch (err) {
        outcome = { ok: false, text: '✗ ' + err.message };
      }
      state.leafResults.set(c.index, outcome);
      const row = $('decision-' + c.index);
      const target = row ? row.querySelector('[data-leaf-result]') : null;
      if (target && target !== result) {
        target.textContent = outcome.text;
        target.setAttribute('data-verified', outcome.ok ? 'true' : 'false');
      }
      show(outcome);
    });
    const live = state.plant && state.plant.flags ? state.plant.flags[target + '.running'] : undefined;
    const sc = c.scores;
    const why = c.no_action.map((n) => n.asset + ': ' + n.reason + (n.rule ? ' (' + n.rule + ')' : '')).join(' · ');
    const head = c.kind === 'shutdown' ? c.agent + ' shut down ' + c.targets.join(', ') : c.agent + ' detected ' + (sc ? sc.mode : 'a hazard') + ' on ' + c.assets.join(', ') + ': no action';
    const links = c.kind === 'shutdown'
      ? [
          field('order', 'order', c.orders.map((o) => 'hold ' + o.target + (o.to ? ' → ' + o.to : '') + (o.attempt !== null ? ' attempt ' + o.attempt : '') + idx(o)).join(' · ')),
          field('policy', 'policy', c.policy.length ? c.policy.map((p) => p.decision.toUpperCase() + ' ' + p.action + ' [' + p.reasons.join(', ') + '] ' + p.enforcement + idx(p)).join(' · ') : '— not in the log yet'),
          field('write', 'gateway write', c.write ? c.write.decision.toUpperCase() + ' fc' + c.write.function_code + ' unit ' + c.write.unit + ' @' + c.write.address + ' (' + c.write.reason + ')' + idx(c.write) : '— not in the log yet'),
          field('execution', 'executed', c.execution ? (c.execution.signal || c.execution.target) + ' = ' + JSON.stringify(c.execution.value) + ' via ' + c.execution.via + ': ' + c.execution.outcome + idx(c.execution) : '— not in the log yet'),
          field('plc', 'PLC state after', c.plc_after ? c.plc_after.signal + ' = ' + JSON.stringify(c.plc_after.value) + ' (read back)' : live === undefined ? '—' : target + '.running = ' + live + ' (live)'),
          field('ack', 'acknowledged', c.ack ? c.ack.type + (c.ack.outcome ? ' (' + c.ack.outcome + ')' : '') + (c.ack.latency_ms !== null ? ' after ' + Math.round(c.ack.latency_ms) + ' ms' : '') + idx(c.ack) : '—'),
        ]
      : [field('no-action', 'no action, because', why || '—', true)];
    return el('li', { id: 'decision-' + c.index, class: 'row ' + c.kind + (state.focus === target ? ' focus' : ''), 'data-kind': c.kind, 'data-decision-index': c.index, 'data-decision-id': c.decision_id, 'data-target': target, 'data-complete': c.missing.length === 0 || (c.missing.length === 1 && c.missing[0] === 'plc_after') ? 'true' : 'false' }, [
      el('div', { class: 'row-head' }, [
        el('strong', { text: new Date(c.ts).toLocaleTimeString() + ' · ' + head }),
        el('span', { class: 'muted small', text: ' decision ' + c.decision_id }),
      ]),
      el('div', { class: 'chain' }, [
        field('fault', 'fault seen', c.fault ? c.fault.asset + ': ' + c.fault.fault.replace(/_/g, ' ') + ' (by ' + c.fault.by + ')' + idx(c.fault) : '— no injection recorded', !!c.fault),
        field('score', 'anomaly score', sc ? target + ' ' + (sc.target_score === null ? '-' : sc.target_score.toFixed(2)) + ' · class ' + sc.mode + ' · window ' + sc.anomaly.toFixed(2) + ' (threshold ' + (sc.threshold === null ? '-' : sc.threshold) + ')' : 'rules only (no model score)', !!sc),
        field('model', 'model', c.model ? 'sha256 ' + c.model.sha256.slice(0, 16) + '…' : '-'),
        field('rules', 'rules fired', c.rules.map((f) => f.rule + '(' + Object.entries(f.bindings).map(([k, v]) => k + '=' + v).join(', ') + ')').join(' · ') || '-'),
        ...links,
      ]),
      el('div', { class: 'leaf' }, [verify, ' ', result]),
    ]);
  }

  function renderTimeline() {
    const rows = [...state.timeline.values()].sort((a, b) => b.index - a.index).slice(0, MAX_ROWS);
    $('timeline-count').textContent = rows.length ? String(rows.length) : '';
    if (rows.length === 0) {
      replace($('timeline'), [el('li', { class: 'muted', text: 'No safety decisions yet' })]);
      return;
    }
    // Rows already drawn with the same chain keep their node (and any verification result shown in them).
    const drawn = new Map([...$('timeline').children].map((n) => [n.getAttribute('data-decision-index'), n]));
    replace($('timeline'), rows.map((c) => {
      const live = state.plant && state.plant.flags ? state.plant.flags[c.assets[0] + '.running'] : undefined;
      const key = JSON.stringify(c) + (state.focus || '') + String(live);
      const old = drawn.get(String(c.index));
      if (old && old.dataset.key === key) return old;
      const row = timelineRow(c);
      row.dataset.key = key;
      return row;
    }));
  }

  /** Scrolls the timeline to the latest decision on `asset` and marks its rows (from the mimic or an alarm). */
  function focusAsset(asset, index) {
    state.focus = asset;
    renderTimeline();
    const row = index !== undefined && index !== null ? $('decision-' + index) : document.querySelector('#timeline li[data-target="' + CSS.escape(asset) + '"]');
    if (row) row.scrollIntoView({ block: 'center' });
  }

  // ---- alarms (ISA-18.2: acknowledge, shelve) ------------------------------------------------------------------
  const STATE_WORDS = { unack: 'UNACKNOWLEDGED', acked: 'acknowledged', rtn_unack: 'cleared, unacknowledged', shelved: 'shelved' };

  async function alarmAction(path, body) {
    const out = $('alarm-result');
    try {
      const res = await fetch(path, { method: 'POST', cache: 'no-store', headers: { authorization: 'Bearer ' + state.token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const reply = await res.json();
      out.textContent = res.ok ? '' : reply.error.code + ': ' + reply.error.message;
      out.setAttribute('data-outcome', res.ok ? 'ok' : reply.error.code);
      if (res.ok) state.alarms = (await (await api('/v1/alarms')).json()).alarms;
      renderAlerts();
      renderMimic();
    } catch (err) {
      out.textContent = String(err.message || err);
    }
  }

  // ---- copilot write requests (GET/POST /v1/mcp/approvals; absent when the runtime has no MCP endpoint) ---------
  async function loadApprovals() {
    let body;
    try {
      body = await (await api('/v1/mcp/approvals')).json();
    } catch (err) {
      // No MCP endpoint on this runtime: stop asking until the page reloads.
      if (err.status === 404) {
        $('approvals-card').hidden = true;
        state.noApprovals = true;
      }
      return;
    }
    const pending = Array.isArray(body.pending) ? body.pending : [];
    $('approvals-card').hidden = false;
    $('approval-count').textContent = pending.length ? String(pending.length) : '';
    $('approvals').replaceChildren(...pending.map((p) => {
      const approve = el('button', { type: 'button', 'data-approve': p.id, text: 'Approve' });
      const reject = el('button', { type: 'button', 'data-reject': p.id, text: 'Reject' });
      approve.addEventListener('click', () => decideApproval(p.id, true));
      reject.addEventListener('click', () => decideApproval(p.id, false));
      return el('li', { 'data-request': p.id }, [
        el('strong', { text: p.signal + ' = ' + JSON.stringify(p.value) }),
        el('span', { class: 'muted small', text: ' · ' + p.client + ' · ' + new Date(p.requestedAt).toLocaleTimeString() }),
        el('div', { text: p.reason }),
        approve, ' ', reject,
      ]);
    }));
  }

  async function decideApproval(id, approve) {
    const out = $('approval-result');
    try {
      const res = await fetch('/v1/mcp/approvals', {
        method: 'POST', cache: 'no-store',
        headers: { authorization: 'Bearer ' + state.token, 'content-type': 'application/json' },
        body: JSON.stringify({ id, approve }),
      });
      const body = await res.json();
      out.textContent = res.ok ? body.signal + ': ' + body.status : body.error.code + ': ' + body.error.message;
      out.setAttribute('data-outcome', res.ok ? body.status : body.error.code);
    } catch (err) {
      out.textContent = String(err.message || err);
    }
    loadApprovals().catch(() => undefined);
  }

  // ---- start --------------------------------------------------------------------------------------------------
  function tick() {
    if (!state.token) return;
    const since = state.lastData ? 'last update ' + ago(Date.now() - state.lastData) + ' ago' : '';
    $('updated').textContent = since;
    if (state.connected && Date.now() - state.lastEvent > STALE_AFTER_MS) setConnection('stale', 'no heartbeat · stale');
  }

  function start() {
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('signin-token').value.trim();
      $('signin-token').value = '';
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      signIn(token);
      loadSnapshot().catch(() => undefined);
    });
    $('signout').addEventListener('click', () => signOut(''));
    $('verify-form').addEventListener('submit', verifyEntry);
    setInterval(tick, 1000);
    setInterval(() => {
      if (state.token && !state.noApprovals) loadApprovals().catch(() => undefined);
    }, 2000);
    setInterval(() => {
      if (state.token && state.connected) {
        loadAgents().catch(() => undefined);
        loadCheckpoint().catch(() => undefined);
      }
    }, 10000);
    const token = takeToken();
    if (token) {
      signIn(token);
      loadSnapshot().catch(() => undefined);
    } else {
      signOut('');
    }
    streamLoop();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
