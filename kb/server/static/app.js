// The kb search page: plain JavaScript over the JSON API of `kb serve`.
// State lives in the URL (q, topic, since, until, doc, open), so a search or an opened passage can be shared.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const FILTERS = ["topic", "since", "until", "doc"];
  const PAGE = 10;
  const DEBOUNCE_MS = 250;
  const CONTEXT = 3;

  let strings = {};
  let lang = "en";
  let state = {};
  let topics = [];
  let stats = null;
  let hits = [];          // the hits shown, in order
  let lastResult = null;
  let selected = -1;
  let searchSeq = 0;      // answers to older searches are dropped
  let searchAbort = null;

  // -- small helpers ------------------------------------------------------------------------------------
  const t = (key, vars = {}) =>
    (strings[key] || key).replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // A snippet is document text with <mark>…</mark> around highlights: every other character is text, never HTML.
  function snippetNode(snippet) {
    const p = el("p", { class: "snippet" });
    const parts = String(snippet).split(/(<mark>|<\/mark>)/);
    let marked = false;
    for (const part of parts) {
      if (part === "<mark>") marked = true;
      else if (part === "</mark>") marked = false;
      else if (part) p.append(marked ? el("mark", { text: part }) : document.createTextNode(part));
    }
    return p;
  }

  // Text with [start, end] highlight spans.
  function highlighted(text, spans) {
    const frag = document.createDocumentFragment();
    let at = 0;
    for (const [s, e] of spans || []) {
      if (s < at) continue;
      frag.append(document.createTextNode(text.slice(at, s)), el("mark", { text: text.slice(s, e) }));
      at = e;
    }
    frag.append(document.createTextNode(text.slice(at)));
    return frag;
  }

  function crumbs(section) {
    const div = el("div", { class: "crumbs", "aria-label": t("section") });
    for (const part of String(section || "").split(" > ").filter(Boolean)) div.append(el("span", { text: part }));
    return div;
  }

  function metaLine(h) {
    const p = el("p", { class: "meta" });
    for (const x of [h.date, h.source]) if (x) p.append(el("span", { text: x }));
    if (h.paragraph !== undefined) p.append(el("span", { text: t("paragraph", { n: h.paragraph }) }));
    if (h.page) p.append(el("span", { text: t("page", { n: h.page }) }));
    return p;
  }

  // The same citation as the MCP tools give: title, date, source, section, paragraph, page, passage id.
  function citation(h) {
    const parts = [h.title ? `《${h.title}》` : h.doc_id];
    for (const x of [h.date, h.source]) if (x) parts.push(x);
    if (h.section) parts.push("§ " + h.section);
    parts.push("¶" + h.paragraph);
    if (h.page) parts.push("p. " + h.page);
    return parts.join(", ") + ` [${h.id}]`;
  }

  let toastTimer = null;
  function toast(message) {
    const box = $("toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  async function copyCitation(h) {
    const text = citation(h);
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      // Not a secure context, or no permission: copy through a selected text area.
      const area = el("textarea", { readonly: true });
      area.value = text;
      document.body.append(area);
      area.select();
      try { document.execCommand("copy"); } catch (_) { /* the toast still shows the citation */ }
      area.remove();
    }
    toast(t("copied", { citation: text }));
  }

  async function api(path, params = {}, signal) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
    const url = path + (qs.toString() ? "?" + qs : "");
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
      let body = null;
      try { body = await response.json(); } catch (_) { body = null; }
      if (response.ok) return body;
      if (response.status === 503 && attempt < 3) {
        showNotice("retrying", t("retrying"));
        await new Promise((r) => setTimeout(r, 1500));
        continue;
      }
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      throw Object.assign(new Error(message), { status: response.status, body });
    }
  }

  // -- state and the URL ----------------------------------------------------------------------------------
  function readURL() {
    const u = new URLSearchParams(location.search);
    const s = { q: u.get("q") || "" };
    for (const k of [...FILTERS, "open"]) s[k] = u.get(k) || "";
    return s;
  }

  function writeURL(push) {
    const u = new URLSearchParams();
    for (const k of ["q", ...FILTERS, "open"]) if (state[k]) u.set(k, state[k]);
    const url = location.pathname + (u.toString() ? "?" + u : "");
    if (url === location.pathname + location.search) return;
    // history.state.depth counts the entries this page pushed, so "back" knows whether it stays on the page.
    if (push) history.pushState({ depth: ((history.state && history.state.depth) || 0) + 1 }, "", url);
    else history.replaceState(history.state, "", url);
  }

  function syncInputs() {
    if ($("q").value !== state.q) $("q").value = state.q;
    for (const k of ["since", "until", "doc"]) if ($(k).value !== state[k]) $(k).value = state[k];
    renderTopics();
  }

  // -- language ------------------------------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    $("lang").textContent = t("switchTo");
  }

  // -- topics --------------------------------------------------------------------------------------------
  function renderTopics() {
    const box = $("topics");
    box.replaceChildren();
    for (const tp of topics) {
      if (!tp.passages && tp.slug !== state.topic) continue;
      const on = tp.slug === state.topic;
      box.append(el("button", {
        type: "button", class: "chip", "aria-pressed": on ? "true" : "false", "data-slug": tp.slug,
        title: tp.slug,
        onclick: () => { state.topic = on ? "" : tp.slug; state.open = ""; writeURL(true); syncInputs(); render(); },
      }, lang === "zh" ? tp.zh : tp.en, el("span", { class: "count", text: tp.passages.toLocaleString() })));
    }
  }

  // -- searching -----------------------------------------------------------------------------------------
  function showNotice(kind, ...content) {
    const box = $("notices");
    box.querySelectorAll(`.notice.${kind}`).forEach((n) => n.remove());
    box.append(el("p", { class: `notice ${kind}` }, ...content));
  }

  function clearResults() {
    $("notices").replaceChildren();
    $("summary").textContent = "";
    $("results").replaceChildren();
    $("more").hidden = true;
    hits = [];
    selected = -1;
  }

  function renderWelcome() {
    const box = $("welcome");
    box.replaceChildren();
    box.hidden = false;
    if (stats) box.append(el("p", { text: t("welcome", { documents: stats.documents.toLocaleString(), passages: stats.passages.toLocaleString() }) }));
    const examples = el("p", {}, t("examples") + " ");
    for (const q of ["户籍", "rural land reform", "zhaijidi", "\"城乡融合发展\""]) {
      examples.append(el("a", { href: "?q=" + encodeURIComponent(q), onclick: (e) => { e.preventDefault(); setQuery(q, true); } }, q));
    }
    box.append(examples);
  }

  function setQuery(q, push) {
    state.q = q;
    state.open = "";
    syncInputs();
    writeURL(push);
    render();
  }

  async function runSearch(offset = 0) {
    const seq = ++searchSeq;
    if (searchAbort) searchAbort.abort();
    searchAbort = new AbortController();
    const params = { q: state.q, limit: PAGE, offset };
    for (const k of FILTERS) params[k] = state[k];
    let result;
    try {
      result = await api("/search", params, searchAbort.signal);
    } catch (err) {
      if (err.name === "AbortError" || seq !== searchSeq) return;
      clearResults();
      showNotice("error", t("error", { message: err.message }));
      return;
    }
    if (seq !== searchSeq) return;
    if (offset === 0) clearResults();
    lastResult = result;
    $("welcome").hidden = true;
    renderNotices(result);
    for (const h of result.hits) {
      hits.push(h);
      $("results").append(hitNode(h, hits.length - 1));
    }
    const shown = hits.length;
    $("summary").textContent = result.total
      ? t("summary", { from: 1, to: shown, total: result.total.toLocaleString() })
      : t("summaryNone", { query: state.q });
    $("more").hidden = !(shown < result.total && shown < 1000);
    if (offset === 0 && hits.length) select(0, false);
  }

  function renderNotices(result) {
    $("notices").replaceChildren();
    if (result.corrected) {
      showNotice("corrected", t("corrected", { query: result.query, suggestion: result.suggestion }));
    } else if (result.suggestion) {
      showNotice("suggestion", t("didYouMean") + " ",
        el("a", { href: "?q=" + encodeURIComponent(result.suggestion), class: "suggestion-link",
                  onclick: (e) => { e.preventDefault(); setQuery(result.suggestion, true); } }, result.suggestion),
        "?");
    }
    if (result.relaxed) showNotice("relaxed", t("relaxed"));
    const groups = new Map();
    for (const e of result.expanded || []) {
      if (!groups.has(e.query)) groups.set(e.query, []);
      if (!groups.get(e.query).includes(e.term)) groups.get(e.query).push(e.term);
    }
    if (groups.size) {
      const line = el("p", { class: "notice expansion" }, t("expanded") + ": ");
      let first = true;
      for (const [word, terms] of groups) {
        if (!first) line.append("; ");
        first = false;
        line.append(el("span", { class: "word", text: word }), " → " + terms.join(", "));
      }
      $("notices").append(line);
    }
  }

  function hitNode(h, i) {
    const li = el("li", { class: "hit", tabindex: "-1", "data-id": h.id, onclick: () => openPassage(h.id) },
      el("h3", { text: h.title || h.doc_id }),
      metaLine(h),
      crumbs(h.section),
      snippetNode(h.snippet));
    li.append(el("div", { class: "actions" },
      el("button", { type: "button", class: "cite", text: t("copyCitation"),
                     onclick: (e) => { e.stopPropagation(); copyCitation(h); } }),
      el("button", { type: "button", class: "only-doc", text: t("onlyThisDocument"),
                     onclick: (e) => { e.stopPropagation(); state.doc = h.doc_id; state.open = ""; writeURL(true); syncInputs(); render(); } })));
    li.addEventListener("mouseenter", () => select(i, false));
    return li;
  }

  function select(i, scroll = true) {
    const items = $("results").children;
    if (!items.length) return;
    selected = Math.max(0, Math.min(i, items.length - 1));
    for (let k = 0; k < items.length; k++) items[k].classList.toggle("selected", k === selected);
    if (scroll) items[selected].scrollIntoView({ block: "nearest" });
  }

  // -- the document view ---------------------------------------------------------------------------------
  function openPassage(id) {
    state.open = id;
    writeURL(true);
    render();
  }

  async function renderDocument() {
    const id = state.open;
    $("results-view").hidden = true;
    $("doc-view").hidden = false;
    $("passages").replaceChildren(el("p", { class: "meta", text: t("loading") }));
    let passage, doc;
    try {
      passage = await api("/passages/" + encodeURIComponent(id), { context: CONTEXT });
      doc = await api("/documents/" + encodeURIComponent(passage.doc_id));
    } catch (err) {
      $("passages").replaceChildren(el("p", { class: "notice error", text: t("error", { message: err.message }) }));
      return;
    }
    if (state.open !== id) return;
    $("doc-title").textContent = doc.title || doc.id;
    const meta = $("doc-meta");
    meta.replaceChildren();
    for (const x of [doc.date, doc.source, doc.path, t("passages", { n: doc.passages })]) if (x) meta.append(el("span", { text: x }));
    $("doc-cite").onclick = () => copyCitation(passage);

    const outline = $("outline");
    outline.replaceChildren();
    for (const entry of doc.outline || []) {
      const here = entry.passages.includes(passage.id);
      outline.append(el("li", { class: here ? "here" : "" },
        el("button", { type: "button", class: "link", text: entry.section || "—",
                       onclick: () => openPassage(here ? passage.id : entry.passages[0]) })));
    }

    // The passage in place with its neighbours, under their section headings; query highlights when known.
    const known = hits.find((h) => h.id === passage.id);
    const all = [...(passage.context || []).filter((c) => c.start < passage.start), passage,
                 ...(passage.context || []).filter((c) => c.start > passage.start)];
    const box = $("passages");
    box.replaceChildren();
    let section = null;
    for (const p of all) {
      if (p.section !== section) {
        section = p.section;
        box.append(crumbs(section));
        box.lastChild.classList.add("section-head");
      }
      const current = p.id === passage.id;
      const node = el("p", {
        class: "passage " + (current ? "current" : "neighbour"), "data-id": p.id,
        "aria-current": current ? "true" : null, title: current ? t("current") : p.id,
        onclick: current ? null : () => openPassage(p.id),
      }, el("span", { class: "num", text: t("paragraph", { n: p.paragraph }) }));
      node.append(current && known ? highlighted(p.text, known.highlights) : document.createTextNode(p.text));
      box.append(node);
    }
    const cur = box.querySelector(".passage.current");
    if (cur) cur.scrollIntoView({ block: "center" });
  }

  // Back to the results: the previous history entry when this page made it, else the search without "open".
  function goBack() {
    if (history.state && history.state.depth > 0) { history.back(); return; }
    state.open = "";
    writeURL(true);
    render();
  }

  // -- rendering the state -------------------------------------------------------------------------------
  function render() {
    document.querySelector("main").classList.toggle("reading", Boolean(state.open));
    $("back").hidden = !state.open;
    if (state.open) {
      renderDocument();
      return;
    }
    $("doc-view").hidden = true;
    $("results-view").hidden = false;
    if (!state.q.trim()) {
      searchSeq++;
      clearResults();
      renderWelcome();
      return;
    }
    runSearch(0);
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  // -- wiring --------------------------------------------------------------------------------------------
  function wire() {
    // Typing replaces the history entry (one entry per search, not per key); filters and opening push one.
    $("q").addEventListener("input", debounce(() => {
      state.q = $("q").value;
      state.open = "";
      writeURL(false);
      render();
    }, DEBOUNCE_MS));
    $("searchform").addEventListener("submit", (e) => {
      e.preventDefault();
      if (hits.length && selected >= 0 && state.q === $("q").value) { openPassage(hits[selected].id); return; }
      state.q = $("q").value;
      state.open = "";
      writeURL(true);
      render();
    });
    for (const k of ["since", "until", "doc"]) {
      $(k).addEventListener("input", debounce(() => {
        state[k] = $(k).value.trim();
        state.open = "";
        writeURL(true);
        render();
      }, DEBOUNCE_MS * 2));
    }
    $("doc").addEventListener("input", debounce(async () => {
      const text = $("doc").value.trim();
      if (!text) return;
      try {
        const list = await api("/documents", { doc: text, limit: 20 });
        $("doclist").replaceChildren(...list.documents.map((d) => el("option", { value: d.id, label: d.title || d.id })));
      } catch (_) { /* suggestions are optional */ }
    }, DEBOUNCE_MS));
    $("clear").addEventListener("click", () => {
      for (const k of FILTERS) state[k] = "";
      state.open = "";
      writeURL(true);
      syncInputs();
      render();
    });
    $("more").addEventListener("click", () => runSearch(hits.length));
    $("back").addEventListener("click", goBack);
    $("home").addEventListener("click", (e) => { e.preventDefault(); state = { q: "", topic: "", since: "", until: "", doc: "", open: "" }; writeURL(true); syncInputs(); render(); });
    $("lang").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      try { localStorage.setItem("kb-lang", lang); } catch (_) { /* private mode */ }
      loadStrings().then(() => { applyLanguage(); renderTopics(); render(); });
    });
    window.addEventListener("popstate", () => { state = readURL(); syncInputs(); render(); });
    document.addEventListener("keydown", (e) => {
      const typing = ["INPUT", "TEXTAREA"].includes(document.activeElement.tagName) && document.activeElement !== $("q");
      if (e.key === "/" && document.activeElement !== $("q") && !typing) {
        e.preventDefault();
        $("q").focus();
        $("q").select();
        return;
      }
      if (typing || e.altKey || e.ctrlKey || e.metaKey) return;
      if (!$("doc-view").hidden) {
        if (e.key === "Escape" || (e.key === "Backspace" && document.activeElement !== $("q"))) { e.preventDefault(); goBack(); }
        return;
      }
      if (e.key === "ArrowDown") { e.preventDefault(); select(selected + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); select(selected - 1); }
      else if (e.key === "Enter" && selected >= 0 && hits[selected] && $("q").value === state.q) {
        e.preventDefault();
        openPassage(hits[selected].id);
      }
    });
  }

  let allStrings = null;
  async function loadStrings() {
    if (!allStrings) allStrings = await (await fetch("/static/i18n.json")).json();
    strings = allStrings[lang] || allStrings.en;
  }

  async function init() {
    let saved = null;
    try { saved = localStorage.getItem("kb-lang"); } catch (_) { /* private mode */ }
    const browser = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    lang = saved || (browser.toLowerCase().startsWith("zh") ? "zh" : "en");
    await loadStrings();
    applyLanguage();
    state = readURL();
    wire();
    syncInputs();
    render();
    try {
      topics = (await api("/topics")).topics.slice().sort((a, b) => b.passages - a.passages);
      renderTopics();
    } catch (_) { /* the page works without topic chips */ }
    try {
      stats = await api("/stats");
      if (!state.q && !state.open) renderWelcome();
    } catch (_) { /* the welcome line is optional */ }
    if (window.matchMedia("(max-width: 760px)").matches) $("filters").open = false;
    document.body.dataset.ready = "true";
  }

  init();
})();
