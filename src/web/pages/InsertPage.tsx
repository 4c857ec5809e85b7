/** PLACEHOLDER owned by the `web-views` branch, which replaces this file (default export, no props). */
import { useTitle } from '../hooks';

export default function InsertPage() {
  useTitle('Insert');
  return (
    <div class="card">
      <h1>Quick entry</h1>
      <p class="muted">This page is coming.</p>
    </div>
  );
}
