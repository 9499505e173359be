// The topic tree, as MQTT Explorer draws it: every topic the broker carried, split into levels on
// `/` (MQTT 3.1.1 §4.7.1), with message counts per topic and per subtree, the retained and the last
// value, a flash when a message arrives, a filter, each topic's history and plot, and a form to
// publish. The server keeps the state (crates/web/src/topics.rs); this file only draws it.
//
// How it stays smooth with 10,000 topics and 1,000 messages a second:
// - The tree is built incrementally: a batch of changes (a `topics` event, ten a second) touches
//   only the changed topics and their ancestors (add the count difference up the path).
// - Only expanded nodes are listed, and of that list only the rows in view (plus a margin) exist
//   in the DOM: every row is ROW pixels high, so row i sits at i*ROW and the scroll position says
//   which rows are visible ("virtual scrolling"). A list of 10,000 expanded topics is ~50 elements.
// - Every change only marks what is stale; one requestAnimationFrame callback per frame redraws it
//   (a batch arriving, a scroll, a keystroke in the filter: at most one redraw per frame).
// - A flash is a CSS class held for FLASH_MS and a CSS transition fading it out: no timers per row.
"use strict";

(() => {
  const { el, t } = Sister;
  const ROW = 24;              // px; must match .trow's height in app.css
  const OVERSCAN = 8;          // rows drawn above and below the visible ones
  const FLASH_MS = 500;
  const AUTO_OPEN_ROWS = 150;  // nodes are opened by themselves while the list is shorter than this
  const HISTORY_ROWS = 200;    // history rows drawn (the plot uses all of the history)
  const SHOWN_VALUE = 120;     // characters of a payload shown in a tree row
  const order = new Intl.Collator(undefined, { numeric: true }).compare; // sensor/2 before sensor/10

  Sister.strings({
    en: {
      "topics.filter": "Filter topics",
      "topics.expand_all": "Expand all",
      "topics.collapse_all": "Collapse all",
      "topics.summary": "{topics} topics · {messages} messages",
      "topics.branch": "{topics} topics, {messages} messages",
      "topics.empty_level": "(empty level)",
      "topics.no_broker": "No broker: start sister web with --broker HOST:PORT to see its topics.",
      "topics.none": "No topic yet: nothing was retained, and nothing has been published since sister web subscribed.",
      "topics.no_match": "No topic name contains “{q}”.",
      "topics.pick": "Click a topic to see its messages.",
      "topics.below": "{topics} topics below, {messages} messages in all.",
      "topics.messages": "Messages",
      "topics.retained": "Retained",
      "topics.not_retained": "nothing retained",
      "topics.retain_311": "MQTT 3.1.1: the broker clears RETAIN on messages it forwards live (§3.3.1.3), so this is the retained value as sent when sister web subscribed. With -V 5 (Retain As Published) live changes are known too.",
      "topics.last": "Last",
      "topics.qos_note": "QoS as delivered: sister web subscribed at QoS {q}, and a message arrives at the lower of its QoS and that (§3.8.4). sister web --qos 2 shows each publisher's.",
      "topics.history": "History (newest first)",
      "topics.history_cut": "the newest {n} of {all}",
      "topics.time": "Time",
      "topics.qos": "QoS",
      "topics.retain": "Retain",
      "topics.size": "Size",
      "topics.payload": "Payload",
      "topics.binary": "binary",
      "topics.bytes": "{n} B",
      "topics.plot": "Numbers in the payloads",
      "topics.publish": "Publish",
      "topics.topic": "Topic",
      "topics.payload_hint": "Payload (text)",
      "topics.published": "Published to {topic}.",
      "topics.sending": "Sending…",
      "broker.connecting": "connecting to {server}…",
      "broker.connected": "connected to {server}",
      "broker.retrying": "cannot connect to {server}: {error} (trying again in {s} s)",
      "broker.lost": "connection to {server} lost: {error}",
    },
    id: {
      "topics.filter": "Saring topik",
      "topics.expand_all": "Buka semua",
      "topics.collapse_all": "Tutup semua",
      "topics.summary": "{topics} topik · {messages} pesan",
      "topics.branch": "{topics} topik, {messages} pesan",
      "topics.empty_level": "(level kosong)",
      "topics.no_broker": "Tidak ada broker: jalankan sister web dengan --broker HOST:PORT untuk melihat topiknya.",
      "topics.none": "Belum ada topik: tidak ada yang di-retain, dan belum ada yang dipublikasikan sejak sister web berlangganan.",
      "topics.no_match": "Tidak ada nama topik yang memuat “{q}”.",
      "topics.pick": "Klik sebuah topik untuk melihat pesannya.",
      "topics.below": "{topics} topik di bawahnya, {messages} pesan seluruhnya.",
      "topics.messages": "Pesan",
      "topics.retained": "Retained",
      "topics.not_retained": "tidak ada yang di-retain",
      "topics.retain_311": "MQTT 3.1.1: broker menghapus flag RETAIN pada pesan yang diteruskan secara langsung (§3.3.1.3), jadi ini nilai retained saat sister web berlangganan. Dengan -V 5 (Retain As Published) perubahan langsung juga diketahui.",
      "topics.last": "Terakhir",
      "topics.qos_note": "QoS saat diterima: sister web berlangganan dengan QoS {q}, dan pesan tiba dengan QoS terendah antara QoS-nya dan itu (§3.8.4). sister web --qos 2 menunjukkan QoS tiap publisher.",
      "topics.history": "Riwayat (terbaru di atas)",
      "topics.history_cut": "{n} terbaru dari {all}",
      "topics.time": "Waktu",
      "topics.qos": "QoS",
      "topics.retain": "Retain",
      "topics.size": "Ukuran",
      "topics.payload": "Payload",
      "topics.binary": "biner",
      "topics.bytes": "{n} B",
      "topics.plot": "Angka dalam payload",
      "topics.publish": "Publikasikan",
      "topics.topic": "Topik",
      "topics.payload_hint": "Payload (teks)",
      "topics.published": "Terkirim ke {topic}.",
      "topics.sending": "Mengirim…",
      "broker.connecting": "menghubungkan ke {server}…",
      "broker.connected": "terhubung ke {server}",
      "broker.retrying": "tidak dapat terhubung ke {server}: {error} (mencoba lagi dalam {s} detik)",
      "broker.lost": "koneksi ke {server} terputus: {error}",
    },
  });

  // One level of the tree. `path` is the topic prefix up to this level ("sister/temp"); a node is
  // also a topic when a message was published to exactly that name (`summary` is set), and a
  // topic can have children at the same time (sister/temp and sister/temp/raw).
  class Node {
    constructor(name, path, parent) {
      this.name = name;
      this.path = path;
      this.parent = parent;
      this.depth = parent ? parent.depth + 1 : -1;
      this.kids = [];            // sorted lazily (see sortedKids)
      this.byName = new Map();
      this.sorted = true;
      this.summary = null;       // the server's TopicSummary, when this is a topic
      this.count = 0;            // messages on this very topic
      this.total = 0;            // messages on this topic and every topic below
      this.topics = 0;           // topics at and below this node
      this.expanded = false;
      this.closedInFilter = false;
      this.match = 0;            // === the filter's generation when shown under the filter
      this.flashAt = -1e9;
      this.version = 0;          // bumped whenever what its row shows changed
      this.lower = path.toLowerCase();
    }
    sortedKids() {
      if (!this.sorted) {
        this.kids.sort((a, b) => order(a.name, b.name));
        this.sorted = true;
      }
      return this.kids;
    }
  }

  const state = {
    root: new Node("", "", null),
    topicNodes: [],          // every node that is a topic, for the filter
    rows: [],                // the listed nodes, in order
    messages: 0,             // the server's message count of the last snapshot or batch applied
    liveRetain: false,
    subscriptionQos: 0,
    loading: null,           // batches that arrived while a snapshot was on its way
    filter: "",
    matchGen: 0,
    selected: null,          // the selected node's path
    detail: null,            // the selected topic's TopicDetail
    detailWanted: false,     // the selected topic changed: fetch its detail again
    detailInFlight: false,
    // What the next frame must redo.
    dirtyRows: true,
    dirtyDetail: true,
    frame: 0,
    flashTimer: 0,
    renders: 0,              // performance marks written (bounded)
    markedTopics: -1,        // the topic count of the last mark
  };

  let ui = null;

  // ---- the model ---------------------------------------------------------------------------------

  function reset() {
    state.root = new Node("", "", null);
    state.root.expanded = true;
    state.topicNodes = [];
    state.rows = [];
    state.dirtyRows = true;
  }

  // Record one topic's summary (from the snapshot or a batch). `live`: flash it.
  function apply(s, live, now) {
    const levels = s.topic.split("/");
    let node = state.root;
    const path = [];
    for (let i = 0; i < levels.length; i++) {
      const name = levels[i];
      let kid = node.byName.get(name);
      if (!kid) {
        kid = new Node(name, i === 0 ? name : `${node.path}/${name}`, node);
        kid.expanded = live && state.rows.length < AUTO_OPEN_ROWS;
        node.byName.set(name, kid);
        node.kids.push(kid);
        node.sorted = false;
        node.version++;          // its twisty may appear
        state.dirtyRows = true;
      }
      path.push(kid);
      node = kid;
    }
    const added = node.summary ? 0 : 1;
    if (added) {
      state.topicNodes.push(node);
      if (state.filter && node.lower.includes(state.filter)) markMatch(node);
    }
    // Counts only grow on one server; after a restart the page reloads everything (resync/open).
    const delta = s.count - node.count;
    node.summary = s;
    node.count = s.count;
    state.root.total += delta;
    state.root.topics += added;
    for (const n of path) {
      n.total += delta;
      n.topics += added;
      n.version++;
      if (live) n.flashAt = now;
    }
    if (state.selected === node.path) state.detailWanted = true;
  }

  function markMatch(node) {
    for (let n = node; n && n.match !== state.matchGen; n = n.parent) n.match = state.matchGen;
    state.dirtyRows = true;
  }

  function recomputeMatches() {
    state.matchGen++;
    for (const n of state.topicNodes) {
      n.closedInFilter = false;
      if (state.filter && n.lower.includes(state.filter)) markMatch(n);
    }
    state.dirtyRows = true;
  }

  // Open levels breadth first while the list stays short, so a small broker shows everything and
  // a large one its first levels.
  function autoExpand() {
    let level = [state.root];
    let shown = state.root.kids.length;
    while (level.length) {
      const next = [];
      for (const n of level) for (const k of n.kids) if (k.kids.length) next.push(k);
      const more = next.reduce((sum, n) => sum + n.kids.length, 0);
      if (!next.length || shown + more > AUTO_OPEN_ROWS) break;
      for (const n of next) n.expanded = true;
      shown += more;
      level = next;
    }
    state.dirtyRows = true;
  }

  function isOpen(n) {
    return state.filter ? !n.closedInFilter : n.expanded;
  }

  // The listed nodes in order: depth first through the open nodes (and under a filter only the
  // matching topics and their ancestors). An explicit stack: a topic may have thousands of levels.
  function listRows() {
    const rows = [];
    const filtering = !!state.filter;
    const stack = [[state.root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      const kids = node.sortedKids();
      if (i >= kids.length) { stack.pop(); continue; }
      top[1] = i + 1;
      const kid = kids[i];
      if (filtering && kid.match !== state.matchGen) continue;
      rows.push(kid);
      if (kid.kids.length && isOpen(kid)) stack.push([kid, 0]);
    }
    state.rows = rows;
  }

  // ---- talking to the server ---------------------------------------------------------------------

  async function loadSnapshot() {
    if (state.loading) { state.loading.again = true; return; }
    // Batches that arrive while the snapshot travels wait here (see applyBatch).
    const loading = (state.loading = { batches: [], again: false });
    let snap = null;
    try {
      snap = await Sister.api("/api/topics");
      ui.problem.textContent = "";
    } catch (e) {
      ui.problem.textContent = e.message;
    }
    // Notice: loading ends before the queued batches are applied. While `state.loading` is set,
    // applyBatch queues its batch, so applying the queue then would append to the very array being
    // walked: the page spun on it for seconds under a steady stream of messages.
    state.loading = null;
    if (snap) {
      reset();
      const now = performance.now();
      for (const s of snap.topics) apply(s, false, now);
      state.messages = snap.messages;
      state.liveRetain = !!snap.live_retain;
      state.subscriptionQos = snap.subscription_qos ?? 0;
      autoExpand();
      // Only the batches taken after the snapshot count (applyBatch skips the older ones).
      for (const b of loading.batches) applyBatch(b);
      if (state.selected) state.detailWanted = true;
    }
    schedule();
    if (loading.again) loadSnapshot();
  }

  function applyBatch(b) {
    if (state.loading) { state.loading.batches.push(b); return; }
    if (b.messages <= state.messages) return; // already in the snapshot
    state.messages = b.messages;
    const now = performance.now();
    for (const s of b.topics) apply(s, true, now);
    schedule();
  }

  async function fetchDetail() {
    if (state.detailInFlight || !state.selected) return;
    state.detailWanted = false;
    state.detailInFlight = true;
    const name = state.selected;
    try {
      const d = await Sister.api(`/api/topic?name=${encodeURIComponent(name)}`);
      if (state.selected === name) state.detail = d;
    } catch (e) {
      if (state.selected === name) state.detail = { error: e.message };
    }
    state.detailInFlight = false;
    state.dirtyDetail = true;
    schedule();
  }

  // ---- drawing -----------------------------------------------------------------------------------

  function schedule() {
    if (!state.frame) state.frame = requestAnimationFrame(frame);
  }

  function frame() {
    state.frame = 0;
    if (!ui) return;
    const now = performance.now();
    if (state.dirtyRows) {
      listRows();
      state.dirtyRows = false;
      ui.spacer.style.height = `${state.rows.length * ROW}px`;
    }
    const hot = drawRows(now);
    drawSummary();
    if (state.detailWanted) fetchDetail();
    if (state.dirtyDetail) { drawDetail(); state.dirtyDetail = false; }
    // Take the flash off once it is FLASH_MS old (the CSS transition fades it).
    if (hot && !state.flashTimer) {
      state.flashTimer = setTimeout(() => { state.flashTimer = 0; schedule(); }, FLASH_MS);
    }
    // For bench/web.sh: when the tree first showed how many topics (bounded, it is a log).
    if (state.root.topics !== state.markedTopics && state.renders < 1000) {
      state.markedTopics = state.root.topics;
      state.renders++;
      performance.mark("sister:topics-rendered", { detail: { topics: state.root.topics } });
    }
  }

  // Fill the rows in view from a pool of row elements; returns whether a row is still flashing.
  function drawRows(now) {
    const list = ui.list;
    const rows = state.rows;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + OVERSCAN);
    const pool = ui.pool;
    let hot = false;
    for (let i = first; i < last; i++) {
      const slot = i - first;
      let r = pool[slot];
      if (!r) { r = makeRow(); pool.push(r); ui.spacer.append(r.el); }
      const n = rows[i];
      if (r.top !== i) { r.top = i; r.el.style.transform = `translateY(${i * ROW}px)`; }
      if (r.node !== n || r.version !== n.version || r.open !== isOpen(n)) fillRow(r, n);
      const flash = now - n.flashAt < FLASH_MS;
      if (flash) hot = true;
      if (r.flash !== flash) { r.flash = flash; r.el.classList.toggle("flash", flash); }
      const sel = state.selected === n.path;
      if (r.sel !== sel) { r.sel = sel; r.el.classList.toggle("sel", sel); }
      if (r.el.hidden) r.el.hidden = false;
    }
    for (let slot = last - first; slot < pool.length; slot++) {
      const r = pool[slot];
      if (!r.el.hidden) { r.el.hidden = true; r.node = null; }
    }
    ui.empty.textContent = rows.length ? "" :
      state.filter ? t("topics.no_match", { q: ui.filter.value }) :
      Sister.info().broker ? t("topics.none") : t("topics.no_broker");
    return hot;
  }

  function makeRow() {
    const r = {
      twisty: el("span", { class: "ttwisty" }),
      name: el("span", { class: "tname" }),
      ret: el("span", { class: "tret", title: t("topics.retained") }, "R"),
      value: el("span", { class: "tvalue mono" }),
      meta: el("span", { class: "tmeta" }),
      node: null, version: -1, top: -1, flash: false, sel: false, open: null,
    };
    r.el = el("div", { class: "trow", role: "treeitem" }, r.twisty, r.name, r.ret, r.value, r.meta);
    // The arrow opens and closes; a click elsewhere selects (and opens a level that is not a topic).
    r.el.addEventListener("click", (e) => {
      const n = r.node;
      if (!n) return;
      if (e.target === r.twisty) { toggle(n); return; }
      if (!n.summary) toggle(n);
      select(n);
    });
    return r;
  }

  function fillRow(r, n) {
    r.node = n;
    r.version = n.version;
    r.open = isOpen(n);
    r.el.dataset.path = n.path;
    r.el.style.paddingLeft = `${0.4 + n.depth * 1.1}rem`;
    r.el.setAttribute("aria-expanded", n.kids.length ? String(r.open) : "");
    r.twisty.textContent = n.kids.length ? (r.open ? "▾" : "▸") : "";
    r.name.textContent = n.name === "" ? t("topics.empty_level") : n.name;
    r.name.classList.toggle("muted", n.name === "");
    const s = n.summary;
    r.ret.hidden = !(s && s.retained);
    r.value.textContent = s ? `= ${s.last.text.length > SHOWN_VALUE ? s.last.text.slice(0, SHOWN_VALUE) + "…" : s.last.text}` : "";
    r.value.classList.toggle("tbinary", !!(s && s.last.binary));
    r.meta.textContent = n.kids.length
      ? t("topics.branch", { topics: n.topics, messages: n.total })
      : String(n.count);
    r.meta.classList.toggle("tcount", !n.kids.length);
  }

  function drawSummary() {
    const topics = state.root.topics, messages = state.messages;
    if (ui.summary.dataset.topics === String(topics) && ui.summary.dataset.messages === String(messages)) return;
    ui.summary.dataset.topics = topics;
    ui.summary.dataset.messages = messages;
    ui.summary.textContent = t("topics.summary", { topics, messages });
  }

  function toggle(n) {
    if (!n.kids.length) return;
    if (state.filter) n.closedInFilter = !n.closedInFilter;
    else n.expanded = !n.expanded;
    n.version++;
    state.dirtyRows = true;
    schedule();
  }

  function select(n) {
    if (state.selected !== n.path) {
      state.selected = n.path;
      state.detail = null;
      if (!ui.pubTopic.dataset.touched) ui.pubTopic.value = n.path;
    }
    state.detailWanted = !!n.summary;
    state.dirtyDetail = true;
    schedule();
  }

  function expandAll(open) {
    const stack = [state.root];
    while (stack.length) {
      const n = stack.pop();
      if (n !== state.root && n.kids.length) { n.expanded = open; n.closedInFilter = !open; n.version++; }
      for (const k of n.kids) if (k.kids.length) stack.push(k);
    }
    state.dirtyRows = true;
    schedule();
  }

  function clock(ms) {
    const d = new Date(ms);
    const p = (v, w = 2) => String(v).padStart(w, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function drawDetail() {
    const pane = ui.detail;
    pane.replaceChildren();
    const node = state.selected === null ? null : findNode(state.selected);
    if (!node) { pane.append(el("p", { class: "muted" }, t("topics.pick"))); return; }
    pane.append(el("h2", { class: "ttitle mono" }, node.path === "" ? t("topics.empty_level") : node.path));
    if (!node.summary) {
      pane.append(el("p", {}, t("topics.below", { topics: node.topics, messages: node.total })));
      return;
    }
    const d = state.detail;
    if (!d) return;
    if (d.error) { pane.append(el("p", { class: "error" }, d.error)); return; }
    const payload = (m) => el("span", { class: m.binary ? "mono tbinary" : "mono" }, m.text,
      m.binary ? el("span", { class: "tbadge" }, t("topics.binary")) : null);
    pane.append(el("dl", { class: "tfacts" },
      el("dt", {}, t("topics.messages")), el("dd", { class: "tdcount" }, String(d.count)),
      el("dt", {}, t("topics.last")), el("dd", {}, payload(d.last)),
      el("dt", {}, t("topics.retained")), el("dd", { class: "tdretained" },
        d.retained ? payload(d.retained) : el("span", { class: "muted" }, t("topics.not_retained")),
        state.liveRetain ? null : el("div", { class: "muted tnote" }, t("topics.retain_311")))));
    const history = d.history || [];
    const plot = drawPlot(history);
    if (plot) pane.append(el("h3", {}, t("topics.plot")), plot);
    const newest = history.slice(-HISTORY_ROWS).reverse();
    pane.append(el("h3", {}, t("topics.history"),
      history.length > newest.length ? el("span", { class: "muted" }, ` (${t("topics.history_cut", { n: newest.length, all: history.length })})`) : null));
    if (state.subscriptionQos < 2) pane.append(el("p", { class: "muted tnote" }, t("topics.qos_note", { q: state.subscriptionQos })));
    pane.append(el("table", { class: "thistory" },
      el("thead", {}, el("tr", {},
        el("th", {}, t("topics.time")), el("th", {}, t("topics.qos")), el("th", {}, t("topics.retain")),
        el("th", {}, t("topics.size")), el("th", {}, t("topics.payload")))),
      el("tbody", {}, newest.map((m) => el("tr", {},
        el("td", { class: "mono" }, clock(m.at_ms)), el("td", {}, String(m.qos)),
        el("td", {}, m.retain ? "R" : ""), el("td", {}, t("topics.bytes", { n: m.size })),
        el("td", {}, payload(m)))))));
  }

  // A line chart of the numbers in the history, drawn as SVG by hand: x is the time received,
  // y the number; at most 500 points (evenly thinned), the extremes labelled.
  function drawPlot(history) {
    let pts = history.filter((m) => typeof m.number === "number");
    if (!pts.length) return null;
    if (pts.length > 500) { const step = pts.length / 500; pts = Array.from({ length: 500 }, (_, i) => pts[Math.floor(i * step)]); }
    const W = 520, H = 150, L = 44, R = 8, T = 8, B = 20;
    const t0 = pts[0].at_ms, t1 = pts[pts.length - 1].at_ms;
    let lo = Math.min(...pts.map((m) => m.number)), hi = Math.max(...pts.map((m) => m.number));
    if (lo === hi) { lo -= 1; hi += 1; }
    const x = (m, i) => L + (t1 > t0 ? (m.at_ms - t0) / (t1 - t0) : pts.length > 1 ? i / (pts.length - 1) : 0.5) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const NS = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const chart = svg("svg", { class: "tplot", viewBox: `0 0 ${W} ${H}`, "data-points": pts.length, role: "img" });
    chart.append(svg("title", {}, t("topics.plot")));
    chart.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "taxis" }));
    chart.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "taxis" }));
    const fmt = (v) => (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-2 && v !== 0)) ? v.toExponential(2) : String(+v.toFixed(2));
    chart.append(svg("text", { x: L - 4, y: y(hi) + 4, "text-anchor": "end" }, fmt(hi)));
    chart.append(svg("text", { x: L - 4, y: y(lo) + 4, "text-anchor": "end" }, fmt(lo)));
    chart.append(svg("text", { x: L, y: H - 4 }, clock(t0)));
    chart.append(svg("text", { x: W - R, y: H - 4, "text-anchor": "end" }, clock(t1)));
    const coords = pts.map((m, i) => `${x(m, i).toFixed(1)},${y(m.number).toFixed(1)}`);
    chart.append(svg("polyline", { points: coords.join(" "), class: "tline" }));
    if (pts.length <= 60) {
      pts.forEach((m, i) => chart.append(svg("circle", { cx: x(m, i).toFixed(1), cy: y(m.number).toFixed(1), r: 2.5, class: "tdot" },)));
    }
    return chart;
  }

  function findNode(path) {
    let n = state.root;
    for (const name of path.split("/")) {
      n = n.byName.get(name);
      if (!n) return null;
    }
    return n;
  }

  function brokerLine(s) {
    if (!s || !s.state) return "";
    return t(`broker.${s.state}`, { server: s.server, error: s.error || "", s: s.retry_in_s ?? "" });
  }

  // ---- the view ----------------------------------------------------------------------------------

  function init(root, info) {
    const filter = el("input", { type: "search", class: "tfilter", placeholder: t("topics.filter"), "aria-label": t("topics.filter") });
    const list = el("div", { class: "tlist", role: "tree" });
    const spacer = el("div", { class: "tspacer" });
    list.append(spacer);
    const pubTopic = el("input", { name: "topic", required: true, placeholder: t("topics.topic"), "aria-label": t("topics.topic") });
    const pubPayload = el("textarea", { name: "payload", rows: 2, placeholder: t("topics.payload_hint"), "aria-label": t("topics.payload") });
    const pubQos = el("select", { name: "qos", "aria-label": t("topics.qos") },
      [0, 1, 2].map((q) => el("option", { value: q }, `QoS ${q}`)));
    const pubRetain = el("input", { type: "checkbox", name: "retain" });
    const pubButton = el("button", { type: "submit" }, t("topics.publish"));
    const pubResult = el("span", { class: "tpubresult", role: "status" });
    const form = el("form", { class: "tpublish" },
      el("h3", {}, t("topics.publish")),
      el("label", {}, t("topics.topic"), pubTopic),
      el("label", {}, t("topics.payload"), pubPayload),
      el("div", { class: "trowform" }, pubQos, el("label", {}, pubRetain, ` ${t("topics.retain")}`), pubButton, pubResult));
    ui = {
      filter, list, spacer, pool: [], pubTopic, pubResult,
      summary: el("span", { class: "tsummary muted" }),
      broker: el("span", { class: "tbroker" }, brokerLine(info.broker_status)),
      problem: el("span", { class: "error" }),
      empty: el("p", { class: "muted tempty" }),
      detail: el("div", { class: "tdetail" }),
    };
    root.append(
      el("div", { class: "ttools" }, filter,
        el("button", { type: "button", class: "texpand", onclick: () => expandAll(true) }, t("topics.expand_all")),
        el("button", { type: "button", class: "tcollapse", onclick: () => expandAll(false) }, t("topics.collapse_all")),
        ui.summary, ui.broker, ui.problem),
      el("div", { class: "tmain" },
        el("div", { class: "tleft" }, ui.empty, list),
        el("div", { class: "tright" }, ui.detail, info.broker ? form : null)));

    filter.addEventListener("input", () => {
      state.filter = filter.value.trim().toLowerCase();
      recomputeMatches();
      list.scrollTop = 0;
      schedule();
    });
    list.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);
    pubTopic.addEventListener("input", () => { pubTopic.dataset.touched = "yes"; });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const topic = pubTopic.value;
      pubResult.className = "tpubresult muted";
      pubResult.textContent = t("topics.sending");
      pubButton.disabled = true;
      try {
        await Sister.api("/api/publish", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ topic, payload: pubPayload.value, qos: Number(pubQos.value), retain: pubRetain.checked }),
        });
        pubResult.className = "tpubresult ok";
        pubResult.textContent = t("topics.published", { topic });
      } catch (err) {
        pubResult.className = "tpubresult error";
        pubResult.textContent = err.message;
      }
      pubButton.disabled = false;
    });

    Sister.on("topics", applyBatch);
    Sister.on("resync", loadSnapshot);
    // The stream is open, so the server is already keeping batches for this page: a snapshot
    // taken now misses nothing (and after a server restart, the counts start again from it).
    Sister.on("open", loadSnapshot);
    Sister.on("broker", (s) => { ui.broker.textContent = brokerLine(s); ui.broker.dataset.state = s.state; });
    ui.broker.dataset.state = (info.broker_status && info.broker_status.state) || "";
    // Without a live stream (a proxy that buffers it), show the snapshot all the same.
    setTimeout(() => { if (!state.messages && !state.loading && !state.root.topics) loadSnapshot(); }, 2000);
    reset();
    schedule();
  }

  Sister.view("topics", {
    init,
    // The list's height is only known once the view is displayed.
    show() { schedule(); },
  });
})();
