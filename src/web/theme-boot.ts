// Runs before first paint (a classic script in <head>), so a saved theme
// never flashes the other one. The page's CSP allows no inline script.
try {
  const t = localStorage.getItem('nt-theme');
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
} catch {
  // storage blocked: follow prefers-color-scheme
}
