// Init script, before any of the page's own: counts what the page watches with IntersectionObserver
// (a page that watches nothing loads nothing by intersection, so scrolling may jump instead of walking
// every screen) and its scroll listeners (with neither, nothing can load on scroll at all), and notes
// when the DOM last changed (a feed that has stopped growing is quiet).
(() => {
  if (window.__archiverObserved !== undefined) return;
  window.__archiverObserved = 0;
  window.__archiverScrollListeners = 0;
  const nativeListen = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (type === 'scroll' || type === 'wheel' || type === 'touchmove') window.__archiverScrollListeners += 1;
    return nativeListen.call(this, type, ...rest);
  };
  window.__archiverLastMutation = Date.now();
  new MutationObserver(() => { window.__archiverLastMutation = Date.now(); })
      .observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
  const Native = window.IntersectionObserver;
  if (!Native) return;
  window.IntersectionObserver = class extends Native {
    observe(target) {
      window.__archiverObserved += 1;
      return super.observe(target);
    }
  };
})();
