// Finds what covers the page: dialogs, full-viewport layers and bottom banners, with their close controls,
// and which of them talk about cookies (a consent dialog, to be answered rather than closed or hidden).
// args: {recipe, act: 'find'|'hide'}. 'find' marks close controls (data-archiver-close) for Python to click;
// 'hide' hides every blocker still there (undo.js then unlocks the page). Returns what it found or did.
(args) => {
  const r = args.recipe;
  const vw = window.innerWidth, vh = window.innerHeight;
  const postSelector = r.postSelectors.join(',');
  const holdsPosts = (el) => postSelector && el.querySelector(postSelector);
  const texts = r.closeTexts.map(norm), labels = r.closeLabels.map(norm), banners = r.bannerTexts.map(norm);
  const strong = r.consentStrongWords.map(norm);

  const blockers = new Set();
  const add = (el, kind) => {
    if (!el || el === document.body || el === document.documentElement || holdsPosts(el)) return;
    for (const b of blockers) if (b.el === el || b.el.contains(el)) return;
    for (const b of [...blockers]) if (el.contains(b.el)) blockers.delete(b);
    blockers.add({el, kind});
  };

  for (const sel of r.removeSelectors) for (const el of queryAll(sel)) if (isVisible(el)) add(el, 'banner');
  for (const el of queryAll('[role=dialog], [role=alertdialog], [aria-modal=true], dialog[open]')) {
    if (isVisible(el) && isFixedLayer(el)) add(isFixedLayer(el), 'popup');
  }
  const bodyText = (document.body && document.body.innerText || '').length || 1;
  for (const el of document.querySelectorAll('body *')) {
    const s = getComputedStyle(el);
    if (s.position !== 'fixed' || !isVisible(el)) continue;
    const rect = el.getBoundingClientRect();
    const covers = rect.left <= vw * 0.05 && rect.top <= vh * 0.05 && rect.right >= vw * 0.95 && rect.bottom >= vh * 0.95;
    if (covers) {
      const z = parseInt(s.zIndex, 10);
      const tinted = (s.backgroundColor !== 'rgba(0, 0, 0, 0)' && s.backgroundColor !== 'transparent')
          || (s.backdropFilter && s.backdropFilter !== 'none');
      const onTop = el.contains(document.elementFromPoint(vw / 2, vh / 2));
      const small = (el.innerText || '').length < bodyText * 0.4;
      if ((tinted || onTop) && small && !(z < 0)) add(el, 'overlay');
    } else if (rect.bottom >= vh - 2 && rect.top > vh * 0.4) {
      const text = norm(el.innerText);
      if (banners.some((b) => text.includes(b))) add(el, 'banner');
    }
  }

  const CLICKABLE = 'button, [role=button], a, [aria-label]';
  const closeControl = (el) => {
    for (const sel of r.closeSelectors) {
      const c = el.matches(sel) ? el : el.querySelector(sel);
      if (c && isVisible(c)) return c;
    }
    const all = [...el.querySelectorAll(CLICKABLE)];
    if (el.shadowRoot) all.push(...el.shadowRoot.querySelectorAll(CLICKABLE));
    const visible = all.filter(isVisible);
    return visible.find((c) => labels.includes(ariaOf(c)))
        || visible.find((c) => c.matches('button, [role=button], a') && texts.includes(labelOf(c)))
        || null;
  };
  const clickableOf = (c) => c.closest('button, [role=button], a') || c;
  const describe = (el) => (norm(el.getAttribute('aria-label')) || norm(el.innerText).slice(0, 80)
      || (el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.classList.length ? '.' + [...el.classList].join('.') : '')
          + ' (' + Math.round(el.getBoundingClientRect().width) + 'x' + Math.round(el.getBoundingClientRect().height)
          + ', ' + getComputedStyle(el).backgroundColor + ')'));

  const textOf = (el) => norm([el.innerText || '', ...(el.shadowRoot ? [el.shadowRoot.textContent || ''] : [])]
      .join(' ').slice(0, 6000));
  const talksCookies = (el) => strong.some((w) => textOf(el).includes(w));

  const found = [];
  for (const {el, kind} of blockers) {
    const consent = talksCookies(el);
    if (args.act === 'find') {
      const close = closeControl(el);
      if (close) clickableOf(close).setAttribute('data-archiver-close', String(found.length));
      found.push({kind, consent, label: describe(el), close: close ? (labelOf(close) || ariaOf(close) || 'close') : null});
    } else {
      const label = describe(el);
      el.style.setProperty('display', 'none', 'important');
      found.push({kind, consent, label});
    }
  }
  return {found};
}
