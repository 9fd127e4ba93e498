// A single post: find the controls that show more of it ("Visa mer", "Visa 3 svar", "Visa fler kommentarer"),
// and read its author and time as shown. args: {act, recipe, skip, ids, labels}.
//   act 'find':     marks each expanding control with data-archiver-expand="<n>" for Python to click and returns
//                   {controls: [{id, label, state}], mutations}; state is 'clickable', 'dead' (clicked before and
//                   nothing changed) or 'skipped' (its label is in args.skip: it navigated away before).
//                   Controls that are unsafe to click (links to other pages, like/hide/reply toggles, menus,
//                   submit buttons, already expanded) are not returned at all.
//   act 'mark':     marks the controls args.ids 'dead' (clicking changed nothing: listed, never clicked again)
//                   or 'done' (a toggle left showing what it shows: not listed again).
//   act 'settled':  [ms since the page last changed (our own marks aside), number of changes so far].
//   act 'covered':  whether a fixed layer (a pop-up, a backdrop) lies over the middle of the viewport.
//   act 'read':     {canonical, ogUrl, author, shownTime, shownDatetime}.
//   act 'classify': for each of args.labels, {match, never} as 'find' would judge a control with that label.
(args) => {
  const r = args.recipe;

  // Changes to the page since the first 'find', leaving out our own data-archiver-* marks and what no reader
  // sees: <head>, and style or script elements coming and going (a consent library's hiding styles, inserted
  // and removed on every document it loads in, would make a dead control look alive).
  const UNSEEN = new Set(['STYLE', 'SCRIPT', 'LINK', 'META', 'NOSCRIPT', 'TEMPLATE']);
  const seen = (m) => {
    if (m.type === 'attributes' && (m.attributeName || '').startsWith('data-archiver')) return false;
    if (document.head && (m.target === document.head || document.head.contains(m.target))) return false;
    if (m.type === 'childList') {
      const nodes = [...m.addedNodes, ...m.removedNodes];
      if (nodes.length && nodes.every((n) => UNSEEN.has(n.nodeName))) return false;
    }
    return true;
  };
  if (!window.__archiverExpandWatch) {
    window.__archiverExpandWatch = {last: Date.now(), count: 0, seq: 0};
    new MutationObserver((records) => {
      if (records.some(seen)) {
        window.__archiverExpandWatch.last = Date.now();
        window.__archiverExpandWatch.count += 1;
      }
    }).observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
  }
  const watch = window.__archiverExpandWatch;
  if (args.act === 'settled') return [Date.now() - watch.last, watch.count];
  if (args.act === 'covered') {
    const top = document.elementFromPoint(window.innerWidth / 2, window.innerHeight / 2);
    const layer = top && isFixedLayer(top);
    if (!layer) return false;
    return layer.getBoundingClientRect().height >= window.innerHeight * 0.5
        || !!layer.closest('[role=dialog], [aria-modal=true]') || !!layer.querySelector('[role=dialog], [aria-modal=true]');
  }

  // Labels: lower case, numbers as "#", "(3)" and surrounding punctuation ("…", "—", "›") dropped.
  const normLabel = (s) => norm(s)
      .replace(/\d+(?:[.,\s]\d+)*/g, '#')
      .replace(/\(\s*#\s*\)/g, ' ')
      .replace(/^[^\p{L}#*]+|[^\p{L}#*]+$/gu, '')
      .replace(/\s+/g, ' ').trim();
  const wordsOf = (s) => s.split(/[^\p{L}]+/u).filter(Boolean);
  const escape = (s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const patterns = r.expandTexts.map((text) => {
    const n = normLabel(text);
    const body = n.split('*').map((part) => escape(part).replace(/ /g, '\\s*')).join('.*');
    return {text: n, re: new RegExp('^' + body + '$', 'u'), words: new Set(wordsOf(n))};
  });
  const never = new Set(r.expandNeverWords.map(normLabel));
  const anyPattern = new RegExp(patterns.length ? patterns.map((p) => `(?:${p.re.source})`).join('|') : '$^', 'u');

  // {match, never}: does a label name an expanding control, and does it hold a word we must never click?
  const judge = (label, bySelector) => {
    const n = normLabel(label);
    const pattern = n && anyPattern.test(n) ? patterns.find((p) => p.re.test(n)) : undefined;
    const allowed = pattern ? pattern.words : new Set();
    return {match: Boolean(pattern) || bySelector, never: wordsOf(n).some((w) => never.has(w) && !allowed.has(w))};
  };
  if (args.act === 'classify') return args.labels.map((label) => judge(label, false));

  if (args.act === 'mark') {
    for (const id of args.ids) {
      for (const el of queryAll(`[data-archiver-expand="${id}"]`)) el.setAttribute('data-archiver-expand-' + args.mark, '');
    }
    return null;
  }

  if (args.act === 'read') {
    const firstVisible = (selectors) => {
      for (const sel of selectors) {
        const el = queryAll(sel).find(isVisible);
        if (el) return el;
      }
      return null;
    };
    const root = firstVisible(r.postSelectors) || document.querySelector('main') || document.body;
    const shown = (el) => (el.tagName === 'META' ? el.getAttribute('content') || ''
        : (el.innerText || el.textContent || '').split('\n').map((l) => l.trim()).find(Boolean) || '');
    // In the post first; with `anywhere`, attribute selectors ([itemprop=author], [rel=author]) anywhere on the
    // page after that.
    const pick = (selectors, anywhere) => {
      for (const scope of anywhere ? [root, document] : [root]) {
        for (const sel of selectors) {
          if (scope === document && !sel.includes('[')) continue;
          let found;
          try { found = [...scope.querySelectorAll(sel)]; } catch (e) { continue; }
          const el = found.find((e) => (e.tagName === 'META' || isVisible(e)) && (shown(e)
              || e.getAttribute('datetime') || e.getAttribute('title')));
          if (el) return el;
        }
      }
      return null;
    };
    // The author by the selectors' order of preference; the time that comes first in the post (a comment's
    // <time> must not win over the post's own abbr[title] above it).
    const author = pick(r.postAuthorSelectors, true);
    const times = r.postTimeSelectors.map((sel) => pick([sel], false)).filter(Boolean);
    const time = times.reduce((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_PRECEDING ? b : a),
        times[0] || null);
    const canonical = document.querySelector('link[rel~=canonical][href]');
    const og = document.querySelector('meta[property="og:url"][content], meta[name="og:url"][content]');
    const cut = (s) => (s ? s.slice(0, 300) : null);
    return {
      canonical: canonical ? canonical.href : null,
      ogUrl: og ? og.getAttribute('content') : null,
      author: author ? cut(shown(author)) : null,
      shownTime: time ? cut(shown(time)) || null : null,
      shownDatetime: time ? cut(time.getAttribute('datetime') || time.getAttribute('title')
          || time.getAttribute('content')) : null,
    };
  }

  // act 'find'
  const here = location.href.split('#')[0];
  const navigates = (el) => {
    const link = el.closest('a[href]');
    if (!link) return false;
    if (link.target && link.target !== '_self') return true;
    let url;
    try { url = new URL(link.getAttribute('href'), location.href); } catch (e) { return true; }
    if (url.protocol === 'javascript:') return false;
    return url.href.split('#')[0] !== here;
  };
  const unsafe = (el) => {
    if (navigates(el)) return 'link';
    if (el.getAttribute('aria-expanded') === 'true') return 'expanded';
    if (el.tagName === 'SUMMARY' && el.parentElement && el.parentElement.open) return 'expanded';
    if (el.hasAttribute('aria-pressed')) return 'toggle';
    const popup = el.getAttribute('aria-haspopup');
    if (popup && popup !== 'false') return 'menu';
    if (el.disabled || el.getAttribute('aria-disabled') === 'true') return 'disabled';
    // The site's own menus and tabs: opening them covers the post or shows something else.
    if (el.closest('nav, [role=navigation], [role=menu], [role=menubar], [role=tablist], [role=listbox]')) return 'menu';
    if ((el.tagName === 'BUTTON' || el.tagName === 'INPUT') && el.form && (el.type || 'submit') === 'submit') {
      return 'submit';
    }
    return null;
  };

  const CLICKABLE = 'button, [role=button], [role=link], a, summary, [tabindex], [onclick], [aria-expanded], '
      + 'input[type=button]';
  const candidates = new Set(queryAll(CLICKABLE));
  // Plain spans and divs with a click handler show themselves by the pointer cursor: from each short text,
  // up a few ancestors while the text stays short, the first whose text names an expanding control.
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const data = walker.currentNode.data;
    if (data.length > 80 || !/\S/.test(data)) continue;
    let el = walker.currentNode.parentElement;
    for (let depth = 0; el && depth < 4 && !candidates.has(el); depth++, el = el.parentElement) {
      const text = el.textContent || '';
      if (text.length > 80) break;
      if (anyPattern.test(normLabel(text)) && getComputedStyle(el).cursor === 'pointer') {
        candidates.add(el);
        break;
      }
    }
  }
  const bySelector = new Set();
  for (const sel of r.expandSelectors) for (const el of queryAll(sel)) { candidates.add(el); bySelector.add(el); }

  const skip = new Set((args.skip || []).map(normLabel));
  const targets = new Map();
  for (const el of candidates) {
    if (!isVisible(el) || el.hasAttribute('data-archiver-expand-done')) continue;
    const text = el.innerText || el.value || '';
    const aria = el.getAttribute('aria-label') || '';
    let verdict = judge(text, bySelector.has(el));
    if (!verdict.match && aria) verdict = judge(aria, false);
    if (!verdict.match || verdict.never) continue;
    const target = el.closest('button, [role=button], summary, a') || el;
    if (targets.has(target) || target.hasAttribute('data-archiver-expand-done')) continue;
    if (unsafe(target) || (target !== el && unsafe(el))) continue;
    const label = norm(text || aria || target.innerText || '').slice(0, 80);
    if (target !== el && judge(target.innerText || '', bySelector.has(target)).never) continue;
    targets.set(target, label);
  }
  const controls = [];
  for (const [el, label] of targets) {
    if (!el.hasAttribute('data-archiver-expand')) el.setAttribute('data-archiver-expand', String(++watch.seq));
    const state = el.hasAttribute('data-archiver-expand-dead') ? 'dead'
        : skip.has(normLabel(label)) ? 'skipped' : 'clickable';
    controls.push({id: el.getAttribute('data-archiver-expand'), label, state});
  }
  const order = (a, b) => (a === b ? 0 : a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
  const byId = new Map([...targets.keys()].map((el) => [el.getAttribute('data-archiver-expand'), el]));
  controls.sort((a, b) => order(byId.get(a.id), byId.get(b.id)));
  return {controls, mutations: watch.count};
}
