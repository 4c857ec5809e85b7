import { render } from 'preact';
import './theme.css';
import { setUnauthorizedHandler } from './api';
import { App } from './App';
import { applyTheme, savedTheme } from './components/Layout';
import { installLinkInterception } from './router';

applyTheme(savedTheme());
installLinkInterception();
// A 401 means the session cookie is gone or its device key was reset: log in again, then come back.
setUnauthorizedHandler(() => {
  location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
});
render(<App />, document.getElementById('app')!);
