// The kb search page: plain JavaScript over the JSON API of `kb serve`.
// State lives in the URL (q, topic, since, until, doc, where, group_by, sort, open), so a search or an opened
// passage can be shared.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const FILTERS = ["topic", "since", "until", "doc"];
  const OPTIONS = ["group_by", "sort"];  // how results are shown: one entry per document, order
  const PAGE = 10;
  const DEBOUNCE_MS = 250;
  const CONTEXT = 3;
  // A field gets a facet when it sorts documents into groups: 2 to MAX_FACET_VALUES values over the index,
  // fewer values than documents (an id or a url has one per document). Dates and titles are not groups.
  const MAX_FACET_VALUES = 100;
  const NOT_FACETS = ["id", "title", "date", "path"];
  const CHIPS_SHOWN = 12;

  let strings = {};
  let lang = "en";
  let state = {};
  let topics = [];
  let facetFields = [];   // names of the fields with a facet on this index (GET /fields)
  let facets = {};        // field → [{value, passages, documents}] for the current search
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

  // params: an object (empty values left out) or URLSearchParams (for repeated names such as where).
  async function api(path, params = {}, signal) {
    let qs = params;
    if (!(params instanceof URLSearchParams)) {
      qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
    }
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
  function emptyState() {
    return { q: "", topic: "", since: "", until: "", doc: "", where: [], group_by: "", sort: "", open: "" };
  }

  function readURL() {
    const u = new URLSearchParams(location.search);
    const s = emptyState();
    for (const k of ["q", ...FILTERS, ...OPTIONS, "open"]) s[k] = u.get(k) || "";
    s.where = u.getAll("where").filter((w) => w.trim());
    return s;
  }

  // The search's parameters as the API takes them (and as the URL holds them).
  function searchParams(s = state) {
    const u = new URLSearchParams();
    if (s.q) u.set("q", s.q);
    for (const k of FILTERS) if (s[k]) u.set(k, s[k]);
    for (const w of s.where) u.append("where", w);
    for (const k of OPTIONS) if (s[k]) u.set(k, s[k]);
    return u;
  }

  function writeURL(push) {
    const u = searchParams();
    if (state.open) u.set("open", state.open);
    const url = location.pathname + (u.toString() ? "?" + u : "");
    if (url === location.pathname + location.search) return;
    // history.state.depth counts the entries this page pushed, so "back" knows whether it stays on the page.
    if (push) history.pushState({ depth: ((history.state && history.state.depth) || 0) + 1 }, "", url);
    else history.replaceState(history.state, "", url);
  }

  function syncInputs() {
    if ($("q").value !== state.q) $("q").value = state.q;
    for (const k of ["since", "until", "doc"]) if ($(k).value !== state[k]) $(k).value = state[k];
    $("group").checked = state.group_by === "doc";
    $("sort").value = state.sort || "relevance";
    renderTopics();
    renderFacets();
  }

  // A filter or option changed: a new history entry and a new search from the first result.
  function changed() {
    state.open = "";
    writeURL(true);
    syncInputs();
    render();
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

  // -- topics and facets ---------------------------------------------------------------------------------
  // With a query, the counts are the current search's (facets): passages, or documents when grouped; a
  // facet's own filter is left out of its counts, so they say what choosing another value would give.
  function countOf(v) {
    return state.group_by === "doc" ? v.documents : v.passages;
  }

  function chip(label, count, on, attrs, onclick) {
    return el("button", { type: "button", class: "chip", "aria-pressed": on ? "true" : "false", onclick, ...attrs },
      label, el("span", { class: "count", text: count.toLocaleString() }));
  }

  function renderTopics() {
    const box = $("topics");
    box.replaceChildren();
    const counted = state.q.trim() && facets.topic ? new Map(facets.topic.map((v) => [v.value, countOf(v)])) : null;
    const shown = topics.map((tp) => ({ tp, n: counted ? (counted.get(tp.slug) || 0) : tp.passages }));
    if (counted) shown.sort((a, b) => b.n - a.n);
    for (const { tp, n } of shown) {
      const on = tp.slug === state.topic;
      if (!n && !on) continue;
      box.append(chip(lang === "zh" ? tp.zh : tp.en, n, on, { "data-slug": tp.slug, title: tp.slug },
        () => { state.topic = on ? "" : tp.slug; changed(); }));
    }
  }

  // The value a "field=value" condition of state.where gives the field, or null.
  function conditionValue(field) {
    for (const w of state.where) {
      const m = /^\s*([^=~<>]+?)\s*=\s*(.*?)\s*$/.exec(w);
      if (m && m[1] === field) return m[2];
    }
    return null;
  }

  function setCondition(field, value) {
    state.where = state.where.filter((w) => {
      const m = /^\s*([^=~<>]+?)\s*=/.exec(w);
      return !(m && m[1] === field);
    });
    if (value !== null) state.where.push(`${field}=${value}`);
  }

  function fieldLabel(name) {
    return strings["field_" + name] || name;
  }

  function renderFacets() {
    const box = $("facets");
    box.replaceChildren();
    const searching = Boolean(state.q.trim());
    for (const name of facetFields) {
      const values = (searching && facets[name]) || [];
      const active = conditionValue(name);
      if (values.length < 2 && active === null) continue;
      const section = el("section", { class: "facet", "data-field": name }, el("h2", { text: fieldLabel(name) }));
      const chips = el("div", { class: "chips", role: "group", "aria-label": fieldLabel(name) });
      const top = values.slice(0, CHIPS_SHOWN);
      if (active !== null && !top.some((v) => v.value === active)) {
        top.push(values.find((v) => v.value === active) || { value: active, passages: 0, documents: 0 });
      }
      for (const v of top) {
        const on = v.value === active;
        chips.append(chip(v.value, countOf(v), on, { "data-field": name, "data-value": v.value },
          () => { setCondition(name, on ? null : v.value); changed(); }));
      }
      if (values.length > top.length) chips.append(el("span", { class: "more-values", text: t("moreValues", { n: values.length - top.length }) }));
      section.append(chips);
      box.append(section);
    }
    // Conditions the facets do not show (from a shared URL: year>=2020, kind~report): removable.
    const shown = new Set(facetFields.map((f) => conditionValue(f) !== null ? `${f}=${conditionValue(f)}` : null));
    const others = state.where.filter((w) => {
      const m = /^\s*([^=~<>]+?)\s*=\s*(.*?)\s*$/.exec(w);
      return !(m && shown.has(`${m[1]}=${m[2]}`));
    });
    const list = $("conditions");
    list.replaceChildren();
    list.hidden = !others.length;
    for (const w of others) {
      list.append(el("button", { type: "button", class: "chip condition", "aria-pressed": "true", "data-where": w,
        title: t("removeCondition"), onclick: () => { state.where = state.where.filter((x) => x !== w); changed(); } },
        w, el("span", { class: "count", text: "×" })));
    }
  }

  // -- searching -----------------------------------------------------------------------------------------
  function showNotice(kind, ...content) {
    const box = $("notices");
    box.querySelectorAll(`.notice.${kind}`).forEach((n) => n.remove());
    box.append(el("p", { class: `notice ${kind}` }, ...content));
  }

  function clearResults() {
    $("toolbar").hidden = true;
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

  // The facet requests of a search: the fields without a filter of their own are counted by the search
  // itself; each filtered field (the topic, a field=value condition) by a search without that filter.
  function facetRequests() {
    const own = [];
    const apart = [];
    if (state.topic) apart.push({ field: "topic", state: { ...state, topic: "" } });
    else own.push("topic");
    for (const f of facetFields) {
      if (conditionValue(f) === null) { own.push(f); continue; }
      const where = state.where.filter((w) => { const m = /^\s*([^=~<>]+?)\s*=/.exec(w); return !(m && m[1] === f); });
      apart.push({ field: f, state: { ...state, where } });
    }
    return { own, apart };
  }

  async function runSearch(offset = 0) {
    const seq = ++searchSeq;
    if (searchAbort) searchAbort.abort();
    searchAbort = new AbortController();
    const signal = searchAbort.signal;
    const params = searchParams();
    params.set("limit", PAGE);
    params.set("offset", offset);
    const wanted = offset === 0 ? facetRequests() : { own: [], apart: [] };
    if (wanted.own.length) params.set("facets", wanted.own.join(","));
    let result, apart;
    try {
      [result, apart] = await Promise.all([
        api("/search", params, signal),
        Promise.all(wanted.apart.map(({ field, state: s }) => {
          const p = searchParams(s);
          p.set("limit", 1);
          p.set("facets", field);
          return api("/search", p, signal).then((r) => [field, (r.facets || {})[field] || []]);
        })),
      ]);
    } catch (err) {
      if (err.name === "AbortError" || seq !== searchSeq) return;
      clearResults();
      showNotice("error", t("error", { message: err.message }));
      return;
    }
    if (seq !== searchSeq) return;
    if (offset === 0) {
      clearResults();
      facets = { ...(result.facets || {}), ...Object.fromEntries(apart) };
      renderTopics();
      renderFacets();
    }
    lastResult = result;
    $("welcome").hidden = true;
    $("toolbar").hidden = false;
    $("export").href = exportURL();
    renderNotices(result);
    const grouped = Boolean(result.groups) || state.group_by === "doc";
    if (grouped) {
      for (const g of result.groups || []) {
        hits.push(g.best);
        $("results").append(groupNode(g, hits.length - 1));
      }
    } else {
      for (const h of result.hits) {
        hits.push(h);
        $("results").append(hitNode(h, hits.length - 1));
      }
    }
    const shown = hits.length;
    const total = grouped ? (result.total_documents || 0) : result.total;
    $("summary").textContent = !total ? t("summaryNone", { query: state.q })
      : grouped ? t("summaryGroups", { from: 1, to: shown, total: total.toLocaleString(), passages: result.total.toLocaleString() })
      : t("summary", { from: 1, to: shown, total: total.toLocaleString() });
    $("more").hidden = !(shown < total && shown < 1000);
    if (offset === 0 && hits.length) select(0, false);
    document.body.dataset.searched = location.href;  // the search these results answer (for scripts and tests)
  }

  // Every match of the current search and filters, as CSV (the API streams it; Excel reads its BOM).
  function exportURL() {
    const u = searchParams();
    u.set("format", "csv");
    return "/search?" + u;
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
                     onclick: (e) => { e.stopPropagation(); state.doc = h.doc_id; changed(); } })));
    li.addEventListener("mouseenter", () => select(i, false));
    return li;
  }

  // One matching document: its best passage, how many match and the sections holding them.
  function groupNode(g, i) {
    const best = g.best;
    const li = el("li", { class: "hit group", tabindex: "-1", "data-id": best.id, "data-doc": g.id,
                          onclick: () => openPassage(best.id) },
      el("h3", { text: g.title || g.id }));
    const meta = el("p", { class: "meta" });
    for (const x of [g.date, g.source]) if (x) meta.append(el("span", { text: x }));
    meta.append(el("span", { class: "matches", text: t(g.matches === 1 ? "matchOne" : "matches", { n: g.matches }) }));
    li.append(meta);
    const sections = el("ul", { class: "sections" });
    for (const s of g.sections) {
      sections.append(el("li", {}, el("button", { type: "button", class: "link section-link", "data-id": s.passages[0],
        text: (s.section || "—") + (s.passages.length > 1 ? ` (${s.passages.length})` : ""),
        onclick: (e) => { e.stopPropagation(); openPassage(s.passages[0]); } })));
    }
    li.append(sections);
    if (g.sections.length > 1) li.append(crumbs(best.section));  // which of them the quote is from
    li.append(snippetNode(best.snippet));
    li.append(el("div", { class: "actions" },
      el("button", { type: "button", class: "cite", text: t("copyCitation"),
                     onclick: (e) => { e.stopPropagation(); copyCitation(best); } }),
      el("button", { type: "button", class: "only-doc", text: t("onlyThisDocument"),
                     onclick: (e) => { e.stopPropagation(); state.doc = g.id; state.group_by = ""; changed(); } })));
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
      state.where = [];
      changed();
    });
    $("group").addEventListener("change", () => { state.group_by = $("group").checked ? "doc" : ""; changed(); });
    $("sort").addEventListener("change", () => { state.sort = $("sort").value === "date" ? "date" : ""; changed(); });
    $("more").addEventListener("click", () => runSearch(hits.length));
    $("back").addEventListener("click", goBack);
    $("home").addEventListener("click", (e) => { e.preventDefault(); state = emptyState(); writeURL(true); syncInputs(); render(); });
    $("lang").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      try { localStorage.setItem("kb-lang", lang); } catch (_) { /* private mode */ }
      loadStrings().then(() => { applyLanguage(); renderTopics(); renderFacets(); render(); });
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
    // The topics and the fields with facets first, so the first search asks for their counts.
    const [topicList, fieldList] = await Promise.all([
      api("/topics").then((r) => r.topics, () => []),  // the page works without topic chips ...
      api("/fields").then((r) => r.fields, () => []),  // ... and without field facets
    ]);
    topics = topicList.slice().sort((a, b) => b.passages - a.passages);
    facetFields = fieldList.filter((f) => !NOT_FACETS.includes(f.name) && f.values >= 2
      && f.values <= MAX_FACET_VALUES && f.values < f.documents).map((f) => f.name);
    syncInputs();
    render();
    try {
      stats = await api("/stats");
      if (!state.q && !state.open) renderWelcome();
    } catch (_) { /* the welcome line is optional */ }
    if (window.matchMedia("(max-width: 760px)").matches) $("filters").open = false;
    document.body.dataset.ready = "true";
  }

  init();
})();
