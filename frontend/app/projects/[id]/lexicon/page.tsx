import { LexiconEditor } from "@/components/LexiconEditor";

/** `/projects/{id}/lexicon`: the project's pronunciation rules (issue 9). */
export default async function LexiconPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <LexiconEditor projectId={id} />;
}
