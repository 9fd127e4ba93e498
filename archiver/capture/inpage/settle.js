// Makes lazy media load now, waits (within a budget) until fonts are ready and every image has decoded,
// freezes animations and videos, and returns to the top. args: {budgetMs}. Returns image counts.
async (args) => {
  const deadline = Date.now() + args.budgetMs;
  const until = (p) => Promise.race([p, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
  const placeholder = (src) => !src || src.startsWith('data:') || /blank|placeholder|spacer|1x1/i.test(src);

  for (const img of queryAll('img')) {
    if (img.loading === 'lazy') img.loading = 'eager';
    const lazySrc = img.dataset.src || img.dataset.lazySrc || img.dataset.original;
    if (lazySrc && placeholder(img.getAttribute('src'))) img.src = lazySrc;
    const lazySet = img.dataset.srcset || img.dataset.lazySrcset;
    if (lazySet && !img.getAttribute('srcset')) img.srcset = lazySet;
  }
  for (const source of document.querySelectorAll('source[data-srcset]')) {
    if (!source.getAttribute('srcset')) source.srcset = source.dataset.srcset;
  }
  for (const frame of document.querySelectorAll('iframe[loading=lazy]')) frame.loading = 'eager';

  if (document.fonts) await until(document.fonts.ready);
  const images = queryAll('img').filter((img) => img.currentSrc || img.getAttribute('src'));
  await until(Promise.all(images.map((img) => (img.complete
    ? (img.decode ? img.decode().catch(() => {}) : null)
    : new Promise((r) => {
      img.addEventListener('load', () => (img.decode ? img.decode().catch(() => {}) : null).then(r), {once: true});
      img.addEventListener('error', r, {once: true});
    })))));

  for (const video of document.querySelectorAll('video')) { try { video.pause(); } catch (e) { /* detached */ } }
  if (document.getAnimations) for (const a of document.getAnimations()) { try { a.pause(); } catch (e) { /* gone */ } }
  window.scrollTo(0, 0);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));

  const broken = images.filter((img) => img.complete && img.naturalWidth === 0);
  const pending = images.filter((img) => !img.complete);
  return {
    images: images.length,
    broken: broken.length,
    pending: pending.length,
    examples: [...broken, ...pending].slice(0, 3).map((img) => (img.currentSrc || img.src).slice(0, 200)),
  };
}
