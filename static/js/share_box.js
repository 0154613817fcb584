// The "Copy link" box both pages share: the link goes to the clipboard when the browser allows it, and is shown
// selected in a read-only box either way (#share-url, #share-status).

const $ = (id) => document.getElementById(id);

export async function offerLink(url) {
  const box = $('share-url');
  box.value = url;
  box.hidden = false;
  let copied = false;
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(url); copied = true; }
  } catch { /* no clipboard permission: the link is selected in the box instead */ }
  box.focus();
  box.select();
  $('share-status').textContent = copied ? 'Link copied.' : 'Press Ctrl+C to copy the link.';
}
