import { Timeline } from "@/components/Timeline";

/** `/projects/{id}`: the timeline editor of one project. */
export default async function ProjectPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <Timeline projectId={id} />;
}
