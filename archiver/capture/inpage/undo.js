// Once a dialog is answered, closed or hidden, undoes what it (or the site, for it) left on the page: scroll
// locks (overflow hidden on html/body; a body fixed at a negative top, whose scroll position is restored),
// and on the page's own content (html, body, main, the posts and every element holding them) `inert`,
// `aria-hidden` and blurring or dimming filters. Other elements keep theirs: an icon's aria-hidden, a hero
// image's filter. args: {recipe}. Returns what it undid, in words.
(args) => {
  const r = args.recipe;
  const d = document.documentElement, b = document.body;
  const undone = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.classList.length ? '.' + [...el.classList].slice(0, 2).join('.') : '');

  for (const el of [d, b]) {
    if (!el) continue;
    const {overflow, overflowY} = getComputedStyle(el);
    const locked = ['hidden', 'clip'].includes(overflowY) ? overflowY
        : ['hidden', 'clip'].includes(overflow) ? overflow : null;
    if (locked) {
      el.style.setProperty('overflow', 'visible', 'important');
      undone.push(`overflow: ${locked} on ${name(el)}`);
    }
  }
  for (const el of [d, b]) {
    if (!el || getComputedStyle(el).position !== 'fixed') continue;
    const top = parseFloat(getComputedStyle(el).top) || 0;
    el.style.setProperty('position', 'static', 'important');
    el.style.setProperty('top', 'auto', 'important');
    undone.push(`position: fixed on ${name(el)}` + (top < 0 ? `, scrolled back to ${Math.round(-top)} px` : ''));
    if (top < 0) window.scrollTo(0, -top);
  }

  const content = new Set([d, b].filter(Boolean));
  const anchors = [...(r.postSelectors.length ? queryAll(r.postSelectors.join(',')) : []).slice(0, 500),
    ...document.querySelectorAll('main, [role=main]')];
  for (const anchor of anchors) {
    for (let p = anchor; p && !content.has(p); p = parentAcross(p)) if (p.nodeType === 1) content.add(p);
  }
  // blur(), or brightness() below 1: what a backdrop's effect on the page looks like.
  const dims = (filter) => filter && filter !== 'none' && (/blur\(\s*[^0)\s]/.test(filter)
      || [...filter.matchAll(/brightness\(\s*([\d.]+)/g)].some((m) => parseFloat(m[1]) < 1));
  for (const el of content) {
    if (el.inert || el.hasAttribute('inert')) {
      el.inert = false;
      el.removeAttribute('inert');
      undone.push(`inert on ${name(el)}`);
    }
    if (el.getAttribute('aria-hidden') === 'true') {
      el.removeAttribute('aria-hidden');
      undone.push(`aria-hidden on ${name(el)}`);
    }
    const {filter, backdropFilter} = getComputedStyle(el);  // read before changing: the style is live
    if (dims(filter)) {
      el.style.setProperty('filter', 'none', 'important');
      undone.push(`filter: ${filter} on ${name(el)}`);
    }
    if (dims(backdropFilter)) {
      el.style.setProperty('backdrop-filter', 'none', 'important');
      undone.push(`backdrop-filter: ${backdropFilter} on ${name(el)}`);
    }
  }
  return undone;
}
