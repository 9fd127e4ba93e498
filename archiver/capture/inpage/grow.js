// Waits at the bottom of a feed for it to grow: resolves as soon as the document is taller than Python saw
// (a DOM mutation or a resize tells, not a poll from Python), or after `waitMs`. Meanwhile, every `nudgeMs`,
// it moves the scroll position up a pixel and back, as a reader's wheel does, for feeds that only look again
// on a scroll event. args: {height, waitMs, nudgeMs}. Returns {grown, height, waitedMs}.
async (args) => {
  const started = performance.now();
  const d = document.documentElement;
  const height = () => Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0);
  return await new Promise((resolve) => {
    let done = false;
    const observers = [];
    const timers = [];
    const finish = (grown) => {
      if (done) return;
      done = true;
      for (const o of observers) o.disconnect();
      for (const t of timers) clearInterval(t);
      resolve({grown, height: height(), waitedMs: Math.round(performance.now() - started)});
    };
    const check = () => { if (height() > args.height + 1) finish(true); };
    const mutations = new MutationObserver(check);
    mutations.observe(d, {childList: true, subtree: true});
    observers.push(mutations);
    if (window.ResizeObserver) {
      const sizes = new ResizeObserver(check);
      sizes.observe(d);
      if (document.body) sizes.observe(document.body);
      observers.push(sizes);
    }
    timers.push(setInterval(() => {
      const y = window.scrollY;
      window.scrollBy(0, -1);
      // Back where it was, not to a new bottom: a jump there in the frame a batch arrived in would hide the
      // batch's "bottom left the view" from an IntersectionObserver, which then never fires again.
      requestAnimationFrame(() => { if (!done) window.scrollTo(0, y); });
    }, args.nudgeMs));
    timers.push(setTimeout(() => finish(false), Math.max(0, args.waitMs)));
    check();
  });
}
