// Boot, sign-in, the header and the views (#/day, #/plan/ID, #/planner).

import { ApiError, api, get, post, setCsrf } from "./api.js";
import { clear, field, h, message, put } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { dayBoard, dropCarriedJobs } from "./day.js";
import { planView } from "./plan.js";
import { plannerView } from "./planner.js";

// drawn: the views begun so far (a view still loading when another begins is disowned)
const state = { session: null, cleanup: null, drawn: 0 };
const view = document.getElementById("view");
const top = document.getElementById("top");

setLang(lang());

function header() {
  clear(top);
  const s = state.session;
  put(top,
    h("span", { class: "brand" }, t("app_title")),
    h("nav", { "aria-label": t("app_title") },
      s && s.role !== "planner" ? h("a", { href: "#/day" }, t("nav_day")) : null,
      s && (s.role === "planner" || s.role === "admin") ? h("a", { href: "#/planner" }, t("nav_planner")) : null,
      h("a", { href: "/docs" }, t("nav_docs"))),
    h("span", { class: "spacer" }),
    s ? h("span", { class: "who" }, t("signed_in_as", { name: s.name, role: t("role_" + s.role) })) : null,
    h("button", { type: "button", id: "lang", "aria-label": t("lang_switch_label"), onclick: () => { setLang(lang() === "zh" ? "en" : "zh"); render({ relang: true }); } }, t("lang_switch")),
    s ? h("button", { type: "button", id: "sign-out", onclick: signOut }, t("sign_out")) : null,
  );
  document.title = t("app_title");
  const skip = document.getElementById("skip");
  skip.textContent = t("skip_to_content");
  skip.onclick = (e) => { e.preventDefault(); view.focus(); };
}

function signInPage(note) {
  const input = h("input", { type: "password", autocomplete: "off", required: true, spellcheck: "false", size: 50 });
  const out = h("div", { id: "sign-in-message" });
  const form = h("form", { class: "card sign-in", id: "sign-in" },
    h("h1", {}, t("sign_in_title")),
    h("p", {}, t("sign_in_help")),
    field(t("api_key"), input, "api-key"),
    h("button", { type: "submit" }, t("sign_in")),
    out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const s = await post("/console/session", { key: input.value });
      input.value = "";
      state.session = s;
      setCsrf(s.csrf);
      go(s.role === "planner" ? "#/planner" : "#/day");
    } catch (err) {
      if (err instanceof ApiError && err.problem.type === "/problems/courier-refused") return courierRefused();
      message(out, err.status === 401 ? t("bad_key") : t("error", { msg: err.message }), "error");
    }
  });
  clear(view).append(form);
  if (note) message(out, note, "error");
  input.focus();
}

function courierRefused() {
  clear(view).append(h("section", { class: "card refused", id: "courier-refused", role: "alert" },
    h("h1", {}, t("courier_refused_title")),
    h("p", {}, t("courier_refused")),
    h("a", { href: "#/", onclick: (e) => { e.preventDefault(); signInPage(); } }, t("back_to_sign_in"))));
}

async function signOut() {
  try { await api("DELETE", "/console/session"); } catch { /* already signed out */ }
  state.session = null;
  setCsrf(null);
  go("#/");
}

window.addEventListener("countyroute:signed-out", () => {
  if (!state.session) return;
  state.session = null;
  leaveView();
  header();
  signInPage(t("session_expired"));
});

/** Stop the view on the page (its polls) and disown any view still loading. When only the
 *  language changes (``relang``), the view hands the jobs it follows to its copy drawn next. */
function leaveView({ relang = false } = {}) {
  state.drawn += 1;
  if (!relang) dropCarriedJobs();
  if (state.cleanup) { state.cleanup({ relang }); state.cleanup = null; }
}

/** Show the view of ``hash``. A changed hash draws it through "hashchange" only: setting the
 *  hash and drawing as well drew the view twice, and the copy that loaded second replaced the
 *  one in use (a job started there went on in a form no longer on the page). */
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function render({ relang = false } = {}) {
  leaveView({ relang });
  const drawing = state.drawn;
  header();
  const s = state.session;
  if (!s) return signInPage();
  const route = location.hash.replace(/^#\/?/, "").split("/");
  // Each view draws into a box of its own: a view overtaken while it loads (the reader moved
  // on, or the language changed) draws into a box no longer on the page and is stopped once
  // loaded, so it can never replace the view that overtook it.
  const box = h("div", { class: "view-box" }, h("p", { class: "loading" }, t("loading")));
  clear(view).append(box);
  let cleanup = null;
  try {
    if (route[0] === "plan" && route[1]) cleanup = await planView(box, s, Number(route[1]));
    else if (route[0] === "planner" || s.role === "planner") cleanup = await plannerView(box, s);
    else cleanup = await dayBoard(box, s);
  } catch (err) {
    if (drawing !== state.drawn || (err instanceof ApiError && err.status === 401)) return;
    clear(box).append(h("p", { class: "msg msg-error", role: "alert" }, t("error", { msg: err.message })));
    return;
  }
  if (drawing === state.drawn) state.cleanup = cleanup;
  else if (cleanup) cleanup();
}

window.addEventListener("hashchange", render);

async function boot() {
  try {
    const s = await get("/console/session");
    state.session = s;
    setCsrf(s.csrf);
  } catch {
    state.session = null;
  }
  render();
}

boot();
