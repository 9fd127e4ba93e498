// Init script, before any of the page's own: what the page still has coming by itself, so a wait for a consent
// dialog that a late-loaded consent manager will show can end as soon as nothing could bring one. It counts
// the page's own short timers (setTimeout up to 5 s, from the page's scripts, not ours or autoconsent's: those
// have no http(s) address on their stack) and notes when the DOM, shadow roots included, last changed.
// `__archiverPending()` returns {timers, quietMs, sinceLoadMs} (sinceLoadMs -1 before `load`).
(() => {
  if (window.__archiverPending) return;
  const LIMIT_MS = 5000;
  const pending = new Map();  // timer id -> when it is due (performance.now)
  const nativeSet = window.setTimeout, nativeClear = window.clearTimeout;
  const fromPage = () => /\bhttps?:\/\//.test(new Error().stack || '');
  window.setTimeout = function (handler, ms, ...rest) {
    const delay = Math.max(0, Number(ms) || 0);
    if (typeof handler !== 'function' || delay > LIMIT_MS || !fromPage()) return nativeSet.call(this, handler, ms, ...rest);
    const id = nativeSet.call(this, function (...args) {
      pending.delete(id);
      return handler.apply(this, args);
    }, ms, ...rest);
    pending.set(id, performance.now() + delay);
    return id;
  };
  window.clearTimeout = function (id) {
    pending.delete(id);
    return nativeClear.call(this, id);
  };

  let lastChange = performance.now();
  const changed = () => { lastChange = performance.now(); };
  const watch = (root) => new MutationObserver(changed).observe(root, {childList: true, subtree: true, attributes: true});
  watch(document);
  const nativeAttach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (...args) {
    const root = nativeAttach.apply(this, args);
    if (args[0] && args[0].mode === 'open') watch(root);
    changed();
    return root;
  };

  window.__archiverPending = () => {
    const now = performance.now();
    for (const [id, due] of pending) if (due < now - 1000) pending.delete(id);  // fired in a frozen moment
    const nav = performance.getEntriesByType('navigation')[0];
    const loaded = nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : null;
    return {timers: pending.size, quietMs: now - lastChange, sinceLoadMs: loaded === null ? -1 : now - loaded};
  };
})();
