/** Every downlink stream of the logged-in user with its control (entry/Downlinks.tsx). */
import Downlinks from '../entry/Downlinks';
import { useTitle } from '../hooks';
import { session } from '../session';

export default function DownlinksPage() {
  useTitle('Downlinks');
  return <Downlinks user={session.value!.user} />;
}
