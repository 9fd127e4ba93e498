// One scroll step down, then two frames so IntersectionObservers and lazy images see the new viewport.
// A page that observes nothing is not walked screen by screen: one jump to the bottom shows what
// scroll listeners would load. args: {recipe, step}. Returns where the page is and what covers it.
async (args) => {
  const walk = window.__archiverObserved !== 0;
  window.scrollBy(0, walk ? args.step : document.documentElement.scrollHeight);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const d = document.documentElement, b = document.body;
  const height = Math.max(d.scrollHeight, b ? b.scrollHeight : 0);
  const vw = window.innerWidth, vh = window.innerHeight;
  const top = document.elementFromPoint(vw / 2, vh / 2);
  const layer = top && isFixedLayer(top);
  let covered = false;
  if (layer) {
    const rect = layer.getBoundingClientRect();
    covered = rect.height >= vh * 0.5 || !!layer.querySelector('[role=dialog], [aria-modal=true]');
  }
  const locked = ['hidden', 'clip'].includes(getComputedStyle(d).overflowY)
      || (b && ['hidden', 'clip'].includes(getComputedStyle(b).overflowY));
  return {
    y: window.scrollY, height, viewport: vh,
    // An interval of the page's own, up to 5 s, may be a feed looking where the reader is (pending.js).
    listens: window.__archiverObserved !== 0 || window.__archiverScrollListeners !== 0 || !!window.onscroll
      || !!document.onscroll || (!!window.__archiverPending && window.__archiverPending().intervals > 0),
    atBottom: window.scrollY + vh >= height - 2,
    posts: countPosts(args.recipe.postSelectors),
    covered, locked,
  };
}
