// The page: read the expression as it is typed, show its variables, ask the server for
// the derivative, keep the state in the URL. No build step, no libraries.
"use strict";

const KINDS = ["scalar", "vector", "matrix", "symmetric"];
// How many dimension names each kind takes in a declaration ("matrix m x n").
const DIM_COUNTS = { scalar: [0], vector: [0, 1], matrix: [0, 2], symmetric: [0, 1] };
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

const state = { expression: "", order: 1, wrt: "", decl: {}, sizes: {} };
let latest = null; // the last derivative answer, for the copy buttons
let serial = 0; // answers to older requests than the newest are dropped
let timer = null;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- the URL

function readUrl() {
  const q = new URLSearchParams(location.search);
  state.expression = q.get("e") || "";
  state.order = q.get("o") === "2" ? 2 : 1;
  state.wrt = q.get("wrt") || "";
  for (const k of q.getAll("k")) {
    const i = k.indexOf(":");
    if (i < 1) continue;
    const words = k.slice(i + 1).trim().split(/\s+/);
    const kind = KINDS.includes(words[0]) ? words.shift() : "matrix";
    state.decl[k.slice(0, i).trim()] = { kind, dims: words.filter((w) => w !== "x").join(" x ") };
  }
  for (const d of q.getAll("d")) {
    const i = d.lastIndexOf("=");
    const n = parseInt(d.slice(i + 1), 10);
    if (i > 0 && n > 0) state.sizes[d.slice(0, i)] = n;
  }
}

function shareUrl() {
  const q = new URLSearchParams();
  if (state.expression) q.set("e", state.expression);
  if (state.order === 2) q.set("o", "2");
  if (state.wrt) q.set("wrt", state.wrt);
  for (const [name, spec] of Object.entries(declarations())) q.append("k", `${name}:${spec}`);
  for (const [dim, n] of Object.entries(state.sizes)) q.append("d", `${dim}=${n}`);
  const s = q.toString();
  return location.pathname + (s ? "?" + s : "");
}

function writeUrl() {
  const url = shareUrl();
  history.replaceState(null, "", url);
  $("share").href = url;
}

// ---------------------------------------------------------------- requests

function usedNames() {
  return new Set(state.expression.match(/[A-Za-z][A-Za-z0-9_]*/g) || []);
}

// The declarations the person made, as the API reads them, for names still in the text.
function declarations() {
  const out = {};
  const used = usedNames();
  for (const [name, d] of Object.entries(state.decl)) {
    if (!used.has(name)) continue;
    const dims = d.dims.split(/[\s,x×*]+/).filter((w) => NAME.test(w));
    out[name] = DIM_COUNTS[d.kind].includes(dims.length) && dims.length
      ? `${d.kind} ${dims.join(" x ")}`
      : d.kind;
  }
  return out;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return r.json();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(update, 250);
}

async function update() {
  const mine = ++serial;
  writeUrl();
  if (!state.expression.trim()) {
    showError(null);
    setStatus("Type an expression.");
    $("result").hidden = true;
    return;
  }
  const kinds = declarations();
  setStatus("reading…");
  const parsed = await post("/api/parse", { expression: state.expression, kinds });
  if (mine !== serial) return;
  if (!parsed.ok) {
    showError(parsed.error);
    setStatus("The expression has an error: see under it.", true);
    $("result").hidden = true;
    return;
  }
  showError(null);
  showVariables(parsed);
  setStatus("differentiating…");
  const sizes = {};
  for (const d of parsed.dimensions) if (state.sizes[d]) sizes[d] = state.sizes[d];
  const answer = await post("/api/derivative", {
    expression: state.expression, wrt: state.wrt, order: state.order, kinds, dims: sizes,
  });
  if (mine !== serial) return;
  if (!answer.ok) {
    showError(answer.error);
    setStatus("No derivative: see under the expression.", true);
    $("result").hidden = true;
    return;
  }
  showResult(answer);
  setStatus("");
}

// ---------------------------------------------------------------- showing

function setStatus(text, bad) {
  $("status").textContent = text;
  $("status").classList.toggle("bad", !!bad);
}

// The CLI's picture of an error: the line, and a caret under the column.
function showError(err) {
  const outer = $("error-box");
  const box = $("error");
  const input = $("expression");
  if (!err) {
    outer.hidden = true;
    box.textContent = "";
    $("error-message").textContent = "";
    input.classList.remove("bad");
    delete box.dataset.line;
    delete box.dataset.column;
    return;
  }
  input.classList.add("bad");
  outer.hidden = false;
  $("error-message").textContent = err.message;
  if (err.line && err.column) {
    const line = state.expression.split("\n")[err.line - 1] || "";
    box.dataset.line = err.line;
    box.dataset.column = err.column;
    box.textContent = `${line}\n${" ".repeat(err.column - 1)}^`;
    box.hidden = false;
  } else {
    box.hidden = true;
    box.textContent = "";
  }
}

function el(tag, props, children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children || []) e.append(c);
  return e;
}

function showVariables(parsed) {
  const kindText = { scalar: "a scalar", vector: "a vector", row: "a row vector", matrix: "a matrix" };
  $("expression-kind").textContent = `The expression is ${kindText[parsed.kind] || parsed.kind}: ${parsed.text}`;
  const names = parsed.variables.map((v) => v.name);
  if (!names.includes(state.wrt)) state.wrt = names[0] || "";
  const wrt = $("wrt");
  wrt.replaceChildren(...names.map((n) => el("option", { value: n, textContent: n })));
  wrt.value = state.wrt;

  const body = $("variables").querySelector("tbody");
  body.replaceChildren();
  for (const v of parsed.variables) {
    const mine = state.decl[v.name];
    const kind = el("select", { className: "kind", name: `kind-${v.name}` },
      KINDS.map((k) => el("option", { value: k, textContent: k })));
    kind.value = v.kind;
    kind.dataset.name = v.name;
    const dims = el("input", {
      className: "dims", name: `dims-${v.name}`, value: mine ? mine.dims : "",
      placeholder: v.dims.join(" x ") || "(none)",
      title: "dimension names, e.g. n or m x n",
    });
    dims.dataset.name = v.name;
    const edit = () => {
      state.decl[v.name] = { kind: kind.value, dims: dims.value };
      schedule();
    };
    kind.addEventListener("change", edit);
    dims.addEventListener("input", edit);
    body.append(el("tr", { id: `var-${v.name}` }, [
      el("td", {}, [el("code", { textContent: v.name })]),
      el("td", {}, [kind]),
      el("td", {}, [dims]),
    ]));
  }

  const sizes = $("sizes");
  sizes.replaceChildren();
  for (const d of parsed.dimensions) {
    const input = el("input", { type: "number", min: 1, max: 100000, value: state.sizes[d] || "", placeholder: "any" });
    input.addEventListener("input", () => {
      const n = parseInt(input.value, 10);
      if (n > 0) state.sizes[d] = n; else delete state.sizes[d];
      schedule();
    });
    sizes.append(el("label", {}, [el("code", { textContent: d }), " = ", input]));
  }
  if (!parsed.dimensions.length) sizes.textContent = "no dimensions";
}

function showResult(a) {
  latest = a;
  const r = a.result;
  $("result").hidden = false;
  const what = { gradient: "gradient", jacobian: "Jacobian", hessian: "Hessian" }[r.what] || r.what;
  $("result-title").textContent = `The ${what} with respect to ${a.wrt}`;
  const math = $("result-math");
  if (r.mathml) {
    // MathML made by the server from the engine's LaTeX: names and operators only.
    math.innerHTML = r.mathml;
  } else {
    math.replaceChildren(el("code", { textContent: r.latex }));
  }
  $("result-text").textContent = r.text;
  $("result-code").textContent = r.numpy;

  const check = $("check");
  const c = a.check;
  check.className = "check " + (c.status === "passed" ? "passed" : c.status === "failed" ? "failed" : "other");
  check.textContent = c.status === "passed"
    ? `✓ checked numerically: ${c.text}`
    : c.status === "failed" ? `✗ the check failed: ${c.text}` : `check ${c.status}${c.text ? ": " + c.text : ""}`;

  $("steps").replaceChildren(...a.steps.map((s) =>
    el("li", {}, [el("div", { textContent: s.rule }), el("code", { textContent: s.expression })])));

  const graph = $("graph");
  graph.replaceChildren();
  $("graph-note").textContent = a.graph.note || "";
  if (a.graph.svg) {
    // parsed as SVG, never as HTML, so it cannot bring scripts or handlers with it
    const doc = new DOMParser().parseFromString(a.graph.svg, "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName === "svg") graph.append(document.importNode(svg, true));
  }
}

// ---------------------------------------------------------------- copy buttons

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    const t = el("textarea", { value: text });
    document.body.append(t);
    t.select();
    document.execCommand("copy");
    t.remove();
  }
  const old = button.textContent;
  button.textContent = "copied";
  setTimeout(() => { button.textContent = old; }, 1200);
}

// ---------------------------------------------------------------- start

function start() {
  readUrl();
  const input = $("expression");
  input.value = state.expression;
  $("order").value = String(state.order);
  input.addEventListener("input", () => { state.expression = input.value; schedule(); });
  $("order").addEventListener("change", (e) => { state.order = Number(e.target.value); schedule(); });
  $("wrt").addEventListener("change", (e) => { state.wrt = e.target.value; schedule(); });
  for (const b of document.querySelectorAll("[data-copy]")) {
    b.addEventListener("click", () => {
      if (!latest) return;
      const what = b.dataset.copy;
      copy(what === "numpy" ? latest.result.numpy : latest.result[what], b);
    });
  }
  document.querySelector("[data-copy-url]").addEventListener("click", (e) => {
    copy(new URL(shareUrl(), location.href).href, e.target);
  });
  $("share").addEventListener("click", (e) => { e.preventDefault(); copy(new URL(shareUrl(), location.href).href, e.target); });
  if (state.expression) update(); else writeUrl();
  input.focus();
}

document.addEventListener("DOMContentLoaded", start);
