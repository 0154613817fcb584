// The error banner of every page (#errors holding #error-list): one line per failure; a repeat of the same
// text counts up ("… (×3)") instead of piling up. Pages add their own wording on top (errors.js names
// fields by the explorer's labels).

const $ = (id) => document.getElementById(id);

export function addBannerLine(text) {
  const list = $('error-list');
  const same = Array.from(list.children).find((li) => li.dataset.text === text);
  if (same) {
    const count = Number(same.dataset.count) + 1;
    same.dataset.count = String(count);
    same.textContent = `${text} (×${count})`;
  } else {
    const li = document.createElement('li');
    li.dataset.text = text;
    li.dataset.count = '1';
    li.textContent = text;
    list.append(li);
  }
  $('errors').hidden = false;
}

export function clearBanner() {
  $('error-list').replaceChildren();
  $('errors').hidden = true;
}
