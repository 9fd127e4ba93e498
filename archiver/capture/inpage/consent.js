// Finds the consent choice to press in this frame and marks it; Python presses it with a real click.
// "Reject optional" wins over "accept"; Python prefers a frame's reject over another frame's accept.
// args: {recipe}. Returns {label, choice} or null.
(args) => {
  const r = args.recipe;
  const CLICKABLE = 'button, [role=button], a, input[type=button], input[type=submit], [tabindex]';
  const words = r.consentContextWords.map(norm);
  const frameIsConsent = window !== window.top && /consent|cookie|privacy|cmp|gdpr/i.test(location.href);

  const inConsentContext = (el) => {
    if (frameIsConsent) return true;
    let p = el;
    for (let depth = 0; p && depth < 12; depth++, p = parentAcross(p)) {
      if (p.nodeType !== 1) continue;
      const text = norm((p.innerText || p.textContent || '').slice(0, 6000));
      if (words.some((w) => text.includes(w))) return true;
      if (p === document.body) break;
    }
    return false;
  };

  for (const old of queryAll('[data-archiver-consent]')) old.removeAttribute('data-archiver-consent');
  const clickables = queryAll(CLICKABLE).filter(isVisible)
      .map((el) => ({el, label: labelOf(el), aria: ariaOf(el)}));
  const mark = (el, label, choice) => {
    el.setAttribute('data-archiver-consent', choice);
    return {label, choice};
  };

  for (const sel of r.consentRejectSelectors) {
    const el = queryAll(sel).find(isVisible);
    if (el) return mark(el, labelOf(el) || sel, 'reject');
  }
  const exact = (l, t) => l === t;
  const prefix = (l, t) => l.startsWith(t) && l.length <= t.length + 24;
  for (const [choice, list] of [['reject', r.consentRejectTexts], ['accept', r.consentAcceptTexts]]) {
    const texts = list.map(norm);
    for (const matches of [exact, prefix]) {
      for (const text of texts) {
        const c = clickables.find((c) => (matches(c.label, text) || matches(c.aria, text)) && inConsentContext(c.el));
        if (c) return mark(c.el, c.label || c.aria, choice);
      }
    }
  }
  return null;
}
