// Resolves at the next change to the DOM (open shadow roots included), or after args.ms: an event to wake on,
// with a deadline. Returns true if something changed.
async (args) => new Promise((resolve) => {
  let timer = null;
  const observer = new MutationObserver(() => done(true));
  const done = (changed) => {
    observer.disconnect();
    clearTimeout(timer);
    resolve(changed);
  };
  for (const root of allRoots()) observer.observe(root, {childList: true, subtree: true, attributes: true});
  timer = setTimeout(() => done(false), args.ms);
})
