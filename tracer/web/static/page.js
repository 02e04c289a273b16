// The classroom page: draws the views the server folded (no fold here), one viewer's playhead.
"use strict";

// -- pure: a view and a position in, what to show out (tested in the browser, tests/web) -------
const dt = {
  // The frame at position `pos` (-1: before the first event): [step, hop, boxes, marks].
  frame(view, pos) {
    const f = view.frames[Math.max(-1, Math.min(pos, view.frames.length - 2)) + 1];
    return {
      step: f[0], hop: f[1],
      boxes: view.box_states[f[2]], marks: view.step_states[f[3]],
    };
  },
  last(view) { return view ? view.frames.length - 2 : -1; },
  // Where step `n` begins: the first position whose frame shows it (null when none does).
  stepStart(view, n) {
    for (let i = 1; i < view.frames.length; i++) if (view.frames[i][0] === n) return i - 1;
    return null;
  },
  // The position `delta` steps from `pos` (the start of the next or previous step shown).
  stepFrom(view, pos, delta) {
    const here = dt.frame(view, pos).step;
    const starts = [];
    for (let n = 1; n <= 7; n++) { const s = dt.stepStart(view, n); if (s !== null) starts.push([n, s]); }
    if (delta > 0) {
      const next = starts.find(([n, s]) => n > here && s > pos);
      return next ? next[1] : dt.last(view);
    }
    const mine = starts.find(([n]) => n === here);
    if (mine && mine[1] < pos) return mine[1];
    const prev = starts.filter(([n, s]) => n < here && s < pos).pop();
    return prev ? prev[1] : -1;
  },
  ms(ns) { return (ns / 1e6).toFixed(1) + " ms"; },
  // How long to wait before the next event while playing: its gap, slowed, within bounds.
  delay(view, events, pos, slow) {
    const a = events[view.order[pos]], b = events[view.order[pos + 1]];
    if (!a || !b) return 400;
    return Math.max(40, Math.min(1500, ((b.time_ns - a.time_ns) / 1e6) * slow));
  },
};

// -- the session, as the server streams it ---------------------------------------------------
const S = { runs: new Map(), shown: null, pos: -1, follow: true, playing: false, timer: null,
            selected: null, slow: 40, built: null, mode: "" };
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;  // always text: nothing traced is markup
  return e;
};

function run() { return S.runs.get(S.shown); }

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("hello", (m) => {
    const hello = JSON.parse(m.data);
    S.runs.clear(); S.shown = null; S.built = null;
    $("mode").textContent = S.mode = hello.mode;
    $("link").textContent = "connected";
    $("link").className = "badge ok";
    draw();
  });
  source.addEventListener("run", (m) => {
    const r = JSON.parse(m.data);
    const had = S.runs.get(r.run) || { events: [], view: null };
    S.runs.set(r.run, Object.assign(had, { status: r }));
    if (S.follow || S.shown === null) S.shown = r.run;
    runList(); draw();
  });
  source.addEventListener("event", (m) => {
    const number = Number(m.lastEventId.split(":")[0]);
    const r = S.runs.get(number);
    if (r) { r.events.push(JSON.parse(m.data)); if (number === S.shown) count(); }
  });
  source.addEventListener("view", (m) => {
    const v = JSON.parse(m.data);
    const r = S.runs.get(v.run);
    if (!r) return;
    r.view = v;
    if (v.run === S.shown) { if (S.follow) S.pos = dt.last(v); draw(); }
  });
  source.onerror = () => { $("link").textContent = "reconnecting…"; $("link").className = "badge bad"; };
}

// -- controls: each moves this viewer's playhead only ----------------------------------------
function moveTo(pos, keepPlaying) {
  const r = run();
  if (!r || !r.view) return;
  S.pos = Math.max(-1, Math.min(pos, dt.last(r.view)));
  S.follow = false;
  if (!keepPlaying) pause();
  draw();
}
function pause() { S.playing = false; clearTimeout(S.timer); }
function play() {
  const r = run();
  if (!r || !r.view) return;
  if (S.pos >= dt.last(r.view)) S.pos = -1;
  S.playing = true; S.follow = false; tick();
}
function tick() {
  const r = run();
  clearTimeout(S.timer);
  if (!S.playing || !r || !r.view) return;
  if (S.pos >= dt.last(r.view)) { pause(); draw(); return; }
  const wait = S.pos < 0 ? 300 : dt.delay(r.view, r.events, S.pos, S.slow);
  S.timer = setTimeout(() => { moveTo(S.pos + 1, true); tick(); }, wait);
}
function wire() {
  $("restart").onclick = () => { moveTo(-1); play(); draw(); };
  $("prev").onclick = () => moveTo(S.pos - 1);
  $("next").onclick = () => moveTo(S.pos + 1);
  $("play").onclick = () => { if (S.playing || S.follow) { S.follow = false; pause(); } else play(); draw(); };
  $("prev-step").onclick = () => { const r = run(); if (r && r.view) moveTo(dt.stepFrom(r.view, S.pos, -1)); };
  $("next-step").onclick = () => { const r = run(); if (r && r.view) moveTo(dt.stepFrom(r.view, S.pos, 1)); };
  $("follow").onclick = () => {
    pause(); S.follow = true; S.shown = Math.max(...S.runs.keys());
    const r = run(); if (r && r.view) S.pos = dt.last(r.view); runList(); draw();
  };
  $("run").onchange = (e) => { S.shown = Number(e.target.value); S.follow = false; S.built = null; pause();
    const r = run(); S.pos = r && r.view ? dt.last(r.view) : -1; draw(); };
  for (let n = 1; n <= 7; n++) {
    const b = el("button", "jump", String(n)); b.type = "button"; b.title = "jump to step " + n;
    b.onclick = () => { const r = run(); const s = r && r.view ? dt.stepStart(r.view, n) : null; if (s !== null) moveTo(s); };
    $("jump").append(b);
  }
  $("theme").onclick = () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
    document.documentElement.dataset.theme = dark ? "light" : "dark";
  };
  $("bigger").onclick = () => { document.documentElement.classList.toggle("big"); draw(); };
  let sized = 0;  // the sequence is drawn for the pane's width: again when that changes
  addEventListener("resize", () => { cancelAnimationFrame(sized); sized = requestAnimationFrame(draw); });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "SELECT") return;
    const keys = { " ": "play", ArrowLeft: "prev", ArrowRight: "next", "[": "prev-step", "]": "next-step", r: "restart", l: "follow" };
    if (keys[e.key]) { e.preventDefault(); $(keys[e.key]).click(); }
    else if (/^[1-7]$/.test(e.key)) $("jump").children[Number(e.key) - 1].click();
  });
}

// -- drawing -------------------------------------------------------------------------------
function runList() {
  const sel = $("run");
  sel.replaceChildren(...[...S.runs.keys()].map((n) => {
    const o = el("option", "", n + ": " + (S.runs.get(n).status.argv || []).join(" "));
    o.value = String(n); o.selected = n === S.shown; return o;
  }));
}
function count() {
  const r = run();
  const folded = r && r.view ? r.view.order.length : 0;
  $("count").textContent = r ? `(${r.events.length} received, ${folded} in the trace)` : "";
}
function draw() {
  const r = run();
  count();
  const st = r ? r.status : null;
  const waiting = S.mode === "live" ? "Waiting for the instructor to start a run…" : "Waiting for the session…";
  $("notice").textContent = st ? st.notice : waiting;
  const v = r ? r.view : null;
  $("play").textContent = S.playing || S.follow ? "❚❚ Pause" : "▶ Play";
  $("follow").classList.toggle("on", S.follow);
  if (!v) { $("where").textContent = ""; return; }
  const f = dt.frame(v, S.pos);
  const fail = v.failure;
  $("failure").hidden = !fail || S.pos < dt.last(v);
  if (fail) $("failure").textContent = `Failed at step ${fail.step} (${fail.layer}): ${fail.error}`;
  $("where").textContent = `event ${S.pos + 1} / ${v.order.length}` + (f.step ? ` · step ${f.step}` : "");
  drawChain(v, f); drawSteps(v, f); drawSequence(v, f); drawEvents(v, r.events);
}
function drawChain(v, f) {
  const hop = f.hop >= 0 ? v.hops[f.hop] : null;
  $("chain").replaceChildren(...v.boxes_order.map((name, i) => {
    const [pid, state, note] = f.boxes[i];
    const box = el("div", "box " + state);
    box.dataset.box = name;
    box.append(el("b", "", name), el("span", "pid", pid ? "pid " + pid : "·"),
               el("span", "state", note || state));
    if (hop && (hop.src === name || hop.dst === name)) box.classList.add("hot");
    return box;
  }));
  $("hop").textContent = hop ? `step ${hop.step} · ${hop.src} → ${hop.dst}: ${hop.label}` : "";
}
function drawSteps(v, f) {
  $("steps").replaceChildren(...v.steps.map((s, i) => {
    const [shown, offset] = f.marks[i];
    const li = el("li", "step " + shown + (f.step === s.number ? " current" : ""));
    li.append(el("b", "", `${s.number} ${s.title}`));
    if (offset !== null && offset !== undefined) li.append(el("span", "muted", " +" + dt.ms(offset)));
    if (shown === "observed") li.append(el("p", "", s.summary));
    else if (shown !== "pending") li.append(el("p", "", `${shown}: ${s.reason}`));
    if (s.error && shown !== "pending") li.append(el("p", "error", "error: " + s.error));
    if (shown === "observed") for (const fact of s.facts) li.append(el("p", "fact", "· " + fact));
    li.onclick = () => { const at = dt.stepStart(v, s.number); if (at !== null) moveTo(at); };
    return li;
  }));
  const claims = v.claims || [];
  $("claims-box").hidden = !claims.length;
  $("claims").replaceChildren(...claims.map((c) => el("li", "claim " + (c.status || ""),
    `${c.story} — ${c.status}${c.reason ? ": " + c.reason : ""}${c.observed ? ": " + c.observed : ""}`)));
  $("checks-box").hidden = !v.checks.length;
  $("checks").replaceChildren(...v.checks.map((c) => el("li", "check",
    `${c.story} [${c.agrees === true ? "as the story says" : c.agrees === false ? "differs" : "not observed"}]${c.observed ? " — seen: " + c.observed : ""}`)));
}
function drawSequence(v, f) {
  // the sequence model when the server sends one (issue 15), else the hops the chain folded
  const arrows = v.sequence && v.sequence.messages ? v.sequence.messages : v.hops;
  const lanes = v.boxes_order, NS = "http://www.w3.org/2000/svg";
  // Drawn in the page's own pixels at the pane's width, its text in the page's font size (a
  // picture of fixed width, scaled to fit, made its labels 7-10 px on a phone and a desktop,
  // and no larger with the "bigger" button on a projector).
  const box = $("sequence"), W = Math.max(280, box.clientWidth);
  const em = parseFloat(getComputedStyle(box).fontSize) || 14, CH = 0.56 * em;  // a character, about
  const pad = Math.min(4.5 * em, W / 8), gap = (W - 2 * pad) / Math.max(1, lanes.length - 1);
  const X = (lane) => pad + lanes.indexOf(lane) * gap, ROW = 2.2 * em;
  // lane names that would touch their neighbours take two rows, alternately
  const two = lanes.some((n) => n.length * CH * 1.1 > gap - 0.4 * em);
  const top = (two ? 2.6 : 1.5) * em;
  const upto = v.sequence && v.sequence.messages
    ? arrows.filter((a) => (a.pos ?? -1) <= S.pos).length - 1 : f.hop;
  const svg = document.createElementNS(NS, "svg"), labels = [];
  const rows = Math.max(upto + 1, 1), H = top + 0.8 * em + rows * ROW;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, val] of Object.entries(attrs)) e.setAttribute(k, val);
    if (text) e.textContent = text;
    svg.append(e); return e;
  };
  lanes.forEach((name, i) => {
    add("text", { x: X(name), y: (two && i % 2 ? 2.2 : 1.1) * em, class: "lane" }, name);
    add("line", { x1: X(name), y1: top - 0.3 * em, x2: X(name), y2: H, class: "lifeline" });
  });
  arrows.slice(0, upto + 1).forEach((a, i) => {
    const x1 = X(a.src), x2 = X(a.dst), y = top + 0.8 * em + (i + 1) * ROW - 0.5 * em;
    const cls = "arrow" + (i === upto ? " now" : "");
    if (x1 === x2) add("path", { d: `M${x1} ${y - 0.4 * em} h${em} v${0.7 * em} h-${em}`, class: cls });
    else add("line", { x1, y1: y, x2, y2: y, class: cls, "marker-end": "url(#tip)" });
    const fits = Math.floor((W - 0.6 * em) / CH);  // the picture's width, in characters
    const label = a.label.length > fits ? a.label.slice(0, fits - 1) + "…" : a.label;
    labels.push(add("text", { x: Math.min(x1, x2) + 0.3 * em, y: y - 0.35 * em, class: "label" + (i === upto ? " now" : "") }, label));
  });
  const defs = add("defs", {});
  const marker = document.createElementNS(NS, "marker");
  const t = Math.round(0.55 * em);  // the arrow's tip, as large as the text is
  for (const [k, val] of Object.entries({ id: "tip", markerWidth: t, markerHeight: t, refX: t - 1, refY: t / 2, orient: "auto", markerUnits: "userSpaceOnUse" })) marker.setAttribute(k, val);
  const tip = document.createElementNS(NS, "path"); tip.setAttribute("d", `M0 0 L${t} ${t / 2} L0 ${t} z`); tip.setAttribute("class", "tipmark");
  marker.append(tip); defs.append(marker);
  box.replaceChildren(svg);
  // a label that would run past the right edge (an arrow far right) is moved left to fit, and
  // one longer than the picture is wide is cut to fit (as measured: glyphs differ in width)
  const room = W - 0.6 * em;
  for (const t of labels) {
    for (let len = t.getComputedTextLength(), tries = 0; len > room && tries < 3; tries++) {
      const text = t.textContent.replace(/…$/, "");
      t.textContent = text.slice(0, Math.floor((text.length * room) / len) - 2) + "…";
      len = t.getComputedTextLength();
    }
    const x = Number(t.getAttribute("x")), len = t.getComputedTextLength();
    if (x + len > W - 0.3 * em) t.setAttribute("x", Math.max(0.3 * em, W - 0.3 * em - len));
  }
}
function drawEvents(v, events) {
  const body = $("events").tBodies[0];
  if (S.built !== v) {  // rows made once per view; a move only marks them
    S.built = v;
    body.replaceChildren(...v.order.map((idx, p) => {
      const ev = events[idx] || {};
      const tr = el("tr");
      tr.append(el("td", "t", "+" + dt.ms((ev.time_ns || 0) - v.start_ns)), el("td", "layer", ev.layer),
                el("td", "who", `${ev.comm || "?"}[${ev.pid}]`), el("td", "", v.lines[p]));
      tr.onclick = () => { S.selected = p; moveTo(p); };
      return tr;
    }));
  }
  [...body.rows].forEach((tr, p) => { tr.hidden = p > S.pos; tr.classList.toggle("now", p === S.pos); });
  const now = body.rows[S.pos];
  if (now) now.scrollIntoView({ block: "nearest" });
  const p = S.selected !== null && S.selected <= S.pos ? S.selected : S.pos;
  const ev = p >= 0 ? events[v.order[p]] : null;
  $("detail").textContent = ev ? v.lines[p] + "\n\n" + JSON.stringify(ev, null, 2) : "Click an event.";
}

window.dockertrace = dt;
if (document.readyState !== "loading") { wire(); connect(); }
else document.addEventListener("DOMContentLoaded", () => { wire(); connect(); });
