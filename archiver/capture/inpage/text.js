// Every visible word of the page with its box in page coordinates (CSS px), for the PDF's invisible
// text layer: read from the DOM, not recognised from pixels. args: {maxWords, maxY}.
// Returns [[x, y, width, height, word], ...] in document order.
(args) => {
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TEXTAREA', 'OPTION']);
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement && !skip.has(n.parentElement.tagName) && /\S/.test(n.data)
      ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT),
  });
  const shown = new Map();
  const visible = (el) => {
    if (!shown.has(el)) {
      const s = getComputedStyle(el);
      shown.set(el, s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0.05);
    }
    return shown.get(el);
  };
  const range = document.createRange();
  const sx = window.scrollX, sy = window.scrollY;
  const round = (v) => Math.round(v * 10) / 10;
  const words = [];
  while (walker.nextNode() && words.length < args.maxWords) {
    const node = walker.currentNode;
    if (!visible(node.parentElement)) continue;
    const pattern = /\S+/g;
    let m;
    while ((m = pattern.exec(node.data)) && words.length < args.maxWords) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const r = range.getBoundingClientRect();
      if (r.width < 1 || r.height < 1 || r.top + sy >= args.maxY || r.bottom + sy <= 0) continue;
      words.push([round(r.left + sx), round(r.top + sy), round(r.width), round(r.height), m[0]]);
    }
  }
  return words;
}
