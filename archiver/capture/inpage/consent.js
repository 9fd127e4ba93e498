// Finds the consent choice to press in this frame and marks it; Python presses it with a real click.
// "Reject optional" wins over "save my choices", which counts only while nothing optional in its dialog is
// ticked, and both over "accept"; a label that reads as either of them is never taken for "accept"
// ("Acceptera nödvändiga", "Acceptera markerat"). Python prefers a frame's reject over another frame's accept.
// args: {recipe, skip}: `skip` holds labels already pressed while their dialog stayed (a bulk "Tacka nej till
// alla" that only unticks). Disabled controls are passed over (that bulk button, once nothing is ticked).
// Returns {label, choice, note} or null.
(args) => {
  const r = args.recipe;
  const CLICKABLE = 'button, [role=button], a, input[type=button], input[type=submit], [tabindex]';
  const words = r.consentContextWords.map(norm);
  const frameIsConsent = window !== window.top && /consent|cookie|privacy|cmp|gdpr/i.test(location.href);

  // The nearest ancestor that talks about cookies: the control belongs to a consent dialog.
  const consentContext = (el) => {
    if (frameIsConsent) return document.body || document.documentElement;
    let p = el;
    for (let depth = 0; p && depth < 12; depth++, p = parentAcross(p)) {
      if (p.nodeType !== 1) continue;
      const text = norm((p.innerText || p.textContent || '').slice(0, 6000));
      if (words.some((w) => text.includes(w))) return p;
      if (p === document.body) break;
    }
    return null;
  };
  // The dialog a control belongs to, for "is anything optional ticked in it?".
  const dialogOf = (el, context) => {
    for (let p = el; p; p = parentAcross(p)) {
      if (p.nodeType === 1 && p.matches('[role=dialog], [role=alertdialog], [aria-modal=true], dialog')) return p;
    }
    return isFixedLayer(el) || context;
  };
  const ticked = (scope) => {
    const roots = [scope, ...allRoots().filter((root) => root.host && scope.contains(root.host))];
    return roots.flatMap((root) => [...root.querySelectorAll('input[type=checkbox], [role=switch], [role=checkbox]')])
        .filter((el) => (el.checked === true || el.getAttribute('aria-checked') === 'true')
            && !el.disabled && el.getAttribute('aria-disabled') !== 'true' && !el.hasAttribute('readonly'));
  };

  for (const old of queryAll('[data-archiver-consent]')) old.removeAttribute('data-archiver-consent');
  const skip = new Set((args.skip || []).map(norm));
  const enabled = (el) => !el.disabled && el.getAttribute('aria-disabled') !== 'true';
  const clickables = queryAll(CLICKABLE).filter((el) => isVisible(el) && enabled(el))
      .map((el) => ({el, label: labelOf(el), aria: ariaOf(el)}))
      .filter((c) => !skip.has(c.label || c.aria));
  const mark = (el, label, choice, note) => {
    el.setAttribute('data-archiver-consent', choice);
    return {label, choice, note: note || null};
  };

  for (const sel of r.consentRejectSelectors) {
    const el = queryAll(sel).find(isVisible);
    if (el && enabled(el) && !skip.has(labelOf(el) || sel)) return mark(el, labelOf(el) || sel, 'reject');
  }
  const exact = (l, t) => l === t;
  const prefix = (l, t) => l.startsWith(t) && l.length <= t.length + 24;
  const rejects = r.consentRejectTexts.map(norm), saves = r.consentSaveTexts.map(norm);
  const readsAs = (c, texts) => texts.some((t) => [exact, prefix].some((m) => m(c.label, t) || m(c.aria, t)));
  const tiers = [
    ['reject', rejects, () => null],
    ['save', saves, (c, context) => (ticked(dialogOf(c.el, context)).length
      ? 'something optional is ticked' : null)],
    ['accept', r.consentAcceptTexts.map(norm), (c) => (readsAs(c, rejects) || readsAs(c, saves)
      ? 'reads as a refusal or a saved choice' : null)],
  ];
  for (const [tier, texts, veto] of tiers) {
    for (const matches of [exact, prefix]) {
      for (const text of texts) {
        for (const c of clickables) {
          if (!(matches(c.label, text) || matches(c.aria, text))) continue;
          const context = consentContext(c.el);
          if (!context || veto(c, context)) continue;
          const label = c.label || c.aria;
          if (tier === 'save') return mark(c.el, label, 'reject', 'saved with nothing optional ticked');
          return mark(c.el, label, tier);
        }
      }
    }
  }
  return null;
}
