// The review page of `mf review`. Plain JavaScript, no dependencies.
// Every piece of data is put into the page with textContent / new Option (never as HTML).
"use strict";
(() => {
  // the address as the page was opened: token, the video shown and the filters (a reload or a
  // shared link restores them)
  const asked = new URLSearchParams(location.search);
  const token = asked.get("token") || "";
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const overlay = $("overlay");
  const timeline = $("timeline");
  const S = {
    queue: null, // /api/queue
    shown: [], // queue items passing the filters
    cur: null, // stem of the current video
    item: null, // /api/item of the current video
    frame: 0,
    show: 0, // index of the tracklet drawn / shown in the strip
    undo: [], // decision ids made on this page, latest last
    form: null, // the open form's save function
    opener: null, // what had the focus when the form opened (it gets it back)
    saved: 0,
    busy: false, // a write or a move to another video is under way
    want: null, // the video being loaded (S.cur once it is shown)
    started: false, // the queue, the filters and the video the address names were loaded
  };

  // -- helpers ---------------------------------------------------------------------
  function url(path, params) {
    const u = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, v);
    u.searchParams.set("token", token);
    return u;
  }
  function mediaUrl(rel) {
    return "/media/" + rel.split("/").map(encodeURIComponent).join("/") + "?token=" + encodeURIComponent(token);
  }
  // an item's video or shop image: the dataset's file ("media"), a held-back item's collected
  // file ("file", from the collection folder), or none ("")
  function itemUrl(it, which) {
    const how = it[which + "_src"];
    if (how === "file") return url("/api/file", { video: it.stem, file: which }).toString();
    if (how === "media") return mediaUrl(which === "video" ? it.video : it.shop);
    return "";
  }
  // a request's JSON; an Error saying what went wrong (with the HTTP status as .status)
  async function request(path, init) {
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new Error("cannot reach the review server (stopped?): start mf review again and open the URL it prints");
    }
    const d = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = new Error(d.error || "HTTP " + r.status);
      e.status = r.status;
      throw e;
    }
    return d;
  }
  const getJSON = (path, params) => request(url(path, params));
  const post = (path, body) =>
    request(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Review-Token": token },
      body: JSON.stringify(body),
    });
  function make(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setText(e, text) {
    e.textContent = text === undefined || text === null ? "" : String(text);
  }
  function requestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function status(msg, error) {
    const s = $("status");
    setText(s, msg);
    s.className = error ? "error" : "";
  }
  const current = () => (S.queue ? S.queue.items.find((it) => it.stem === S.cur) : null);
  const fps = () => (S.item && S.item.fps) || 30;
  // presentation times (seconds) of a variable-rate video's frames; null: frame i is at i / fps
  const times = () => (S.item && S.item.frame_times && S.item.frame_times.length ? S.item.frame_times : null);
  function frameCount() {
    if (S.item && S.item.frames) return S.item.frames;
    if (times()) return times().length;
    return video.duration ? Math.max(1, Math.round(video.duration * fps())) : 1;
  }
  // where the page seeks to show frame i: the middle of the time it is shown
  function frameTime(i) {
    const ts = times();
    if (!ts) return (i + 0.5) / fps();
    const k = Math.min(i, ts.length - 1);
    const next = k + 1 < ts.length ? ts[k + 1] : ts[k] + 1 / fps();
    return (ts[k] + next) / 2;
  }
  // the frame shown at media time t (the last one starting at or before t)
  function frameAt(t) {
    const ts = times();
    if (!ts) return Math.floor(t * fps() + 1e-6);
    let lo = 0, hi = ts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ts[mid] <= t + 1e-4) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  const shownTracklet = () => (S.item && S.item.tracklets[S.show]) || null;

  // -- queue and filters -------------------------------------------------------------
  // each filter menu and its name in the address (?class=...&reason=...: kept over a reload)
  const FILTERS = { "f-class": "class", "f-partition": "partition", "f-reason": "reason", "f-decision": "decision" };
  // ``stay``: a value chosen that the new options lack stays chosen, offered as "(none left)" (a
  // reviewer working through one reason is not moved onto the whole queue when its last item goes)
  function fillSelect(sel, options, stay) {
    const keep = sel.value;
    sel.replaceChildren();
    for (const [value, label] of options) sel.add(new Option(label, value));
    const offered = [...sel.options].some((o) => o.value === keep);
    if (!offered && stay && keep) sel.add(new Option(keep + " (none left)", keep));
    if (offered || (stay && keep)) sel.value = keep;
  }
  function fillFilters() {
    const items = S.queue.items;
    const classes = [...new Set(items.map((it) => it.df2_class).filter((c) => c != null))].sort((a, b) => a - b);
    fillSelect($("f-class"), [["", "any"], ...classes.map((c) => [String(c), c + " " + S.queue.classes[c]])], true);
    const parts = [...new Set(items.map((it) => it.partition))].sort();
    fillSelect($("f-partition"), [["", "any"], ...parts.map((p) => [p, p])], true);
    const kinds = {};
    for (const it of items) if (it.flagged && it.reason) kinds[reasonKind(it.reason)] = (kinds[reasonKind(it.reason)] || 0) + 1;
    const names = Object.keys(kinds).sort();
    const kept = items.filter((it) => it.kept).length;
    fillSelect($("f-reason"), [["", "any"], ["-", "(QA sample)"], ...(kept ? [["+", "(kept for its decisions) (" + kept + ")"]] : []),
      ...names.map((k) => [k, k + " (" + kinds[k] + ")"])], true);
    fillSelect($("f-decision"), [["", "any"], ["none", "not reviewed"], ["accept", "accepted"], ["reject", "rejected"]]);
  }
  // the kind of a flag reason: what comes before its first colon ("low confidence", "shop",
  // "association", "review", "tracklets"), scores and names left out
  const reasonKind = (r) => (r.includes(":") ? r.slice(0, r.indexOf(":")).trim() : r);
  function passes(it) {
    const c = $("f-class").value, p = $("f-partition").value, r = $("f-reason").value, d = $("f-decision").value;
    const verdict = it.state ? it.state.verdict : null;
    if (c && String(it.df2_class) !== c) return false;
    if (p && it.partition !== p) return false;
    if (r === "-" && (it.flagged || it.kept)) return false;
    if (r === "+" && !it.kept) return false;
    if (r && r !== "-" && r !== "+" && !(it.flagged && it.reason && reasonKind(it.reason) === r)) return false;
    if (d === "none" && verdict) return false;
    if ((d === "accept" || d === "reject") && verdict !== d) return false;
    return true;
  }
  // the address names the filters chosen (none: left out), beside the video shown
  function filtersToUrl() {
    const here = new URL(location.href);
    for (const [id, name] of Object.entries(FILTERS)) {
      const v = $(id).value;
      if (v) here.searchParams.set(name, v);
      else here.searchParams.delete(name);
    }
    if (here.href !== location.href) history.replaceState(null, "", here);
  }
  // the filters the address names: each value its menu offers is chosen; the others are returned,
  // named (the menu stays at "any")
  function filtersFromUrl() {
    const unknown = [];
    for (const [id, name] of Object.entries(FILTERS)) {
      const v = asked.get(name);
      if (v === null || v === "") continue;
      const sel = $(id);
      if ([...sel.options].some((o) => o.value === v)) sel.value = v;
      else unknown.push(name + "=" + (v.length > 60 ? v.slice(0, 60) + "…" : v));
    }
    return unknown;
  }
  // why an item is in the queue, in words
  const why = (it) =>
    it.flagged ? "flagged: " + (it.reason_words || it.reason || "") : it.kept ? "reviewed: " + it.kept : "QA sample: the builder accepted this video";
  function renderQueue() {
    const q = S.queue;
    S.shown = q.items.filter(passes);
    setText($("progress"), q.reviewed + " of " + q.total + " reviewed");
    const pct = Math.round(q.sample_rate * 1000) / 10;
    setText($("sample"), "QA sample: " + pct + "% of " + q.accepted + " accepted videos (" + q.sampled + "), " + q.flagged + " flagged" +
      (q.kept ? ", " + q.kept + " kept for their decisions" : ""));
    setText($("shown"), S.shown.length + " shown");
    const ol = $("queue");
    const hadFocus = ol.contains(document.activeElement);
    ol.replaceChildren();
    for (const it of S.shown) {
      const li = make("li", it.stem === S.cur ? "current" : "");
      li.dataset.stem = it.stem;
      if (it.stem === S.cur) li.setAttribute("aria-current", "true");
      // a button per row, one of them in the Tab order (↑ ↓ move between rows, Enter opens one)
      const row = make("button", "row");
      row.type = "button";
      row.tabIndex = it.stem === S.cur ? 0 : -1;
      const mark = it.flagged ? make("span", "flag", "!") : make("span", "qa", it.kept ? "✓" : "·");
      mark.setAttribute("aria-hidden", "true");
      const kind = it.flagged ? "flagged: " : it.kept ? "kept for its decisions: " : "QA sample: ";
      row.append(mark, make("span", "vh", kind), make("span", "stem", it.stem));
      const v = it.state ? it.state.verdict : null;
      if (v) row.append(make("span", "badge " + v, v === "accept" ? "accepted" : "rejected"));
      row.append(make("span", "cls", it.class_name || ""));
      li.append(row);
      li.addEventListener("click", () => go(it.stem));
      ol.append(li);
    }
    const rows = ol.querySelectorAll("button.row");
    if (rows.length && !ol.querySelector("button.row[tabindex='0']")) rows[0].tabIndex = 0;
    const cur = ol.querySelector("li.current");
    if (cur) {
      cur.scrollIntoView({ block: "nearest" }); // the side panel follows j / k
      if (hadFocus) cur.querySelector("button").focus(); // the list was rebuilt under the focus
    }
  }
  // ↑ ↓ in the queue list: the focus moves between rows (Enter or Space opens the focused one)
  $("queue").addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    const rows = [...$("queue").querySelectorAll("button.row")];
    const at = rows.indexOf(document.activeElement);
    if (at < 0) return;
    const to = rows[Math.max(0, Math.min(rows.length - 1, at + (ev.key === "ArrowDown" ? 1 : -1)))];
    ev.preventDefault();
    for (const r of rows) r.tabIndex = r === to ? 0 : -1;
    to.focus();
  });
  async function loadQueue() {
    S.queue = await getJSON("/api/queue");
    fillFilters(); // the queue follows the dataset (a rebuild flags another kind): so do the menus
    // the queue follows the catalog: the video shown may have left it (a clean rerun let it go)
    if (S.cur && !S.queue.items.some((it) => it.stem === S.cur)) showLeft(S.cur);
    renderQueue();
  }
  // the video shown left the queue: the page says why and shows nothing a decision could go to
  // (j: the first video shown)
  function showLeft(stem) {
    const note = (S.queue.left || {})[stem] || stem + " is no longer in the review queue";
    closeForm();
    S.cur = null;
    S.item = null;
    S.want = null;
    video.pause();
    video.removeAttribute("src");
    video.load();
    $("shop").removeAttribute("src");
    $("shop-candidates").replaceChildren();
    $("shop-candidates").hidden = true;
    $("candidates").replaceChildren();
    $("crops").hidden = true;
    $("crops").removeAttribute("src");
    setText($("title"), stem);
    setText($("meta"), "");
    setText($("caption"), "");
    setText($("flag"), note);
    $("flag").className = "flagged";
    setText($("state"), "");
    $("notes").replaceChildren();
    delete document.body.dataset.video;
    status(note + " (j shows the first video of the list)", true);
    draw();
  }

  // -- one video -----------------------------------------------------------------------
  // Shows video ``stem``; decisions go to the video shown, so S.cur changes only once it loaded
  // (a load that fails leaves the page, and where decisions go, on the video shown before).
  async function select(stem) {
    if (!stem) return;
    closeForm();
    S.want = stem;
    let item;
    try {
      item = await getJSON("/api/item", { video: stem });
    } catch (e) {
      if (S.want !== stem) return false;
      if (e.status === 410) {
        // it left the queue since the list was loaded (a clean rerun let it go): the list follows,
        // and the status says why (the video shown stays, unless it is the one that left)
        try {
          await loadQueue();
        } catch (_e) {
          // the status below says why this one did not load; the next move loads again
        }
        if (S.want !== stem && S.want !== null) return false; // another video chosen meanwhile
        const here = S.cur ? "; the page shows " + S.cur : "";
        status(e.message + here, true);
        return false;
      }
      const here = S.cur ? "; the page still shows " + S.cur + ", and a decision goes to it" : "";
      status("cannot load " + stem + ": " + e.message + here, true);
      return false;
    }
    if (S.want !== stem) return false; // another video was chosen meanwhile (a click while the page loads)
    const moved = S.cur !== stem;
    S.cur = stem;
    S.item = item;
    const it = current();
    const gt = it.ground_truth != null ? it.ground_truth : S.item.ground_truth;
    S.show = gt != null && gt < S.item.tracklets.length ? gt : 0;
    const t = shownTracklet();
    const frames = t ? Object.keys(t.boxes).map(Number) : [];
    S.frame = frames.length ? Math.min(...frames) : 0;
    renderInfo();
    renderTracklets();
    renderState();
    renderQueue();
    video.setAttribute("aria-label", "video " + stem + " with the tracklet boxes drawn over it");
    const shop = itemUrl(it, "shop");
    if (shop) $("shop").src = shop;
    else $("shop").removeAttribute("src");
    $("shop").alt = shop ? "shop image" : "no shop image found";
    const src = itemUrl(it, "video");
    if (!src) {
      video.pause();
      video.removeAttribute("src");
      video.load();
      draw();
    } else if (video.getAttribute("src") !== src) {
      video.pause();
      video.setAttribute("src", src);
      video.load();
    } else {
      setFrame(S.frame);
    }
    document.body.dataset.video = stem;
    // the address names the video shown: a reload (or a tab restored) comes back to it
    const here = new URL(location.href);
    if (here.searchParams.get("video") !== stem) {
      here.searchParams.set("video", stem);
      history.replaceState(null, "", here);
    }
    if (moved) announce(stem);
  }
  // a screen reader hears which video is shown now (the status line keeps the last save)
  function announce(stem) {
    const it = current();
    const at = S.shown.findIndex((x) => x.stem === stem);
    const where = at >= 0 ? at + 1 + " of " + S.shown.length + ": " : "";
    setText($("announce"), "now showing " + where + (it.title || it.product_id) + " (" + stem + "), " + why(it));
  }
  function renderInfo() {
    const it = current();
    setText($("title"), it.title || it.product_id);
    const bits = [it.product_id, it.class_name || "no class (choose one with c before accepting)", it.partition, it.split].filter((b) => b);
    if (it.designer) bits.push(it.designer);
    if (it.held_back) bits.push("held back by mf publish until accepted");
    // a held-back item's collected files not found: each one missing is named (the shop image too,
    // else its box is only empty)
    const missing = [!it.video_src && "video", !it.shop_src && "shop image"].filter((m) => m);
    if (it.held_back && missing.length) bits.push(missing.join(" and ") + " not found (mf review --root: the collection folder)");
    setText($("meta"), bits.join(" · "));
    setText($("caption"), it.caption || "");
    // the reason in plain words (each fired rule explained, its signal named in brackets)
    setText($("flag"), why(it));
    $("flag").className = it.flagged ? "flagged" : "sampled";
    renderShopCandidates(it);
  }
  // the carousel candidates cleaning picked the shop image among: all of them, the pick marked
  // (an accept keeps the pick; reject when the garment is not the one shown)
  // the carousel candidates cleaning picked the shop image among: the pick marked (cleaning's,
  // or a reviewer's), each other one with a button making it the shop image (a shop decision,
  // undone with u; mf publish publishes the chosen one)
  function renderShopCandidates(it) {
    const box = $("shop-candidates");
    box.replaceChildren();
    box.hidden = !it.candidates;
    const whose = it.candidate_chosen_in_review ? "chosen in review" : "cleaning's pick";
    for (let i = 0; i < (it.candidates || 0); i++) {
      const picked = i === it.candidate_picked;
      const fig = make("figure", picked ? "picked" : "");
      fig.tabIndex = -1; // the focus lands here after "use this one"
      const img = make("img");
      img.src = url("/api/file", { video: it.stem, file: "candidate-" + i }).toString();
      img.alt = "shop candidate " + (i + 1);
      const cap = picked ? " (the shop image: " + whose + "; accept keeps it)" : "";
      fig.append(img, make("figcaption", "", "candidate " + (i + 1) + " of " + it.candidates + cap));
      if (!picked) {
        const use = make("button", "use-candidate", "use this one");
        use.type = "button";
        use.setAttribute("aria-label", "make candidate " + (i + 1) + " the shop image");
        use.addEventListener("click", async () => {
          await send({ kind: "shop", candidate: i }, "shop image: candidate " + (i + 1), false);
          // the candidates were drawn again (this button is gone): the focus goes to the one chosen
          const chosen = $("shop-candidates").querySelector("figure.picked");
          if (document.activeElement === document.body) (chosen || $("title")).focus();
        });
        fig.append(use);
      }
      box.append(fig);
    }
  }
  function renderTracklets() {
    // the pick is offered only where it can work: a video with a tracklet file (item.pick says why not)
    const pick = document.querySelector("#buttons button[data-act='pick']");
    pick.disabled = !!S.item.pick;
    pick.title = S.item.pick || "";
    const ol = $("candidates");
    ol.replaceChildren();
    const gt = S.item.ground_truth;
    for (const t of S.item.tracklets) {
      const n = Object.keys(t.boxes).length;
      const score = t.shop_score == null ? "–" : t.shop_score.toFixed(2);
      const li = make("li", "", "#" + t.index + " " + (t.mode || "") + ", " + n + " boxes, shop score " + score +
        (t.class_name ? ", " + t.class_name : ""));
      if (t.index === S.show) li.classList.add("shown");
      if (t.index === gt) li.classList.add("gt");
      li.addEventListener("click", () => showTracklet(t.index));
      ol.append(li);
    }
    if (!S.item.tracklets.length) ol.append(make("li", "", "no tracklets for this video"));
    const crops = $("crops");
    if (shownTracklet() && Object.keys(shownTracklet().boxes).length) {
      crops.hidden = false;
      crops.src = url("/api/crops", { video: S.cur, tracklet: S.show }).toString();
    } else {
      crops.hidden = true;
      crops.removeAttribute("src");
    }
  }
  function renderState() {
    const it = current();
    const st = it.state;
    let text = "not reviewed yet";
    if (st && st.verdict === "accept") text = "accepted";
    if (st && st.verdict === "reject") text = "rejected" + (st.reason ? ": " + st.reason : "");
    if (st && st.df2_class != null) text += " · class changed to " + S.queue.classes[st.df2_class];
    if (st && st.tracklet != null) text += " · ground truth picked: #" + st.tracklet;
    setText($("state"), text);
    const ul = $("notes");
    ul.replaceChildren();
    for (const d of S.item.decisions || []) if (d.kind === "note") ul.append(make("li", "note", d.note));
  }
  function showTracklet(i) {
    if (!S.item || !S.item.tracklets.length) return;
    S.show = ((i % S.item.tracklets.length) + S.item.tracklets.length) % S.item.tracklets.length;
    renderTracklets();
    draw();
  }

  // -- frames, overlay, timeline ---------------------------------------------------------
  function setFrame(i) {
    const n = frameCount();
    S.frame = Math.max(0, Math.min(n - 1, i | 0));
    video.pause();
    if (video.readyState >= 1) video.currentTime = frameTime(S.frame);
    draw();
  }
  function frameKind(t, f) {
    const k = String(f);
    if (!t || !(k in t.boxes)) return "none";
    if (!(k in t.scores)) return "interp";
    const m = t.match_scores[k];
    return m != null && m < 0.5 ? "unsure" : "det";
  }
  // at least 3:1 against the timeline's white; each kind has its own bar height too (not hue alone)
  const COLOURS = { det: "#1e8449", interp: "#9a7d0a", unsure: "#c0392b", none: "#8e8e96" };
  // the boxes over the video: bright versions of the same hues (dashed unless detected)
  const BOX_COLOURS = { det: "#27ae60", interp: "#f1c40f", unsure: "#e67e22", none: "#e3e3e8" };
  const HEIGHTS = { det: 1, interp: 0.7, unsure: 0.45, none: 0.2 };
  // the kinds as words: the colours are not the only way to tell them
  const KIND_NAMES = { det: "detected", interp: "interpolated", unsure: "unsure (low match)", none: "no box" };
  function sizeCanvas() {
    overlay.width = video.clientWidth;
    overlay.height = video.clientHeight;
    timeline.width = timeline.clientWidth || 600;
  }
  function draw() {
    const n = frameCount();
    const lab = $("frame");
    setText(lab, "frame " + S.frame + " / " + (n - 1));
    lab.dataset.frame = String(S.frame);
    const t = shownTracklet();
    const kind = frameKind(t, S.frame);
    setText($("frame-kind"), t ? "· #" + t.index + ": " + KIND_NAMES[kind] : "");
    $("frame-kind").dataset.kind = kind;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (S.item) {
      // boxes are in stored pixels; the browser shows the picture at its display aspect (a
      // non-square pixel video: wider or taller than stored), so each axis has its own scale
      const sx = overlay.width / (S.item.width || video.videoWidth || 1);
      const sy = overlay.height / (S.item.height || video.videoHeight || 1);
      for (const t of S.item.tracklets) {
        const b = t.boxes[String(S.frame)];
        if (!b) continue;
        const mine = t.index === S.show;
        ctx.lineWidth = mine ? 3 : 1;
        ctx.setLineDash(mine && frameKind(t, S.frame) !== "det" ? [6, 4] : []);
        ctx.strokeStyle = mine ? BOX_COLOURS[frameKind(t, S.frame)] : "rgba(200,200,200,0.8)";
        ctx.strokeRect(b[0] * sx, b[1] * sy, (b[2] - b[0]) * sx, (b[3] - b[1]) * sy);
        ctx.font = "12px sans-serif";
        ctx.fillStyle = ctx.strokeStyle;
        ctx.fillText("#" + t.index, b[0] * sx + 3, b[1] * sy + 13);
      }
    }
    drawTimeline();
  }
  function drawTimeline() {
    const ctx = timeline.getContext("2d");
    const W = timeline.width, H = timeline.height, n = frameCount();
    ctx.clearRect(0, 0, W, H);
    const t = shownTracklet();
    for (let f = 0; f < n; f++) {
      const kind = frameKind(t, f);
      ctx.fillStyle = COLOURS[kind];
      const x0 = Math.floor((f * W) / n), x1 = Math.floor(((f + 1) * W) / n);
      const h = Math.max(2, Math.round((H - 8) * HEIGHTS[kind]));
      ctx.fillRect(x0, H - 4 - h, Math.max(1, x1 - x0), h);
    }
    if (t && t.pivot_frame != null) {
      ctx.fillStyle = "#2e86de";
      ctx.fillRect(Math.floor(((t.pivot_frame + 0.5) * W) / n) - 1, 0, 3, H);
    }
    ctx.fillStyle = "#111";
    ctx.fillRect(Math.floor(((S.frame + 0.5) * W) / n) - 1, 0, 2, H);
    timeline.setAttribute("aria-label", timelineText(t, n));
  }
  // the timeline in words: how many frames of each kind, the pivot and the current frame
  function timelineText(t, n) {
    if (!t) return "timeline: no tracklet shown";
    const counts = { det: 0, interp: 0, unsure: 0, none: 0 };
    for (let f = 0; f < n; f++) counts[frameKind(t, f)] += 1;
    const parts = Object.entries(counts).filter(([, c]) => c).map(([k, c]) => c + " " + KIND_NAMES[k]);
    const pivot = t.pivot_frame != null ? ", pivot frame " + t.pivot_frame : "";
    return "timeline of tracklet #" + t.index + " over " + n + " frames: " + parts.join(", ") + pivot +
      "; frame " + S.frame + " is " + KIND_NAMES[frameKind(t, S.frame)];
  }
  function onVideoFrame(_now, meta) {
    if (!video.paused) {
      S.frame = Math.min(frameCount() - 1, times() ? frameAt(meta.mediaTime) : Math.round(meta.mediaTime * fps()));
      draw();
      video.requestVideoFrameCallback(onVideoFrame);
    }
  }
  function togglePlay() {
    if (video.paused) {
      video.play().catch(() => {});
      $("play").textContent = "pause";
      if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onVideoFrame);
    } else {
      video.pause();
      $("play").textContent = "play";
      setFrame(times() ? frameAt(video.currentTime) : Math.round(video.currentTime * fps() - 0.5));
    }
  }
  video.addEventListener("loadedmetadata", () => {
    sizeCanvas();
    setFrame(S.frame);
  });
  video.addEventListener("seeked", draw);
  video.addEventListener("error", () => {
    const src = video.getAttribute("src");
    if (src) explainVideoError(src, S.cur);
  });
  // why the video does not play: the server's answer for its file (a missing file: 404), else the
  // browser cannot decode what it got
  async function explainVideoError(src, stem) {
    const it = current();
    const name = (it && it.video) || stem;
    let msg = "the browser cannot play this video (" + stem + "): its codec or container is not supported";
    try {
      const r = await fetch(src, { headers: { Range: "bytes=0-0" } });
      if (r.status === 404) msg = "video file not found on the server (HTTP 404): " + name;
      else if (!r.ok && r.status !== 416) {
        const d = await r.json().catch(() => ({}));
        msg = "the server did not send the video " + name + " (HTTP " + r.status + (d.error ? ": " + d.error : "") + ")";
      }
    } catch (e) {
      msg = "cannot reach the review server for the video " + name + ": " + e.message;
    }
    if (S.cur === stem && video.getAttribute("src") === src) status(msg, true);
  }
  video.addEventListener("ended", () => ($("play").textContent = "play"));
  video.addEventListener("timeupdate", () => {
    if (!video.paused && !video.requestVideoFrameCallback) {
      S.frame = Math.min(frameCount() - 1, frameAt(video.currentTime));
      draw();
    }
  });
  window.addEventListener("resize", () => {
    sizeCanvas();
    draw();
  });
  timeline.addEventListener("click", (ev) => {
    const r = timeline.getBoundingClientRect();
    setFrame(Math.floor(((ev.clientX - r.left) / r.width) * frameCount()));
  });

  // -- decisions ----------------------------------------------------------------------
  function nextStem(step) {
    const i = S.shown.findIndex((it) => it.stem === S.cur);
    const j = i + step;
    return j >= 0 && j < S.shown.length ? S.shown[j].stem : null;
  }
  // One write or move at a time: a key pressed while one is under way is ignored (a second `a`
  // before the page moved on would accept the same video again, then skip the next one).
  async function exclusive(fn) {
    if (S.busy) return;
    S.busy = true;
    document.body.dataset.busy = "1";
    try {
      await fn();
    } finally {
      S.busy = false;
      delete document.body.dataset.busy;
    }
  }
  // a write under way says so at once, and after 3 s that it waits (a lock another process holds)
  async function saving(label, fn) {
    status(label + "…");
    const timer = setTimeout(() => status(label + "… still waiting: another process holds the dataset's " +
      "or the catalog's lock (a publish, a build, an sqlite3 shell); it gives up after 30 s at most"), 3000);
    try {
      return await fn();
    } finally {
      clearTimeout(timer);
    }
  }
  // after a refused write: show what the catalog holds (another tab or process may have decided)
  async function showStored() {
    try {
      await loadQueue();
      await select(S.cur);
    } catch (_e) {
      // the status says why the write failed; the next move loads again
    }
  }
  // after a stored write: move on. A reload that fails (the server busy, a dropped connection)
  // does not undo the write, so the status says it was saved and how to see the stored state.
  async function afterWrite(stem, label, advance) {
    S.saved += 1;
    status("saved: " + label);
    const next = advance ? nextStem(1) : null;
    try {
      await loadQueue();
      if ((await select(next || stem)) === false) {
        // stored all the same: the status keeps saying so, then why the page did not move on
        status("saved: " + label + "; " + $("status").textContent, true);
      }
    } catch (e) {
      status("saved: " + label + "; the page could not reload (" + e.message + "): reload it to see the queue", true);
    }
    document.body.dataset.saved = String(S.saved); // stored, and the page moved on or says why not
  }
  function send(body, label, advance) {
    return exclusive(async () => {
      const stem = S.cur;
      if (!stem) return;
      let res;
      try {
        const ask = Object.assign({ video: stem, request_id: requestId() }, body);
        if (body.kind === "accept" || body.kind === "reject") {
          // the verdict this page shows: refused (409) when another page decided since
          const it = current();
          ask.seen_verdict = it && it.state ? it.state.verdict || null : null;
        }
        res = await saving("saving " + label + " " + stem, () => post("/api/decision", ask));
      } catch (e) {
        status("not saved: " + e.message, true);
        await showStored();
        return;
      }
      if (res.created) S.undo.push(res.decision.id);
      await afterWrite(stem, label + " " + stem, advance);
    });
  }
  // the id of the latest live decision the page shows on the current video (null: none)
  function latestShown() {
    const ds = (S.item && S.item.decisions) || [];
    return ds.length ? ds[ds.length - 1].id : null;
  }
  function undoLast() {
    return exclusive(async () => {
      const id = S.undo.length ? S.undo[S.undo.length - 1] : null; // taken off once undone
      // by video: the latest decision this page shows on it goes along (another page's later one
      // is refused, 409, not undone unseen)
      const body = id != null ? { decision_id: id } : { video: S.cur, seen_decision: latestShown() };
      body.request_id = requestId();
      let res;
      try {
        res = await saving("undoing", () => post("/api/undo", body));
      } catch (e) {
        if (id != null && e.status === 410) {
          // its item left the queue (nothing of it is live any more): no later u can undo it,
          // so it leaves this page's undo list; the status says why
          S.undo.pop();
          await showStored();
          status("not undone: " + e.message + " (taken off this page's undo list)", true);
          return;
        }
        // refused: the decision stays this page's next to undo (never another page's decision
        // in its place); the status says how to go on
        const refused = id != null && e.status >= 400 && e.status < 500;
        const how = refused ? " (u asks again for this decision: undo the later one first, or reload the page to undo on the video shown)" : "";
        status("not undone: " + e.message + how, true);
        await showStored();
        return;
      }
      if (id != null) S.undo.pop();
      await afterWrite(res.video, "undo " + res.undone.kind + " " + res.video, false);
    });
  }
  const go = (stem) => exclusive(() => select(stem));
  // j / k: the next or previous video of the list shown; at its end the page says so
  function move(by) {
    const to = nextStem(by);
    if (to) return go(to);
    if (!S.busy) status(S.shown.length ? "no " + (by > 0 ? "next" : "previous") + " video: this is the " + (by > 0 ? "last" : "first") +
      " of the " + S.shown.length + " shown (the filters choose which)" : "no video shown: the filters leave none (choose any)");
  }
  function openForm(label, kind, save) {
    if (S.busy) return; // as a decision key: wait until the page has moved on
    const form = $("form"), input = $("form-input"), sel = $("form-select");
    setText($("form-label"), label);
    input.value = "";
    input.hidden = kind !== "text";
    sel.hidden = kind !== "select";
    S.opener = form.contains(document.activeElement) ? S.opener : document.activeElement;
    form.hidden = false;
    S.form = save;
    (kind === "text" ? input : sel).focus();
  }
  // the focus leaves the form for what had it before (the button used), else the item's title:
  // never <body>; a focus outside the form stays where the user put it
  function closeForm() {
    const form = $("form");
    const inside = form.contains(document.activeElement);
    form.hidden = true;
    S.form = null;
    const back = S.opener;
    S.opener = null;
    if (!inside) return;
    const to = back && back !== document.body && back.isConnected && !form.contains(back) ? back : $("title");
    to.focus({ preventScroll: true });
  }
  $("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const save = S.form;
    const value = $("form-input").hidden ? $("form-select").value : $("form-input").value;
    closeForm();
    if (save) save(value);
  });
  $("form-cancel").addEventListener("click", closeForm);
  const ACTIONS = {
    accept: () => send({ kind: "accept" }, "accept", true),
    reject: () => openForm("reason for rejecting", "text", (v) => send({ kind: "reject", reason: v || "rejected" }, "reject", true)),
    class: () => {
      const it = current();
      const opts = Object.entries(S.queue.classes).map(([id, name]) => [id, id + " " + name]);
      fillSelect($("form-select"), opts);
      if (it.df2_class != null) $("form-select").value = String(it.df2_class);
      openForm("DeepFashion2 class", "select", (v) => send({ kind: "class", df2_class: Number(v) }, "class", false));
    },
    pick: () => {
      if (S.item && S.item.pick) return status(S.item.pick, true); // no file a pick could go into
      if (!shownTracklet()) return status("no tracklet to pick", true);
      return send({ kind: "tracklet", tracklet: S.show }, "pick #" + S.show, false);
    },
    note: () => openForm("note", "text", (v) => (v.trim() ? send({ kind: "note", note: v }, "note", false) : null)),
    undo: () => (S.undo.length || S.cur ? undoLast() : noVideo()),
  };
  // a decision key with no video shown (it left the queue, or the filters leave none): said, not
  // sent (the class form read the item shown, and failed)
  function noVideo() {
    status("no video shown to decide on: choose one in the list (j shows the first)", true);
  }
  for (const k of ["accept", "reject", "class", "pick", "note"]) {
    const act = ACTIONS[k];
    ACTIONS[k] = () => (S.cur && current() ? act() : noVideo());
  }
  for (const b of document.querySelectorAll("#buttons button")) {
    b.addEventListener("click", (ev) => {
      ACTIONS[b.dataset.act]();
      // clicked with the mouse (not Enter or Space): the focus leaves the decision button, so
      // the next key is a shortcut (space: play) and never this decision again on the video the
      // page moves on to, unseen; a keyboard user keeps the focus on the button used
      if (ev.detail > 0) {
        if (S.form) S.opener = $("title");
        else if (document.activeElement === b) $("title").focus({ preventScroll: true });
      }
    });
  }
  $("prev-frame").addEventListener("click", () => setFrame(S.frame - 1));
  $("next-frame").addEventListener("click", () => setFrame(S.frame + 1));
  $("play").addEventListener("click", togglePlay);
  for (const id of Object.keys(FILTERS))
    $(id).addEventListener("change", () => {
      filtersToUrl();
      renderQueue();
    });

  const KEYS = {
    a: () => ACTIONS.accept(),
    r: () => ACTIONS.reject(),
    c: () => ACTIONS.class(),
    p: () => ACTIONS.pick(),
    n: () => ACTIONS.note(),
    u: () => ACTIONS.undo(),
    t: () => showTracklet(S.show + 1),
    j: () => move(1),
    k: () => move(-1),
    " ": () => togglePlay(),
  };
  // single-key shortcuts can be turned off (speech input types letters): the choice is kept
  const shortcuts = $("shortcuts");
  shortcuts.checked = localStorage.getItem("mf-review-shortcuts") !== "off";
  shortcuts.addEventListener("change", () => {
    localStorage.setItem("mf-review-shortcuts", shortcuts.checked ? "on" : "off");
    status("single-key shortcuts " + (shortcuts.checked ? "on" : "off: use the buttons (Tab, Enter)"));
  });
  // back on the page (from another tab or window): the queue is asked again, so a catalog or
  // dataset changed meanwhile (a clean rerun, a build) shows without a decision or a reload
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || !S.started || S.busy || S.form) return;
    exclusive(async () => {
      const had = S.cur;
      try {
        await loadQueue();
      } catch (_e) {
        return; // the next decision or move says why
      }
      if (had && S.cur === had) renderInfo(); // its flag or class may have changed
    });
  });
  document.addEventListener("keydown", (ev) => {
    const tag = ev.target && ev.target.tagName;
    if (ev.key === "Escape") return closeForm();
    if (ev.key === "Enter" && tag === "SELECT" && S.form) {
      ev.preventDefault();
      return $("form").requestSubmit();
    }
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (tag === "BUTTON" && (ev.key === " " || ev.key === "Enter")) return; // the button's own keys
    if (S.form) return; // a form is open: no key may move on or decide and lose what it holds
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      ev.preventDefault();
      const step = (ev.shiftKey ? 10 : 1) * (ev.key === "ArrowLeft" ? -1 : 1);
      return setFrame(S.frame + step);
    }
    if (!shortcuts.checked) return;
    const fn = KEYS[ev.key.length === 1 ? ev.key.toLowerCase() : ev.key]; // Caps Lock or Shift: the same
    if (fn) {
      ev.preventDefault();
      fn();
    }
  });

  // -- start ------------------------------------------------------------------------------
  (async () => {
    if (!token) return status("no token in the address: open the URL that mf review printed", true);
    try {
      await loadQueue();
      // the filters the address names (a reload, a shared link), then the video it names (the
      // one shown before a reload) while the queue holds it, even one the filters leave out
      const unknown = filtersFromUrl();
      S.started = true;
      renderQueue();
      const notes = [], bad = [];
      if (unknown.length) {
        bad.push("filter value(s) in the address this queue does not offer, left at any: " + unknown.join(", ") +
          " (the menus list the values it offers)");
      }
      const was = asked.get("video");
      const start = (was && (S.shown.find((it) => it.stem === was) || S.queue.items.find((it) => it.stem === was))) || S.shown[0];
      if (was && !S.queue.items.some((it) => it.stem === was)) {
        bad.push((S.queue.left || {})[was] || "the video the address names, " + was + ", is not in the review queue (any more): the list's first is shown");
      }
      if (start) await select(start.stem);
      else notes.push(S.queue.items.length ? "no video shown: the filters leave none (choose any)" : "nothing to review");
      const gone = S.queue.superseded || [];
      if (gone.length) notes.push(gone.length + " tracklet pick(s) superseded by files rewritten since (an import, a rebuild): the files were kept");
      const out = S.queue.held_out || [];
      if (out.length) bad.push(out.length + " video(s) held out of the queue, a bad box in the split file: " + out[0] + (out.length > 1 ? " (the others: mf review's log)" : ""));
      if (bad.length || notes.length) status([...bad, ...notes].join("; "), bad.length > 0);
      document.body.dataset.ready = "1";
    } catch (e) {
      status("cannot load: " + e.message, true);
    }
  })();
})();
