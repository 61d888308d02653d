import { SettingsForm } from "@/components/SettingsForm";

/** `/settings`: the narrator's voice and speed. */
export default function SettingsPage() {
  return <SettingsForm />;
}
