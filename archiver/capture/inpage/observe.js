// Init script: counts what the page watches with IntersectionObserver. A page that watches nothing
// loads nothing on scroll by intersection, so the scroll step may jump instead of walking every screen.
(() => {
  const Native = window.IntersectionObserver;
  if (!Native || Native.__archiverCounted) return;
  window.__archiverObserved = 0;
  class Counted extends Native {
    observe(target) {
      window.__archiverObserved += 1;
      return super.observe(target);
    }
  }
  Counted.__archiverCounted = true;
  window.IntersectionObserver = Counted;
})();
