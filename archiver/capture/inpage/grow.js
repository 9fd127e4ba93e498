// Waits for the document to grow past `height` (an infinite feed appending posts); false if it does not
// within `timeoutMs`, or sooner when nothing has changed in the DOM for `quietMs`.
async (args) => {
  const d = document.documentElement;
  const heightNow = () => Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0);
  let lastChange = Date.now();
  const observer = new MutationObserver(() => { lastChange = Date.now(); });
  observer.observe(d, {childList: true, subtree: true, attributes: true});
  const start = Date.now();
  try {
    while (Date.now() - start < args.timeoutMs) {
      if (heightNow() > args.height) return true;
      if (!args.busy && Date.now() - lastChange >= args.quietMs && Date.now() - start >= args.quietMs) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return heightNow() > args.height;
  } finally {
    observer.disconnect();
  }
}
