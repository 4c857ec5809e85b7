/** The dataset builder (analysis/Dataset.tsx). */
import Dataset from '../analysis/Dataset';
import { useTitle } from '../hooks';
import { session } from '../session';

export default function AnalysisPage() {
  useTitle('Analysis');
  return <Dataset user={session.value!.user} />;
}
