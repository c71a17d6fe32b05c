/* Jackpot widgets: <jackpot-widget type="ticker|stack|card|overlay|winners|hero" jackpot="crown-fortune"
   theme="dark|light" currency="EUR" gateway="https://gw.example"> — one shared WebSocket per gateway,
   reconnect with jittered exponential backoff, state rebuilt from the snapshot on every (re)connect.
   Brand integration through CSS custom properties: --jp-bg, --jp-fg, --jp-accent, --jp-hot, --jp-radius, --jp-font. */
(() => {
  "use strict";
  if (window.JackpotLive) return;
  const SCRIPT = document.currentScript && document.currentScript.src;
  const DEFAULT_GW = SCRIPT ? new URL(SCRIPT).origin : location.origin;
  const WARN_LABEL = {calm: "", heating: "Heating", on_fire: "On Fire 🔥", must_drop: "Must Drop"};
  const WARN_RANK = {calm: 0, heating: 1, on_fire: 2, must_drop: 3};
  const esc = s => String(s == null ? "" : s).replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";");
  // an element by its level id, compared as data, never spliced into a selector
  const byLevel = (root, id) => [...root.querySelectorAll("[data-level]")].find(e => e.dataset.level === String(id));
  const fmt = (v, ccy) => { try { return new Intl.NumberFormat(undefined, {style: "currency", currency: ccy, maximumFractionDigits: 2}).format(+v); } catch (e) { return (+v).toFixed(2) + " " + esc(ccy); } };

  class Live {
    constructor(origin) {
      this.origin = origin; this.listeners = new Set(); this.backoff = 500; this.ws = null; this.status = "connecting";
      this.jackpots = new Map(); this.bySlug = new Map(); this.pools = new Map(); this.warn = new Map();
      this.states = new Map(); this.winners = []; this.stats = {}; this.connect();
    }
    url() { const u = new URL("/ws", this.origin); u.protocol = u.protocol === "https:" ? "wss:" : "ws:"; return u.href; }
    connect() {
      let ws;
      try { ws = this.ws = new WebSocket(this.url()); } catch (e) { return this.retry(); }
      ws.onopen = () => { this.backoff = 500; this.setStatus("live"); };
      ws.onmessage = ev => { try { this.handle(JSON.parse(ev.data)); } catch (e) { /* ignore a bad frame */ } };
      ws.onclose = () => { if (this.ws === ws) this.retry(); };
      ws.onerror = () => ws.close();
    }
    retry() {
      this.setStatus("reconnecting");
      const d = this.backoff * (0.5 + Math.random()); this.backoff = Math.min(this.backoff * 2, 15000);
      setTimeout(() => this.connect(), d);
    }
    setStatus(s) { this.status = s; this.emit({type: "status"}); }
    jackpot(ref) { return this.jackpots.get(ref) || this.jackpots.get(this.bySlug.get(ref)); }
    setJackpots(list) {
      this.jackpots.clear(); this.bySlug.clear();
      for (const j of list) { this.jackpots.set(j.jackpot_id, j); this.bySlug.set(j.slug, j.jackpot_id); }
    }
    pool(p) {
      const k = p.jackpot_id + "|" + p.level_id + "|" + p.currency, cur = this.pools.get(k);
      if (!cur || cur.sequence < p.sequence) this.pools.set(k, p);
    }
    setWarn(w) {
      const k = w.jackpot_id + "|" + w.level_id + "|" + w.currency, cur = this.warn.get(k);
      if (!cur || w.cycle_number > cur.cycle_number || (w.cycle_number === cur.cycle_number && WARN_RANK[w.warn_state] > WARN_RANK[cur.warn_state])) this.warn.set(k, w);
    }
    handle(m) {
      switch (m.type) {
        case "snapshot":  // a (re)connect: rebuild everything from the snapshot
          this.setJackpots(m.jackpots || []); this.pools.clear(); this.warn.clear(); this.states.clear();
          (m.pools || []).forEach(p => this.pool(p)); (m.warn || []).forEach(w => this.setWarn(w));
          (m.states || []).forEach(s => this.states.set(s.jackpot_id + "|" + (s.level_id || "*"), s));
          this.winners = m.winners || []; this.stats = m.stats || {}; break;
        case "jackpots": this.setJackpots(m.jackpots); break;
        case "pool": this.pool(m.pool); break;
        case "warn": this.setWarn(m.warn); break;
        case "state": this.states.set(m.state.jackpot_id + "|" + (m.state.level_id || "*"), m.state); break;
        case "win":
          if (!this.winners.some(w => w.event_id === m.win.event_id)) {
            this.winners = [m.win, ...this.winners].slice(0, 50);
            this.stats = Object.assign({}, this.stats, {won_today: (this.stats.won_today || 0) + 1});
          }
          break;
        case "stats": this.stats = m.stats; break;
        case "campaign": this.campaign = m.campaign; break;  // a banner, takeover or overlay to show
      }
      this.emit(m);
    }
    emit(m) { this.listeners.forEach(f => { try { f(m); } catch (e) { console.error(e); } }); }
    on(f) { this.listeners.add(f); return () => this.listeners.delete(f); }
    levels(j, ccy) {  // [{level, pool, warn}] in display order
      if (!j) return [];
      ccy = ccy || j.currencies[0];
      return j.levels.map(l => ({level: l, pool: this.pools.get(j.jackpot_id + "|" + l.level_id + "|" + ccy),
        warn: this.warn.get(j.jackpot_id + "|" + l.level_id + "|" + ccy), currency: ccy}));
    }
    warnOf(j, ccy) {
      let best = "calm";
      for (const x of this.levels(j, ccy)) if (x.warn && WARN_RANK[x.warn.warn_state] > WARN_RANK[best]) best = x.warn.warn_state;
      return best;
    }
  }
  const hubs = new Map();
  const JackpotLive = {
    get(origin) { origin = origin || DEFAULT_GW; if (!hubs.has(origin)) hubs.set(origin, new Live(origin)); return hubs.get(origin); },
    fmt, esc, WARN_LABEL, WARN_RANK,
    countdown(ms) {
      if (!ms) return ""; let s = Math.max(0, Math.floor((ms - Date.now()) / 1000));
      const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); s %= 60;
      return (h ? h + "h " : "") + String(m).padStart(2, "0") + "m " + String(s).padStart(2, "0") + "s";
    },
  };
  window.JackpotLive = JackpotLive;

  /* Animated amount: counts up to each new value so the ticker is never static. */
  const anim = new WeakMap();
  function setAmount(el, value, ccy) {
    const to = +value, st = anim.get(el) || {v: to};
    const from = st.v; if (from === to && el.textContent) return;
    const t0 = performance.now(), dur = Math.abs(to - from) > 0 ? 700 : 0;
    const step = t => {
      const k = dur ? Math.min(1, (t - t0) / dur) : 1, v = from + (to - from) * k;
      st.v = v; el.textContent = fmt(v, ccy);
      if (k < 1) st.raf = requestAnimationFrame(step);
    };
    if (st.raf) cancelAnimationFrame(st.raf);
    anim.set(el, st); requestAnimationFrame(step); el.textContent = el.textContent || fmt(from, ccy);
  }
  JackpotLive.setAmount = setAmount;

  const CSS = `:host{--jp-bg:#15112b;--jp-fg:#f4f1ff;--jp-accent:#ffd166;--jp-hot:#ff4d6d;--jp-radius:12px;--jp-font:system-ui,sans-serif;
display:block;font-family:var(--jp-font);color:var(--jp-fg);contain:content}
:host([type=overlay]){contain:none}
:host([theme=light]){--jp-bg:#fff;--jp-fg:#1b1530;--jp-accent:#b7791f}
.w{background:var(--jp-bg);border-radius:var(--jp-radius);padding:10px 12px;box-sizing:border-box}
.amt{font-variant-numeric:tabular-nums;font-weight:800;color:var(--jp-accent);white-space:nowrap}
.row{display:flex;justify-content:space-between;gap:10px;align-items:center;padding:3px 0}
.name{font-weight:700}.muted{opacity:.7;font-size:.85em}
.badge{font-size:.7em;font-weight:800;text-transform:uppercase;padding:2px 6px;border-radius:99px;background:var(--jp-hot);color:#fff}
.badge.heating{background:#ff9f1c}.badge.calm{display:none}.on_fire .badge,.must_drop .badge{animation:p 1s infinite}
@keyframes p{50%{opacity:.55}}
.ticker{display:flex;gap:18px;overflow-x:auto;scroll-snap-type:x mandatory}.ticker>div{scroll-snap-align:start;flex:0 0 auto}
.cta{display:inline-block;margin-top:6px;background:var(--jp-accent);color:#000;border-radius:8px;padding:6px 10px;font-weight:800;text-decoration:none;border:0;cursor:pointer}
.overlay{position:fixed;top:8px;right:8px;max-width:46vw;font-size:12px;z-index:2147483000;opacity:.95;cursor:pointer}
.take{position:fixed;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;background:rgba(0,0,0,.85);font-size:7vw;z-index:2147483001}
.feed{max-height:320px;overflow-y:auto}.hero{padding:24px;text-align:center}.hero .amt{font-size:clamp(28px,7vw,64px)}
.status{font-size:.7em;opacity:.6}`;

  class JackpotWidget extends HTMLElement {
    static get observedAttributes() { return ["type", "jackpot", "currency", "theme", "gateway"]; }
    connectedCallback() {
      if (!this.shadowRoot) this.attachShadow({mode: "open"});
      this.live = JackpotLive.get(this.getAttribute("gateway") || undefined);
      this.off && this.off();
      this.off = this.live.on(m => this.onMsg(m));
      this.expanded = false; this.rot = 0; this.render();
      clearInterval(this.iv); this.iv = setInterval(() => { this.rot++; this.render(); }, this.type() === "ticker" ? 5000 : 1000);
    }
    disconnectedCallback() { this.off && this.off(); clearInterval(this.iv); }
    attributeChangedCallback() { if (this.shadowRoot) this.render(); }
    type() { return this.getAttribute("type") || "ticker"; }
    onMsg(m) {
      if (m.type === "win" && this.type() === "overlay") {
        const j = this.jp(); if (!j || m.win.jackpot_id === j.jackpot_id) { this.takeover = m.win; setTimeout(() => { this.takeover = null; this.render(); }, 6000); }
      }
      if (m.type === "pool" && !this.full) return this.update();
      this.render();
    }
    jp() { return this.live.jackpot(this.getAttribute("jackpot") || ""); }
    ccy(j) { return (this.getAttribute("currency") || "").toUpperCase() || (j && j.currencies[0]) || "EUR"; }
    update() {  // cheap path for a pool frame: only the amounts move
      const r = this.shadowRoot, j = this.jp(); if (!j) return this.render();
      for (const x of this.live.levels(j, this.ccy(j))) {
        const el = byLevel(r, x.level.level_id);
        if (el && x.pool) setAmount(el, x.pool.visible_amount, x.currency); else if (x.pool) return this.render();
      }
    }
    render() {
      const t = this.type(), L = this.live, j = this.jp(), ccy = this.ccy(j);
      let h;
      const lv = (x, cls = "row") => `<div class="${cls}"><span class="muted">${esc(x.level.name)}</span><span class="amt" data-level="${x.level.level_id}"></span></div>`;
      const badge = j ? `<span class="badge ${L.warnOf(j, ccy)}">${esc(WARN_LABEL[L.warnOf(j, ccy)])}</span>` : "";
      const wait = `<div class="w muted">${L.status === "live" ? "Unknown jackpot" : "Connecting…"}</div>`;
      if (t === "winners") {
        const ws = L.winners.filter(w => !j || w.jackpot_id === j.jackpot_id).slice(0, 20);
        h = `<div class="w feed"><div class="name">Recent winners</div>${ws.map(w => `<div class="row"><span>${esc(w.winner)} won ${esc((w.level_name || "").toUpperCase())} <span class="muted">${esc(w.jackpot_name || "")} · ${esc(w.game_id)} · ${new Date(w.timestamp).toLocaleTimeString()}</span></span><span class="amt">${fmt(w.amount, w.currency)}</span></div>`).join("") || '<div class="muted">No wins yet</div>'}</div>`;
      } else if (t === "ticker") {
        let js = j ? [j] : [...L.jackpots.values()];
        if (!j && js.length) js = [js[this.rot % js.length]];  // auto-rotate across jackpots
        h = js.length ? `<div class="w ticker">${js.map(jj => L.levels(jj, this.ccy(jj)).slice(0, 6).map(x => `<div><div class="muted">${esc(jj.name)} ${esc(x.level.name)}</div><span class="amt" data-level="${x.level.level_id}"></span></div>`).join("")).join("")}</div>` : wait;
      } else if (!j) {
        h = wait;
      } else if (t === "stack") {
        h = `<div class="w ${L.warnOf(j, ccy)}"><div class="row"><span class="name">${esc(j.name)}</span>${badge}</div>${L.levels(j, ccy).map(x => lv(x)).join("")}</div>`;
      } else if (t === "card") {
        const top = L.levels(j, ccy)[0];
        h = `<div class="w ${L.warnOf(j, ccy)}"><div class="row"><span class="name">${esc(j.name)}</span>${badge}</div>${top ? `<div class="row"><span class="amt" data-level="${top.level.level_id}"></span></div>` : ""}<a class="cta" href="/#${esc(j.slug)}">HUNT THIS JACKPOT</a></div>`;
      } else if (t === "overlay") {
        const xs = L.levels(j, ccy);
        h = `<div class="w overlay ${L.warnOf(j, ccy)}">${badge}${(this.expanded ? xs : xs.slice(0, 2)).map(x => lv(x)).join("")}</div>`;
        if (this.takeover) h += `<div class="w take"><div>🎉 ${esc(this.takeover.winner)} WON</div><div class="amt">${fmt(this.takeover.amount, this.takeover.currency)}</div></div>`;
      } else {  // hero
        const top = L.levels(j, ccy)[0], pl = (L.stats.players || {})[j.jackpot_id] || 0;
        h = `<div class="w hero ${L.warnOf(j, ccy)}"><div class="name">${esc(j.name)}</div>${badge}${top ? `<div><span class="amt" data-level="${top.level.level_id}"></span></div>` : ""}<div class="muted">${pl} players chasing${j.deadline ? " · drops in " + JackpotLive.countdown(j.deadline) : ""}</div><a class="cta" href="/#${esc(j.slug)}">PLAY NOW</a></div>`;
      }
      this.shadowRoot.innerHTML = `<style>${CSS}</style>${h}`;
      if (t === "overlay") { const o = this.shadowRoot.querySelector(".overlay"); o && (o.onclick = () => { this.expanded = !this.expanded; this.render(); }); }
      this.setAttribute("data-status", L.status);
      const js = j ? [j] : [...L.jackpots.values()];
      for (const jj of js) for (const x of L.levels(jj, this.ccy(jj))) {
        const el = byLevel(this.shadowRoot, x.level.level_id);
        if (el && x.pool) setAmount(el, x.pool.visible_amount, x.currency);
      }
    }
  }
  if (!customElements.get("jackpot-widget")) customElements.define("jackpot-widget", JackpotWidget);
})();
