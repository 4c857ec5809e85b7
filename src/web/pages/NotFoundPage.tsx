import { useTitle } from '../hooks';

export function NotFoundPage({ message }: { message?: string }) {
  useTitle('Not found');
  return (
    <div class="card">
      <h1>Not found</h1>
      <p>{message ?? 'There is no page at this address.'}</p>
      <p>
        <a href="/">Go to your devices</a>
      </p>
    </div>
  );
}
