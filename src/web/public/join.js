// The join form of /join: posts the user-create body as JSON (rest-api §10.3), then opens the app.
document.getElementById('join')?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.currentTarget;
  const err = document.getElementById('join-error');
  const button = f.querySelector('button');
  button.disabled = true;
  err.hidden = true;
  try {
    const v = (id) => document.getElementById(id).value;
    const body = { name: v('name').trim(), email: v('email').trim(), password: v('password') };
    const r = await fetch('/join', { method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin', body: JSON.stringify(body) });
    if (r.ok) {
      location.href = '/';
      return;
    }
    let msg = 'The account could not be created (' + r.status + ').';
    try {
      msg = (await r.json()).msg || msg;
    } catch {
      // not JSON
    }
    err.textContent = msg;
    err.hidden = false;
  } catch {
    err.textContent = 'The server cannot be reached. Try again.';
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
});
