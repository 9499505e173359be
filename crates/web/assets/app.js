// sister web: what every view shares. No framework and no build step: read it as it is served.
//
// - Sister.view(name, {init, show}) registers a view (topics.js, capture.js, lamport.js); the tabs
//   switch between them and the URL's #hash remembers which one is open.
// - Sister.on(event, fn) follows the server's live stream (server-sent events from /api/events);
//   EventSource reconnects by itself when the server restarts; on every (re)connection, and when the
//   server says the page fell behind, a `resync` makes every view fetch its snapshot again.
// - Sister.t(key) is the page's text in the language sister web was started with (--lang en|id);
//   Sister.strings({en: {...}, id: {...}}) adds a view's texts.
"use strict";

const Sister = (() => {
  const views = new Map();
  const handlers = new Map();
  const texts = { en: {}, id: {} };
  let lang = "en";
  let info = {};

  function strings(more) {
    for (const l of Object.keys(texts)) Object.assign(texts[l], more[l] || {});
  }

  // The text for `key`, with {name} placeholders filled from `vars`.
  function t(key, vars) {
    let s = texts[lang][key] ?? texts.en[key] ?? key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
    return s;
  }

  // fetch() that returns parsed JSON, or throws an Error with the server's sentence.
  async function api(path, options) {
    const r = await fetch(path, options);
    const type = r.headers.get("content-type") || "";
    const body = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
    return body;
  }

  function on(name, fn) {
    if (!handlers.has(name)) handlers.set(name, []);
    handlers.get(name).push(fn);
  }

  function emit(name, data) {
    for (const fn of handlers.get(name) || []) {
      try { fn(data); } catch (e) { console.error(`${name} handler:`, e); }
    }
  }

  function view(name, v) { views.set(name, v); }

  // Build an element: el("div", {class: "x", onclick: f}, child, "text", ...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function show(name) {
    if (!views.has(name)) name = "topics";
    for (const b of document.querySelectorAll("#tabs button")) {
      b.classList.toggle("active", b.dataset.view === name);
    }
    for (const s of document.querySelectorAll("main .view")) {
      s.classList.toggle("active", s.id === `view-${name}`);
    }
    const v = views.get(name);
    if (v && v.show) v.show();
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  }

  function status(text, kind) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.className = kind || "";
  }

  function connect() {
    const es = new EventSource("/api/events");
    // The stream is subscribed on the server before its response starts, so a snapshot fetched after
    // `open` misses nothing: every (re)connection makes the views fetch their snapshots (`resync`).
    es.onopen = () => { document.body.dataset.live = "yes"; emit("resync", {}); };
    es.onerror = () => { document.body.dataset.live = "no"; };
    // Every named event the server sends: see server.rs.
    for (const name of ["topics", "broker", "capture", "lab", "lamport", "resync"]) {
      es.addEventListener(name, (e) => emit(name, JSON.parse(e.data)));
    }
  }

  async function start() {
    try {
      info = await api("/api/info");
    } catch (e) {
      status(e.message, "error");
    }
    lang = info.lang === "id" ? "id" : "en";
    document.documentElement.lang = lang;
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    for (const [name, v] of views) {
      try { v.init(document.getElementById(`view-${name}`), info); } catch (e) { console.error(name, e); }
    }
    for (const b of document.querySelectorAll("#tabs button")) {
      b.addEventListener("click", () => show(b.dataset.view));
    }
    window.addEventListener("hashchange", () => show(location.hash.slice(1)));
    connect();
    show(location.hash.slice(1) || (info.lab ? "lab" : info.broker ? "topics" : info.captures ? "capture" : info.lamport ? "lamport" : "topics"));
    document.body.dataset.ready = "yes";
  }

  strings({
    en: { "tab.topics": "Topics", "tab.capture": "Capture", "tab.lamport": "Lamport", "tab.lab": "Lab" },
    id: { "tab.topics": "Topik", "tab.capture": "Tangkapan", "tab.lamport": "Lamport", "tab.lab": "Praktikum" },
  });

  return { view, on, emit, api, t, strings, el, status, start, info: () => info, lang: () => lang };
})();
