// Init script, before any of the page's own: what the page still has coming by itself, so a wait for a consent
// dialog that a late-loaded consent manager will show can end as soon as nothing could bring one. It counts
// the page's own short timers (setTimeout up to 5 s, from the page's scripts, not ours or autoconsent's: those
// have no http(s) address on their stack) and notes when the DOM, shadow roots included, last changed (by
// the page: not our marks or autoconsent's style elements).
// The feed-end wait (grow.js) also needs what could bring a feed's next batch without a timer: animation
// frames and idle callbacks the page's scripts asked for, and intervals of theirs up to 5 s (a poll).
// `__archiverPending()` returns {timers, frames, idle, intervals, quietMs, sinceLoadMs} (sinceLoadMs -1
// before `load`).
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
    intervals.delete(id);  // the two clear functions are interchangeable
    return nativeClear.call(this, id);
  };
  // Callbacks of the page's that run once, at the next frame or when the page is idle: pending until then.
  const once = (setName, clearName) => {
    const ids = new Set();
    const nativeRequest = window[setName], nativeCancel = window[clearName];
    if (!nativeRequest) return ids;
    window[setName] = function (callback, ...rest) {
      if (typeof callback !== 'function' || !fromPage()) return nativeRequest.call(this, callback, ...rest);
      const id = nativeRequest.call(this, function (...args) {
        ids.delete(id);
        return callback.apply(this, args);
      }, ...rest);
      ids.add(id);
      return id;
    };
    window[clearName] = function (id) {
      ids.delete(id);
      return nativeCancel.call(this, id);
    };
    return ids;
  };
  const frames = once('requestAnimationFrame', 'cancelAnimationFrame');
  const idle = once('requestIdleCallback', 'cancelIdleCallback');
  const intervals = new Set();
  const nativeInterval = window.setInterval, nativeClearInterval = window.clearInterval;
  window.setInterval = function (handler, ms, ...rest) {
    const id = nativeInterval.call(this, handler, ms, ...rest);
    if (Math.max(0, Number(ms) || 0) <= LIMIT_MS && fromPage()) intervals.add(id);
    return id;
  };
  window.clearInterval = function (id) {
    intervals.delete(id);
    pending.delete(id);
    return nativeClearInterval.call(this, id);
  };

  let lastChange = performance.now();
  // Changes that are not the page's own: our marks on its controls (data-archiver-*) and the style
  // elements autoconsent adds, fills and takes away (autoconsent-prehide, autoconsent-css-rules).
  const ours = (node) => node && node.nodeName === 'STYLE' && /^autoconsent-/.test(node.id || '');
  const foreign = (r) => (r.type === 'attributes' && /^data-archiver-/.test(r.attributeName || ''))
    || ours(r.target) || (r.type === 'childList' && r.addedNodes.length + r.removedNodes.length > 0
      && [...r.addedNodes, ...r.removedNodes].every(ours));
  // Nor is the parser's building of the document: quiet is counted from the first change after it.
  const changed = (records) => {
    if (document.readyState === 'loading') return;
    if (!records || !records.every(foreign)) lastChange = performance.now();  // none: a shadow root attached
  };
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
    return {timers: pending.size, frames: frames.size, idle: idle.size, intervals: intervals.size,
            quietMs: now - lastChange, sinceLoadMs: loaded === null ? -1 : now - loaded};
  };
})();
