// Where a sample stream waits, in words: from a `queue` event or a 429 body ({ahead, eta_s}).

/** "12 ahead of you, about 20 s" as a sentence; eta_s is null until the server has measured its pace. */
export function queueMessage({ ahead, eta_s: eta } = {}) {
  const who = ahead > 0 ? `${ahead} ${ahead === 1 ? 'student is' : 'students are'} ahead of you` : 'you are next';
  const when = Number.isFinite(eta) && eta > 0 ? `, about ${eta} s` : '';
  return `The server is busy: ${who}${when}.`;
}
