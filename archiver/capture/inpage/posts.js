// The posts on a page, for comparing two captures of it (`archiver bundles compare`): each post's box in
// page coordinates (CSS px), the permalink it shows, its author and time as shown, and its text.
// args: {recipe, maxPosts, maxY}. Returns [{top, height, permalink, author, time, text}] in document order;
// a post nested in another (a shared post, a comment) belongs to the outer one.
(args) => {
  const r = args.recipe;
  // Where the platform's own post selectors find nothing (a page built some other way), common markup for
  // posts: schema.org postings, .post/.feed-item classes, data-post-id, post-<n> ids.
  const FALLBACK = ['[itemtype*="SocialMediaPosting"]', '[itemtype*="BlogPosting"]', '.post', '.feed-item',
                    '[data-post-id]', '[id^="post-"]'];
  const all = new Set();
  for (const sel of r.postSelectors) for (const el of queryAll(sel)) all.add(el);
  if (!all.size) for (const sel of FALLBACK) for (const el of queryAll(sel)) all.add(el);
  const outer = [...all].filter((el) => {
    for (let p = parentAcross(el); p; p = parentAcross(p)) if (all.has(p)) return false;
    return isVisible(el);
  });
  outer.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  // Links that name one post: Facebook's /posts/ and story_fbid, X's /status/, Instagram's /p/ and /reel/,
  // YouTube's watch?v= and /shorts/, LinkedIn's /feed/update/, TikTok's /video/, and a generic article's.
  const PERMALINK = /\/(posts|status|p|reel|reels|videos?|watch|shorts|permalink(\.php)?|story\.php|photos?|feed\/update|events)(\/|\?|$)|[?&](v|story_fbid|fbid)=/i;
  const firstLine = (el) => (el.innerText || el.textContent || '').split('\n').map((l) => l.trim()).find(Boolean) || '';
  const within = (root, selectors) => {
    for (const sel of selectors) {
      let found;
      try { found = [...root.querySelectorAll(sel)]; } catch (e) { continue; }
      const el = found.find((e) => isVisible(e) && (firstLine(e) || e.getAttribute('datetime') || e.getAttribute('title')));
      if (el) return el;
    }
    return null;
  };
  const cut = (s, n) => (s ? s.slice(0, n) : null);
  const posts = [];
  const sy = window.scrollY;
  for (const el of outer) {
    if (posts.length >= args.maxPosts) break;
    const box = el.getBoundingClientRect();
    const top = Math.round(box.top + sy);
    if (top >= args.maxY) break;
    const time = within(el, r.postTimeSelectors);
    const author = within(el, r.postAuthorSelectors);
    const links = [...el.querySelectorAll('a[href]')].filter((a) => PERMALINK.test(a.href));
    // The link around the post's time is its permalink on most platforms; else the first one that names a post.
    const timed = time && time.closest('a[href]');
    const link = (timed && PERMALINK.test(timed.href) ? timed : null) || links[0] || null;
    posts.push({
      top, height: Math.round(box.height),
      permalink: link ? link.href : null,
      author: author ? cut(firstLine(author), 200) : null,
      time: time ? cut(time.getAttribute('datetime') || firstLine(time) || time.getAttribute('title'), 100) : null,
      text: cut((el.innerText || '').replace(/\s+/g, ' ').trim(), 2000),
    });
  }
  return posts;
}
