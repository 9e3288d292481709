// Tiny DOM helpers: h("tag", {attrs}, children…). Strings become text nodes (never HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function field(labelText, control, id) {
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control);
}

export function message(el, text, kind = "info") {
  clear(el).append(h("p", { class: `msg msg-${kind}`, role: kind === "error" ? "alert" : "status" }, text));
}

/** Append children the way h() takes them: nested arrays flattened, null and false skipped
 *  (Element.append would write "null"). */
export function put(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A select of [value, text] options. A long one (a large plan's thousand vehicles, in every
 *  stop row) holds only its chosen option until it is first used, then gets them all. */
export function choices(attrs, options, selected, eager = 100) {
  const opt = ([v, text]) => h("option", { value: v, selected: v === selected }, text);
  if (options.length <= eager) return h("select", attrs, options.map(opt));
  const chosen = options.find(([v]) => v === selected) || options[0];
  const el = h("select", attrs, chosen ? opt(chosen) : null);
  const fill = () => {
    if (el.dataset.filled) return;
    el.dataset.filled = "1";
    const value = el.value;
    el.replaceChildren(...options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  };
  for (const type of ["focus", "pointerdown", "keydown"]) el.addEventListener(type, fill);
  return el;
}
