/**
 * Checks the editor makes before uploading a manuscript, so an obviously
 * wrong file gets its message at once. The backend checks again (and checks
 * the content); its 400 message is shown as it is.
 */
import { IMPORT_FILE_EXTENSIONS, MAX_IMPORT_FILE_BYTES } from "./types";
import { formatBytes } from "./format";

/** The file's extension in lower case with its dot (".epub"), or "" when it has none. */
export function fileExtension(name: string): string {
  const match = /\.[^./\\]+$/.exec(name);
  return match ? match[0].toLowerCase() : "";
}

/**
 * Why `file` cannot be imported, or null when it may be uploaded: the type
 * must be .txt, .md or .epub, and the size 1 byte to 50 MB.
 */
export function importFileProblem(file: Pick<File, "name" | "size">): string | null {
  const extension = fileExtension(file.name);
  if (!(IMPORT_FILE_EXTENSIONS as readonly string[]).includes(extension)) {
    return `${file.name}: only ${IMPORT_FILE_EXTENSIONS.join(", ")} files can be imported.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > MAX_IMPORT_FILE_BYTES) {
    return `${file.name} is ${formatBytes(file.size)}; the largest file that can be imported is ${formatBytes(MAX_IMPORT_FILE_BYTES)}.`;
  }
  return null;
}
