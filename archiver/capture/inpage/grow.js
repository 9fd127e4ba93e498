// Waits at the bottom of a feed for it to grow: resolves as soon as the document is taller than Python saw
// (a DOM mutation or a resize tells, not a poll from Python), or after `waitMs`, or, with `idleMs`, once the
// page has had nothing coming for that long: no DOM change, and none of its own short timers, animation
// frames, idle callbacks or polling intervals pending (pending.js counts them), so nothing in the page could
// still append a batch. Meanwhile, at once and every `nudgeMs`, it moves the scroll position up a pixel and
// back, as a reader's wheel does, for feeds that only look again on a scroll event (the page's scroll
// listener then sets its timers, which count as pending). args: {height, waitMs, nudgeMs, idleMs}.
// Returns {grown, idle, height, waitedMs}.
async (args) => {
  const started = performance.now();
  const d = document.documentElement;
  const height = () => Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0);
  return await new Promise((resolve) => {
    let done = false;
    const observers = [];
    const timers = [];
    const finish = (grown, idle) => {
      if (done) return;
      done = true;
      for (const o of observers) o.disconnect();
      for (const t of timers) clearInterval(t);
      resolve({grown, idle, height: height(), waitedMs: Math.round(performance.now() - started)});
    };
    const check = () => { if (height() > args.height + 1) finish(true, false); };
    const mutations = new MutationObserver(check);
    mutations.observe(d, {childList: true, subtree: true});
    observers.push(mutations);
    if (window.ResizeObserver) {
      const sizes = new ResizeObserver(check);
      sizes.observe(d);
      if (document.body) sizes.observe(document.body);
      observers.push(sizes);
    }
    const nudge = () => {
      const y = window.scrollY;
      window.scrollBy(0, -1);
      // Back where it was, not to a new bottom: a jump there in the frame a batch arrived in would hide the
      // batch's "bottom left the view" from an IntersectionObserver, which then never fires again.
      requestAnimationFrame(() => { if (!done) window.scrollTo(0, y); });
    };
    if (args.nudgeMs) {
      nudge();
      timers.push(setInterval(nudge, args.nudgeMs));
    }
    if (args.idleMs && window.__archiverPending) {
      timers.push(setInterval(() => {
        if (performance.now() - started < args.idleMs) return;
        const p = window.__archiverPending();
        if (p.timers + p.frames + p.idle + p.intervals === 0 && p.quietMs >= args.idleMs) finish(false, true);
      }, 50));
    }
    timers.push(setTimeout(() => finish(false, false), Math.max(0, args.waitMs)));
    check();
  });
}
