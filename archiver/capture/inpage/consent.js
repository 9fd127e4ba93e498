// Finds the consent choice to press in this frame and marks it; Python presses it with a real click.
// args: {recipe, choice: 'reject'|'accept'}. Returns {label, choice} or null.
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

  const clickables = queryAll(CLICKABLE).filter(isVisible);
  const mark = (el, label, choice) => {
    el.setAttribute('data-archiver-consent', choice);
    return {label, choice};
  };

  if (args.choice === 'reject') {
    for (const sel of r.consentRejectSelectors) {
      const el = queryAll(sel).find(isVisible);
      if (el) return mark(el, labelOf(el) || sel, 'reject');
    }
  }
  const texts = (args.choice === 'reject' ? r.consentRejectTexts : r.consentAcceptTexts).map(norm);
  for (const matches of [(l, t) => l === t, (l, t) => l.startsWith(t) && l.length <= t.length + 24]) {
    for (const text of texts) {
      const el = clickables.find((c) => (matches(labelOf(c), text) || matches(ariaOf(c), text)) && inConsentContext(c));
      if (el) return mark(el, labelOf(el) || ariaOf(el), args.choice);
    }
  }
  return null;
}
