import { ProjectsPage } from "@/components/ProjectsPage";

/** `/`: the projects list, with create and import. */
export default function Home() {
  return <ProjectsPage />;
}
