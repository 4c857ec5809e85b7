/** Quick entry: every stream the user fills in by hand, one tap each (entry/QuickEntry.tsx). */
import QuickEntry from '../entry/QuickEntry';
import { useTitle } from '../hooks';
import { session } from '../session';

export default function InsertPage() {
  useTitle('Insert');
  return <QuickEntry user={session.value!.user} />;
}
