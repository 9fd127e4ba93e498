// What the page is: the account, a login page, or a "not available" page. args: {recipe}.
(args) => {
  const r = args.recipe;
  const text = norm(document.body ? document.body.innerText.slice(0, 200000) : '');
  const password = [...document.querySelectorAll('input[type=password]')]
      .some((el) => isVisible(el) && !isFixedLayer(el));
  const d = document.documentElement, b = document.body;
  return {
    posts: countPosts(r.postSelectors),
    passwordField: password,
    unavailable: r.unavailableTexts.find((t) => text.includes(norm(t))) || null,
    loginText: r.loginTexts.find((t) => text.includes(norm(t))) || null,
    textLength: text.length,
    title: document.title,
    userAgent: navigator.userAgent,
    dpr: window.devicePixelRatio,
    height: Math.max(d.scrollHeight, d.offsetHeight, b ? b.scrollHeight : 0, b ? b.offsetHeight : 0),
  };
}
