// Shared helpers, prepended to every in-page script. Kept small and free of side effects.
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();

const isVisible = (el) => {
  if (!el || !el.getBoundingClientRect) return false;
  const r = el.getBoundingClientRect();
  if (r.width < 2 || r.height < 2) return false;
  const s = getComputedStyle(el);
  return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0.05;
};

// Every open shadow root in the document, so banners built as web components are searched too.
const allRoots = () => {
  const roots = [document];
  for (let i = 0; i < roots.length; i++) {
    for (const el of roots[i].querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
  }
  return roots;
};

const queryAll = (selector) => {
  const found = [];
  for (const root of allRoots()) {
    try { found.push(...root.querySelectorAll(selector)); } catch (e) { /* a recipe selector this engine rejects */ }
  }
  return found;
};

const parentAcross = (el) => el.parentElement || (el.parentNode && el.parentNode.host) || null;

const countPosts = (selectors) => {
  if (!selectors.length) return 0;
  const all = new Set();
  for (const sel of selectors) for (const el of queryAll(sel)) all.add(el);
  let n = 0;
  for (const el of all) {
    let p = parentAcross(el), nested = false;
    while (p) { if (all.has(p)) { nested = true; break; } p = parentAcross(p); }
    if (!nested) n++;
  }
  return n;
};

const isFixedLayer = (el) => {
  for (let p = el; p && p !== document.documentElement; p = parentAcross(p)) {
    if (p.nodeType !== 1) continue;
    const pos = getComputedStyle(p).position;
    if (pos === 'fixed' || pos === 'sticky') return p;
  }
  return null;
};

const labelOf = (el) => norm(el.innerText || el.value || el.getAttribute('aria-label') || el.title || '');
const ariaOf = (el) => norm(el.getAttribute('aria-label') || '');
